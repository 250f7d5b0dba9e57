"""The training job contract, shared by the loop, the sandboxed child, every training backend and the evaluator.

A :class:`TrainJob` says what to train (task, reward, budget, seed, backend,
device); the child writes the files named here (:data:`POLICY_FILE`,
:data:`OBS_NORM_FILE`, :data:`STATS_FILE`) into its folder. ``stats.json`` is
untrusted: :func:`read_stats` parses it as bounded, type-checked JSON
(:class:`TrainStats`) used only as feedback text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

from eureka_kit.errors import UserError
from eureka_kit.files import UntrustedFileError, read_bounded_json
from eureka_kit.sandbox.protocol import ERROR_FILE, ErrorKind
from eureka_kit.sandbox.runner import Limits

__all__ = ["ERROR_FILE", "ErrorKind"]

RewardKind = Literal["program", "baseline", "sparse"]
"""``program``: the LLM's reward.py; ``baseline``: the env's own reward; ``sparse``: the task's fitness step value."""

TrainStatus = Literal["ok", "train_error", "timeout", "out_of_memory", "killed", "executor_error"]
"""``executor_error``: the executor could not run the job (a cluster task lost after its retries, files over the
transfer bound, no sandbox on the node); the message names the task and node."""


POLICY_FILE = "policy.safetensors"
OBS_NORM_FILE = "obs_norm.safetensors"
STATS_FILE = "stats.json"
JOB_FILE = "job.json"
LOG_FILE = "train.log"
HEARTBEAT_FILE = "heartbeat"

DEFAULT_LIMITS = Limits(wall_s=1800.0, address_space_mb=4096, heartbeat_s=300.0)
"""Limits of one candidate's training when the caller gives none."""

MAX_STATS_BYTES = 256_000
MAX_SAMPLES = 64
MAX_COMPONENTS = 32
MAX_NAME_CHARS = 64
_NAME_RE = re.compile(r"^[A-Za-z0-9_.:/ ()\[\]+\-]{1,64}$")
OUTPUTS = (POLICY_FILE, OBS_NORM_FILE, STATS_FILE, ERROR_FILE)
"""Files of an earlier attempt that the runner removes before training again."""


class ConfigError(UserError, ValueError):
    """A job's backend, algorithm, hyperparameters or policy settings are invalid; names the key and the valid ones."""


class StatsFormatError(ValueError):
    """``stats.json`` written by a child does not have the expected, bounded shape."""


@dataclass(frozen=True)
class TrainJob:
    """One training run of one candidate. ``None`` steps / envs mean the task's defaults.

    ``hyperparams`` override the task's algorithm keywords (and may hold a
    ``policy_kwargs`` mapping); the evaluator must be given the same overrides.
    """

    task_id: str
    reward_kind: RewardKind = "program"
    reward_path: Path | None = None
    total_steps: int | None = None
    n_envs: int | None = None
    seed: int = 0
    hyperparams: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    backend: str = "sb3"
    """The training backend (:mod:`eureka_kit.training.backends`): ``sb3``, ``cpu`` (batched MuJoCo, grids), ``gpu``."""
    device: str = "cpu"
    """Torch device of the learner (and of the simulation for the GPU backend): ``cpu``, ``cuda``, ``cuda:1``."""
    fitness: str | None = None
    """The run's fitness expression (:mod:`eureka_kit.tasks.fitness_expr`), or ``None`` for the task's own: the
    child's training statistics (reward reflection) then report the same fitness the trusted evaluator uses."""
    resume_from: Path | None = None
    """A checkpoint folder (relative to the job's folder) to continue from: ``total_steps`` is then the budget in all,
    the checkpoint's steps included (successive halving, :mod:`eureka_kit.schedule.halving`)."""
    checkpoint_to: Path | None = None
    """A folder (relative to the job's folder) where the child writes a resumable checkpoint at the end."""

    def __post_init__(self) -> None:
        if self.reward_kind not in get_args(RewardKind):
            raise ValueError(f"unknown reward_kind {self.reward_kind!r}; valid: {', '.join(get_args(RewardKind))}")
        if self.reward_kind == "program" and self.reward_path is None:
            raise ValueError("reward_kind 'program' needs reward_path")
        if self.reward_path is not None:
            object.__setattr__(self, "reward_path", Path(self.reward_path))
        object.__setattr__(self, "hyperparams", MappingProxyType(dict(self.hyperparams)))
        for name in ("resume_from", "checkpoint_to"):
            value = getattr(self, name)
            if value is not None:
                path = Path(value)
                if path.is_absolute() or ".." in path.parts or not path.parts:
                    raise ValueError(
                        f"{name} must be a folder inside the job's folder (relative, no '..'), got {value}"
                    )
                object.__setattr__(self, name, path)

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "reward_kind": self.reward_kind,
            "reward_path": str(self.reward_path) if self.reward_path is not None else None,
            "total_steps": self.total_steps,
            "n_envs": self.n_envs,
            "seed": self.seed,
            "hyperparams": dict(self.hyperparams),
            "backend": self.backend,
            "device": self.device,
            "fitness": self.fitness,
            "resume_from": None if self.resume_from is None else str(self.resume_from),
            "checkpoint_to": None if self.checkpoint_to is None else str(self.checkpoint_to),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainJob:
        path = data.get("reward_path")
        return cls(
            task_id=str(data["task_id"]),
            reward_kind=data.get("reward_kind", "program"),
            reward_path=Path(path) if path is not None else None,
            total_steps=None if data.get("total_steps") is None else int(data["total_steps"]),
            n_envs=None if data.get("n_envs") is None else int(data["n_envs"]),
            seed=int(data.get("seed", 0)),
            hyperparams=dict(data.get("hyperparams") or {}),
            backend=str(data.get("backend", "sb3")),
            device=str(data.get("device", "cpu")),
            fitness=None if data.get("fitness") is None else str(data["fitness"]),
            resume_from=None if data.get("resume_from") is None else Path(str(data["resume_from"])),
            checkpoint_to=None if data.get("checkpoint_to") is None else Path(str(data["checkpoint_to"])),
        )


# ----- training statistics (written by the child, validated by the parent) ----------------------------


def _num(x: Any, what: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise StatsFormatError(f"{what} must be a number or null, got {type(x).__name__}")
    v = float(x)
    if not math.isfinite(v):
        raise StatsFormatError(f"{what} must be finite, got {v}")
    return v


def _int(x: Any, what: str, hi: int = 10**12) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= hi:
        raise StatsFormatError(f"{what} must be an integer in [0, {hi}], got {x!r}")
    return x


def _name(x: Any) -> str:
    if not isinstance(x, str) or not _NAME_RE.match(x):
        raise StatsFormatError(f"component name must match {_NAME_RE.pattern}, got {str(x)[:80]!r}")
    return x


def _values(x: Any, what: str) -> Mapping[str, float | None]:
    if not isinstance(x, Mapping) or len(x) > MAX_COMPONENTS:
        raise StatsFormatError(f"{what} must be an object of at most {MAX_COMPONENTS} numbers")
    return MappingProxyType({_name(k): _num(v, f"{what}[{k}]") for k, v in x.items()})


@dataclass(frozen=True)
class StatsSample:
    """Reward-reflection values at one point of training.

    Episode values are means over the last ``window`` finished episodes (``None``
    before the first one ends): per-episode sums of each component and of the
    total, the task's fitness and the episode length. ``step_means`` are
    per-step means of each component and of ``total`` since the previous
    sample; they exist even when no episode has ended yet.
    """

    step: int
    episodes: int
    window: int
    total: float | None
    fitness: float | None
    length: float | None
    env_return: float | None
    components: Mapping[str, float | None]
    step_means: Mapping[str, float | None]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "episodes": self.episodes,
            "window": self.window,
            "total": self.total,
            "fitness": self.fitness,
            "length": self.length,
            "env_return": self.env_return,
            "components": dict(self.components),
            "step_means": dict(self.step_means),
        }

    @classmethod
    def from_json(cls, d: Any) -> StatsSample:
        if not isinstance(d, Mapping):
            raise StatsFormatError("each sample must be an object")
        return cls(
            step=_int(d.get("step"), "step"),
            episodes=_int(d.get("episodes"), "episodes"),
            window=_int(d.get("window"), "window"),
            total=_num(d.get("total"), "total"),
            fitness=_num(d.get("fitness"), "fitness"),
            length=_num(d.get("length"), "length"),
            env_return=_num(d.get("env_return"), "env_return"),
            components=_values(d.get("components", {}), "components"),
            step_means=_values(d.get("step_means", {}), "step_means"),
        )


@dataclass(frozen=True)
class TrainStats:
    """``stats.json``: reflection samples along training and throughput (untrusted; feedback only)."""

    reward_kind: RewardKind
    components: tuple[str, ...]
    samples: tuple[StatsSample, ...]
    total_steps: int
    wall_s: float
    env_steps_per_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "reward_kind": self.reward_kind,
            "components": list(self.components),
            "samples": [s.to_json() for s in self.samples],
            "total_steps": self.total_steps,
            "wall_s": self.wall_s,
            "env_steps_per_s": self.env_steps_per_s,
        }

    @classmethod
    def from_json(cls, d: Any) -> TrainStats:
        """Parse untrusted JSON: bounded sizes, checked types, finite numbers; raises :class:`StatsFormatError`."""
        if not isinstance(d, Mapping):
            raise StatsFormatError("stats must be an object")
        kind = d.get("reward_kind")
        if kind not in get_args(RewardKind):
            raise StatsFormatError(f"unknown reward_kind {str(kind)[:40]!r}")
        comps = d.get("components")
        if not isinstance(comps, list) or len(comps) > MAX_COMPONENTS:
            raise StatsFormatError(f"components must be a list of at most {MAX_COMPONENTS} names")
        samples = d.get("samples")
        if not isinstance(samples, list) or len(samples) > MAX_SAMPLES:
            raise StatsFormatError(f"samples must be a list of at most {MAX_SAMPLES} objects")
        wall = _num(d.get("wall_s"), "wall_s")
        rate = _num(d.get("env_steps_per_s"), "env_steps_per_s")
        if wall is None or wall < 0 or rate is None or rate < 0:
            raise StatsFormatError("wall_s and env_steps_per_s must be non-negative numbers")
        return cls(
            reward_kind=kind,  # type: ignore[arg-type]  # checked above
            components=tuple(_name(c) for c in comps),
            samples=tuple(StatsSample.from_json(s) for s in samples),
            total_steps=_int(d.get("total_steps"), "total_steps"),
            wall_s=wall,
            env_steps_per_s=rate,
        )

    def series(self) -> dict[str, list[float]]:
        """Named value curves for reward reflection: each component, the total, fitness and episode length.

        Components and total are per-episode sums once episodes have ended;
        before any episode ends (tiny budgets) they fall back to per-step
        means, named ``"<name> (per-step mean)"``.
        """
        out: dict[str, list[float]] = {}
        episodic = any(s.total is not None for s in self.samples)

        def add(name: str, values: list[float | None]) -> None:
            vals = [v for v in values if v is not None]
            if vals:
                out[name] = vals

        for c in self.components:
            if episodic:
                add(c, [s.components.get(c) for s in self.samples])
            else:
                add(f"{c} (per-step mean)", [s.step_means.get(c) for s in self.samples])
        if episodic:
            add("total reward", [s.total for s in self.samples])
        else:
            add("total reward (per-step mean)", [s.step_means.get("total") for s in self.samples])
        add("fitness", [s.fitness for s in self.samples])
        add("episode length", [s.length for s in self.samples])
        return out


def read_stats(path: Path) -> TrainStats:
    """Read and validate a child's ``stats.json`` (at most :data:`MAX_STATS_BYTES`)."""
    try:
        data = read_bounded_json(path, MAX_STATS_BYTES)
    except UntrustedFileError as e:
        raise StatsFormatError(str(e)) from None
    try:
        return TrainStats.from_json(data)
    except (TypeError, ValueError, AttributeError, RecursionError) as e:
        if isinstance(e, StatsFormatError):
            raise
        raise StatsFormatError(f"{path.name} has an unexpected shape: {type(e).__name__}: {str(e)[:200]}") from None
