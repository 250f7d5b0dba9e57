"""State capture: named state variables read from the simulator at every step.

:class:`StateCapture` wraps one gymnasium env and puts the task's state
variables (plus the applied ``action``) into ``info["eureka_state"]`` right
after each step, before any auto-reset can overwrite the simulator. Vectorized
code then stacks the per-env dicts into batched arrays with
:func:`stack_states` and hands them to reward programs as torch tensors with
:func:`to_torch`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from eureka_kit.tasks.spec import BatchedState, State, TaskSpec

STATE_KEY = "eureka_state"


class StateCapture(gym.Wrapper):  # type: ignore[type-arg]
    """Adds ``info["eureka_state"]``: the task's named state after this step."""

    def __init__(self, env: gym.Env, spec: TaskSpec) -> None:  # type: ignore[type-arg]
        super().__init__(env)
        self.task = spec

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        applied = np.asarray(action, dtype=np.float64).reshape(self.action_space.shape)
        if isinstance(self.action_space, gym.spaces.Box):
            applied = np.clip(applied, self.action_space.low, self.action_space.high)
        state = dict(self.task.extract(self.env.unwrapped, info, applied))
        state["action"] = applied
        info = dict(info)
        info[STATE_KEY] = state
        return obs, reward, terminated, truncated, info


def make_env(spec: TaskSpec, render_mode: str | None = None) -> gym.Env:  # type: ignore[type-arg]
    """One env of the task with state capture."""
    return StateCapture(spec.make_env(render_mode=render_mode), spec)


def stack_states(states: Sequence[State]) -> BatchedState:
    """Stack N per-env state dicts into one dict of arrays with leading dimension N."""
    if not states:
        raise ValueError("stack_states needs at least one state")
    keys = states[0].keys()
    return {k: np.stack([np.asarray(s[k], dtype=np.float64) for s in states]) for k in keys}


def to_torch(batch: Mapping[str, np.ndarray], device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Batched numpy state -> float32 torch tensors (fresh copies: programs may not alias our arrays)."""
    return {k: torch.as_tensor(np.array(v, dtype=np.float32), device=device) for k, v in batch.items()}


def rollout_states(spec: TaskSpec, n_envs: int, n_steps: int, seed: int = 0) -> list[BatchedState]:
    """Random-action rollout of ``n_envs`` envs for ``n_steps``; one batched state per step.

    Envs that end are reset, so every step has N states. Used to build smoke
    batches of realistic states and by tests.
    """
    envs = [make_env(spec) for _ in range(n_envs)]
    try:
        for i, env in enumerate(envs):
            env.reset(seed=seed + i)
            env.action_space.seed(seed + i)
        out: list[BatchedState] = []
        for _ in range(n_steps):
            per_env: list[State] = []
            for env in envs:
                _, _, term, trunc, info = env.step(env.action_space.sample())
                per_env.append(info[STATE_KEY])
                if term or trunc:
                    env.reset()
            out.append(stack_states(per_env))
        return out
    finally:
        for env in envs:
            env.close()
