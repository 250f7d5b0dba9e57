"""Successive halving (ASHA's names): rung budgets, who is kept at a rung, and each rung's result on disk.

A generation's candidates all train to rung 0's budget (the *grace* budget);
the trusted evaluator scores each; the best ``ceil(n / eta)`` are kept and the
rest stop (status ``stopped_early``); the kept ones continue from their
checkpoint to the next rung's budget, up to the full budget at the last rung.
With ``rungs`` rungs and reduction factor ``eta`` the budget of rung ``r`` is
``total / eta ** (rungs - 1 - r)`` env-steps (cumulative), unless
``grace_steps`` sets rung 0's and the rungs in between are spaced
geometrically from it to ``total``.

Every rung's result is written atomically to ``rungs/rung_<r>.json`` in the
candidate's folder before any decision uses it, so a resumed run replays the
same decisions and never retrains a finished rung.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from eureka_kit.errors import UsageError
from eureka_kit.files import UntrustedFileError, atomic_write_json, read_bounded_json

RUNGS_DIR = "rungs"
MAX_RUNG_FILE_BYTES = 64_000

RungStatus = Literal["ok", "train_error", "timeout", "out_of_memory", "killed", "executor_error", "eval_error"]


@dataclass(frozen=True)
class HalvingPlan:
    """The rung budgets of one candidate: ``steps[r]`` env-steps in all after rung ``r`` (increasing, last = total)."""

    steps: tuple[int, ...]
    eta: int

    @property
    def rungs(self) -> int:
        return len(self.steps)

    def keep(self, n: int) -> int:
        """How many of ``n`` candidates that finished a rung go on to the next: ``ceil(n / eta)``."""
        return math.ceil(n / self.eta) if n > 0 else 0


def make_plan(total_steps: int, rungs: int, eta: int, grace_steps: int | None = None) -> HalvingPlan:
    """The plan for ``total_steps`` per candidate; raises ``ValueError`` naming a bad value and the valid range."""
    if rungs < 1:
        raise UsageError(f"rungs must be >= 1, got {rungs}")
    if eta < 2:
        raise UsageError(f"reduction_factor (eta) must be >= 2, got {eta}")
    if total_steps < 1:
        raise UsageError(f"total steps must be >= 1, got {total_steps}")
    if grace_steps is None:
        steps = [max(1, round(total_steps / eta ** (rungs - 1 - r))) for r in range(rungs)]
    else:
        if not 1 <= grace_steps <= total_steps:
            raise UsageError(f"grace_steps must be in [1, {total_steps}] (the total budget), got {grace_steps}")
        ratio = (total_steps / grace_steps) ** (1 / (rungs - 1)) if rungs > 1 else 1.0
        steps = [max(1, round(grace_steps * ratio**r)) for r in range(rungs)]
    steps[-1] = total_steps
    for r in range(1, rungs):  # tiny budgets can round two rungs to the same count
        steps[r] = max(steps[r], steps[r - 1])
    return HalvingPlan(tuple(steps), eta)


@dataclass(frozen=True)
class RungResult:
    """One candidate's result at one rung: trained to ``steps``, then scored by the trusted evaluator."""

    rung: int
    steps: int
    """The rung's budget (cumulative env-steps)."""
    env_steps: int
    """Env-steps the candidate has used in all after this rung (a backend trains whole rollouts: >= steps)."""
    status: RungStatus
    message: str
    fitness: float | None = None
    fitness_std: float | None = None
    train_wall_s: float | None = None
    env_steps_per_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.fitness is not None and math.isfinite(self.fitness)

    def to_json(self) -> dict[str, Any]:
        return {
            "rung": self.rung,
            "steps": self.steps,
            "env_steps": self.env_steps,
            "status": self.status,
            "message": self.message,
            "fitness": self.fitness,
            "fitness_std": self.fitness_std,
            "train_wall_s": self.train_wall_s,
            "env_steps_per_s": self.env_steps_per_s,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RungResult:
        status: RungStatus = d.get("status")  # type: ignore[assignment]  # checked on the next line
        if status not in get_args(RungStatus):
            raise UsageError(f"unknown rung status {status!r}; valid: {', '.join(get_args(RungStatus))}")

        def num(key: str) -> float | None:
            v = d.get(key)
            return None if v is None else float(v)

        return cls(
            rung=int(d["rung"]),
            steps=int(d["steps"]),
            env_steps=int(d["env_steps"]),
            status=status,
            message=str(d.get("message", "")),
            fitness=num("fitness"),
            fitness_std=num("fitness_std"),
            train_wall_s=num("train_wall_s"),
            env_steps_per_s=num("env_steps_per_s"),
        )


def rung_path(cand_dir: Path, rung: int) -> Path:
    return Path(cand_dir) / RUNGS_DIR / f"rung_{rung}.json"


def checkpoint_dir(rung: int) -> Path:
    """Where a candidate's checkpoint after ``rung`` lives, relative to its folder (the training child's cwd).

    A top-level entry of its own per rung: the sandbox binds a folder's existing entries read-only, so the next
    rung's child reads this one and cannot change it, and adds its own beside it.
    """
    return Path(f"checkpoint_rung_{rung}")


def write_rung(cand_dir: Path, result: RungResult) -> None:
    path = rung_path(cand_dir, result.rung)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, result.to_json())


def read_rung(cand_dir: Path, rung: int) -> RungResult | None:
    """The recorded result of ``rung``, or ``None`` when there is none (or it is damaged: the rung is redone)."""
    path = rung_path(cand_dir, rung)
    if not path.is_file():
        return None
    try:
        return RungResult.from_json(read_bounded_json(path, MAX_RUNG_FILE_BYTES))
    except (UntrustedFileError, KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RungDecision:
    """Who goes on after a rung: ``kept`` and ``stopped`` candidate indices, and the bar (worst kept fitness)."""

    rung: int
    kept: tuple[int, ...]
    stopped: tuple[int, ...]
    bar: float | None


def decide(plan: HalvingPlan, rung: int, results: Mapping[int, RungResult]) -> RungDecision:
    """Keep the best ``ceil(n / eta)`` of the candidates that finished ``rung`` (ties: lower index first).

    ``results`` maps candidate index -> its result at ``rung``; only ``ok``
    ones take part (a failed training ends with its own status instead).
    At the last rung everyone who finished is kept.
    """
    ranked = sorted((i for i, r in results.items() if r.ok), key=lambda i: (-_fit(results[i]), i))
    n_keep = len(ranked) if rung == plan.rungs - 1 else plan.keep(len(ranked))
    kept, stopped = tuple(ranked[:n_keep]), tuple(ranked[n_keep:])
    bar = _fit(results[kept[-1]]) if kept else None
    return RungDecision(rung, kept, stopped, bar)


def _fit(r: RungResult) -> float:
    assert r.fitness is not None
    return r.fitness


def stop_message(plan: HalvingPlan, decision: RungDecision, result: RungResult) -> str:
    """E.g. ``stopped early at rung 1 of 3 (fitness 0.12 vs kept 0.87, after 2,000 of 18,000 env-steps)``."""
    bar = "n/a" if decision.bar is None else f"{decision.bar:.4g}"
    fit = "n/a" if result.fitness is None else f"{result.fitness:.4g}"
    return (
        f"stopped early at rung {decision.rung + 1} of {plan.rungs} (fitness {fit} vs kept {bar}, after "
        f"{result.env_steps:,} of {plan.steps[-1]:,} env-steps)"
    )
