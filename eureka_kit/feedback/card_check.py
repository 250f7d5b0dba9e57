"""CARD's Trajectory Preference Evaluation: judge a new reward program on earlier candidates' episodes.

Before a candidate trains, its reward program scores evaluation trajectories
of earlier candidates, each labelled *successful* or *failed* by its (trusted)
fitness. A reward that does not give the successful ones more reward per step
than the failed ones would train a policy towards the failed behaviour, so
the candidate can be sent back to the LLM without spending a training run.

Labelling rule (:class:`TrajectoryStore`)
    With a ``success_threshold`` (default: 0.5 for tasks whose fitness is a
    success flag, ``aggregate == "any"``), a trajectory is successful when its
    fitness is at least the threshold and failed otherwise. Without one, the
    labels are relative to the stored trajectories: the top ``top_fraction``
    (30%, rounded up) by fitness are successful, the bottom
    ``bottom_fraction`` (50%, rounded down) failed, the middle unlabelled; a
    failed trajectory must have a strictly lower fitness than every
    successful one (ties are dropped from the failed set).

Test (:func:`check_trajectories`)
    score = the program's mean per-step reward on a trajectory (sandboxed, see
    :func:`eureka_kit.feedback.score_child.score_trajectories`). The check passes when
    at least ``threshold`` (0.8) of the successful trajectories score higher
    than the best-scoring failed one; it is ``skipped`` with fewer than
    :data:`MIN_LABELLED` successful or failed trajectories, and ``error`` when
    the program cannot be run on them (the message says why).

Not to be confused with the reward critic (:mod:`eureka_kit.reward.critic`,
run by :mod:`eureka_kit.reward.check_runner`), which checks a program's
source and its outputs on smoke batches; this check judges what the program
prefers, on real episodes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from eureka_kit.feedback.score_child import SCORE_LIMITS, score_trajectories
from eureka_kit.feedback.trajectory import MAX_TRAJECTORIES, Trajectory, load_trajectories, save_trajectories
from eureka_kit.files import atomic_write_json, read_bounded_json
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.spec import TaskSpec

CheckStatus = Literal["pass", "fail", "skipped", "error"]

PASS_THRESHOLD = 0.8
MIN_LABELLED = 2
"""At least this many successful and this many failed trajectories, else the check is skipped."""
STORE_FILE = "trajectory_store.json"
MAX_STORE_META_BYTES = 1_000_000
"""Largest ``trajectory_store.json`` read (ids of at most ``max_size`` trajectories and the labelling rule)."""
STORE_TRAJECTORIES = "trajectory_store.npz"


@dataclass(frozen=True, eq=False)
class StoredTrajectory:
    """A stored evaluation episode; ``id`` is ``"<candidate>/ep_<i>"`` (e.g. ``gen_000/cand_03/ep_2``)."""

    id: str
    trajectory: Trajectory

    @property
    def fitness(self) -> float:
        return self.trajectory.fitness


class TrajectoryStore:
    """Evaluation trajectories of earlier candidates, labelled by fitness (see the module docstring).

    Keeps at most ``per_candidate`` episodes per candidate (spread over its
    fitness range) and ``max_size`` in all; beyond that the trajectories with
    middle fitness are dropped first (the extremes are the informative ones).
    Rebuild it on resume by calling :meth:`add` for each evaluated candidate,
    or use :meth:`save` / :meth:`load`.
    """

    def __init__(
        self,
        spec: TaskSpec,
        *,
        success_threshold: float | None = None,
        top_fraction: float = 0.3,
        bottom_fraction: float = 0.5,
        per_candidate: int = 3,
        max_size: int = 48,
    ) -> None:
        if not (0 < top_fraction < 1 and 0 < bottom_fraction < 1 and top_fraction + bottom_fraction <= 1):
            raise ValueError("top_fraction and bottom_fraction must be in (0, 1) and sum to at most 1")
        if per_candidate < 1 or not 2 <= max_size <= MAX_TRAJECTORIES:
            raise ValueError(f"per_candidate must be >= 1 and max_size in [2, {MAX_TRAJECTORIES}]")
        if success_threshold is None and spec.fitness.aggregate == "any":
            success_threshold = 0.5
        self.spec = spec
        self.success_threshold = success_threshold
        self.top_fraction = top_fraction
        self.bottom_fraction = bottom_fraction
        self.per_candidate = per_candidate
        self.max_size = max_size
        self._items: list[StoredTrajectory] = []

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> tuple[StoredTrajectory, ...]:
        return tuple(self._items)

    def add(self, candidate: str, trajectories: Sequence[Trajectory]) -> None:
        """Store up to ``per_candidate`` of a candidate's evaluation trajectories (non-finite fitness skipped)."""
        indexed = [(i, t) for i, t in enumerate(trajectories) if math.isfinite(t.fitness)]
        indexed.sort(key=lambda it: it[1].fitness)
        if len(indexed) > self.per_candidate:
            picks = sorted({round(x) for x in np.linspace(0, len(indexed) - 1, self.per_candidate)})
            indexed = [indexed[p] for p in picks]
        known = {s.id for s in self._items}
        for i, t in indexed:
            sid = f"{candidate}/ep_{i}"
            if sid not in known:
                self._items.append(StoredTrajectory(sid, t))
        if len(self._items) > self.max_size:
            ranked = sorted(self._items, key=lambda s: s.fitness)
            low, high = self.max_size // 2, self.max_size - self.max_size // 2
            keep = {s.id for s in ranked[:low] + ranked[-high:]}
            self._items = [s for s in self._items if s.id in keep]

    def labelled(self) -> tuple[tuple[StoredTrajectory, ...], tuple[StoredTrajectory, ...]]:
        """(successful, failed) under the store's labelling rule."""
        items = sorted(self._items, key=lambda s: s.fitness)
        if self.success_threshold is not None:
            thr = self.success_threshold
            return tuple(s for s in items if s.fitness >= thr), tuple(s for s in items if s.fitness < thr)
        n = len(items)
        if n < 2:
            return (), ()
        top = items[n - max(1, math.ceil(self.top_fraction * n)) :]
        bottom = items[: max(1, math.floor(self.bottom_fraction * n))]
        floor = min(s.fitness for s in top)
        return tuple(top), tuple(s for s in bottom if s.fitness < floor)

    def save(self, folder: Path) -> None:
        """Write ``trajectory_store.npz`` and ``trajectory_store.json`` (ids and labelling rule) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_trajectories(folder / STORE_TRAJECTORIES, [s.trajectory for s in self._items])
        meta = {
            "task_id": self.spec.id,
            "ids": [s.id for s in self._items],
            "success_threshold": self.success_threshold,
            "top_fraction": self.top_fraction,
            "bottom_fraction": self.bottom_fraction,
            "per_candidate": self.per_candidate,
            "max_size": self.max_size,
        }
        atomic_write_json(folder / STORE_FILE, meta)

    @classmethod
    def load(cls, folder: Path, spec: TaskSpec) -> TrajectoryStore:
        """Read a store written by :meth:`save` for the same task."""
        folder = Path(folder)
        meta = read_bounded_json(folder / STORE_FILE, MAX_STORE_META_BYTES)
        if meta.get("task_id") != spec.id:
            raise ValueError(f"the trajectory store in {folder} is for task {meta.get('task_id')!r}, not {spec.id!r}")
        store = cls(
            spec,
            success_threshold=meta["success_threshold"],
            top_fraction=float(meta["top_fraction"]),
            bottom_fraction=float(meta["bottom_fraction"]),
            per_candidate=int(meta["per_candidate"]),
            max_size=int(meta["max_size"]),
        )
        trajectories = load_trajectories(folder / STORE_TRAJECTORIES)
        ids = [str(i) for i in meta["ids"]]
        if len(ids) != len(trajectories):
            raise ValueError(f"{STORE_FILE} lists {len(ids)} ids for {len(trajectories)} trajectories")
        store._items = [StoredTrajectory(i, t) for i, t in zip(ids, trajectories, strict=True)]
        return store


@dataclass(frozen=True)
class ScoredTrajectory:
    """One labelled trajectory and the new program's mean per-step reward on it."""

    id: str
    fitness: float
    mean_reward: float
    length: int
    terminated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fitness": self.fitness,
            "mean_reward": self.mean_reward,
            "length": self.length,
            "terminated": self.terminated,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ScoredTrajectory:
        return cls(str(d["id"]), float(d["fitness"]), float(d["mean_reward"]), int(d["length"]), bool(d["terminated"]))


@dataclass(frozen=True)
class TrajectoryCheck:
    """Result of :func:`check_trajectories` (``check_trajectories.json`` beside the candidate, if the loop saves it).

    ``fraction``: share of successful trajectories scoring above the best
    failed one; ``worst_successful`` / ``best_failed``: the worst pair, the
    evidence of a failure. ``message`` is fit to send to the LLM as is.
    """

    status: CheckStatus
    message: str
    threshold: float = PASS_THRESHOLD
    fraction: float | None = None
    successful: int = 0
    failed: int = 0
    worst_successful: ScoredTrajectory | None = None
    best_failed: ScoredTrajectory | None = None
    wall_s: float = 0.0

    @property
    def worst_pair(self) -> tuple[ScoredTrajectory, ScoredTrajectory] | None:
        if self.worst_successful is None or self.best_failed is None:
            return None
        return self.worst_successful, self.best_failed

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "threshold": self.threshold,
            "fraction": self.fraction,
            "successful": self.successful,
            "failed": self.failed,
            "worst_successful": self.worst_successful.to_json() if self.worst_successful else None,
            "best_failed": self.best_failed.to_json() if self.best_failed else None,
            "wall_s": self.wall_s,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TrajectoryCheck:
        if d["status"] not in ("pass", "fail", "skipped", "error"):
            raise ValueError(f"unknown trajectory check status {d['status']!r}")
        ws, bf = d.get("worst_successful"), d.get("best_failed")
        return cls(
            status=d["status"],
            message=str(d["message"]),
            threshold=float(d.get("threshold", PASS_THRESHOLD)),
            fraction=None if d.get("fraction") is None else float(d["fraction"]),
            successful=int(d.get("successful", 0)),
            failed=int(d.get("failed", 0)),
            worst_successful=ScoredTrajectory.from_json(ws) if ws else None,
            best_failed=ScoredTrajectory.from_json(bf) if bf else None,
            wall_s=float(d.get("wall_s", 0.0)),
        )


def _g(x: float) -> str:
    return f"{x:.3g}"


def _describe(spec: TaskSpec, s: ScoredTrajectory) -> str:
    ended = "terminated" if s.terminated else "not terminated"
    return (
        f"{s.id} ({spec.fitness.name} {_g(s.fitness)} {spec.fitness.unit}, {s.length} steps, {ended}) "
        f"gets {_g(s.mean_reward)} per step"
    )


def check_trajectories(
    spec: TaskSpec,
    source: str,
    store: TrajectoryStore,
    workdir: Path,
    *,
    threshold: float = PASS_THRESHOLD,
    limits: Limits = SCORE_LIMITS,
) -> TrajectoryCheck:
    """Does the program ``source`` prefer the successful stored trajectories? Never raises for a bad program.

    The program runs in a sandboxed child working in ``workdir``.
    """
    start = time.monotonic()
    successful, failed = store.labelled()
    n_ok, n_failed = len(successful), len(failed)
    if len(successful) < MIN_LABELLED or len(failed) < MIN_LABELLED:
        return TrajectoryCheck(
            "skipped",
            f"trajectory check skipped: {len(successful)} successful and {len(failed)} failed stored trajectories "
            f"(need at least {MIN_LABELLED} of each)",
            threshold=threshold,
            successful=n_ok,
            failed=n_failed,
        )
    labelled = [*successful, *failed]
    scores = score_trajectories(spec, source, [s.trajectory for s in labelled], workdir, limits)
    if not scores.ok:
        return TrajectoryCheck(
            "error",
            f"the reward function could not be run on stored trajectories of earlier policies: {scores.message}",
            wall_s=time.monotonic() - start,
            threshold=threshold,
            successful=n_ok,
            failed=n_failed,
        )
    scored = [
        ScoredTrajectory(s.id, s.fitness, sc.mean, s.trajectory.length, s.trajectory.terminated)
        for s, sc in zip(labelled, scores.trajectories, strict=True)
    ]
    good, bad = scored[: len(successful)], scored[len(successful) :]
    best_failed = max(bad, key=lambda s: s.mean_reward)
    worst_successful = min(good, key=lambda s: s.mean_reward)
    above = sum(s.mean_reward > best_failed.mean_reward for s in good)
    fraction = above / len(good)
    status: CheckStatus = "pass" if fraction >= threshold else "fail"
    summary = (
        f"{above} of {len(good)} successful trajectories of earlier policies ({100 * fraction:.0f}%, need "
        f"{100 * threshold:.0f}%) get a higher mean reward per step than the best-rewarded failed one"
    )
    if status == "pass":
        message = f"Trajectory check passed: {summary}."
    else:
        message = (
            f"Trajectory check failed: under this reward function only {summary}. Worst pair: successful "
            f"{_describe(spec, worst_successful)}, but failed {_describe(spec, best_failed)}. The reward prefers "
            f"behaviour with lower {spec.fitness.name}; revise compute_reward so that higher "
            f"{spec.fitness.name} earns more reward per step."
        )
    return TrajectoryCheck(
        status,
        message,
        fraction=fraction,
        worst_successful=worst_successful,
        best_failed=best_failed,
        wall_s=time.monotonic() - start,
        threshold=threshold,
        successful=n_ok,
        failed=n_failed,
    )
