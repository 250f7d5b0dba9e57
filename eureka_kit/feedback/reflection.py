"""Reward reflection (Eureka's policy feedback) rendered from training statistics.

For every reward component, the total, the fitness and the episode length:
values sampled at about ten points along training, with max, mean and min,
followed by the trusted evaluation's fitness. The text goes into
``feedback.md`` and, for the elite candidate, into the next prompt.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from eureka_kit.prompting import render
from eureka_kit.tasks.spec import TaskSpec


@dataclass(frozen=True)
class Series:
    """One tracked quantity along training, formatted for the prompt."""

    name: str
    values: tuple[str, ...]
    max: str
    mean: str
    min: str


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def make_series(name: str, values: Sequence[float]) -> Series | None:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return None
    return Series(
        name=name,
        values=tuple(_fmt(v) for v in finite),
        max=_fmt(max(finite)),
        mean=_fmt(sum(finite) / len(finite)),
        min=_fmt(min(finite)),
    )


def render_reflection(
    spec: TaskSpec,
    series: Mapping[str, Sequence[float]],
    *,
    steps: int,
    fitness: float | None,
    fitness_std: float | None,
    episodes: int,
    episode_length: float | None,
) -> str:
    """Render ``reward_reflection.j2``: component and fitness curves plus the trusted fitness."""
    rows = [s for name, vals in series.items() if (s := make_series(name, vals)) is not None]
    n_points = max((len(s.values) for s in rows), default=0)
    return render(
        "reward_reflection",
        series=rows,
        steps=steps,
        n_points=n_points,
        fitness=_fmt(fitness) if fitness is not None else "n/a",
        fitness_std=_fmt(fitness_std) if fitness_std is not None else None,
        fitness_name=spec.fitness.name,
        fitness_unit=spec.fitness.unit,
        episodes=episodes,
        episode_length=_fmt(episode_length) if episode_length is not None else "n/a",
    )
