"""The batched-env factory: engine choice by device, clear errors, physics defined for every MuJoCo task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eureka_kit.sim.cpu import CpuBatchedEnv
from eureka_kit.sim.factory import make_batched_env, resolve_device
from eureka_kit.sim.physics import NoBatchedPhysicsError, get_physics
from eureka_kit.sim.warp import warp_available
from eureka_kit.tasks.registry import get_task, list_tasks


def test_every_mujoco_task_has_physics_matching_its_state() -> None:
    mujoco_tasks = [t for t in list_tasks() if "mujoco" in t.tags]
    assert {t.id for t in mujoco_tasks} >= {
        "HalfCheetah-Run-v1",
        "Hopper-Hop-v1",
        "Walker2d-Walk-v1",
        "Ant-Run-v1",
        "Humanoid-Run-v1",
        "Pusher-Push-v1",
    }
    for spec in mujoco_tasks:
        physics = get_physics(spec.id)
        assert spec.baseline_reward is physics.reward, spec.id
        env = make_batched_env(spec.id, 2, device="cpu")
        out = env.step(torch.zeros(2, env.action_size))
        for var in spec.state:
            assert tuple(out.state[var.name].shape) == (2, *var.shape), (spec.id, var.name)
        assert env.observation_size == spec.make_env().observation_space.shape[0], spec.id


def test_task_without_physics_is_named_with_the_valid_ones() -> None:
    classic = next(t for t in list_tasks() if "mujoco" not in t.tags)
    with pytest.raises(NoBatchedPhysicsError):
        get_physics(classic.id)
    with pytest.raises(NoBatchedPhysicsError, match=r"no batched physics definition.*HalfCheetah-Run-v1"):
        make_batched_env(classic.id, 4)


def test_devices() -> None:
    assert isinstance(make_batched_env("HalfCheetah-Run-v1", 2, device="cpu", threads=2), CpuBatchedEnv)
    assert resolve_device("cuda:1") == "cuda:1"
    want = "cuda" if torch.cuda.is_available() and warp_available() else "cpu"
    assert resolve_device("auto") == want
    with pytest.raises(ValueError, match="valid: auto, cpu, cuda"):
        resolve_device("tpu")


def test_seeded_resets_repeat_and_differ_per_env() -> None:
    a = make_batched_env("Ant-Run-v1", 3, seed=5).reset(5)
    b = make_batched_env("Ant-Run-v1", 3, seed=9).reset(5)
    assert torch.equal(a, b)
    assert not torch.equal(a[0], a[1])
    assert not np.allclose(a.numpy(), make_batched_env("Ant-Run-v1", 3).reset(6).numpy())


def test_gymnasium_path_uses_the_same_functions() -> None:
    spec = get_task("Walker2d-Walk-v1")
    env = spec.make_env()
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample() * 0)
    state = spec.extract(env.unwrapped, info, np.zeros(6))
    assert state["x_velocity"] == info["x_velocity"]
    assert state["is_healthy"] == float(env.unwrapped.is_healthy)
    batched = {k: v[None] for k, v in state.items()} | {"action": np.zeros((1, 6))}
    assert spec.baseline_reward(batched)[0] == pytest.approx(reward, abs=1e-12)
