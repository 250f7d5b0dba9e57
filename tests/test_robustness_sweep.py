"""The robustness sweep: fitness against each physics parameter across its limits, one env per value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eureka_kit.evaluation.episodes import run_episodes
from eureka_kit.evaluation.robustness import robust_range, robustness_sweep, threshold, write_robustness
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.state_capture import stack_states


def test_robust_range_and_threshold() -> None:
    values = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    fitness = np.array([9.0, 10.0, 8.5, 7.0, 9.0])
    assert robust_range(values, fitness, 1.0, threshold(10.0, 0.8)) == (0.5, 1.5)  # contiguous: 2.5 is cut off
    assert threshold(10.0, 0.8) == 8.0 and threshold(-10.0, 0.8) == -12.0


def test_sweep_of_a_policy_writes_robustness_json(tmp_path: Path) -> None:
    spec = get_task("Hopper-Hop-v1")

    def act(obs: np.ndarray) -> np.ndarray:  # no control: the hopper falls within a few dozen steps
        return np.zeros((obs.shape[0], 3))

    result = robustness_sweep(spec, act, points=2, seed=3)
    trusted = run_episodes(spec, act, episodes=1, seed=3, engine="gymnasium")[0]
    # the nominal point is the trusted evaluator's episode on the gymnasium env, exactly
    assert result.nominal_fitness == spec.fitness.episode_value(
        np.asarray(spec.fitness.step(stack_states(trusted.states)))
    )
    curves = {c.param.name: c for c in result.curves}
    assert list(curves) == ["mass", "friction", "actuator_strength", "joint_damping", "gravity"]
    mass = curves["mass"]
    assert mass.values == (0.3, 1.0, 3.0) and mass.fitness[1] == result.nominal_fitness
    assert len(set(mass.fitness)) == 3  # mass changes the motion
    assert len(set(curves["actuator_strength"].fitness)) == 1  # no control: the gear changes nothing
    assert curves["actuator_strength"].robust_range == (0.5, 1.5)
    write_robustness(tmp_path / "robustness.json", result)
    data = json.loads((tmp_path / "robustness.json").read_text())
    assert data["task"] == "Hopper-Hop-v1" and data["parameters"][0]["limits"] == [0.3, 3.0]
    assert data["parameters"][4]["values"][1] == -9.81
