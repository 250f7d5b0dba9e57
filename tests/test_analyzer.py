"""Trajectory analyzer: each finding and reward-hacking sign on crafted trajectories, the critique, the LLM summary.

Crafted trajectories are numpy arrays run through :func:`eureka_kit.feedback.trajectory.from_states` (fitness and env
reward computed by the task); program scores are computed in-process with :func:`compute_scores` on programs
written here. A few real trajectories come from tiny HalfCheetah / Hopper rollouts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eureka_kit.feedback.analysis_context import spearman
from eureka_kit.feedback.analyzer import analysis_vars, analyze
from eureka_kit.feedback.critique import llm_summary, render_critique, summary_prompt
from eureka_kit.feedback.findings import HACKING_SIGNS, KIND_ORDER, Analysis, Finding
from eureka_kit.feedback.score_child import ProgramScores, TrajectoryScores, compute_scores
from eureka_kit.feedback.trajectory import (
    MAX_STEPS_PER_TRAJECTORY,
    Trajectory,
    TrajectoryFormatError,
    collect_trajectory,
    from_rollout,
    from_states,
    load_trajectories,
    save_trajectories,
)
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.spec import AnalysisVars, TaskSpec

CHEETAH = get_task("HalfCheetah-Run-v1")
HOPPER = get_task("Hopper-Hop-v1")
PUSHER = get_task("Pusher-Push-v1")

FORWARD = """import torch

def compute_reward(x_velocity, action):
    forward = x_velocity
    ctrl = -0.1 * (action ** 2).sum(dim=-1)
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
"""

ALIVE = """import torch

def compute_reward(x_velocity, action):
    alive = torch.ones_like(x_velocity)
    ctrl = -0.01 * (action ** 2).sum(dim=-1)
    return alive + ctrl, {"alive": alive, "ctrl": ctrl}
"""


def craft(spec: TaskSpec, steps: int, *, terminated: bool = False, seed: int = 0, **values: Any) -> Trajectory:
    """A trajectory of ``steps`` steps: zeros for every state variable except those given (broadcast to (T, *shape))."""
    states = {}
    for var in spec.state:
        given = values.get(var.name, 0.0)
        states[var.name] = np.broadcast_to(np.asarray(given, dtype=np.float64), (steps, *var.shape)).copy()
    return from_states(spec, states, seed=seed, terminated=terminated, truncated=not terminated)


def cheetah(steps: int, velocity: float | np.ndarray, *, seed: int = 0, **values: Any) -> Trajectory:
    rng = np.random.default_rng(seed)
    v = np.broadcast_to(np.asarray(velocity, dtype=np.float64), (steps,)) + rng.normal(0, 0.01, steps)
    action = values.pop("action", np.tile(np.array([0.3, -0.2, 0.1, 0.3, -0.2, 0.1]), (steps, 1)))
    return craft(CHEETAH, steps, x_velocity=v, action=action, seed=seed, **values)


def scores(spec: TaskSpec, source: str, trajectories: Sequence[Trajectory]) -> tuple[TrajectoryScores, ...]:
    return compute_scores(spec, source, trajectories)


def finding(analysis: Analysis, kind: str) -> Finding:
    f = analysis.get(kind)  # type: ignore[arg-type]
    assert f is not None, f"no {kind!r} finding; got {analysis.kinds}"
    return f


# ----- trajectory records -------------------------------------------------------------------------


def test_trajectory_save_load_round_trip_and_cap(tmp_path: Path) -> None:
    short = cheetah(20, 1.0, seed=1)
    long = cheetah(MAX_STEPS_PER_TRAJECTORY + 5, 2.0, seed=2)
    save_trajectories(tmp_path / "t.npz", [short, long])
    back = load_trajectories(tmp_path / "t.npz")
    assert [t.length for t in back] == [20, MAX_STEPS_PER_TRAJECTORY]
    assert back[0].fitness == pytest.approx(short.fitness) and back[0].seed == 1
    assert set(back[0].states) == set(CHEETAH.state_names)
    np.testing.assert_array_equal(back[0].states["action"], short.states["action"])
    np.testing.assert_array_equal(back[0].fitness_steps, short.fitness_steps)
    # the cut trajectory keeps the whole episode's fitness and is marked truncated
    assert back[1].truncated and not back[1].terminated and back[1].fitness == pytest.approx(long.fitness)


def test_trajectory_validation_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryFormatError, match="same number of steps"):
        Trajectory({"a": np.zeros(3), "b": np.zeros(4)}, np.zeros(3), np.zeros(3), False, True, 0.0, 0)
    bad = tmp_path / "bad.npz"
    arrays: dict[str, Any] = {"format_version": np.array(1), "count": np.array(1)}
    arrays["t000/names"] = np.array([object()], dtype=object)
    np.savez(bad, **arrays)
    with pytest.raises(TrajectoryFormatError):
        load_trajectories(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(TrajectoryFormatError, match="not a readable"):
        load_trajectories(tmp_path / "junk.npz")


def test_collect_trajectory_records_the_terminal_step() -> None:
    rng = np.random.default_rng(0)
    tr = collect_trajectory(HOPPER, lambda obs: rng.uniform(-1, 1, 3), seed=0, max_steps=300)
    assert tr.terminated and not tr.truncated and tr.length < 300
    assert tr.states["is_healthy"][-1] == 0.0 and tr.states["is_healthy"][0] == 1.0
    assert tr.fitness == pytest.approx(HOPPER.fitness.episode_value(tr.fitness_steps))
    assert tr.states["action"].shape == (tr.length, 3)
    capped = collect_trajectory(CHEETAH, lambda obs: np.zeros(6), seed=3, max_steps=7)
    assert capped.length == 7 and capped.truncated and not capped.terminated and capped.seed == 3


# ----- helpers ------------------------------------------------------------------------------------


def test_spearman() -> None:
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(1.5 / math.sqrt(3))
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1, 2], [2, 1]) is None


def test_analysis_vars_registered_and_guessed() -> None:
    assert analysis_vars(CHEETAH).forward_velocity == "x_velocity"
    assert analysis_vars(get_task("MountainCar-Flag-v1")).termination == "success"
    for spec in (CHEETAH, HOPPER, PUSHER, get_task("Ant-Run-v1"), get_task("MountainCar-Flag-v1")):
        assert set(analysis_vars(spec).relevant()) <= set(spec.state_names), spec.id


# ----- behaviour ----------------------------------------------------------------------------------


def test_summaries_of_a_good_runner() -> None:
    action = np.full((50, 6), 0.8)
    trs = [cheetah(50, v, seed=i, action=action) for i, v in enumerate([3.0, 3.2, 2.8, 3.1, 2.9])]
    a = analyze(CHEETAH, trs, scores(CHEETAH, FORWARD, trs))
    assert not a.hacking_signs
    assert {"stands_still", "moves_backwards", "falls_early", "spins_or_flips", "jitters"}.isdisjoint(a.kinds)
    fit = finding(a, "fitness")
    assert fit.severity == "info"
    assert fit.evidence["mean"] == pytest.approx(3.0, abs=0.01) and fit.evidence["episodes"] == 5
    assert fit.evidence["min"] == pytest.approx(2.8, abs=0.01) and fit.evidence["max"] == pytest.approx(3.2, abs=0.01)
    end = finding(a, "episode_end")
    assert end.evidence["terminated"] == 0 and end.evidence["truncated"] == 5 and end.evidence["mean_length"] == 50
    assert end.evidence["end.x_velocity"] == pytest.approx(3.0, abs=0.02)
    state = finding(a, "state")
    assert state.evidence["x_velocity.mean"] == pytest.approx(3.0, abs=0.01)
    shares = finding(a, "component_shares")
    assert shares.evidence["share.forward"] == pytest.approx(3.0 / (3.0 + 0.384), abs=1e-3)
    assert shares.evidence["per_step.ctrl"] == pytest.approx(-0.384, abs=1e-4)
    actions = finding(a, "actions")
    assert actions.evidence["mean_abs_action"] == pytest.approx(0.8, abs=1e-3)
    assert actions.evidence["saturated_fraction"] == 0 and actions.evidence["bound"] == 1


def test_reward_that_pays_for_standing_still() -> None:
    trs = [cheetah(100, 0.0, seed=i) for i in range(4)]
    a = analyze(CHEETAH, trs, scores(CHEETAH, ALIVE, trs))
    still = finding(a, "stands_still")
    assert still.severity == "warning"
    assert abs(float(still.evidence["mean_forward_velocity"])) < 0.01 and still.evidence["still_speed"] == 0.1
    paid = finding(a, "paid_while_failing")
    assert paid.severity == "critical" and paid.is_hacking_sign
    assert paid.evidence["behaviour"] == "stands_still" and paid.evidence["top_component"] == "alive"
    assert paid.evidence["top_component_per_step"] == 1.0
    assert paid.evidence["mean_return"] == pytest.approx(100 * (1 - 0.01 * 0.28), rel=1e-3)
    assert a.findings[0].kind == "paid_while_failing"  # critical hacking sign first
    text = render_critique(a)
    assert "1. [critical, reward hacking sign] The reward pays for failing: the policy stands still" in text
    assert "mostly from 'alive' (+1 per step)" in text and "+99.7 per episode" in text
    assert text.index("pays for failing") < text.index("stands still: mean x_velocity")


def test_dominating_component() -> None:
    trs = [cheetah(40, 2.0, seed=i) for i in range(3)]
    source = FORWARD.replace("forward = x_velocity", "forward = 100.0 * x_velocity")
    a = analyze(CHEETAH, trs, scores(CHEETAH, source, trs))
    dom = finding(a, "dominant_component")
    assert dom.severity == "warning" and dom.is_hacking_sign
    assert dom.evidence["component"] == "forward" and dom.evidence["threshold"] == 0.9
    assert float(dom.evidence["share"]) == pytest.approx(200 / (200 + 0.028), abs=1e-4)
    assert (
        "Component 'forward' makes up 100% of the reward magnitude (more than 90%): 'ctrl' barely" in render_critique(a)
    )


def test_single_component_is_not_dominance() -> None:
    trs = [cheetah(40, 2.0, seed=i) for i in range(3)]
    only = "import torch\n\ndef compute_reward(x_velocity):\n    return x_velocity, {'forward': x_velocity}\n"
    a = analyze(CHEETAH, trs, scores(CHEETAH, only, trs))
    assert a.get("dominant_component") is None and finding(a, "component_shares").evidence["share.forward"] == 1


def test_reward_up_fitness_down_along_training() -> None:
    trs = [cheetah(30, 1.0)]
    series = {
        "forward": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "total reward": [10.0, 20.0, 40.0, 60.0, 80.0, 100.0],
        "fitness": [1.0, 0.9, 0.8, 0.7, 0.5, 0.4],
        "episode length": [1000.0] * 6,
    }
    a = analyze(CHEETAH, trs, series=series)
    f = finding(a, "reward_up_fitness_down")
    assert f.severity == "critical" and f.is_hacking_sign
    assert f.evidence["reward_first"] == 15 and f.evidence["reward_last"] == 90  # means of the first/last thirds
    assert f.evidence["fitness_first"] == 0.95 and f.evidence["fitness_last"] == 0.45
    assert f.evidence["reward_trend"] == 1 and f.evidence["fitness_trend"] == -1
    text = render_critique(a)
    assert "learned reward rises along training (total reward 15 -> 90, trend 1) while the fitness falls" in text
    assert "(forward_velocity 0.95 -> 0.45 m/s)" in text
    flat = dict(series, fitness=[0.5, 0.51, 0.5, 0.49, 0.5, 0.5])
    assert finding(analyze(CHEETAH, trs, series=flat), "reward_up_fitness_down").severity == "warning"
    both_up = dict(series, fitness=[0.1, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert analyze(CHEETAH, trs, series=both_up).get("reward_up_fitness_down") is None
    # the per-step fallback name of the training series is found too
    per_step = {"total reward (per-step mean)": series["total reward"], "fitness": series["fitness"]}
    assert analyze(CHEETAH, trs, series=per_step).get("reward_up_fitness_down") is not None


def test_early_termination_with_positive_return() -> None:
    hop = [craft(HOPPER, 20 + i, terminated=True, seed=i, x_velocity=0.5, torso_height=0.6) for i in range(4)]
    hop.append(craft(HOPPER, 200, seed=9, x_velocity=0.5, torso_height=1.2))
    alive = "import torch\n\ndef compute_reward(is_healthy):\n    alive = torch.ones_like(is_healthy)\n"
    alive += "    return alive, {'alive': alive}\n"
    a = analyze(HOPPER, hop, scores(HOPPER, alive, hop))
    falls = finding(a, "falls_early")
    assert falls.severity == "critical"
    assert falls.evidence["terminated_fraction"] == 0.8 and falls.evidence["mean_termination_step"] == 21.5
    assert falls.evidence["min_termination_step"] == 20 and falls.evidence["end.torso_height"] == 0.6
    paid = finding(a, "paid_while_failing")
    assert paid.evidence["behaviour"] == "falls_early" and paid.evidence["mean_termination_step"] == 21.5
    assert paid.evidence["mean_return"] == pytest.approx((20 + 21 + 22 + 23 + 200) / 5)
    end = finding(a, "episode_end")
    assert end.evidence["terminated"] == 4 and end.evidence["mean_termination_step"] == 21.5
    text = render_critique(a)
    assert (
        "The reward pays for failing: the policy falls at step 21.5 on average yet collects +57.2 per episode" in text
    )
    assert "4 of 5 episodes terminate at step 21.5 on average (earliest 20) of 1000" in text


def test_negative_per_step_reward_makes_ending_pay() -> None:
    hop = [craft(HOPPER, 15, terminated=True, seed=i, x_velocity=0.2, torso_height=0.6) for i in range(3)]
    cost = (
        "import torch\n\ndef compute_reward(action):\n    c = -1.0 - (action ** 2).sum(-1)\n    return c, {'cost': c}\n"
    )
    a = analyze(HOPPER, hop, scores(HOPPER, cost, hop))
    f = finding(a, "ending_pays")
    assert f.severity == "critical" and f.evidence["mean_step_reward"] == -1 and f.evidence["terminated"] == 3
    assert "Ending the episode early pays" in render_critique(a)


def test_negative_rank_correlation_between_reward_and_fitness() -> None:
    trs = [cheetah(60, v, seed=i) for i, v in enumerate([0.5, 1.0, 1.5, 2.0, 2.5])]
    inverted = "import torch\n\ndef compute_reward(x_velocity):\n    r = -x_velocity\n    return r, {'backward': r}\n"
    a = analyze(CHEETAH, trs, scores(CHEETAH, inverted, trs))
    f = finding(a, "return_fitness_mismatch")
    assert f.severity == "critical" and f.is_hacking_sign
    assert f.evidence["episode_spearman"] == -1 and f.evidence["episodes"] == 5
    assert float(f.evidence["step_spearman"]) < -0.99 and f.evidence["steps"] == 300
    assert "across the 5 episodes the learned return and the fitness rank with Spearman -1" in render_critique(a)
    good = analyze(CHEETAH, trs, scores(CHEETAH, FORWARD, trs))
    assert good.get("return_fitness_mismatch") is None


def test_moves_backwards_spins_jitters_saturates() -> None:
    steps = 80
    jitter = (
        np.tile(np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]), (steps, 1))
        * np.where(np.arange(steps) % 2, 1, -1)[:, None]
    )
    angle = np.linspace(0, 4 * math.pi, steps)
    trs = [cheetah(steps, -1.0, seed=i, action=jitter, torso_angle=angle, torso_angular_velocity=3.0) for i in range(3)]
    a = analyze(CHEETAH, trs)
    back = finding(a, "moves_backwards")
    assert back.severity == "critical" and back.evidence["mean_forward_velocity"] == pytest.approx(-1.0, abs=0.01)
    assert back.evidence["backward_step_fraction"] == 1
    spin = finding(a, "spins_or_flips")
    assert spin.evidence["rotations_per_episode"] == 2 and spin.evidence["mean_abs_spin_rate"] == 3
    assert float(spin.evidence["flipped_fraction"]) == pytest.approx(0.5, abs=0.05)
    jit = finding(a, "jitters")
    assert jit.evidence["sign_change_rate"] == 1 and jit.evidence["mean_abs_action_change"] == 2
    act = finding(a, "actions")
    assert act.severity == "warning" and act.evidence["saturated_fraction"] == 1
    text = render_critique(a, max_findings=3)
    assert text.splitlines()[1].startswith("1. [critical] The robot moves backwards: mean x_velocity is -1")
    assert "left out" in text and len([ln for ln in text.splitlines() if ln[:2] in ("1.", "2.", "3.", "4.")]) == 3


def test_reaches_then_leaves_the_goal() -> None:
    d = np.concatenate([np.linspace(0.3, 0.05, 50), np.linspace(0.05, 0.25, 50)])
    trs = [craft(PUSHER, 100, seed=i, object_to_goal_distance=d) for i in range(2)]
    trs.append(craft(PUSHER, 100, seed=5, object_to_goal_distance=np.linspace(0.3, 0.05, 100)))
    a = analyze(PUSHER, trs)
    f = finding(a, "reaches_then_leaves")
    assert f.evidence["episodes_affected"] == 2 and f.evidence["mean_closest"] == 0.05
    assert f.evidence["mean_final"] == 0.25 and f.evidence["mean_step_of_closest"] == 49
    assert "in 2 of 3 episodes object_to_goal_distance falls to 0.05 m (at step 49 on average) but ends at 0.25 m" in (
        render_critique(a)
    )


def test_real_zero_policy_rollout_stands_still() -> None:
    trs = [collect_trajectory(CHEETAH, lambda obs: np.zeros(6), seed=s, max_steps=40) for s in range(2)]
    a = analyze(CHEETAH, trs, scores(CHEETAH, FORWARD, trs))
    assert a.get("stands_still") is not None and a.episodes == 2
    assert finding(a, "actions").evidence["mean_abs_action"] == 0
    assert a.get("jitters") is None


# ----- records, critique, LLM summary ----------------------------------------------------------------


def test_ordering_json_round_trip_and_scoring_failure() -> None:
    trs = [cheetah(30, 0.0, seed=i) for i in range(2)]
    failed = ProgramScores("error", "compute_reward raised ZeroDivisionError")
    a = analyze(CHEETAH, trs, failed)
    assert a.kinds[0] == "stands_still" and a.get("scoring_failed") is not None
    ranks = [{"critical": 0, "warning": 1, "info": 2}[f.severity] for f in a.findings]
    assert ranks == sorted(ranks)
    back = Analysis.from_json(json.loads(json.dumps(a.to_json())))
    assert back == a
    assert HACKING_SIGNS <= set(KIND_ORDER)
    assert {f.kind for f in a.findings if f.is_hacking_sign} == {f.kind for f in a.hacking_signs}
    with pytest.raises(ValueError, match="one entry per trajectory"):
        analyze(CHEETAH, trs, scores(CHEETAH, FORWARD, trs[:1]))
    with pytest.raises(ValueError, match="at least one"):
        analyze(CHEETAH, [])


def test_variables_override() -> None:
    trs = [cheetah(30, 0.05, seed=0)]
    assert analyze(CHEETAH, trs).get("stands_still") is not None
    strict = AnalysisVars(forward_velocity="x_velocity", still_speed=0.01, action_bound=1.0)
    assert analyze(CHEETAH, trs, variables=strict).get("stands_still") is None


def test_llm_summary_through_the_client(tmp_path: Path) -> None:
    from eureka_kit.llm import LLMClient, ReplayBackend

    trs = [cheetah(50, 0.0, seed=i) for i in range(3)]
    a = analyze(CHEETAH, trs, scores(CHEETAH, ALIVE, trs))
    prompt = summary_prompt(a, CHEETAH)
    assert CHEETAH.description in prompt and "paid_while_failing" in prompt
    assert '"top_component": "alive"' in prompt and "reward hacking sign" in prompt
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"key": "analyzer", "text": "  The cheetah stands still; 'alive' pays it.  "}) + "\n")
    client = LLMClient(ReplayBackend(replay))
    text = llm_summary(client, a, CHEETAH, request_id="gen_000/cand_01/analyzer")
    assert text == "The cheetah stands still; 'alive' pays it."
    assert client.records[-1].request_id == "gen_000/cand_01/analyzer"


def test_from_rollout_of_the_evaluator() -> None:
    from dataclasses import dataclass, field

    @dataclass
    class Rollout:  # the fields of eureka_kit.evaluation.evaluator.Rollout
        seed: int
        states: dict[str, np.ndarray]
        env_rewards: np.ndarray
        terminated: bool
        truncated: bool
        cut: bool = False
        extra: dict[str, float] = field(default_factory=dict)

    tr = cheetah(12, 1.5, seed=4)
    rollout = Rollout(
        4, {k: np.asarray(v, dtype=np.float32) for k, v in tr.states.items()}, tr.env_rewards, False, True
    )
    back = from_rollout(CHEETAH, rollout)
    assert back.length == 12 and back.seed == 4 and back.fitness == pytest.approx(tr.fitness, abs=1e-6)
    np.testing.assert_allclose(back.env_rewards, tr.env_rewards)
    cut = from_rollout(CHEETAH, Rollout(4, dict(rollout.states), tr.env_rewards, True, False, cut=True), fitness=9.0)
    assert cut.truncated and not cut.terminated and cut.fitness == 9.0


def test_upside_down_3d_robot() -> None:
    ant = get_task("Ant-Run-v1")
    tr = craft(ant, 50, upright=-0.5, torso_angular_velocity=np.array([1.0, 2.0, 2.0]), x_velocity=1.0)
    f = finding(analyze(ant, [tr]), "spins_or_flips")
    assert f.evidence["upside_down_fraction"] == 1 and f.evidence["mean_abs_spin_rate"] == 3
    assert "upside down (upright < 0) on 100% of steps; mean |torso_angular_velocity| 3 rad/s" in f.message
