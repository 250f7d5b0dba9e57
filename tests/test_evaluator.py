"""Trusted evaluation: weights only, refused files, deterministic fitness."""

from __future__ import annotations

import dataclasses
import math
import pickle
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from eureka_kit.evaluation.evaluator import Evaluation, evaluate_policy, load_actor, load_rollouts
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.spec import TrainDefaults
from eureka_kit.tasks.state_capture import make_env
from eureka_kit.training.backends.sb3_config import build_policy, resolve_config
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import train_candidate
from eureka_kit.training.weights import load_tensors, plain_state_dict

MC = get_task("MountainCar-Flag-v1")
HC = get_task("HalfCheetah-Run-v1")

PROGRAM = """
import torch

def compute_reward(position: torch.Tensor, velocity: torch.Tensor, action: torch.Tensor):
    height = torch.sin(3.0 * position)
    speed = 10.0 * velocity.abs()
    return height + speed, {"height": height, "speed": speed}
"""


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny real training on MountainCar (shared by every test here)."""
    tmp = tmp_path_factory.mktemp("eval")
    (tmp / "reward.py").write_text(textwrap.dedent(PROGRAM))
    job = TrainJob(MC.id, "program", tmp / "reward.py", total_steps=256, seed=1)
    result = train_candidate(job, tmp / "cand", Limits(wall_s=120.0, heartbeat_s=60.0))
    assert result.status == "ok", result.message
    return tmp / "cand"


@pytest.fixture
def copy(weights: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "cand"
    shutil.copytree(weights, dst)
    return dst


def test_evaluates_trained_weights_deterministically(weights: Path, tmp_path: Path) -> None:
    a = evaluate_policy(MC, weights, episodes=2, seed=11, rollouts_path=tmp_path / "rollouts.npz")
    assert a.status == "ok", a.message
    assert a.fitness is not None and math.isfinite(a.fitness) and a.fitness_std is not None
    assert a.fitness_name == "success" and len(a.episodes) == 2
    assert [e.seed for e in a.episodes] == [11, 12]
    for e in a.episodes:
        assert e.length == MC.max_episode_steps or e.terminated
        assert e.truncated != e.terminated
        assert set(e.final_state) == set(MC.state_names)
    b = evaluate_policy(MC, weights, episodes=2, seed=11)
    assert b.episodes == a.episodes and b.fitness == a.fitness
    rollouts = load_rollouts(tmp_path / "rollouts.npz")
    assert len(rollouts) == 2 and rollouts[0].states["position"].shape == (a.episodes[0].length,)
    assert rollouts[0].states["position"][-1] == pytest.approx(a.episodes[0].final_state["position"], abs=1e-4)
    assert rollouts[1].seed == 12 and rollouts[1].truncated == a.episodes[1].truncated and not rollouts[1].cut
    assert float(rollouts[0].env_rewards.sum()) == pytest.approx(a.episodes[0].env_return, rel=1e-4, abs=1e-4)
    assert Evaluation.from_json(a.to_json()) == dataclasses.replace(a, rollouts_file=str(tmp_path / "rollouts.npz"))


def test_actor_acts_like_the_evaluation(weights: Path) -> None:
    ev = evaluate_policy(MC, weights, episodes=1, seed=21)
    act = load_actor(MC, weights)
    env = make_env(MC)
    obs, _ = env.reset(seed=21)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, r, term, trunc, _ = env.step(act(obs))
        total, steps, done = total + float(r), steps + 1, term or trunc
    assert steps == ev.episodes[0].length
    assert total == pytest.approx(ev.episodes[0].env_return, rel=1e-6, abs=1e-6)


def test_refuses_a_pickle_named_policy_safetensors(copy: Path) -> None:
    sd = load_tensors(copy / "policy.safetensors")
    (copy / "policy.safetensors").write_bytes(pickle.dumps(sd))
    ev = evaluate_policy(MC, copy, episodes=1, seed=0)
    assert ev.status == "eval_error" and ev.fitness is None
    assert "pickle" in ev.message and "safetensors" in ev.message
    torch.save(sd, copy / "policy.safetensors")  # torch's zip format
    ev = evaluate_policy(MC, copy, episodes=1, seed=0)
    assert ev.status == "eval_error" and "pickle" in ev.message


def test_refuses_garbage_and_truncated_files(copy: Path) -> None:
    raw = (copy / "policy.safetensors").read_bytes()
    (copy / "policy.safetensors").write_bytes(raw[: len(raw) // 2])
    ev = evaluate_policy(MC, copy, episodes=1, seed=0)
    assert ev.status == "eval_error" and "safetensors" in ev.message
    (copy / "policy.safetensors").write_bytes(b"not weights at all")
    assert evaluate_policy(MC, copy, episodes=1, seed=0).status == "eval_error"


def test_refuses_a_state_dict_with_wrong_shapes_or_keys(copy: Path) -> None:
    sd = load_tensors(copy / "policy.safetensors")
    key = next(k for k, v in sd.items() if v.ndim == 2)
    bad = dict(sd)
    bad[key] = torch.zeros(sd[key].shape[0] + 1, sd[key].shape[1])
    save_file(bad, str(copy / "policy.safetensors"))
    ev = evaluate_policy(MC, copy, episodes=1, seed=0)
    assert ev.status == "eval_error" and key in ev.message and "shape" in ev.message
    missing = {k: v for k, v in sd.items() if k != key}
    missing["extra.weight"] = torch.zeros(2)
    save_file(missing, str(copy / "policy.safetensors"))
    ev = evaluate_policy(MC, copy, episodes=1, seed=0)
    assert ev.status == "eval_error" and "missing" in ev.message and "extra.weight" in ev.message


def test_refuses_non_finite_weights_and_missing_normalization(copy: Path) -> None:
    sd = load_tensors(copy / "policy.safetensors")
    key = next(iter(sd))
    save_file({**sd, key: torch.full_like(sd[key], float("nan"))}, str(copy / "policy.safetensors"))
    ev = evaluate_policy(MC, copy, episodes=1, seed=0)
    assert ev.status == "eval_error" and "non-finite" in ev.message
    save_file(sd, str(copy / "policy.safetensors"))
    (copy / "obs_norm.safetensors").unlink()
    ev = evaluate_policy(MC, copy, episodes=1, seed=0)
    assert ev.status == "eval_error" and "obs_norm.safetensors is missing" in ev.message


def test_halfcheetah_and_sac_networks_round_trip(tmp_path: Path) -> None:
    """Weights saved from a freshly built network load back (PPO on HalfCheetah; SAC via a variant spec)."""
    sac = dataclasses.replace(
        HC, train=TrainDefaults(algo="SAC", total_steps=1000, n_envs=1, policy_kwargs={"net_arch": [32, 32]})
    )
    for spec in (HC, sac):
        d = tmp_path / spec.train.algo
        d.mkdir()
        env = make_env(spec)
        policy = build_policy(resolve_config(spec), env.observation_space, env.action_space)
        save_file(plain_state_dict(policy), str(d / "policy.safetensors"))
        if spec.train.normalize_obs:
            n = int(np.prod(env.observation_space.shape or (1,)))
            save_file(
                {
                    "mean": torch.zeros(n, dtype=torch.float64),
                    "var": torch.ones(n, dtype=torch.float64),
                    "count": torch.ones(1, dtype=torch.float64),
                    "clip_obs": torch.tensor([10.0], dtype=torch.float64),
                    "epsilon": torch.tensor([1e-8], dtype=torch.float64),
                },
                str(d / "obs_norm.safetensors"),
            )
        ev = evaluate_policy(spec, d, episodes=1, seed=0)
        assert ev.status == "ok", ev.message
        assert ev.episodes[0].length == spec.max_episode_steps
        assert np.isfinite(ev.episodes[0].env_return)
