"""A STARC-style pseudometric between reward functions, measured on stored transitions (pure math, numpy only).

Two rewards that differ only by a positive scale, a constant shift or
potential-based shaping ``gamma * Phi(s') - Phi(s)`` induce the same optimal
policies (Ng et al., 1999). STARC (Skalse et al., "STARC: A General Framework
For Quantifying Differences Between Reward Functions", ICLR 2024) measures the
distance between rewards as: canonicalize each reward (remove what shaping and
shifts can change), normalize it (remove the scale), then take a norm of the
difference. Here, on the transitions ``(s, s')`` of stored trajectories:

1. **canonicalize**: project the per-transition rewards onto the orthogonal
   complement of the span of ``1`` and ``gamma * f_j(s') - f_j(s)`` for state
   features ``f_j`` (each state variable and its square, standardized). This
   removes, by least squares, every constant and every potential
   ``Phi = sum_j w_j f_j`` in that feature span;
2. **normalize**: divide by the L2 norm (a reward that is all shaping and
   shift has norm ~0 and is equivalent to the zero reward);
3. **distance**: ``||c1 - c2|| / 2``, in ``[0, 1]``: 0 for equivalent rewards, 1
   for a reward and its negation.

It is a pseudometric on the sampled transitions only: a potential outside the
feature span is not removed, and rewards that differ only on states the
trajectories never visit look equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ZERO_NORM = 1e-6
"""Relative norm (to the raw reward's) under which a canonicalized reward counts as the zero reward."""

MIN_ROWS_PER_FEATURE = 8
"""Squared features are used only when there are at least this many transitions per feature column."""


@dataclass(frozen=True)
class Transitions:
    """Consecutive state pairs of stored trajectories: ``before`` and ``after`` features ``(M, F)``, ``done`` ``(M,)``.

    Row ``m`` is the step from state ``before[m]`` to ``after[m]``; the reward
    programs score the state after the step (the state they are called on).
    ``done`` marks a terminal ``after`` state (its potential counts as 0).
    """

    before: np.ndarray
    after: np.ndarray
    done: np.ndarray

    def __post_init__(self) -> None:
        if self.before.shape != self.after.shape or self.before.ndim != 2:
            raise ValueError(
                f"before and after must be (M, F) of one shape; got {self.before.shape}, {self.after.shape}"
            )
        if self.done.shape != (self.before.shape[0],):
            raise ValueError(f"done must have shape ({self.before.shape[0]},), got {self.done.shape}")

    @property
    def count(self) -> int:
        return int(self.before.shape[0])


def state_features(states: Mapping[str, np.ndarray], exclude: Sequence[str] = ("action",)) -> np.ndarray:
    """One trajectory's state variables ``(T, *shape)`` flattened to ``(T, F)`` in name order, ``exclude`` left out."""
    cols = [
        np.asarray(v, dtype=np.float64).reshape(v.shape[0], -1) for k, v in sorted(states.items()) if k not in exclude
    ]
    if not cols:
        raise ValueError(f"no state variables left after excluding {list(exclude)}")
    return np.concatenate(cols, axis=1)


def transitions_of(features: Sequence[np.ndarray], terminated: Sequence[bool]) -> Transitions:
    """The transitions ``t-1 -> t`` (``t >= 1``) of trajectories given as ``(T, F)`` feature arrays."""
    before, after, done = [], [], []
    for x, term in zip(features, terminated, strict=True):
        if x.shape[0] < 2:
            continue
        before.append(x[:-1])
        after.append(x[1:])
        d = np.zeros(x.shape[0] - 1, dtype=bool)
        d[-1] = bool(term)
        done.append(d)
    if not before:
        raise ValueError("no trajectory has two steps or more: there are no transitions")
    return Transitions(np.concatenate(before), np.concatenate(after), np.concatenate(done))


def rewards_of(per_trajectory: Sequence[np.ndarray]) -> np.ndarray:
    """Per-step rewards ``(T,)`` of each trajectory -> the rewards of :func:`transitions_of`'s rows (``t >= 1``)."""
    kept = [np.asarray(r, dtype=np.float64)[1:] for r in per_trajectory if len(r) >= 2]
    return np.concatenate(kept)


class Canonicalizer:
    """Removes constants and potential shaping (in the features' span) from rewards on fixed transitions."""

    def __init__(self, transitions: Transitions, gamma: float) -> None:
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        before, after = transitions.before, transitions.after
        m, f = before.shape
        if m * 1.0 >= 2 * f * MIN_ROWS_PER_FEATURE:  # enough rows: also quadratic potentials
            before, after = np.concatenate([before, before**2], 1), np.concatenate([after, after**2], 1)
        scale = np.concatenate([before, after]).std(axis=0)
        keep = scale > 1e-12  # constant features add nothing but a copy of the constant column
        before, after = before[:, keep] / scale[keep], after[:, keep] / scale[keep]
        alive = (~transitions.done).astype(np.float64)[:, None]
        shaping = gamma * alive * after - before
        basis = np.concatenate([np.ones((m, 1)), shaping], axis=1)
        u, s, _ = np.linalg.svd(basis, full_matrices=False)
        rank = int((s > s[0] * 1e-10).sum()) if s.size else 0
        self.q = u[:, :rank]
        self.count = m
        self.gamma = gamma

    def __call__(self, rewards: np.ndarray) -> np.ndarray:
        """The canonical form of ``rewards`` ``(M,)``: shaping and constant removed, unit L2 norm (or all zeros)."""
        r = np.asarray(rewards, dtype=np.float64)
        if r.shape != (self.count,):
            raise ValueError(f"rewards must have shape ({self.count},), got {r.shape}")
        c = r - self.q @ (self.q.T @ r)
        norm = float(np.linalg.norm(c))
        if norm <= ZERO_NORM * max(float(np.linalg.norm(r)), 1e-12):
            return np.zeros_like(c)
        return c / norm


def canonical_distance(c1: np.ndarray, c2: np.ndarray) -> float:
    """STARC distance of two canonical forms: ``||c1 - c2|| / 2`` in ``[0, 1]``; the zero reward is 0.5 from others."""
    z1, z2 = not np.any(c1), not np.any(c2)
    if z1 or z2:
        return 0.0 if z1 and z2 else 0.5
    return float(np.linalg.norm(c1 - c2)) / 2.0


def reward_distance(r1: np.ndarray, r2: np.ndarray, transitions: Transitions, gamma: float) -> float:
    """The STARC-style distance of two rewards given on the same ``transitions`` (see the module docstring)."""
    canon = Canonicalizer(transitions, gamma)
    return canonical_distance(canon(r1), canon(r2))
