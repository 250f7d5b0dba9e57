"""Known-good reward programs across tasks: the sandbox (strict mode, seccomp) must reject none of them.

They use what real LLM-written programs use: helper functions, module constants, ``math``, ``numpy``
constants, ``torch.nn.functional``, type hints, ``from __future__``, clamps, ``torch.where``, norms.
"""

from __future__ import annotations

from .programs import Program


def _good(name: str, task: str, source: str) -> Program:
    return Program(name, "good", source.strip("\n") + "\n", ("check:ok",), task=task)


GOOD: tuple[Program, ...] = (
    _good(
        "hc_forward_ctrl",
        "HalfCheetah-Run-v1",
        """
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    forward = x_velocity
    ctrl = -0.1 * (action ** 2).sum(dim=-1)
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
""",
    ),
    _good(
        "hc_upright_helper",
        "HalfCheetah-Run-v1",
        """
from __future__ import annotations

import math

import torch

TARGET_SPEED = 8.0


def _upright(angle: torch.Tensor) -> torch.Tensor:
    return torch.cos(angle).clamp(min=0.0)


def compute_reward(x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor):
    speed = torch.tanh(x_velocity / TARGET_SPEED) * 2.0
    upright = 0.5 * _upright(torso_angle)
    ctrl = -0.05 * action.pow(2).sum(-1)
    fast = x_velocity > TARGET_SPEED
    bonus = torch.where(fast, torch.full_like(x_velocity, math.log(2.0)), torch.zeros_like(x_velocity))
    return speed + upright + ctrl + bonus, {"speed": speed, "upright": upright, "ctrl": ctrl, "bonus": bonus}
""",
    ),
    _good(
        "hc_joint_smoothness",
        "HalfCheetah-Run-v1",
        """
import torch
import torch.nn.functional as F


def compute_reward(x_velocity: torch.Tensor, joint_vel: torch.Tensor, torso_height: torch.Tensor):
    forward = F.softplus(x_velocity) - 0.6931
    jerk = -0.001 * joint_vel.square().mean(dim=-1)
    height = -0.5 * (torso_height - 0.0).abs()
    total = forward + jerk + height
    return total, {"forward": forward, "jerk": jerk, "height": height}
""",
    ),
    _good(
        "hc_numpy_constants",
        "HalfCheetah-Run-v1",
        """
import numpy as np
import torch

SCALE = float(np.sqrt(2.0))


def compute_reward(x_velocity: torch.Tensor, torso_angular_velocity: torch.Tensor):
    forward = SCALE * x_velocity
    spin = -0.1 * torso_angular_velocity.abs()
    return forward + spin, {"forward": forward, "spin": spin}
""",
    ),
    _good(
        "mc_progress",
        "MountainCar-Flag-v1",
        """
import torch


def compute_reward(position: torch.Tensor, velocity: torch.Tensor, goal_position: torch.Tensor):
    progress = 1.0 - (goal_position - position).clamp(min=0.0)
    energy = 10.0 * velocity.abs()
    return progress + energy, {"progress": progress, "energy": energy}
""",
    ),
    _good(
        "mc_goal_bonus",
        "MountainCar-Flag-v1",
        """
import torch


def compute_reward(position: torch.Tensor, velocity: torch.Tensor, goal_reached: torch.Tensor, action: torch.Tensor):
    height = torch.sin(3.0 * position) * 0.45 + 0.55
    kinetic = 0.5 * velocity ** 2 * 100.0
    goal = 10.0 * goal_reached.float()
    effort = -0.01 * action.squeeze(-1) ** 2
    total = height + kinetic + goal + effort
    return total, {"height": height, "kinetic": kinetic, "goal": goal, "effort": effort}
""",
    ),
    _good(
        "mc_where",
        "MountainCar-Flag-v1",
        """
import torch


def compute_reward(position: torch.Tensor, velocity: torch.Tensor):
    swing = torch.where(velocity * position < 0, velocity.abs(), torch.zeros_like(velocity)) * 20.0
    right = (position + 0.5).clamp(min=0.0)
    return swing + right, {"swing": swing, "right": right}
""",
    ),
    _good(
        "ant_forward_alive",
        "Ant-Run-v1",
        """
import torch


def compute_reward(x_velocity: torch.Tensor, is_healthy: torch.Tensor, action: torch.Tensor):
    forward = x_velocity
    alive = 1.0 * is_healthy.float()
    ctrl = -0.5 * (action ** 2).sum(dim=-1)
    return forward + alive + ctrl, {"forward": forward, "alive": alive, "ctrl": ctrl}
""",
    ),
    _good(
        "ant_contacts_upright",
        "Ant-Run-v1",
        """
import torch


def compute_reward(
    x_velocity: torch.Tensor, y_velocity: torch.Tensor, upright: torch.Tensor, contact_forces: torch.Tensor
):
    forward = x_velocity - 0.2 * y_velocity.abs()
    stay_up = 0.3 * upright
    contact = -5e-4 * contact_forces.clamp(-1.0, 1.0).pow(2).sum(dim=(-1, -2))
    return forward + stay_up + contact, {"forward": forward, "stay_up": stay_up, "contact": contact}
""",
    ),
    _good(
        "ant_height_band",
        "Ant-Run-v1",
        """
import torch

LOW, HIGH = 0.3, 1.0


def compute_reward(torso_height: torch.Tensor, x_velocity: torch.Tensor, joint_vel: torch.Tensor):
    in_band = ((torso_height > LOW) & (torso_height < HIGH)).float()
    forward = x_velocity * in_band
    smooth = -1e-3 * torch.linalg.vector_norm(joint_vel, dim=-1)
    return forward + in_band + smooth, {"forward": forward, "in_band": in_band, "smooth": smooth}
""",
    ),
    _good(
        "hopper_hop",
        "Hopper-Hop-v1",
        """
import torch


def compute_reward(x_velocity: torch.Tensor, z_velocity: torch.Tensor, is_healthy: torch.Tensor, action: torch.Tensor):
    forward = x_velocity
    hop = 0.5 * z_velocity.clamp(min=0.0)
    alive = is_healthy.float()
    ctrl = -1e-3 * action.square().sum(-1)
    return forward + hop + alive + ctrl, {"forward": forward, "hop": hop, "alive": alive, "ctrl": ctrl}
""",
    ),
    _good(
        "hopper_angle",
        "Hopper-Hop-v1",
        """
import math

import torch


def compute_reward(torso_angle: torch.Tensor, torso_height: torch.Tensor, foot_contact_force: torch.Tensor):
    level = torch.exp(-torso_angle.square() / (2 * (math.pi / 12) ** 2))
    height = torch.clamp(torso_height - 0.8, min=0.0)
    landing = -1e-4 * foot_contact_force.clamp(max=1e3)
    return level + height + landing, {"level": level, "height": height, "landing": landing}
""",
    ),
    _good(
        "walker_walk",
        "Walker2d-Walk-v1",
        """
import torch


def compute_reward(
    x_velocity: torch.Tensor,
    torso_height: torch.Tensor,
    torso_angle: torch.Tensor,
    action: torch.Tensor,
):
    walk = torch.clamp(x_velocity, max=2.0)
    upright = torch.cos(torso_angle)
    tall = (torso_height > 0.8).float() * 0.5
    ctrl = -1e-3 * (action ** 2).sum(dim=-1)
    return walk + upright + tall + ctrl, {"walk": walk, "upright": upright, "tall": tall, "ctrl": ctrl}
""",
    ),
    _good(
        "walker_feet",
        "Walker2d-Walk-v1",
        """
import torch


def _alternation(feet: torch.Tensor) -> torch.Tensor:
    on = (feet > 1.0).float()
    return (on[:, 0] - on[:, 1]).abs()


def compute_reward(x_velocity: torch.Tensor, feet_contact_force: torch.Tensor, is_healthy: torch.Tensor):
    forward = x_velocity
    gait = 0.2 * _alternation(feet_contact_force)
    alive = is_healthy.float()
    return forward + gait + alive, {"forward": forward, "gait": gait, "alive": alive}
""",
    ),
    _good(
        "humanoid_run",
        "Humanoid-Run-v1",
        """
import torch


def compute_reward(x_velocity: torch.Tensor, upright: torch.Tensor, is_healthy: torch.Tensor, action: torch.Tensor):
    forward = 1.25 * x_velocity
    stand = upright.clamp(min=0.0)
    alive = 5.0 * is_healthy.float()
    ctrl = -0.1 * action.pow(2).sum(dim=-1)
    return forward + stand + alive + ctrl, {"forward": forward, "stand": stand, "alive": alive, "ctrl": ctrl}
""",
    ),
    _good(
        "humanoid_height",
        "Humanoid-Run-v1",
        """
import torch


def compute_reward(torso_height: torch.Tensor, torso_angular_velocity: torch.Tensor, joint_vel: torch.Tensor):
    height = torch.sigmoid(10.0 * (torso_height - 1.0))
    steady = -0.01 * torso_angular_velocity.norm(dim=-1)
    calm = -1e-4 * joint_vel.abs().sum(dim=-1)
    return height + steady + calm, {"height": height, "steady": steady, "calm": calm}
""",
    ),
    _good(
        "pusher_push",
        "Pusher-Push-v1",
        """
import torch


def compute_reward(
    fingertip_to_object_distance: torch.Tensor, object_to_goal_distance: torch.Tensor, action: torch.Tensor
):
    reach = -0.5 * fingertip_to_object_distance
    push = -1.0 * object_to_goal_distance
    ctrl = -0.1 * (action ** 2).sum(dim=-1)
    return reach + push + ctrl, {"reach": reach, "push": push, "ctrl": ctrl}
""",
    ),
    _good(
        "pusher_positions",
        "Pusher-Push-v1",
        """
import torch


def compute_reward(fingertip_pos: torch.Tensor, object_pos: torch.Tensor, goal_pos: torch.Tensor):
    reach = torch.exp(-5.0 * torch.linalg.norm(fingertip_pos - object_pos, dim=-1))
    place = torch.exp(-5.0 * torch.linalg.norm(object_pos - goal_pos, dim=-1))
    return reach + 2.0 * place, {"reach": reach, "place": 2.0 * place}
""",
    ),
    _good(
        "pusher_joint_limits",
        "Pusher-Push-v1",
        """
import torch
from typing import Dict, Tuple


def compute_reward(
    joint_pos: torch.Tensor, joint_vel: torch.Tensor, object_to_goal_distance: torch.Tensor
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    limits = -0.01 * torch.relu(joint_pos.abs() - 2.0).sum(dim=-1)
    damping = -1e-3 * joint_vel.pow(2).sum(dim=-1)
    goal = 1.0 / (1.0 + object_to_goal_distance)
    return limits + damping + goal, {"limits": limits, "damping": damping, "goal": goal}
""",
    ),
    _good(
        "hc_main_guard_and_prints",
        "HalfCheetah-Run-v1",
        """
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    forward = x_velocity
    ctrl = -0.1 * torch.sum(action * action, dim=-1)
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}


if __name__ == "__main__":
    print(compute_reward(torch.zeros(3), torch.zeros(3, 6)))
""",
    ),
    _good(
        "ant_class_helper",
        "Ant-Run-v1",
        """
import torch


class Weights:
    forward = 1.0
    alive = 0.5


def compute_reward(x_velocity: torch.Tensor, is_healthy: torch.Tensor):
    forward = Weights.forward * x_velocity
    alive = Weights.alive * is_healthy.to(torch.float32)
    return forward + alive, {"forward": forward, "alive": alive}
""",
    ),
    _good(
        "mc_float64_math",
        "MountainCar-Flag-v1",
        """
import math

import torch


def compute_reward(position: torch.Tensor, velocity: torch.Tensor):
    p = position.double()
    height = torch.sin(3.0 * p) / 3.0 + math.e * 0.0
    speed = velocity.double().abs() * 30.0
    return (height + speed).float(), {"height": height.float(), "speed": speed.float()}
""",
    ),
)
