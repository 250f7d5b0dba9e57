"""Trusted evaluation: fitness computed here, from policy weights only.

The training child is never trusted. :func:`evaluate_policy` has the job's
training backend build the policy network itself (from the task's training
defaults and the job's overrides, never from what the child wrote), loads *only tensors* from
``policy.safetensors`` (never a pickle or an SB3 zip), refuses a file that is
not a plain safetensors file or whose keys / shapes / dtypes do not match the
network, applies the stored observation normalization, and runs E
deterministic episodes on fixed seeds (``seed + i``). Each episode's fitness
is the task's :class:`~eureka_kit.tasks.spec.Fitness` computed from the states the
simulator reports; the run's fitness is the mean over episodes.

Optionally every episode's per-step states and env rewards (the rollouts, for
the trajectory analyzer) are saved as a compressed ``.npz`` (plain arrays,
bounded), read back with :func:`load_rollouts` as :class:`Rollout` records.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from eureka_kit.evaluation.episodes import Engine, RawEpisode, run_episodes
from eureka_kit.files import atomic_path
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.tasks.state_capture import stack_states
from eureka_kit.training.backends import Actor, get_backend
from eureka_kit.training.job import TrainJob
from eureka_kit.training.weights import WeightsError

EvalStatus = Literal["ok", "eval_error"]

MAX_ROLLOUT_STEPS = 50_000
"""At most this many steps (all episodes together) are saved as rollouts."""

ROLLOUTS_FILE = "rollouts.npz"


@dataclass(frozen=True)
class EpisodeResult:
    """One evaluation episode: fitness, how it ended, the env's own return and a summary of the final state."""

    seed: int
    fitness: float
    length: int
    terminated: bool
    truncated: bool
    env_return: float
    final_state: Mapping[str, float | tuple[float, ...]]

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "fitness": self.fitness,
            "length": self.length,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "env_return": self.env_return,
            "final_state": {k: list(v) if isinstance(v, tuple) else v for k, v in self.final_state.items()},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> EpisodeResult:
        return cls(
            seed=int(d["seed"]),
            fitness=float(d["fitness"]),
            length=int(d["length"]),
            terminated=bool(d["terminated"]),
            truncated=bool(d["truncated"]),
            env_return=float(d["env_return"]),
            final_state=MappingProxyType(
                {
                    str(k): tuple(float(x) for x in v) if isinstance(v, list) else float(v)
                    for k, v in d.get("final_state", {}).items()
                }
            ),
        )


@dataclass(frozen=True)
class Evaluation:
    """The trusted result of evaluating one policy (``eval.json``). ``fitness`` is the mean over episodes (or the
    task's score across them, :attr:`~eureka_kit.tasks.spec.Fitness.across`); ``fitness_std`` is over episodes."""

    status: EvalStatus
    message: str
    fitness: float | None
    fitness_std: float | None
    episodes: tuple[EpisodeResult, ...] = ()
    fitness_name: str = ""
    seed: int = 0
    wall_s: float = 0.0
    rollouts_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "fitness": self.fitness,
            "fitness_std": self.fitness_std,
            "fitness_name": self.fitness_name,
            "seed": self.seed,
            "wall_s": self.wall_s,
            "rollouts_file": self.rollouts_file,
            "episodes": [e.to_json() for e in self.episodes],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Evaluation:
        status = d["status"]
        if status not in ("ok", "eval_error"):
            raise ValueError(f"unknown evaluation status {status!r}")
        return cls(
            status=status,
            message=str(d.get("message", "")),
            fitness=None if d.get("fitness") is None else float(d["fitness"]),
            fitness_std=None if d.get("fitness_std") is None else float(d["fitness_std"]),
            episodes=tuple(EpisodeResult.from_json(e) for e in d.get("episodes", ())),
            fitness_name=str(d.get("fitness_name", "")),
            seed=int(d.get("seed", 0)),
            wall_s=float(d.get("wall_s", 0.0)),
            rollouts_file=d.get("rollouts_file"),
        )


def load_batch_actor(spec: TaskSpec, weights_dir: Path, job: TrainJob | None = None) -> Actor:
    """The trusted deterministic policy of ``weights_dir`` as ``act(observations (N, ...)) -> actions (N, ...)``.

    ``job`` is the training job as the parent wrote it (its backend and
    hyperparameter overrides decide the network); ``None`` means the task's
    defaults on the ``sb3`` backend. Raises :class:`WeightsError` (or
    ``ConfigError``) for unusable weights.
    """
    job = job if job is not None else TrainJob(task_id=spec.id, reward_kind="baseline")
    return get_backend(job.backend).load_actor(spec, job, Path(weights_dir))


def load_actor(spec: TaskSpec, weights_dir: Path, job: TrainJob | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`load_batch_actor` for one observation at a time: ``act(observation) -> action`` (videos, trajectories)."""
    batch_act = load_batch_actor(spec, weights_dir, job)

    def act(observation: np.ndarray) -> np.ndarray:
        return np.asarray(batch_act(np.asarray(observation, dtype=np.float32)[None])[0])

    return act


# ----- episodes ---------------------------------------------------------------------------------------


def _summary(state: Mapping[str, np.ndarray]) -> dict[str, float | tuple[float, ...]]:
    out: dict[str, float | tuple[float, ...]] = {}
    for k, v in state.items():
        a = np.asarray(v, dtype=np.float64)
        out[k] = float(f"{float(a):.6g}") if a.ndim == 0 else tuple(float(f"{x:.6g}") for x in a.reshape(-1)[:32])
    return out


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class Rollout:
    """One evaluation episode step by step: ``states[name]`` is ``(T, *shape)``, ``env_rewards`` is ``(T,)``.

    Episodes longer than the rollout budget are cut (``cut=True``); the
    episode's own record (:class:`EpisodeResult`) keeps the whole episode.
    """

    seed: int
    states: Mapping[str, np.ndarray]
    env_rewards: np.ndarray
    terminated: bool
    truncated: bool
    cut: bool = False


def _save_rollouts(path: Path, rollouts: list[Rollout], budget: int = MAX_ROLLOUT_STEPS) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, r in enumerate(rollouts):
        if budget <= 0:
            break
        t = len(r.env_rewards)
        keep = min(t, budget)
        for k, v in r.states.items():
            arrays[f"ep{i:03d}/states/{k}"] = np.asarray(v[:keep], dtype=np.float32)
        arrays[f"ep{i:03d}/env_rewards"] = np.asarray(r.env_rewards[:keep], dtype=np.float32)
        arrays[f"ep{i:03d}/meta"] = np.array([r.seed, r.terminated, r.truncated, keep < t], dtype=np.int64)
        budget -= keep
    _atomic_savez(path, arrays)


def load_rollouts(path: Path) -> list[Rollout]:
    """Rollouts saved by :func:`evaluate_policy` (plain arrays only: ``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as z:
        eps: dict[str, dict[str, np.ndarray]] = {}
        for key in z.files:
            ep, rest = key.split("/", 1)
            eps.setdefault(ep, {})[rest] = z[key]
    out = []
    for ep in sorted(eps):
        d = eps[ep]
        seed, term, trunc, cut = (int(x) for x in d["meta"])
        states = {k.split("/", 1)[1]: v for k, v in d.items() if k.startswith("states/")}
        out.append(Rollout(seed, MappingProxyType(states), d["env_rewards"], bool(term), bool(trunc), bool(cut)))
    return out


def _error(spec: TaskSpec, message: str, seed: int, start: float) -> Evaluation:
    return Evaluation(
        "eval_error", message, None, None, fitness_name=spec.fitness.name, seed=seed, wall_s=time.monotonic() - start
    )


def evaluate_policy(
    spec: TaskSpec,
    weights_dir: Path,
    episodes: int = 5,
    seed: int = 0,
    *,
    job: TrainJob | None = None,
    rollouts_path: Path | None = None,
    engine: Engine = "auto",
) -> Evaluation:
    """Run ``episodes`` deterministic episodes (seeds ``seed + i``) of the policy in ``weights_dir``.

    ``engine``: where the episodes run (:func:`eureka_kit.evaluation.episodes.run_episodes`): ``auto`` uses
    the batched CPU engine for tasks with a batched definition (the same episodes as gymnasium's, faster)
    and the gymnasium env otherwise.

    ``job`` is the training job as the parent wrote it (backend and network
    overrides; see :func:`load_actor`). With ``rollouts_path``, the
    per-step states are saved there (compressed npz, at most
    :data:`MAX_ROLLOUT_STEPS` steps). Never raises for a bad policy: returns
    ``status="eval_error"`` with the reason.
    """
    start = time.monotonic()
    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    try:
        act = load_batch_actor(spec, weights_dir, job)
    except (WeightsError, ValueError) as e:  # ConfigError is a ValueError
        return _error(spec, f"cannot load the policy: {e}", seed, start)
    try:
        results, rollouts = _results(spec, run_episodes(spec, act, episodes, seed, engine), seed)
    except Exception as e:
        return _error(spec, f"evaluation failed: {type(e).__name__}: {e}", seed, start)
    saved = None
    if rollouts_path is not None:
        _save_rollouts(Path(rollouts_path), rollouts)
        saved = str(rollouts_path)
    fits = np.array([r.fitness for r in results], dtype=np.float64)
    if not np.isfinite(fits).all():
        return _error(spec, f"fitness is not finite: {fits.tolist()}", seed, start)
    fitness = float(fits.mean())
    if spec.fitness.across is not None:  # a score across episodes (e.g. Crafter's), from each one's last state
        fitness = float(spec.fitness.across([{k: v[-1] for k, v in r.states.items()} for r in rollouts]))
        if not np.isfinite(fitness):
            return _error(spec, f"fitness across episodes is not finite: {fitness}", seed, start)
    return Evaluation(
        status="ok",
        message="",
        fitness=fitness,
        fitness_std=float(fits.std()),
        episodes=tuple(results),
        fitness_name=spec.fitness.name,
        seed=seed,
        wall_s=time.monotonic() - start,
        rollouts_file=saved,
    )


def _results(spec: TaskSpec, raw: list[RawEpisode], seed: int) -> tuple[list[EpisodeResult], list[Rollout]]:
    """Fitness (computed here, from the simulator's states) and rollouts of each raw episode."""
    results: list[EpisodeResult] = []
    rollouts: list[Rollout] = []
    for i, ep in enumerate(raw):
        traj = stack_states(ep.states)  # (T, ...) per state variable: the fitness is batched over time
        values = np.asarray(spec.fitness.step(traj), dtype=np.float64).reshape(-1)
        fitness = spec.fitness.episode_value(values)
        results.append(
            EpisodeResult(
                seed=seed + i,
                fitness=fitness if math.isfinite(fitness) else float("nan"),
                length=len(ep.states),
                terminated=ep.terminated,
                truncated=ep.truncated,
                env_return=float(np.sum(ep.rewards)),
                final_state=MappingProxyType(_summary(ep.states[-1])),
            )
        )
        rollouts.append(Rollout(seed + i, MappingProxyType(traj), np.asarray(ep.rewards), ep.terminated, ep.truncated))
    return results, rollouts
