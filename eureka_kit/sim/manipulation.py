"""Batched physics of the MuJoCo manipulation tasks, with gymnasium v5's semantics.

Pusher-v5 (``gymnasium/envs/mujoco/pusher_v5.py``): observation = the 7 arm
joint angles and velocities, then the fingertip, object and goal body
positions (``get_body_com`` is ``xpos``); the reward is computed after the
step; no termination; a reset places the object uniformly in x in [-0.3, 0],
y in [-0.2, 0.2] at more than 0.17 m from the goal at (0, 0), and adds
U(-0.005, 0.005) to the arm's joint velocities. See :mod:`eureka_kit.sim.physics`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from eureka_kit.sim import ops, params
from eureka_kit.sim.ops import Array
from eureka_kit.sim.physics import BatchState, Fields, ModelConsts, TaskPhysics


def _pusher_state(f: Fields, vel: Array | None, c: ModelConsts) -> BatchState:
    qpos, qvel, xpos = f["qpos"], f["qvel"], f["xpos"]
    tip = xpos[:, c.body["tips_arm"]]
    obj = xpos[:, c.body["object"]]
    goal = xpos[:, c.body["goal"]]
    return {
        "joint_pos": qpos[:, :7],
        "joint_vel": qvel[:, :7],
        "fingertip_pos": tip,
        "object_pos": obj,
        "goal_pos": goal,
        "fingertip_to_object_distance": ops.norm(obj - tip),
        "object_to_goal_distance": ops.norm(obj - goal),
    }


def _pusher_obs(f: Fields, c: ModelConsts) -> Array:
    xpos = f["xpos"]
    return ops.concat(
        [
            f["qpos"][:, :7],
            f["qvel"][:, :7],
            xpos[:, c.body["tips_arm"]],
            xpos[:, c.body["object"]],
            xpos[:, c.body["goal"]],
        ]
    )


def pusher_reward(s: Mapping[str, Array]) -> Array:
    """gymnasium Pusher-v5: reward_near_weight=0.5, reward_dist_weight=1, reward_control_weight=0.1."""
    return -1.0 * s["object_to_goal_distance"] - 0.1 * ops.sum_sq(s["action"]) - 0.5 * s["fingertip_to_object_distance"]


def _pusher_reset(rng: np.random.Generator, c: ModelConsts) -> tuple[np.ndarray, np.ndarray]:
    qpos = c.init_qpos.copy()
    goal_pos = np.asarray([0.0, 0.0])
    while True:
        cylinder_pos = np.concatenate([rng.uniform(low=-0.3, high=0, size=1), rng.uniform(low=-0.2, high=0.2, size=1)])
        if np.linalg.norm(cylinder_pos - goal_pos) > 0.17:
            break
    qpos[-4:-2] = cylinder_pos
    qpos[-2:] = goal_pos
    qvel = c.init_qvel + rng.uniform(low=-0.005, high=0.005, size=c.init_qvel.size)
    qvel[-4:] = 0
    return qpos, qvel


PUSHER = TaskPhysics(
    name="pusher",
    warp_capacity=(32, 160),
    xml_file="pusher_v5.xml",
    frame_skip=5,
    fields=("qpos", "qvel", "xpos"),
    velocity_names=(),
    position=None,
    state=_pusher_state,
    observation=_pusher_obs,
    reward=pusher_reward,
    healthy=None,
    reset=_pusher_reset,
    params=(params.mass(), params.friction(), params.actuator_strength(), params.joint_damping()),
)
"""The pusher's randomizable physics: no gravity parameter, its model having none (zero gravity)."""
