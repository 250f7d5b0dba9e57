"""The benchmark's numbers: human-normalized scores per task and suite, success rates, paired differences.

Every number comes from the trusted evaluator's fitness of final retrainings (never from the search's own
candidate fitnesses): the best program of each search seed, the task's human reward and its sparse reward,
each retrained with the same budget over the same evaluation seeds.

- HNS of one search seed: ``(F_method - F_sparse) / |F_human - F_sparse|`` (Eureka's definition), with
  ``F_method`` the mean over evaluation seeds of the best program's fitness and ``F_human``, ``F_sparse``
  the means over evaluation seeds of the baselines'. Undefined (``None``) when ``F_human == F_sparse``.
- HNS of a task: the mean over search seeds (its spread: their standard deviation); clipped: the task's HNS
  clipped to [0, 3], as Eureka reports suite means.
- The paired comparison of two configurations: per (task, search seed) the difference of HNS (B - A), their
  mean, and a percentile bootstrap confidence interval of that mean over the pairs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from eureka_kit.final_eval import RewardKind

CLIP = (0.0, 3.0)
"""Eureka's clipping of a task's HNS for the suite mean."""

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_LEVEL = 0.95


@dataclass(frozen=True)
class Trained:
    """One final retraining (the best program of a search seed, or a baseline) and its trusted evaluation."""

    kind: RewardKind
    seed: int
    status: str
    fitness: float | None
    success_rate: float | None
    wall_s: float
    message: str = ""

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Trained:
        return cls(
            kind=d["kind"],
            seed=int(d["seed"]),
            status=str(d["status"]),
            fitness=None if d.get("fitness") is None else float(d["fitness"]),
            success_rate=None if d.get("success_rate") is None else float(d["success_rate"]),
            wall_s=float(d.get("wall_s", 0.0)),
            message=str(d.get("message", "")),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation (0 for one value) and count of the ok values."""

    mean: float
    std: float
    n: int


def stat(values: Sequence[float]) -> Stat | None:
    if not values:
        return None
    return Stat(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values))


def fitness_stat(results: Sequence[Trained]) -> Stat | None:
    return stat([r.fitness for r in results if r.fitness is not None])


def success_stat(results: Sequence[Trained]) -> Stat | None:
    return stat([r.success_rate for r in results if r.success_rate is not None])


def hns(method: float, human: float, sparse: float) -> float | None:
    """Eureka's human-normalized score; ``None`` when the human and the sparse reward score the same."""
    if math.isclose(human, sparse, rel_tol=0.0, abs_tol=1e-12):
        return None
    return (method - sparse) / abs(human - sparse)


def clip(x: float) -> float:
    return min(max(x, CLIP[0]), CLIP[1])


SeedStatus = Literal["ok", "no_program", "failed"]


@dataclass(frozen=True)
class SeedScore:
    """One search seed of a task: its best program's fitness (mean over evaluation seeds) and HNS."""

    seed: int
    status: SeedStatus
    method: Stat | None
    hns: float | None
    message: str = ""


@dataclass(frozen=True)
class TaskScore:
    """A task's numbers for one configuration (see the module docstring)."""

    task: str
    status: Literal["ok", "undefined"]
    reason: str
    method: Stat | None
    human: Stat | None
    sparse: Stat | None
    hns: float | None
    hns_std: float | None
    hns_clipped: float | None
    seeds: tuple[SeedScore, ...]
    success: Mapping[str, Stat | None] | None
    """Game tasks: success rate of the best programs (``method``), of ``human`` and of ``sparse``."""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["success"] = None if self.success is None else {k: v and asdict(v) for k, v in self.success.items()}
        return out


def seed_score(seed: int, programs: Sequence[Trained], human: Stat | None, sparse: Stat | None) -> SeedScore:
    """The score of one search seed from its best program's retrainings (empty: the search found none)."""
    if not programs:
        return SeedScore(seed, "no_program", None, None, "the search found no working program")
    method = fitness_stat(programs)
    if method is None:
        return SeedScore(seed, "failed", None, None, "; ".join(sorted({r.message[:120] for r in programs})))
    value = None if human is None or sparse is None else hns(method.mean, human.mean, sparse.mean)
    return SeedScore(seed, "ok", method, value)


def score_task(
    task: str,
    human: Sequence[Trained],
    sparse: Sequence[Trained],
    programs: Mapping[int, Sequence[Trained]],
    *,
    success_rates: bool,
) -> TaskScore:
    """A task's score from its baselines' and each search seed's retrainings (``programs`` by search seed)."""
    h, s = fitness_stat(human), fitness_stat(sparse)
    seeds = tuple(seed_score(seed, programs[seed], h, s) for seed in sorted(programs))
    values = [x.hns for x in seeds if x.hns is not None]
    method = fitness_stat([r for seed in sorted(programs) for r in programs[seed]])
    success = None
    if success_rates:
        all_programs = [r for seed in sorted(programs) for r in programs[seed]]
        success = {"method": success_stat(all_programs), "human": success_stat(human), "sparse": success_stat(sparse)}
    if h is None or s is None:
        reason = "a baseline failed to train or evaluate"
    elif hns(0.0, h.mean, s.mean) is None:
        reason = "the human and the sparse reward score the same: the HNS is undefined"
    elif not values:
        reason = "no search seed has a scored program"
    else:
        v = statistics.fmean(values)
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return TaskScore(task, "ok", "", method, h, s, v, sd, clip(v), seeds, success)
    return TaskScore(task, "undefined", reason, method, h, s, None, None, None, seeds, success)


@dataclass(frozen=True)
class SuiteScore:
    """The suite mean of the tasks' HNS, raw and with each task clipped to [0, 3]; which tasks count."""

    hns_mean: float | None
    hns_mean_clipped: float | None
    scored: tuple[str, ...]
    unscored: tuple[str, ...]


def suite_score(tasks: Sequence[TaskScore]) -> SuiteScore:
    ok = [t for t in tasks if t.hns is not None and t.hns_clipped is not None]
    return SuiteScore(
        statistics.fmean(t.hns for t in ok if t.hns is not None) if ok else None,
        statistics.fmean(t.hns_clipped for t in ok if t.hns_clipped is not None) if ok else None,
        tuple(t.task for t in ok),
        tuple(t.task for t in tasks if t not in ok),
    )


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, level: float = BOOTSTRAP_LEVEL, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of ``values`` (fixed RNG seed: the same numbers each time)."""
    if not values:
        return None
    x = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


@dataclass(frozen=True)
class PairRow:
    """One task of a paired comparison: each configuration's HNS and the difference ``b - a``."""

    task: str
    a: float | None
    b: float | None
    diff: float | None


@dataclass(frozen=True)
class Comparison:
    """Configuration ``b`` against ``a`` on the same tasks and seeds (see the module docstring)."""

    a: str
    b: str
    rows: tuple[PairRow, ...]
    pairs: int
    mean_diff: float | None
    ci: tuple[float, float] | None
    level: float = BOOTSTRAP_LEVEL

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compare(name_a: str, a: Sequence[TaskScore], name_b: str, b: Sequence[TaskScore]) -> Comparison:
    """Pair two configurations' task scores by task and search seed."""
    by_task = {t.task: t for t in b}
    rows, diffs = [], []
    for ta in a:
        tb = by_task.get(ta.task)
        if tb is None:
            continue
        diff = None if ta.hns is None or tb.hns is None else tb.hns - ta.hns
        rows.append(PairRow(ta.task, ta.hns, tb.hns, diff))
        seeds_b = {s.seed: s for s in tb.seeds}
        for sa in ta.seeds:
            sb = seeds_b.get(sa.seed)
            if sa.hns is not None and sb is not None and sb.hns is not None:
                diffs.append(sb.hns - sa.hns)
    mean = statistics.fmean(diffs) if diffs else None
    return Comparison(name_a, name_b, tuple(rows), len(diffs), mean, bootstrap_ci(diffs))
