"""The pack's own batched engine: N pendulums as numpy arrays, gymnasium Pendulum-v1's dynamics and observation.

A task pack can bring a batched engine and PPO defaults with its one registration (``engine=``, ``batched=``):
eureka-kit's ``cpu`` backend then trains its task with rsl-rl's PPO on this engine, and the trusted evaluator
scores the policy on the gymnasium env (the observation here is gymnasium's ``[cos, sin, angular velocity]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from eureka_kit.sim.base import BatchStep
from eureka_kit.tasks.engine import BatchedEngine

MAX_SPEED, MAX_TORQUE, DT, G, M, L = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0  # gymnasium's Pendulum-v1


class PendulumBatch:
    """N pendulums stepped together (the :class:`eureka_kit.sim.base.BatchedEnv` contract), CPU tensors out."""

    observation_size = 3
    action_size = 1
    n_actions = None  # continuous torque

    def __init__(
        self, num_envs: int, seed: int, episode_steps: int, reward: Callable[[Mapping[str, np.ndarray]], np.ndarray]
    ) -> None:
        self.num_envs = num_envs
        self.device = torch.device("cpu")
        self.action_low = torch.tensor([-MAX_TORQUE])
        self.action_high = torch.tensor([MAX_TORQUE])
        self._episode_steps = episode_steps
        self._reward = reward
        self._rng = np.random.default_rng(seed)
        self._th = np.zeros(num_envs)
        self._thdot = np.zeros(num_envs)
        self._t = np.zeros(num_envs, dtype=np.int64)

    def _obs(self) -> np.ndarray:
        return np.stack([np.cos(self._th), np.sin(self._th), self._thdot], axis=1)

    def _reset(self, mask: np.ndarray) -> None:
        n = int(mask.sum())
        self._th[mask] = self._rng.uniform(-np.pi, np.pi, n)
        self._thdot[mask] = self._rng.uniform(-1.0, 1.0, n)
        self._t[mask] = 0

    def reset(self, seed: int) -> torch.Tensor:
        self._rng = np.random.default_rng(seed)
        self._reset(np.ones(self.num_envs, dtype=bool))
        return torch.from_numpy(self._obs().astype(np.float32))

    def step(self, action: torch.Tensor) -> BatchStep:
        u = np.clip(action.detach().cpu().numpy().reshape(self.num_envs, 1).astype(np.float64), -MAX_TORQUE, MAX_TORQUE)
        thdot = self._thdot + (3 * G / (2 * L) * np.sin(self._th) + 3.0 / (M * L**2) * u[:, 0]) * DT
        self._thdot = np.clip(thdot, -MAX_SPEED, MAX_SPEED)
        self._th = self._th + self._thdot * DT
        self._t += 1
        state = {"cos_angle": np.cos(self._th), "angular_velocity": self._thdot.copy(), "action": u}
        final_obs = self._obs()
        truncated = self._t >= self._episode_steps
        self._reset(truncated)
        terminated = np.zeros(self.num_envs, dtype=bool)
        return BatchStep.from_numpy(self._obs(), final_obs, state, self._reward(state), terminated, truncated)

    def close(self) -> None:
        pass


def pendulum_engine() -> BatchedEngine:
    """The pack's engine for its registration: CPU only."""

    def make_env(spec: Any, num_envs: int, device: str, seed: int, threads: int) -> PendulumBatch:
        return PendulumBatch(num_envs, seed, spec.max_episode_steps, spec.baseline_reward)

    return BatchedEngine("pendulum", make_env)
