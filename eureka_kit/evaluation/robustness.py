"""The robustness sweep: a policy's trusted fitness as each physics parameter moves across its limits.

For each parameter the task declares (:meth:`TaskPhysics.parameters <eureka_kit.sim.physics.TaskPhysics.parameters>`),
``points`` values evenly spaced over its hard limits, plus its nominal value, each run by one env of one batch on
the CPU engine (``CpuBatchedEnv(physics=...)``), every env from the same initial state (seed ``seed``, as
gymnasium's ``reset(seed=seed)``), the others parameters at nominal. The fitness of each episode is the task's
own, computed here from the simulator's states (as the trusted evaluator does). The *robust range* is the
contiguous run of swept values around nominal whose fitness stays at or above :func:`threshold` of the nominal
fitness: DrEureka's reward-aware physics prior, which later bounds the ranges an LLM may choose.

``robustness.json`` (:func:`write_robustness`, atomic)::

    {"task": "<task id>", "seed": 0, "fraction": 0.8, "nominal_fitness": 2.1, "wall_s": 3.2,
     "parameters": [{"name": "mass", "unit": "x", "nominal": 1.0, "limits": [0.3, 3.0],
                     "values": [...], "fitness": [...], "robust_range": [0.6, 1.5]}, ...]}
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eureka_kit.evaluation.episodes import Actor, RawEpisode, batched_episodes
from eureka_kit.files import atomic_write_json
from eureka_kit.sim.params import PhysicsParam
from eureka_kit.sim.physics import get_physics
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.tasks.state_capture import stack_states


@dataclass(frozen=True)
class ParamCurve:
    """Fitness against one parameter's value (the others at nominal)."""

    param: PhysicsParam
    values: tuple[float, ...]
    """Ascending, nominal included."""
    fitness: tuple[float, ...]
    robust_range: tuple[float, float]
    """The contiguous values around nominal at or above the threshold (nominal alone at least)."""

    def to_json(self) -> dict[str, Any]:
        p = self.param
        return {
            "name": p.name,
            "unit": p.unit,
            "description": p.description,
            "nominal": p.nominal,
            "limits": [p.low, p.high],
            "values": list(self.values),
            "fitness": list(self.fitness),
            "robust_range": list(self.robust_range),
        }


@dataclass(frozen=True)
class Robustness:
    """A policy's sweep over every declared parameter (see the module docstring)."""

    task: str
    seed: int
    fraction: float
    nominal_fitness: float
    curves: tuple[ParamCurve, ...]
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "seed": self.seed,
            "fraction": self.fraction,
            "nominal_fitness": self.nominal_fitness,
            "wall_s": self.wall_s,
            "parameters": [c.to_json() for c in self.curves],
        }


def threshold(nominal_fitness: float, fraction: float) -> float:
    """The lowest fitness still counted robust: ``fraction`` of nominal, or for a negative nominal fitness,
    ``(1 - fraction) * |nominal|`` below it (so that a lower fitness is always worse)."""
    return nominal_fitness - (1.0 - fraction) * abs(nominal_fitness)


def sweep_values(param: PhysicsParam, points: int) -> np.ndarray:
    """``points`` values evenly spaced over the limits, and nominal, ascending and unique."""
    if points < 2:
        raise ValueError(f"points must be >= 2, got {points}")
    return np.unique(np.append(np.linspace(param.low, param.high, points), param.nominal))


def robust_range(values: np.ndarray, fitness: np.ndarray, nominal: float, floor: float) -> tuple[float, float]:
    """The contiguous values around ``nominal`` whose fitness is at or above ``floor``."""
    i = int(np.flatnonzero(values == nominal)[0])
    lo = hi = i
    while lo > 0 and fitness[lo - 1] >= floor:
        lo -= 1
    while hi < len(values) - 1 and fitness[hi + 1] >= floor:
        hi += 1
    return float(values[lo]), float(values[hi])


def _fitness(spec: TaskSpec, episode: RawEpisode) -> float:
    values = np.asarray(spec.fitness.step(stack_states(episode.states)), dtype=np.float64).reshape(-1)
    return float(spec.fitness.episode_value(values))


def robustness_sweep(spec: TaskSpec, act: Actor, points: int = 9, seed: int = 0, fraction: float = 0.8) -> Robustness:
    """Sweep every declared parameter of ``spec`` with the deterministic policy ``act`` (see the module docstring)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    start = time.monotonic()
    params = get_physics(spec.id).parameters()
    curves: list[ParamCurve] = []
    nominal_fitness = float("nan")
    for param in params:
        values = sweep_values(param, points)
        episodes = batched_episodes(spec, act, [seed] * len(values), physics={param.name: values.tolist()})
        fitness = np.array([_fitness(spec, e) for e in episodes])
        nominal_fitness = float(fitness[values == param.nominal][0])
        span = robust_range(values, fitness, param.nominal, threshold(nominal_fitness, fraction))
        curves.append(ParamCurve(param, tuple(values.tolist()), tuple(fitness.tolist()), span))
    return Robustness(spec.id, seed, fraction, nominal_fitness, tuple(curves), time.monotonic() - start)


def write_robustness(path: Path, result: Robustness) -> None:
    """Write ``result`` as JSON to ``path`` atomically (``robustness.json`` of a run)."""
    atomic_write_json(Path(path), result.to_json())
