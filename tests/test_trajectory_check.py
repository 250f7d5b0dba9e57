"""CARD's trajectory check and the sandboxed scoring child: labels, pass / fail / skipped / error, bad outputs.

The check runs the program in a real sandboxed child (a few seconds each): a forward-velocity reward passes
on real HalfCheetah trajectories (success = faster), its inverse fails with the worst pair named, and a
crashing, misshapen or endless program becomes a typed status, never an exception.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eureka_kit.feedback import score_child
from eureka_kit.feedback.card_check import TrajectoryCheck, TrajectoryStore, check_trajectories
from eureka_kit.feedback.score_child import ScoresFormatError, read_scores, score_trajectories
from eureka_kit.feedback.trajectory import Trajectory, collect_trajectory, from_states, save_trajectories
from eureka_kit.sandbox.protocol import ERROR_FILE, EXIT_REPORTED_ERROR, EXIT_USAGE, read_error
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.registry import get_task

CHEETAH = get_task("HalfCheetah-Run-v1")
MOUNTAIN_CAR = get_task("MountainCar-Flag-v1")

FORWARD = """import torch

def compute_reward(x_velocity, action):
    forward = x_velocity
    ctrl = -0.001 * (action ** 2).sum(dim=-1)
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
"""
INVERTED = "import torch\n\ndef compute_reward(x_velocity):\n    r = -x_velocity\n    return r, {'backward': r}\n"
CRASHING = "import torch\n\ndef compute_reward(x_velocity):\n    return x_velocity / 0 + 1 / 0, {}\n"


def velocity_trajectory(velocity: float, steps: int = 10, seed: int = 0) -> Trajectory:
    """A crafted HalfCheetah trajectory moving at a constant velocity (fitness = velocity)."""
    states = {v.name: np.zeros((steps, *v.shape)) for v in CHEETAH.state}
    states["x_velocity"] = np.full(steps, velocity)
    return from_states(CHEETAH, states, seed=seed, terminated=False, truncated=True)


@pytest.fixture(scope="module")
def cheetah_store() -> TrajectoryStore:
    """Six real 40-step HalfCheetah episodes of two 'candidates' (random and constant-torque policies)."""
    rng = np.random.default_rng(0)
    policies = [
        lambda obs: rng.uniform(-1, 1, 6),
        lambda obs: np.full(6, 0.5),
        lambda obs: np.array([1.0, -1.0, 0.5, -0.5, 1.0, -1.0]),
    ]
    store = TrajectoryStore(CHEETAH)
    for c in range(2):
        episodes = [collect_trajectory(CHEETAH, p, seed=10 * c + i, max_steps=40) for i, p in enumerate(policies)]
        store.add(f"gen_000/cand_{c:02d}", episodes)
    assert len(store) == 6
    return store


def test_forward_reward_passes(cheetah_store: TrajectoryStore, tmp_path: Path) -> None:
    successful, failed = cheetah_store.labelled()
    assert len(successful) == 2 and len(failed) == 3  # top 30% rounded up, bottom 50%
    assert min(s.fitness for s in successful) > max(f.fitness for f in failed)
    check = check_trajectories(CHEETAH, FORWARD, cheetah_store, tmp_path)
    assert check.status == "pass", check.message
    assert check.fraction == 1.0 and check.threshold == 0.8 and (check.successful, check.failed) == (2, 3)
    assert check.message.startswith("Trajectory check passed: 2 of 2 successful trajectories")
    assert (tmp_path / "scores.npz").exists() and (tmp_path / "reward.py").read_text() == FORWARD


def test_inverted_reward_fails_with_the_worst_pair(cheetah_store: TrajectoryStore, tmp_path: Path) -> None:
    successful, failed = cheetah_store.labelled()
    check = check_trajectories(CHEETAH, INVERTED, cheetah_store, tmp_path)
    assert check.status == "fail" and check.fraction == 0.0
    pair = check.worst_pair
    assert pair is not None
    worst_ok, best_bad = pair
    fastest = max(successful, key=lambda s: s.fitness)
    slowest = min(failed, key=lambda s: s.fitness)
    assert worst_ok.id == fastest.id and best_bad.id == slowest.id
    assert worst_ok.mean_reward == pytest.approx(-fastest.fitness, abs=1e-5)
    assert best_bad.mean_reward == pytest.approx(-slowest.fitness, abs=1e-5)
    assert worst_ok.length == 40 and not best_bad.terminated
    msg = check.message
    assert "only 0 of 2 successful trajectories of earlier policies (0%, need 80%)" in msg
    assert f"Worst pair: successful {fastest.id} (forward_velocity {fastest.fitness:.3g} m/s" in msg
    assert f"but failed {slowest.id} (forward_velocity {slowest.fitness:.3g} m/s" in msg
    assert f"gets {-slowest.fitness:.3g} per step" in msg
    assert TrajectoryCheck.from_json(json.loads(json.dumps(check.to_json()))) == check


def test_crashing_program_is_an_error_not_an_exception(cheetah_store: TrajectoryStore, tmp_path: Path) -> None:
    trajectories = [s.trajectory for s in cheetah_store.items[:2]]
    scores = score_trajectories(CHEETAH, CRASHING, trajectories, tmp_path / "direct")
    assert scores.status == "error" and not scores.trajectories
    assert (
        "compute_reward raised ZeroDivisionError: division by zero on stored trajectory 0 (40 steps)" in scores.message
    )
    assert "reward.py, line 4, in compute_reward" in scores.message
    check = check_trajectories(CHEETAH, CRASHING, cheetah_store, tmp_path / "check")
    assert check.status == "error" and check.fraction is None and check.worst_pair is None
    assert "ZeroDivisionError" in check.message and check.message.startswith("the reward function could not be run")


def test_misshapen_output_is_an_error(tmp_path: Path) -> None:
    trajectories = [velocity_trajectory(1.0, steps=12)]
    source = "import torch\n\ndef compute_reward(x_velocity):\n    r = x_velocity.sum()\n    return r, {'r': r}\n"
    scores = score_trajectories(CHEETAH, source, trajectories, tmp_path)
    assert scores.status == "error"
    assert "the total reward has shape () on stored trajectory 0 of 12 steps; expected (12,)" in scores.message


def test_endless_program_times_out(tmp_path: Path) -> None:
    source = "import torch\n\ndef compute_reward(x_velocity):\n    while True:\n        pass\n"
    limits = Limits(wall_s=6.0, address_space_mb=4096, heartbeat_s=None)
    scores = score_trajectories(CHEETAH, source, [velocity_trajectory(1.0)], tmp_path, limits)
    assert scores.status == "timeout" and "took longer than 6 s" in scores.message


def test_skipped_with_too_few_labelled_trajectories(tmp_path: Path) -> None:
    store = TrajectoryStore(CHEETAH)
    store.add("gen_000/cand_00", [velocity_trajectory(1.0), velocity_trajectory(2.0)])
    check = check_trajectories(CHEETAH, FORWARD, store, tmp_path)
    assert check.status == "skipped" and (check.successful, check.failed) == (1, 1)
    assert "need at least 2 of each" in check.message
    assert not (tmp_path / "reward.py").exists()  # nothing was run


def test_relative_labels_ties_and_bounds() -> None:
    store = TrajectoryStore(CHEETAH, per_candidate=5)
    store.add("gen_000/cand_00", [velocity_trajectory(v) for v in (0.0, 1.0, 2.0, 3.0, 4.0)])
    store.add("gen_000/cand_01", [velocity_trajectory(v) for v in (5.0, 6.0, 7.0, 8.0, 9.0)])
    successful, failed = store.labelled()
    assert [s.fitness for s in successful] == pytest.approx([7.0, 8.0, 9.0])
    assert [s.fitness for s in failed] == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    assert successful[-1].id == "gen_000/cand_01/ep_4"
    tied = TrajectoryStore(CHEETAH)
    tied.add("gen_000/cand_00", [velocity_trajectory(1.0) for _ in range(3)])
    assert tied.labelled()[1] == ()  # equal fitness is never "failed"
    few = TrajectoryStore(CHEETAH, per_candidate=3, max_size=4)
    few.add("gen_000/cand_00", [velocity_trajectory(v) for v in (0.0, 1.0, 2.0, 3.0, 4.0)])
    assert sorted(s.fitness for s in few.items) == pytest.approx([0.0, 2.0, 4.0])  # spread over the range
    few.add("gen_000/cand_01", [velocity_trajectory(v) for v in (5.0, 6.0, 7.0)])
    assert sorted(s.fitness for s in few.items) == pytest.approx([0.0, 2.0, 6.0, 7.0])  # middle dropped first


def test_threshold_labels_for_success_tasks(tmp_path: Path) -> None:
    store = TrajectoryStore(MOUNTAIN_CAR)
    assert store.success_threshold == 0.5
    zeros = {v.name: np.zeros((5, *v.shape)) for v in MOUNTAIN_CAR.state}
    reached = dict(zeros, goal_reached=np.array([0, 0, 0, 0, 1.0]))
    store.add("gen_000/cand_00", [from_states(MOUNTAIN_CAR, zeros, seed=0, terminated=False, truncated=True)])
    store.add("gen_000/cand_01", [from_states(MOUNTAIN_CAR, reached, seed=1, terminated=True, truncated=False)])
    successful, failed = store.labelled()
    assert [s.id for s in successful] == ["gen_000/cand_01/ep_0"] and [s.id for s in failed] == ["gen_000/cand_00/ep_0"]
    store.save(tmp_path)
    back = TrajectoryStore.load(tmp_path, MOUNTAIN_CAR)
    assert [s.id for s in back.items] == [s.id for s in store.items] and back.success_threshold == 0.5
    assert back.items[1].trajectory.terminated and back.items[1].fitness == 1.0
    with pytest.raises(ValueError, match="is for task"):
        TrajectoryStore.load(tmp_path, CHEETAH)


def test_read_scores_rejects_bad_outputs(tmp_path: Path) -> None:
    path = tmp_path / "scores.npz"
    good: dict[str, Any] = {
        "component_names": np.array(["a"]),
        "total_000": np.zeros(3),
        "components_000": np.zeros((1, 3)),
    }
    np.savez(path, **good)
    (scores,) = read_scores(path, [3])
    assert scores.length == 3 and list(scores.components) == ["a"]
    bad_cases: list[dict[str, Any]] = [
        dict(good, total_000=np.array([0.0, np.nan, 0.0])),
        dict(good, total_000=np.zeros(4)),
        dict(good, components_000=np.zeros((2, 3))),
        dict(good, total_000=np.zeros(3, dtype=np.int64)),
        dict(good, extra=np.zeros(1)),
    ]
    for case in bad_cases:
        np.savez(path, **case)
        with pytest.raises(ScoresFormatError):
            read_scores(path, [3])
    np.savez(path, **dict(good, component_names=np.array([{"x": 1}], dtype=object)))
    with pytest.raises(ScoresFormatError):
        read_scores(path, [3])


def test_score_child_follows_the_child_protocol(tmp_path: Path) -> None:
    """Run in-process (no seccomp filter without EUREKA_SECCOMP): usage error, a program error as an error file."""
    assert score_child.main(["too", "few"]) == EXIT_USAGE
    trajectories = [velocity_trajectory(1.0), velocity_trajectory(2.0)]
    save_trajectories(tmp_path / "t.npz", trajectories)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npz"]  # atomic: no temporary file, no "t.npz.npz"
    (tmp_path / "reward.py").write_text(CRASHING)
    argv = [CHEETAH.id, str(tmp_path / "reward.py"), str(tmp_path / "t.npz"), str(tmp_path / "scores.npz")]
    assert score_child.main(argv) == EXIT_REPORTED_ERROR
    error = read_error(tmp_path / ERROR_FILE)
    assert error is not None and error.kind == "reward_error" and "ZeroDivisionError" in error.message
    assert not (tmp_path / "scores.npz").exists()
    (tmp_path / "reward.py").write_text(FORWARD)
    assert score_child.main(argv) == 0
    first, second = read_scores(tmp_path / "scores.npz", [10, 10])
    assert first.mean < second.mean and list(first.components) == ["forward", "ctrl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["error.json", "reward.py", "scores.npz", "t.npz"]
