"""The contract of a batched environment: N envs of one task, stepped as one, torch tensors in and out.

The batched training backends (CPU engine on ``mujoco.batch``, GPU engine on
MuJoCo Warp) consume this protocol; the reward program is called once per
batch step on :attr:`BatchStep.state`, which holds the task's state variables
with a leading dimension N (the same names, shapes and meaning as the
gymnasium path, so one reward program runs on every engine).

Episodes end per env (``terminated`` by the task's termination, ``truncated``
by its time limit) and those envs are reset inside :meth:`BatchedEnv.step`:
``obs`` is then the first observation of the new episode, while
``final_obs``, ``state`` and ``env_reward`` still describe the step that ended
the old one (what PPO bootstraps from and the reward program is paid on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch


@dataclass(frozen=True)
class BatchStep:
    """One step of N envs. Every tensor has a leading dimension N and lives on the env's device."""

    obs: torch.Tensor
    """(N, obs_size) float32: the observation to act on next (after an auto-reset where an episode ended)."""
    final_obs: torch.Tensor
    """(N, obs_size) float32: the observation reached by this step (before any reset); equals ``obs`` elsewhere."""
    state: Mapping[str, torch.Tensor]
    """The task's state variables after this step, ``action`` included: (N, *shape) float32."""
    env_reward: torch.Tensor
    """(N,) float32: the env's own (human-written) reward of this step."""
    terminated: torch.Tensor
    """(N,) bool: the episode ended by the task's termination (e.g. the robot fell)."""
    truncated: torch.Tensor
    """(N,) bool: the episode ended by the time limit (and not terminated)."""

    @classmethod
    def from_numpy(
        cls,
        obs: np.ndarray,
        final_obs: np.ndarray,
        state: Mapping[str, np.ndarray],
        env_reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> BatchStep:
        """A CPU step from numpy arrays: float32 tensors, the two bool masks shared without a copy."""

        def f32(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.asarray(x, dtype=np.float32))

        return cls(
            obs=f32(obs),
            final_obs=f32(final_obs),
            state={k: f32(v) for k, v in state.items()},
            env_reward=f32(env_reward),
            terminated=torch.from_numpy(terminated),
            truncated=torch.from_numpy(truncated),
        )


class BatchedEnv(Protocol):
    """N envs of one task stepped together (see the module docstring)."""

    num_envs: int
    observation_size: int
    action_size: int
    device: torch.device
    action_low: torch.Tensor
    """(action_size,) float32: lower bound of each action; actions are clipped to it."""
    action_high: torch.Tensor
    n_actions: int | None
    """Discrete actions: how many (the action is one id per env, a float in an (N, 1) tensor; the policy is
    categorical); ``None``: continuous actions in ``[action_low, action_high]``."""

    def reset(self, seed: int) -> torch.Tensor:
        """Reset every env (env i seeded from ``seed`` and i); returns the first observations (N, obs_size)."""
        ...

    def step(self, action: torch.Tensor) -> BatchStep:
        """Apply ``action`` (N, action_size), advance one env step (``frame_skip`` physics steps), auto-reset."""
        ...

    def close(self) -> None:
        """Release the engine's resources (thread pool, GPU memory)."""
        ...
