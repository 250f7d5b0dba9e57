"""Evaluation episodes of a deterministic policy, on the gymnasium env or on the batched CPU engine.

Each of the E envs runs exactly one episode from seed ``seed + i``; every step
calls the policy once for all envs still running. Both runners return the
same raw record per episode (:class:`RawEpisode`: the task's state variables
at every step, the env's rewards, how it ended), from which the trusted
evaluator computes fitness. The batched runner seeds env i as gymnasium's
``env.reset(seed=seed + i)`` does, and its physics is bit-identical to the
gymnasium env (tests/test_sim_cpu_parity.py), so both give the same episodes;
it is used for tasks with a batched definition, the gymnasium env otherwise
(and for videos, which need frames).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.tasks.state_capture import STATE_KEY, make_env

Actor = Callable[[np.ndarray], np.ndarray]
Engine = Literal["auto", "gymnasium", "batched"]


@dataclass(frozen=True)
class RawEpisode:
    """One episode as the simulator reported it (trusted: the policy only chose actions)."""

    states: list[dict[str, np.ndarray]]
    rewards: list[float]
    terminated: bool
    truncated: bool


def batched_available(spec: TaskSpec) -> bool:
    """Whether the task's batched CPU engine runs its evaluation episodes (its registration's ``engine`` says so)."""
    engine = spec.engine
    return engine is not None and engine.batched_eval and engine.unavailable(spec, "cpu") is None


def run_episodes(spec: TaskSpec, act: Actor, episodes: int, seed: int, engine: Engine = "auto") -> list[RawEpisode]:
    """``episodes`` deterministic episodes (seeds ``seed + i``) on ``engine`` (``auto``: batched when available)."""
    if engine == "batched" or (engine == "auto" and batched_available(spec)):
        return _batched(spec, act, episodes, seed)
    return _gymnasium(spec, act, episodes, seed)


def _gymnasium(spec: TaskSpec, act: Actor, episodes: int, seed: int) -> list[RawEpisode]:
    envs = [make_env(spec) for _ in range(episodes)]
    try:
        obs = [np.asarray(env.reset(seed=seed + i)[0]) for i, env in enumerate(envs)]
        states: list[list[dict[str, np.ndarray]]] = [[] for _ in envs]
        rewards: list[list[float]] = [[] for _ in envs]
        ended: list[tuple[bool, bool] | None] = [None] * episodes
        while True:
            active = [i for i in range(episodes) if ended[i] is None]
            if not active:
                break
            actions = act(np.stack([obs[i] for i in active]).astype(np.float32))
            for j, i in enumerate(active):
                o, r, term, trunc, info = envs[i].step(actions[j])
                states[i].append(info[STATE_KEY])
                rewards[i].append(float(r))
                obs[i] = np.asarray(o)
                if term or trunc:
                    ended[i] = (bool(term), bool(trunc))
    finally:
        for env in envs:
            env.close()
    return [RawEpisode(states[i], rewards[i], *end) for i, end in enumerate(ended) if end is not None]


def _batched(spec: TaskSpec, act: Actor, episodes: int, seed: int) -> list[RawEpisode]:
    return batched_episodes(spec, act, [seed + i for i in range(episodes)])


def batched_episodes(
    spec: TaskSpec, act: Actor, env_seeds: Sequence[int], physics: Mapping[str, Sequence[float]] | None = None
) -> list[RawEpisode]:
    """One episode per seed of ``env_seeds`` (seeded as gymnasium's ``reset(seed=...)``) on the batched CPU
    engine; ``physics``: per-env values of the task's physics parameters (one per seed; see
    :class:`~eureka_kit.sim.cpu.CpuBatchedEnv`)."""
    from eureka_kit.sim.cpu import CpuBatchedEnv

    episodes = len(env_seeds)
    env = CpuBatchedEnv(spec.id, episodes, dtype=torch.float64, physics=physics)
    try:
        obs = env.reset(env_seeds[0], env_seeds=list(env_seeds)).numpy()
        states: list[list[dict[str, np.ndarray]]] = [[] for _ in range(episodes)]
        rewards: list[list[float]] = [[] for _ in range(episodes)]
        ended: list[tuple[bool, bool] | None] = [None] * episodes
        while any(e is None for e in ended):
            actions = act(obs.astype(np.float32))  # finished envs act too (their steps are ignored)
            step = env.step(torch.from_numpy(np.asarray(actions, dtype=np.float64)))
            state = {k: v.numpy() for k, v in step.state.items()}
            reward = step.env_reward.numpy()
            term, trunc = step.terminated.numpy(), step.truncated.numpy()
            for i in range(episodes):
                if ended[i] is not None:
                    continue
                states[i].append({k: v[i].copy() for k, v in state.items()})
                rewards[i].append(float(reward[i]))
                if term[i] or trunc[i]:
                    ended[i] = (bool(term[i]), bool(trunc[i]))
            obs = step.obs.numpy()
    finally:
        env.close()
    return [RawEpisode(states[i], rewards[i], *end) for i, end in enumerate(ended) if end is not None]
