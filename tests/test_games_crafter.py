"""Crafter: the faster world generator equals Crafter's, state on crafted situations, critic, training, eval, video.

The battery every task gets runs in tests/test_tasks.py (names and shapes for N envs, Crafter's own reward
recomputed from the state); here the state is checked against the game's own state on situations set up by
hand, and the collect-wood program goes the whole way through the sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eureka_kit.evaluation.evaluator import evaluate_policy, load_actor
from eureka_kit.games import crafter_state as cs
from eureka_kit.games.crafter_worldgen import generate_world
from eureka_kit.preferences.video import record_video
from eureka_kit.reward.critic import check_program
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.state_capture import STATE_KEY, make_env
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import train_candidate

ROOT = Path(__file__).resolve().parent.parent
NOOP, DO = 0, 5


def _world(seed: int, generate: Any) -> tuple[np.ndarray, list[tuple[str, tuple[int, int]]], float]:
    from crafter import constants, engine, objects

    world = engine.World((64, 64), constants.materials, (12, 12))
    world.reset(seed=seed)
    player = objects.Player(world, (32, 32))
    world.add(player)
    generate(world, player)
    objs = sorted((type(o).__name__, (int(o.pos[0]), int(o.pos[1]))) for o in world.objects)
    return world._mat_map.copy(), objs, float(world.random.uniform())


@pytest.mark.parametrize("seed", [0, 777, 12345])
def test_world_generation_equals_crafters(seed: int) -> None:
    from crafter import worldgen

    ours, theirs = _world(seed, generate_world), _world(seed, worldgen.generate_world)
    assert np.array_equal(ours[0], theirs[0]), "materials differ"
    assert ours[1] == theirs[1], "creatures differ"
    assert ours[2] == theirs[2], "the world's random state was used differently"


def _env() -> Any:
    env = make_env(get_task("Crafter-Wood-v1"))
    env.reset(seed=3)
    return env


def _front(env: Any) -> tuple[int, int]:
    p = env.unwrapped.player
    return int(p.pos[0] + p.facing[0]), int(p.pos[1] + p.facing[1])


def test_collecting_wood_counts_and_ends_the_episode() -> None:
    env = _env()
    try:
        u = env.unwrapped
        u.world[_front(env)] = "tree"
        _, _, _, _, info = env.step(NOOP)
        s = info[STATE_KEY]
        tree = cs.TARGETS.index("tree")
        assert s["facing_target"][tree] == 1.0 and s["nearest_distance"][tree] == 1.0
        np.testing.assert_allclose(s["nearest_direction"][tree], u.player.facing)
        _, reward, terminated, _, info = env.step(DO)
        s = info[STATE_KEY]
        assert s["inventory"][cs.ITEMS.index("wood")] == 1.0 == u.player.inventory["wood"]
        assert s["unlocked"][cs.ACHIEVEMENTS.index("collect_wood")] == 1.0
        assert s["achievements"][cs.ACHIEVEMENTS.index("collect_wood")] == 1.0
        assert terminated, "collect_wood is the task's target"
        batch = {k: np.asarray(v)[None] for k, v in s.items()}
        np.testing.assert_allclose(get_task("Crafter-Wood-v1").baseline_reward(batch), [reward])
        assert reward >= 1.0
    finally:
        env.close()


def test_lava_next_to_the_player_and_a_cow_nearby() -> None:
    from crafter import objects

    env = _env()
    try:
        u = env.unwrapped
        px, py = (int(v) for v in u.player.pos)
        fx, fy = (int(v) for v in u.player.facing)
        side = (px + fy, py + fx)  # a neighbour the player does not face
        u.world[side] = "lava"
        cow = (px - 2 * fx, py - 2 * fy)
        u.world[cow] = "grass"
        if u.world[cow][1] is None:
            u.world.add(objects.Cow(u.world, cow))
        _, _, _, _, info = env.step(NOOP)
        s = info[STATE_KEY]
        assert s["lava_adjacent"] == 1.0 and s["died"] == 0.0
        assert s["nearest_distance"][cs.TARGETS.index("lava")] == 1.0
        assert s["nearest_distance"][cs.TARGETS.index("cow")] <= 2.0
        assert s["vitals"].tolist() == [u.player.inventory[k] for k in cs.VITALS]
        assert s["position"].tolist() == [px, py] and 0.0 <= s["daylight"] <= 1.0
    finally:
        env.close()


def test_check_train_evaluate_and_video(tmp_path: Path) -> None:
    """The critic in-process (its sandboxed run is tested on grid tasks: a Crafter child first compiles the
    world noise, ~6 s), then a sandboxed training, the trusted evaluation and a video."""
    program = ROOT / "examples" / "crafter_wood_reward.py"
    report = check_program(get_task("Crafter-Wood-v1"), program.read_text())
    assert report.ok, report
    job = TrainJob(task_id="Crafter-Wood-v1", reward_kind="program", reward_path=program, total_steps=512, seed=0)
    result = train_candidate(job, tmp_path / "cand", Limits(wall_s=120.0, address_space_mb=4096, heartbeat_s=60.0))
    assert result.status == "ok", result.message
    assert result.stats is not None and {"approach", "wood"} <= set(result.stats.components)
    spec = get_task("Crafter-Wood-v1")
    ev = evaluate_policy(spec, tmp_path / "cand", episodes=1, job=job)
    assert ev.status == "ok" and ev.fitness is not None and ev.fitness in (0.0, 1.0), ev.message
    video = record_video(spec, load_actor(spec, tmp_path / "cand", job), tmp_path / "v.mp4", seed=0, max_steps=10)
    assert video.status == "ok", video.message
    assert video.frames == 11 and (tmp_path / "v.mp4").stat().st_size > 1000


def test_an_episode_is_fixed_by_its_seed_and_actions() -> None:
    """Stock Crafter is not (its chunk balancing iterates a set ordered by memory address); ours is."""
    from eureka_kit.games.crafter_env import CrafterGame

    def play() -> list[tuple[float, tuple[int, int], int]]:
        env = CrafterGame()
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        out = []
        for _ in range(120):
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(17)))
            out.append((reward, (int(env.player.pos[0]), int(env.player.pos[1])), len(env.world.objects)))
            if terminated or truncated:
                break
        return out

    assert play() == play()


def test_walking_into_lava_kills_and_the_analyzer_says_so() -> None:
    from eureka_kit.feedback.analyzer import analyze
    from eureka_kit.feedback.trajectory import from_states

    spec = get_task("Crafter-Wood-v1")
    env = _env()
    try:
        u = env.unwrapped
        px, py = (int(v) for v in u.player.pos)
        u.world[(px, py + 1)] = "lava"
        _, _, _, _, info = env.step(NOOP)
        before = info[STATE_KEY]
        _, _, terminated, _, info = env.step(4)  # move_down, into the lava
        s = info[STATE_KEY]
    finally:
        env.close()
    assert before["lava_adjacent"] == 1.0
    assert terminated and s["died"] == 1.0 and s["vitals"][0] == 0.0
    assert cs.death_cause(s) == "walked into lava"
    states = {k: np.stack([np.asarray(before[k]), np.asarray(s[k])]) for k in s}
    died = from_states(spec, states, seed=0, terminated=True, truncated=False)
    finding = analyze(spec, [died]).get("dies")
    assert finding is not None and "died (health reached 0) in 1 of 1 episodes" in finding.message
    assert "walked into lava 1" in finding.message
