"""Importing this module registers the pack's task (eureka-kit imports it through the entry point)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from eureka_kit.tasks.engine import BatchedConfig
from eureka_kit.tasks.registry import register
from eureka_kit.tasks.spec import Fitness, State, StateVar, TaskSpec, TrainDefaults
from eureka_test_pack.engine import pendulum_engine


def _state(env: Any, info: Mapping[str, Any], action: np.ndarray) -> State:
    theta, velocity = (float(x) for x in env.state)
    return {"cos_angle": np.asarray(np.cos(theta)), "angular_velocity": np.asarray(velocity)}


def _baseline(s: Mapping[str, np.ndarray]) -> np.ndarray:
    return s["cos_angle"] - 0.1 * np.square(s["angular_velocity"]) - 0.001 * np.square(s["action"][:, 0])


PENDULUM = register(
    TaskSpec(
        id="PackPendulum-Upright-v1",
        goal="swing the pendulum up and hold it upright",
        env_id="Pendulum-v1",
        description="A pendulum hangs from a motor. Swing it up and keep it upright. Episodes last 200 steps.",
        state=(
            StateVar("cos_angle", (), "1", "cosine of the pendulum's angle: 1 upright, -1 hanging down"),
            StateVar("angular_velocity", (), "rad/s", "angular velocity of the pendulum"),
            StateVar("action", (1,), "torque", "motor torque applied this step, in [-2, 2]"),
        ),
        extract=_state,
        fitness=Fitness("upright", "mean cosine of the angle", "1", lambda s: s["cos_angle"], "mean"),
        baseline_reward=_baseline,
        train=TrainDefaults(algo="PPO", total_steps=10_000, n_envs=1),
        max_episode_steps=200,
        tags=("classic", "fast", "test-pack"),
        kind="classic",
        engine=pendulum_engine(),  # the pack's own batched engine: backend cpu trains on it
        batched=BatchedConfig(total_steps=20_000, num_envs=16, num_steps_per_env=32, init_std=0.5),
    )
)
