"""Sandboxed training with SB3: real tiny trainings in child processes, reward replacement, stats validation."""

from __future__ import annotations

import json
import math
import os
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.state_capture import make_env
from eureka_kit.training.backends.sb3 import EPISODE_KEY, EurekaRewardWrapper
from eureka_kit.training.backends.sb3_config import ConfigError, resolve_config
from eureka_kit.training.job import MAX_SAMPLES, StatsFormatError, TrainJob, TrainStats, read_stats
from eureka_kit.training.reward_sources import ProgramReward, RewardProgramError, make_reward
from eureka_kit.training.runner import TrainResult, train_candidate

MC = "MountainCar-Flag-v1"
HC = "HalfCheetah-Run-v1"
LIMITS = Limits(wall_s=120.0, address_space_mb=4096, heartbeat_s=60.0)

PROGRAMS = {
    "mc_good": """
        import torch

        def compute_reward(position: torch.Tensor, velocity: torch.Tensor, goal_reached: torch.Tensor,
                           action: torch.Tensor):
            height = torch.sin(3.0 * position)
            speed = 10.0 * velocity.abs()
            goal = 100.0 * goal_reached
            ctrl = -0.1 * (action ** 2).sum(dim=-1)
            return height + speed + goal + ctrl, {"height": height, "speed": speed, "goal": goal, "ctrl": ctrl}
        """,
    "hc_good": """
        import torch

        def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
            forward = x_velocity
            ctrl = -0.1 * (action ** 2).sum(dim=-1)
            return forward + ctrl, {"forward": forward, "ctrl": ctrl}
        """,
    "raises": """
        import torch

        _calls = [0]

        def scale(x):
            if _calls[0] >= 40:
                raise ZeroDivisionError("scale collapsed to zero")
            return x

        def compute_reward(position: torch.Tensor):
            _calls[0] += 1
            return scale(position), {"pos": position}
        """,
    "nan": """
        import torch

        def compute_reward(position: torch.Tensor, velocity: torch.Tensor):
            shaped = torch.log(velocity.abs() - 1.0)
            return position + shaped, {"position": position, "shaped": shaped}
        """,
    "huge": """
        import torch

        def compute_reward(position: torch.Tensor):
            scratch = torch.zeros(2 ** 40)  # 4 TiB
            return position + scratch[0], {"position": position}
        """,
    "unknown_arg": """
        import json, os
        import torch

        json.dump(sorted(os.environ), open("env_seen.json", "w"))

        def compute_reward(car_speed: torch.Tensor):
            return car_speed, {"speed": car_speed}
        """,
}


def _job(tmp: Path, task: str, program: str | None, kind: str = "program", steps: int = 256) -> TrainJob:
    path = None
    if program is not None:
        path = tmp / f"{program}.py"
        path.write_text(textwrap.dedent(PROGRAMS[program]))
    return TrainJob(task_id=task, reward_kind=kind, reward_path=path, total_steps=steps, seed=3)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainResult]:
    """Every child of this module, run two at a time (each start-up with torch costs ~2 s)."""
    tmp = tmp_path_factory.mktemp("train")
    jobs = {
        "mc_good": _job(tmp, MC, "mc_good"),
        "hc_good": _job(tmp, HC, "hc_good", steps=512),
        "raises": _job(tmp, MC, "raises"),
        "nan": _job(tmp, MC, "nan"),
        "unknown_arg": _job(tmp, MC, "unknown_arg"),
        "huge": _job(tmp, MC, "huge"),
        "baseline": _job(tmp, MC, None, kind="baseline"),
        "sparse": _job(tmp, HC, None, kind="sparse"),
    }
    saved = {k: os.environ.get(k) for k in ("OPENAI_API_KEY", "EUREKA_TEST_PARENT_ONLY")}
    os.environ.update(OPENAI_API_KEY="sk-" + "test-must-not-reach-the-child-0000000", EUREKA_TEST_PARENT_ONLY="1")
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {k: pool.submit(train_candidate, job, tmp / k, LIMITS) for k, job in jobs.items()}
            return {k: f.result() for k, f in futures.items()}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("name", ["mc_good", "hc_good"])
def test_good_program_trains_and_writes_weights_and_stats(trained: dict[str, TrainResult], name: str) -> None:
    r = trained[name]
    assert r.status == "ok", r.message
    assert r.policy_path is not None and r.policy_path.stat().st_size > 1000
    assert r.obs_norm_path is not None  # both tasks normalize observations
    assert r.stats is not None
    assert 1 <= len(r.stats.samples) <= 11
    assert r.stats.total_steps >= (256 if name == "mc_good" else 512)
    assert r.env_steps_per_s is not None and r.env_steps_per_s > 0
    expected = {"height", "speed", "goal", "ctrl"} if name == "mc_good" else {"forward", "ctrl"}
    assert set(r.stats.components) == expected
    series = r.series
    assert series and all(all(math.isfinite(v) for v in vals) for vals in series.values())
    assert any(k.startswith("total reward") for k in series)
    stats_json = json.loads((r.out_dir / "stats.json").read_text())
    assert TrainStats.from_json(stats_json) == r.stats


def test_program_raising_at_step_k_is_a_train_error(trained: dict[str, TrainResult]) -> None:
    r = trained["raises"]
    assert r.status == "train_error"
    assert "ZeroDivisionError: scale collapsed to zero" in r.message
    assert "at training step 40" in r.message
    assert "reward.py, line" in r.message and "in scale" in r.message
    assert not (r.out_dir / "policy.safetensors").exists()


def test_program_returning_nan_is_a_train_error_naming_nan(trained: dict[str, TrainResult]) -> None:
    r = trained["nan"]
    assert r.status == "train_error"
    assert "component 'shaped' is NaN" in r.message
    assert "velocity=" in r.message  # the state that produced it


def test_unknown_argument_is_a_train_error_listing_valid_names(trained: dict[str, TrainResult]) -> None:
    r = trained["unknown_arg"]
    assert r.status == "train_error"
    assert "car_speed" in r.message and "position" in r.message


def test_program_exhausting_memory_is_out_of_memory(trained: dict[str, TrainResult]) -> None:
    r = trained["huge"]
    assert r.status == "out_of_memory", r.message
    assert "compute_reward at training step 1 could not allocate memory" in r.message


@pytest.mark.parametrize(("name", "component"), [("baseline", "env_reward"), ("sparse", "fitness_step")])
def test_baseline_and_sparse_rewards_train(trained: dict[str, TrainResult], name: str, component: str) -> None:
    r = trained[name]
    assert r.status == "ok", r.message
    assert r.stats is not None and r.stats.reward_kind == name
    assert r.stats.components == (component,)


def test_child_sees_no_parent_secrets(trained: dict[str, TrainResult]) -> None:
    r = trained["unknown_arg"]  # its module-level code recorded the environment it saw
    seen = json.loads((r.out_dir / "env_seen.json").read_text())
    assert "OPENAI_API_KEY" not in seen and "EUREKA_TEST_PARENT_ONLY" not in seen
    job = json.loads((r.out_dir / "job.json").read_text())
    assert job["reward_path"] == "reward.py"  # the child reads its own copy, in its own folder


def test_wall_clock_limit_is_a_timeout(tmp_path: Path) -> None:
    r = train_candidate(_job(tmp_path, MC, "mc_good"), tmp_path / "out", Limits(wall_s=0.5))
    assert r.status == "timeout"
    assert "wall-clock limit" in r.message


# ----- in-process: the reward wrapper and the stats record -------------------------------------------


def _venv(task: str, n: int = 2) -> DummyVecEnv:
    spec = get_task(task)
    venv = DummyVecEnv([lambda: make_env(spec) for _ in range(n)])
    venv.seed(0)
    return venv


def test_wrapper_replaces_reward_once_per_step_and_reports_episode_sums() -> None:
    spec = get_task(MC)
    calls: list[int] = []
    source = textwrap.dedent(PROGRAMS["mc_good"])
    reward = ProgramReward.from_source(source, spec)
    original = reward.program.fn

    def counting(**kw):  # type: ignore[no-untyped-def]
        calls.append(len(kw["position"]))
        return original(**kw)

    reward.program = type(reward.program)(fn=counting, arg_names=reward.program.arg_names)
    env = EurekaRewardWrapper(_venv(MC, 2), spec, reward)
    env.reset()
    totals = np.zeros(2)
    episodes = []
    for _ in range(spec.max_episode_steps):
        _, r, _dones, infos = env.step(np.zeros((2, 1), dtype=np.float32))
        totals += r
        episodes += [info[EPISODE_KEY] for info in infos if EPISODE_KEY in info]
    assert calls == [2] * spec.max_episode_steps  # batched: one call per vector step, N=2
    assert len(episodes) == 2 and all(e.length == spec.max_episode_steps for e in episodes)
    ep = episodes[0]
    assert set(ep.components) == {"height", "speed", "goal", "ctrl"}
    assert ep.total == pytest.approx(sum(ep.components.values()), rel=1e-4, abs=1e-3)
    assert ep.total == pytest.approx(totals[0], rel=1e-3, abs=1e-2)
    assert ep.fitness == 0.0  # doing nothing never reaches the flag


def test_sparse_and_baseline_sources() -> None:
    spec = get_task(HC)
    state = {k: np.zeros((3, *spec.var(k).shape)) for k in spec.state_names}
    state["x_velocity"] = np.array([1.0, -2.0, 0.5])
    total, comps = make_reward("sparse", spec)(state, np.zeros(3), 1)
    assert total.tolist() == [1.0, -2.0, 0.5] and set(comps) == {"fitness_step"}
    total, comps = make_reward("baseline", spec)(state, np.array([4.0, 5.0, 6.0]), 1)
    assert total.tolist() == [4.0, 5.0, 6.0]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("return position", "must return (total, components_dict)"),
        ("return position[:1], {'p': position}", "shape (1,)"),
        ("return position, {'p': position * float('inf')}", "component 'p' is +inf"),
        ("return position.tolist(), {}", "must be a torch.Tensor"),
    ],
)
def test_invalid_outputs_raise_reward_program_error(body: str, needle: str) -> None:
    spec = get_task(MC)
    reward = ProgramReward.from_source(f"import torch\ndef compute_reward(position):\n    {body}\n", spec)
    state = {k: np.ones((2, *spec.var(k).shape)) for k in spec.state_names}
    with pytest.raises(RewardProgramError, match=None) as exc:
        reward(state, np.zeros(2), 7)
    assert needle in str(exc.value)


def test_config_overrides_are_validated_and_tiny_budgets_clamped() -> None:
    spec = get_task(HC)
    cfg = resolve_config(spec, total_steps=100, n_envs=2)
    assert cfg.hyperparams["n_steps"] == 50 and cfg.hyperparams["batch_size"] <= 100
    assert resolve_config(spec).hyperparams["n_steps"] == 512  # normal budgets untouched
    with pytest.raises(ConfigError, match="unknown hyperparameter 'n_step'"):
        resolve_config(spec, overrides={"n_step": 8})
    with pytest.raises(ConfigError, match="unknown activation_fn"):
        resolve_config(spec, overrides={"policy_kwargs": {"activation_fn": "__import__('os')"}})


def _stats_json() -> dict[str, object]:
    sample = {
        "step": 10,
        "episodes": 1,
        "window": 1,
        "total": 1.0,
        "fitness": 0.5,
        "length": 10.0,
        "env_return": 2.0,
        "components": {"a": 1.0},
        "step_means": {"a": 0.1, "total": 0.1},
    }
    return {
        "reward_kind": "program",
        "components": ["a"],
        "samples": [sample],
        "total_steps": 10,
        "wall_s": 1.0,
        "env_steps_per_s": 10.0,
    }


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(samples=[d["samples"][0]] * (MAX_SAMPLES + 1)),
        lambda d: d["samples"][0].update(total=float("nan")),
        lambda d: d["samples"][0].update(total="1.0"),
        lambda d: d["samples"][0]["components"].update({"bad\nname": 1.0}),
        lambda d: d.update(reward_kind="__import__"),
        lambda d: d.update(components=["x"] * 100),
        lambda d: d.update(total_steps=-1),
    ],
)
def test_untrusted_stats_are_validated(tmp_path: Path, mutate) -> None:  # type: ignore[no-untyped-def]
    good = _stats_json()
    assert TrainStats.from_json(good).series()["a"] == [1.0]
    bad = _stats_json()
    mutate(bad)
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(StatsFormatError):
        read_stats(path)


def test_oversized_stats_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    path.write_text(" " * 300_000 + json.dumps(_stats_json()))
    with pytest.raises(StatsFormatError, match="larger than"):
        read_stats(path)
