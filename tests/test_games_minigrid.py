"""Grid worlds (MiniGrid): state on crafted situations, the critic, sandboxed training, evaluation, video, analyzer.

The battery every task gets (env builds, documented names and shapes for N envs, baseline reward = env
reward, fitness) runs in tests/test_tasks.py; here the state is checked against the game's own state on
situations set up by hand, and one DoorKey program goes the whole way: critic, a few thousand sandboxed
training steps, trusted evaluation (argmax of the categorical policy), video and analyzer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eureka_kit.cli import main
from eureka_kit.evaluation.evaluator import evaluate_policy, load_actor
from eureka_kit.feedback.analyzer import analyze
from eureka_kit.feedback.trajectory import collect_trajectory, from_states
from eureka_kit.games.minigrid_state import DIRECTIONS
from eureka_kit.preferences.video import record_video
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.kinds import get_kind
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.state_capture import STATE_KEY, make_env
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import TrainResult, train_candidate

ROOT = Path(__file__).resolve().parent.parent
GRID_TASKS = ["DoorKey-Grid-v1", "LavaCrossing-Grid-v1", "UnlockPickup-Grid-v1"]
LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE = range(6)


def _find(env: Any, kind: str) -> tuple[int, int]:
    grid = env.unwrapped.grid
    for i, obj in enumerate(grid.grid):
        if obj is not None and obj.type == kind:
            return i % grid.width, i // grid.width
    raise AssertionError(f"no {kind} in the grid")


def _face(env: Any, target: tuple[int, int], side: int | None = None) -> None:
    """Put the agent on a free cell next to ``target``, facing it (``side``: the direction to face)."""
    u = env.unwrapped
    for d in [side] if side is not None else range(4):
        x, y = target[0] - DIRECTIONS[d][0], target[1] - DIRECTIONS[d][1]
        if u.grid.get(x, y) is None:
            u.agent_pos, u.agent_dir = (x, y), d
            return
    raise AssertionError(f"no free cell next to {target}")


def _step(env: Any, action: int) -> tuple[dict[str, np.ndarray], float, bool]:
    _, reward, terminated, _, info = env.step(action)
    return info[STATE_KEY], float(reward), bool(terminated)


def test_kind_is_discrete() -> None:
    for task_id in GRID_TASKS:
        spec = get_task(task_id)
        assert get_kind(spec.kind).actions == "discrete"
        env = make_env(spec)
        try:
            assert env.action_space.n == 7
            obs, _ = env.reset(seed=0)
            assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
        finally:
            env.close()
        assert "Actions (the policy picks one id per step): 0 turn left" in spec.description


def test_doorkey_state_follows_the_game() -> None:
    spec = get_task("DoorKey-Grid-v1")
    env = make_env(spec)
    try:
        env.reset(seed=1)
        key, door, goal = _find(env, "key"), _find(env, "door"), _find(env, "goal")
        _face(env, key)
        s, _, _ = _step(env, RIGHT)
        s, _, _ = _step(env, LEFT)  # back to facing the key, having turned in place twice
        assert s["facing"].tolist() == [1.0, 0.0, 0.0]
        assert s["distances"][0] == 1.0 and s["carrying"] == 0.0
        assert s["visits"] == 2.0  # the same cell on both steps (turning in place)
        assert tuple(s["key_pos"]) == key and tuple(s["door_pos"]) == door and tuple(s["goal_pos"]) == goal
        s, _, _ = _step(env, PICKUP)
        assert s["carrying"] == 5.0 and s["distances"][0] == 0.0
        assert np.array_equal(s["key_pos"], s["agent_pos"])
        assert s["door_state"] == 2.0 and s["past_door"] == 0.0  # locked
        _face(env, door, side=0)
        s, _, _ = _step(env, TOGGLE)
        assert s["door_state"] == 0.0 and env.unwrapped.grid.get(*door).is_open
        _face(env, goal, side=1)
        s, reward, terminated = _step(env, FORWARD)
        assert terminated and s["success"] == 1.0 and s["past_door"] == 1.0 and s["distances"][2] == 0.0
        batch = {k: np.asarray(v)[None] for k, v in s.items()}
        np.testing.assert_allclose(spec.baseline_reward(batch), [reward], rtol=1e-12)
        assert reward > 0.9 and spec.fitness.step(batch)[0] == 1.0
    finally:
        env.close()


def test_lava_crossing_lava_ahead_and_death() -> None:
    spec = get_task("LavaCrossing-Grid-v1")
    env = make_env(spec)
    try:
        env.reset(seed=2)
        _face(env, _find(env, "lava"))
        s, _, _ = _step(env, LEFT)
        s, _, _ = _step(env, RIGHT)
        assert s["facing"][1] == 1.0 and s["distances"][1] == 1.0 and s["in_lava"] == 0.0
        s, reward, terminated = _step(env, FORWARD)
        assert terminated and reward == 0.0
        assert s["in_lava"] == 1.0 and s["success"] == 0.0 and s["distances"][1] == 0.0
    finally:
        env.close()


def test_unlock_pickup_success_is_carrying_the_box() -> None:
    spec = get_task("UnlockPickup-Grid-v1")
    env = make_env(spec)
    try:
        env.reset(seed=0)
        _face(env, _find(env, "box"))
        s, reward, terminated = _step(env, PICKUP)
        assert terminated and reward > 0.9 and s["success"] == 1.0 and s["carrying"] == 7.0
    finally:
        env.close()


def test_analyzer_game_findings() -> None:
    spec = get_task("DoorKey-Grid-v1")
    spins = collect_trajectory(spec, lambda obs: np.asarray(LEFT), seed=0, max_steps=60)
    analysis = analyze(spec, [spins, spins])
    assert {"loops_in_place", "never_leaves_start", "actions"} <= set(analysis.kinds)
    assert "action 0 on 100%" in (analysis.get("actions") or pytest.fail("no actions finding")).message
    assert analysis.get("jitters") is None  # continuous-action checks do not apply to discrete actions

    lava = get_task("LavaCrossing-Grid-v1")
    tr = collect_trajectory(lava, lambda obs: np.asarray(LEFT), seed=0, max_steps=30)
    states = {k: np.array(v) for k, v in tr.states.items()}
    states["in_lava"][-1] = 1.0
    died = from_states(lava, states, seed=0, terminated=True, truncated=False)
    finding = analyze(lava, [died]).get("dies")
    assert finding is not None and "walked into lava in 1 of 1 episodes (first at step 30)" in finding.message


def test_check_accepts_the_example_programs(capsys: pytest.CaptureFixture[str]) -> None:
    for task_id, name in (("DoorKey-Grid-v1", "doorkey_reward.py"), ("LavaCrossing-Grid-v1", "lavacrossing_reward.py")):
        assert main(["check", task_id, str(ROOT / "examples" / name)]) == 0
        assert "OK" in capsys.readouterr().out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainJob, Path, TrainResult]:
    out = tmp_path_factory.mktemp("doorkey")
    job = TrainJob(
        task_id="DoorKey-Grid-v1",
        reward_kind="program",
        reward_path=ROOT / "examples" / "doorkey_reward.py",
        total_steps=2048,
        seed=0,
    )
    result = train_candidate(job, out, Limits(wall_s=120.0, address_space_mb=4096, heartbeat_s=60.0))
    return job, out, result


def test_program_trains_in_the_sandbox(trained: tuple[TrainJob, Path, TrainResult]) -> None:
    _, out, result = trained
    assert result.status == "ok", result.message
    assert result.stats is not None and result.stats.total_steps >= 2048
    assert (out / "policy.safetensors").is_file()
    assert {"progress", "goal"} <= set(result.stats.components)


def test_trusted_evaluation_and_video(trained: tuple[TrainJob, Path, TrainResult], tmp_path: Path) -> None:
    job, out, _ = trained
    spec = get_task(job.task_id)
    ev = evaluate_policy(spec, out, episodes=2, job=job)
    assert ev.status == "ok", ev.message
    assert ev.fitness is not None and 0.0 <= ev.fitness <= 1.0
    act = load_actor(spec, out, job)
    action = act(make_env(spec).reset(seed=0)[0])
    assert action.shape == () and 0 <= int(action) < 7  # argmax of the categorical logits: one action id
    video = record_video(spec, act, tmp_path / "video.mp4", seed=0, max_steps=20)
    assert video.status == "ok", video.message
    assert video.frames == 21 and video.backend == "env" and (tmp_path / "video.mp4").stat().st_size > 1000
