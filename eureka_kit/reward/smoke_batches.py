"""The batches of the critic's smoke test: real states of the task, random perturbations, edge cases.

:func:`real_states` rolls the task out with random actions (``N`` envs x
:data:`REAL_STEPS` steps, cached per task id in the process: trusted work,
done in the check child before its seccomp filter). :func:`smoke_batches`
builds, from those steps, the batches :class:`~eureka_kit.reward.smoke_test.Smoke`
calls the program on: real states first (the first one is timed), then random
perturbations, then edge cases (all zeros, one env only, large magnitudes).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from eureka_kit.tasks.spec import BatchedState, TaskSpec
from eureka_kit.tasks.state_capture import rollout_states

LARGE_FACTOR = 10.0
"""The 'large magnitudes' edge batch is this many times the largest absolute value seen in the rollout (at least 1)."""
REAL_STEPS = 16
"""Steps of the random-action rollout that provides the real states (N envs x REAL_STEPS states)."""

BatchKind = Literal["real", "random", "edge"]


@dataclass(frozen=True)
class SmokeBatch:
    """One batch of states the program is called on; ``label`` says what it is in the issue messages."""

    kind: BatchKind
    name: Literal["real", "real_all", "random", "zeros", "single", "large"]
    label: str
    data: BatchedState

    @property
    def n(self) -> int:
        return len(next(iter(self.data.values())))


class _ByTaskId:
    """Cache key for a TaskSpec (specs hold mappings and are not hashable): equal when the ids are."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def __hash__(self) -> int:
        return hash(self.spec.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByTaskId) and other.spec.id == self.spec.id


@functools.lru_cache(maxsize=16)
def _rollout(key: _ByTaskId, n_envs: int, n_steps: int) -> tuple[BatchedState, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        steps = rollout_states(key.spec, n_envs, n_steps)
    for step in steps:
        for v in step.values():
            v.setflags(write=False)
    return tuple(steps)


def real_states(spec: TaskSpec, n_envs: int = 8, n_steps: int = REAL_STEPS) -> tuple[BatchedState, ...]:
    """Batched states of a random-action rollout of the task (cached per task id in this process)."""
    return _rollout(_ByTaskId(spec), n_envs, n_steps)


def synthetic_states(spec: TaskSpec, n_envs: int, n_steps: int) -> tuple[BatchedState, ...]:
    """Uniform states in [-1, 1] (when the task cannot be rolled out), seeded."""
    rng = np.random.default_rng(0)
    return tuple({v.name: rng.uniform(-1.0, 1.0, size=(n_envs, *v.shape)) for v in spec.state} for _ in range(n_steps))


def smoke_batches(steps: tuple[BatchedState, ...], n_envs: int, real_label: str) -> list[SmokeBatch]:
    """Real batches first (the first one is timed), then random perturbations, then edge cases."""
    rng = np.random.default_rng(0)
    names = list(steps[0])
    every = {k: np.concatenate([s[k] for s in steps]) for k in names}
    lo = {k: every[k].min(axis=0) for k in names}
    hi = {k: every[k].max(axis=0) for k in names}
    last = steps[-1]
    n_all = len(every[names[0]])

    def random_batch() -> BatchedState:
        out = {}
        for k in names:
            span = hi[k] - lo[k]
            pad = 0.5 * span + 0.05 * np.maximum(np.maximum(np.abs(lo[k]), np.abs(hi[k])), 1.0)
            out[k] = rng.uniform(lo[k] - pad, hi[k] + pad, size=(n_envs, *lo[k].shape))
        return out

    def large_batch() -> BatchedState:
        out = {}
        for k in names:
            scale = LARGE_FACTOR * max(float(np.abs(every[k]).max()), 1.0)
            signs = rng.choice([-1.0, 1.0], size=(n_envs, *lo[k].shape))
            out[k] = signs * scale
        return out

    zeros = {k: np.zeros_like(v) for k, v in last.items()}
    large = (
        f"an edge case: large magnitudes (±{LARGE_FACTOR:g}x the largest value of the rollout, "
        f"at least ±{LARGE_FACTOR:g}; N={n_envs})"
    )
    return [
        SmokeBatch("real", "real", f"{real_label} (N={n_envs})", dict(last)),
        SmokeBatch("real", "real_all", f"{real_label} (all {n_all} of them at once, N={n_all})", every),
        SmokeBatch("random", "random", f"random perturbations of real states (N={n_envs})", random_batch()),
        SmokeBatch("edge", "zeros", f"an edge case: all state variables zero (N={n_envs})", zeros),
        SmokeBatch("edge", "single", "an edge case: one env only (N=1)", {k: v[:1] for k, v in last.items()}),
        SmokeBatch("edge", "large", large, large_batch()),
    ]
