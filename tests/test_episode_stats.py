"""The backend-neutral episode statistics: running fitness aggregates equal Fitness.episode_value of the steps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from eureka_kit.tasks.spec import Fitness
from eureka_kit.training.episode_stats import EpisodeAccumulator, StatsRecorder


@pytest.mark.parametrize("aggregate", ["mean", "sum", "max", "last", "any"])
def test_running_fitness_equals_episode_value(aggregate: str) -> None:
    fitness = Fitness("f", "test", "u", step=lambda s: s["x"], aggregate=aggregate)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    n, steps = 4, 30
    values = rng.normal(size=(steps, n))
    done = np.zeros((steps, n), dtype=bool)
    done[[5, 17, 29], 0] = True  # env 0: three episodes; others: one ending at the last step
    done[29, 1:] = True
    acc = EpisodeAccumulator(n, fitness)
    got: dict[int, list[float]] = {i: [] for i in range(n)}
    lengths: dict[int, list[int]] = {i: [] for i in range(n)}
    for t in range(steps):
        comps = {"a": values[t] * 2.0, "b": -values[t]}
        for i, sums in acc.add(values[t], comps, values[t], np.ones(n), done[t]):
            got[i].append(sums.fitness)
            lengths[i].append(sums.length)
            assert sums.total == pytest.approx(sum(sums.components.values()))
    for i in range(n):
        ends = [-1, *np.flatnonzero(done[:, i]).tolist()]
        want = [fitness.episode_value(values[a + 1 : b + 1, i]) for a, b in itertools.pairwise(ends)]
        assert got[i] == pytest.approx(want)
        assert lengths[i] == [b - a for a, b in itertools.pairwise(ends)]


def test_recorder_samples_evenly_and_bounds_names() -> None:
    rec = StatsRecorder(total_steps=100, n_points=4)
    for step in range(10, 101, 10):
        rec.progress(step, lambda: {"total": 1.0, "bad name!": 2.0})
    rec.finish(dict)
    stats = rec.stats("program", wall_s=2.0)
    assert [s.step for s in stats.samples] == [30, 50, 80, 100]
    assert stats.components == ("bad name_",) and stats.env_steps_per_s == 50.0
