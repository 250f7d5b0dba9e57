"""Reward-reflection statistics along training, the same for every training backend.

:class:`EpisodeAccumulator` keeps per-env running sums of every reward
component, the total, the env's own return and the fitness steps, and hands
back each finished episode's sums. :class:`StatsRecorder` samples Eureka's
reward-reflection values at about ten evenly spaced points of the budget
(means over the last finished episodes, and per-step means since the previous
point), touches the heartbeat file the sandbox watches, and builds the
:class:`~eureka_kit.training.job.TrainStats` written to ``stats.json``.
Both work on numpy arrays of N envs (a batched backend hands over CPU views).
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eureka_kit.sandbox.runner import HEARTBEAT_VAR
from eureka_kit.tasks.spec import Fitness
from eureka_kit.training.job import MAX_COMPONENTS, MAX_SAMPLES, RewardKind, StatsSample, TrainStats

StepMeans = Callable[[], Mapping[str, float]]
"""Gives the per-step means of each component and ``total`` since the last sample (and starts a new interval)."""


@dataclass(frozen=True)
class EpisodeSums:
    """One finished episode: per-component sums, total, fitness (aggregated), length and env return."""

    components: Mapping[str, float]
    total: float
    fitness: float
    length: int
    env_return: float


class EpisodeAccumulator:
    """Per-env running sums over the current episodes of N envs, vectorized (no Python loop over envs per step).

    The fitness is aggregated as it goes (sum, max, last value, whether any
    step was > 0), so an episode's fitness equals
    :meth:`~eureka_kit.tasks.spec.Fitness.episode_value` of its step values
    without keeping them.
    """

    def __init__(self, num_envs: int, fitness: Fitness) -> None:
        self.n = num_envs
        self.fitness = fitness
        self._comp: dict[str, np.ndarray] = {}
        self._total = np.zeros(num_envs)
        self._env_return = np.zeros(num_envs)
        self._length = np.zeros(num_envs, dtype=np.int64)
        self._fit_sum = np.zeros(num_envs)
        self._fit_max = np.full(num_envs, -np.inf)
        self._fit_last = np.zeros(num_envs)
        self._fit_any = np.zeros(num_envs, dtype=bool)
        self._interval: dict[str, float] = {}
        self._interval_steps = 0

    def _clear(self, ids: np.ndarray | slice) -> None:
        for v in self._comp.values():
            v[ids] = 0.0
        self._total[ids] = 0.0
        self._env_return[ids] = 0.0
        self._length[ids] = 0
        self._fit_sum[ids] = 0.0
        self._fit_max[ids] = -np.inf
        self._fit_last[ids] = 0.0
        self._fit_any[ids] = False

    def reset(self) -> None:
        """Forget the running episodes (after an env reset of all envs)."""
        self._clear(slice(None))

    def _episode_fitness(self, i: int) -> float:
        agg, length = self.fitness.aggregate, int(self._length[i])
        if length == 0:
            return 0.0
        if agg == "mean":
            return float(self._fit_sum[i] / length)
        if agg == "sum":
            return float(self._fit_sum[i])
        if agg == "max":
            return float(self._fit_max[i])
        if agg == "last":
            return float(self._fit_last[i])
        return float(self._fit_any[i])

    def add(
        self,
        total: np.ndarray,
        components: Mapping[str, np.ndarray],
        fitness_step: np.ndarray,
        env_reward: np.ndarray,
        done: np.ndarray,
    ) -> list[tuple[int, EpisodeSums]]:
        """Add one step of N envs; returns ``(env index, sums)`` of each episode that ended at this step."""
        for name, value in components.items():
            if name not in self._comp:
                self._comp[name] = np.zeros(self.n)
            self._comp[name] += value
            self._interval[name] = self._interval.get(name, 0.0) + float(np.sum(value))
        self._interval["total"] = self._interval.get("total", 0.0) + float(np.sum(total))
        self._interval_steps += self.n
        self._total += total
        self._env_return += env_reward
        self._length += 1
        fit = np.asarray(fitness_step, dtype=np.float64).reshape(self.n)
        self._fit_sum += fit
        np.maximum(self._fit_max, fit, out=self._fit_max)
        self._fit_last[:] = fit
        self._fit_any |= fit > 0
        ids = np.flatnonzero(done)
        if ids.size == 0:
            return []
        finished = [
            (
                int(i),
                EpisodeSums(
                    components={k: float(v[i]) for k, v in self._comp.items()},
                    total=float(self._total[i]),
                    fitness=self._episode_fitness(int(i)),
                    length=int(self._length[i]),
                    env_return=float(self._env_return[i]),
                ),
            )
            for i in ids
        ]
        self._clear(ids)
        return finished

    def pop_step_means(self) -> dict[str, float]:
        """Per-step means of each component and of ``total`` since the last call; resets the interval."""
        if self._interval_steps == 0:
            return {}
        out = {k: v / self._interval_steps for k, v in self._interval.items()}
        self._interval = {}
        self._interval_steps = 0
        return out


_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/ ()\[\]+\-]")


def safe_name(name: str, taken: set[str] | None = None) -> str:
    """A component name as written to ``stats.json``: allowed characters only, at most 64, unique."""
    base = _UNSAFE.sub("_", name)[:60] or "_"
    out, k = base, 2
    while taken is not None and out in taken:
        out, k = f"{base}_{k}", k + 1
    return out


def _mean(xs: list[float]) -> float | None:
    finite = [x for x in xs if np.isfinite(x)]
    return float(np.mean(finite)) if finite else None


class StatsRecorder:
    """Samples reflection values at ``n_points`` evenly spaced steps of ``total_steps``; touches the heartbeat.

    Call :meth:`episode_ended` for every finished episode and :meth:`progress`
    after every vector step (it samples when a point is passed and beats the
    heartbeat at most every ``heartbeat_every_s``); :meth:`finish` at the end.
    """

    def __init__(
        self,
        total_steps: int,
        n_points: int = 10,
        window: int = 10,
        heartbeat_path: Path | None = None,
        heartbeat_every_s: float = 2.0,
    ) -> None:
        self.total_steps = max(1, int(total_steps))
        self.n_points = max(1, min(int(n_points), MAX_SAMPLES))
        self.recent: deque[EpisodeSums] = deque(maxlen=max(1, window))
        self.episodes = 0
        self.samples: list[StatsSample] = []
        self.names: dict[str, str] = {}  # program's component name -> safe name
        self.steps = 0
        self._next = 1
        env_hb = os.environ.get(HEARTBEAT_VAR)
        self.heartbeat_path = heartbeat_path if heartbeat_path is not None else (Path(env_hb) if env_hb else None)
        self.heartbeat_every_s = heartbeat_every_s
        self._last_beat = 0.0

    def beat(self, force: bool = False) -> None:
        """Touch the heartbeat file (at most every ``heartbeat_every_s`` unless ``force``)."""
        now = time.monotonic()
        if self.heartbeat_path is not None and (force or now - self._last_beat >= self.heartbeat_every_s):
            self._last_beat = now
            try:
                self.heartbeat_path.touch()
            except OSError:
                pass

    def episode_ended(self, sums: EpisodeSums) -> None:
        self.recent.append(sums)
        self.episodes += 1

    def progress(self, steps: int, step_means: StepMeans) -> None:
        """``steps`` env-steps done so far; ``step_means()`` gives the per-step means since the last sample."""
        self.steps = int(steps)
        threshold = self.total_steps * self._next / self.n_points
        if self.steps >= threshold and self._next <= self.n_points:
            self.record(step_means())
            while self._next <= self.n_points and self.steps >= self.total_steps * self._next / self.n_points:
                self._next += 1
        self.beat()

    def finish(self, step_means: StepMeans) -> None:
        if not self.samples or self.samples[-1].step < self.steps:
            self.record(step_means())
        self.beat(force=True)

    def _safe(self, name: str) -> str:
        if name not in self.names:
            if len(self.names) >= MAX_COMPONENTS:
                return ""
            self.names[name] = safe_name(name, set(self.names.values()) | {"total"})
        return self.names[name]

    def record(self, step_means: Mapping[str, float]) -> None:
        if len(self.samples) >= MAX_SAMPLES:
            return
        eps = list(self.recent)
        comps: dict[str, float | None] = {}
        for ep in eps:
            for name in ep.components:
                safe = self._safe(name)
                if safe and safe not in comps:
                    comps[safe] = _mean([e.components.get(name, 0.0) for e in eps])
        means: dict[str, float | None] = {}
        for name, v in step_means.items():
            safe = "total" if name == "total" else self._safe(name)
            if safe:
                means[safe] = v if np.isfinite(v) else None
        self.samples.append(
            StatsSample(
                step=self.steps,
                episodes=self.episodes,
                window=len(eps),
                total=_mean([e.total for e in eps]),
                fitness=_mean([e.fitness for e in eps]),
                length=_mean([float(e.length) for e in eps]),
                env_return=_mean([e.env_return for e in eps]),
                components=comps,
                step_means=means,
            )
        )

    def stats(self, reward_kind: RewardKind, wall_s: float) -> TrainStats:
        """The record written to ``stats.json``."""
        return TrainStats(
            reward_kind=reward_kind,
            components=tuple(self.names.values()),
            samples=tuple(self.samples),
            total_steps=self.steps,
            wall_s=float(wall_s),
            env_steps_per_s=float(self.steps / wall_s) if wall_s > 0 else 0.0,
        )
