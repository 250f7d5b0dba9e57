"""Crafter's score (geometric mean of achievement success rates) on crafted rates, and as the trusted fitness."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import save_file

from eureka_kit.evaluation.evaluator import evaluate_policy, load_rollouts
from eureka_kit.games.crafter_score import crafter_score, score_from_final_states, success_rates
from eureka_kit.games.crafter_state import ACHIEVEMENTS
from eureka_kit.reward.critic import check_program
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.state_capture import make_env
from eureka_kit.training.backends.sb3_config import build_policy, resolve_config
from eureka_kit.training.weights import plain_state_dict


def test_score_on_crafted_rates() -> None:
    assert crafter_score(np.zeros(22)) == 0.0  # nothing ever unlocked
    assert crafter_score(np.full(22, 100.0)) == pytest.approx(100.0)  # everything in every episode
    assert crafter_score(np.full(22, 37.0)) == pytest.approx(37.0)  # equal rates: the score is that rate
    # one achievement always, one never: sqrt(101) - 1 (the geometric mean of 1 + rates, minus 1)
    assert crafter_score(np.array([100.0, 0.0])) == pytest.approx(math.sqrt(101.0) - 1.0)
    # spreading success over many achievements beats repeating one: same mean rate, higher score
    assert crafter_score(np.array([50.0, 50.0, 50.0, 50.0])) > crafter_score(np.array([100.0, 100.0, 0.0, 0.0]))
    rates = np.array([90.0, 10.0, 1.0, 0.0])
    assert crafter_score(rates) == pytest.approx(math.exp(np.mean(np.log([91.0, 11.0, 2.0, 1.0]))) - 1.0)
    with pytest.raises(ValueError, match="percentages"):
        crafter_score(np.array([0.5, 120.0]))


def test_rates_and_score_from_episodes() -> None:
    unlocked = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(success_rates(unlocked), [75.0, 25.0, 0.0])
    finals = [{"achievements": row.astype(np.float32)} for row in unlocked]
    assert score_from_final_states(finals) == pytest.approx(math.exp(np.mean(np.log([76.0, 26.0, 1.0]))) - 1.0)
    with pytest.raises(ValueError, match="at least one episode"):
        score_from_final_states([])


def test_survive_v2_fitness_is_the_crafter_score_of_the_evaluation(tmp_path: Path) -> None:
    base = get_task("Crafter-Survive-v2")  # its fitness, on 60-step episodes (seconds, not a minute)
    spec = dataclasses.replace(base, env_kwargs={**base.env_kwargs, "length": 60}, max_episode_steps=60)
    env = make_env(spec)
    policy = build_policy(resolve_config(spec), env.observation_space, env.action_space)  # an untrained policy
    save_file(plain_state_dict(policy), str(tmp_path / "policy.safetensors"))
    assert not resolve_config(spec).normalize_obs
    ev = evaluate_policy(spec, tmp_path, episodes=2, seed=0, rollouts_path=tmp_path / "rollouts.npz")
    assert ev.status == "ok", ev.message
    finals = np.stack([r.states["achievements"][-1] for r in load_rollouts(tmp_path / "rollouts.npz")])
    assert finals.shape == (2, len(ACHIEVEMENTS))
    assert ev.fitness == pytest.approx(crafter_score(success_rates(finals)), abs=1e-9)
    for episode, row in zip(ev.episodes, finals, strict=True):
        assert episode.fitness == float(row.sum())  # per episode: the number of achievements unlocked


@pytest.mark.parametrize(
    ("task_id", "name"),
    [
        ("Crafter-EatCow-v1", "crafter_eatcow_reward.py"),
        ("Crafter-WoodPickaxe-v1", "crafter_woodpickaxe_reward.py"),
        ("Crafter-StonePickaxe-v1", "crafter_stonepickaxe_reward.py"),
        ("Crafter-Diamond-v1", "crafter_diamond_reward.py"),
        ("Crafter-Survive-v1", "crafter_survive_reward.py"),
        ("Crafter-Survive-v2", "crafter_score_reward.py"),
    ],
)
def test_crafter_example_programs_pass_the_critic(task_id: str, name: str) -> None:
    source = (Path(__file__).resolve().parent.parent / "examples" / name).read_text()
    assert check_program(get_task(task_id), source).ok
