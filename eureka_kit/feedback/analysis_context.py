"""What every check of the analyzer reads: the episodes under analysis, and helpers for their numbers.

:class:`AnalysisContext` holds the task, its analysis variables, the
(trusted) evaluation trajectories and, optionally, the reward program's
scores on them. The number helpers format values for messages (:func:`fmt`,
3 significant digits) and evidence (:func:`num`, 4), and :func:`spearman`
ranks two series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eureka_kit.feedback.score_child import TrajectoryScores
from eureka_kit.feedback.trajectory import Trajectory
from eureka_kit.tasks.spec import AnalysisVars, TaskSpec


def num(x: float) -> float:
    """An evidence number: 4 significant digits."""
    x = float(x)
    return float(f"{x:.4g}") if math.isfinite(x) else x


def fmt(x: float) -> str:
    """A number in a message: 3 significant digits."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    return f"{x:.3g}" if abs(x) >= 1e-3 else f"{x:.2e}"


def signed(x: float) -> str:
    return ("+" if x > 0 else "") + fmt(x)


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of ``x``, ties sharing their average rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=r)
    return (sums / counts)[inverse]


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Spearman rank correlation (ties averaged); ``None`` with fewer than 3 points or a constant input."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    b = np.asarray(y, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"spearman needs equal lengths, got {a.shape} and {b.shape}")
    if len(a) < 3:
        return None
    ra, rb = ranks(a) - (len(a) - 1) / 2, ranks(b) - (len(b) - 1) / 2
    den = math.sqrt(float((ra**2).sum() * (rb**2).sum()))
    if den <= 1e-12:
        return None
    return float((ra * rb).sum() / den)


def series_of(tr: Trajectory, name: str) -> np.ndarray:
    """A variable as a (T,) series: scalars as they are, vectors as their Euclidean norm."""
    a = np.asarray(tr.states[name], dtype=np.float64)
    return a if a.ndim == 1 else np.linalg.norm(a.reshape(a.shape[0], -1), axis=1)


def unit_of(spec: TaskSpec, name: str) -> str:
    try:
        return spec.var(name).unit
    except KeyError:
        return ""


def with_unit(x: float, unit: str) -> str:
    return f"{fmt(x)} {unit}".strip() if unit and " " not in unit else fmt(x)


@dataclass(frozen=True)
class AnalysisContext:
    """The episodes of one policy under analysis (``scores``: the reward program's values on them, if any)."""

    spec: TaskSpec
    vars: AnalysisVars
    trajectories: tuple[Trajectory, ...]
    scores: tuple[TrajectoryScores, ...] | None

    def has(self, name: str | None) -> bool:
        return name is not None and all(name in t.states for t in self.trajectories)

    @property
    def n(self) -> int:
        return len(self.trajectories)

    @property
    def terminated(self) -> list[Trajectory]:
        return [t for t in self.trajectories if t.terminated]

    def mean_of(self, name: str) -> float:
        """Mean over episodes of the per-episode mean (each episode counts once)."""
        return float(np.mean([series_of(t, name).mean() for t in self.trajectories]))
