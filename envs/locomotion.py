"""MuJoCo locomotion tasks (gymnasium v5 envs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from eureka_kit.task import Fitness, State, StateVar, TaskSpec, TrainDefaults, register

# rl-baselines3-zoo's tuned PPO for HalfCheetah (ppo.yml, HalfCheetah-v4).
_ZOO_PPO_HALFCHEETAH = {
    "batch_size": 64,
    "n_steps": 512,
    "gamma": 0.98,
    "learning_rate": 2.0633e-05,
    "ent_coef": 0.000401762,
    "clip_range": 0.1,
    "n_epochs": 20,
    "gae_lambda": 0.92,
    "max_grad_norm": 0.8,
    "vf_coef": 0.58096,
}
_ZOO_PPO_POLICY = {"log_std_init": -2.0, "ortho_init": False, "activation_fn": "relu", "net_arch": {"pi": [256, 256], "vf": [256, 256]}}


def _half_cheetah_state(env: Any, info: Mapping[str, Any], action: np.ndarray) -> State:
    qpos = env.data.qpos
    qvel = env.data.qvel
    return {
        "x_position": np.float64(info["x_position"]),
        "x_velocity": np.float64(info["x_velocity"]),
        "torso_height": np.float64(qpos[1]),
        "torso_angle": np.float64(qpos[2]),
        "torso_angular_velocity": np.float64(qvel[2]),
        "joint_pos": np.array(qpos[3:9], dtype=np.float64),
        "joint_vel": np.array(qvel[3:9], dtype=np.float64),
    }


HALF_CHEETAH = register(
    TaskSpec(
        id="HalfCheetah-Run-v1",
        env_id="HalfCheetah-v5",
        description=(
            "A planar two-legged cheetah robot (a torso with a back and a front leg, each with thigh, "
            "shin and foot joints). Make it run forward (in the +x direction) as fast as possible."
        ),
        state=(
            StateVar("x_position", (), "m", "torso x position (forward is +x)"),
            StateVar("x_velocity", (), "m/s", "torso forward velocity over the last step (positive = forward)"),
            StateVar("torso_height", (), "m", "torso z offset from its initial height"),
            StateVar("torso_angle", (), "rad", "torso pitch angle; 0 is level, |angle| > pi/2 means flipped"),
            StateVar("torso_angular_velocity", (), "rad/s", "torso pitch rate"),
            StateVar("joint_pos", (6,), "rad", "joint angles: bthigh, bshin, bfoot, fthigh, fshin, ffoot"),
            StateVar("joint_vel", (6,), "rad/s", "joint angular velocities, same order as joint_pos"),
            StateVar("action", (6,), "torque", "joint torques applied this step, each in [-1, 1]"),
        ),
        extract=_half_cheetah_state,
        fitness=Fitness(
            name="forward_velocity",
            description="mean forward velocity of the torso over the episode",
            unit="m/s",
            step=lambda s: s["x_velocity"],
            aggregate="mean",
        ),
        # gymnasium HalfCheetah-v5: forward_reward_weight=1.0, ctrl_cost_weight=0.1
        baseline_reward=lambda s: s["x_velocity"] - 0.1 * np.square(s["action"]).sum(axis=-1),
        train=TrainDefaults(
            algo="PPO",
            total_steps=200_000,
            n_envs=1,
            normalize_obs=True,
            hyperparams=_ZOO_PPO_HALFCHEETAH,
            policy_kwargs=_ZOO_PPO_POLICY,
        ),
        max_episode_steps=1000,
        tags=("mujoco", "locomotion"),
    )
)
