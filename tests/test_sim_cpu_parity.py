"""Parity: the CPU engine (mujoco.batch) against the gymnasium env, per MuJoCo task, in float64.

From the same initial states (env i's reset noise drawn from the same
generator) and the same actions, the engine's observations, state variables,
env reward, terminated and truncated equal the gymnasium env's within 1e-9
over 220 steps, across auto-resets (a short time limit forces them where the
task never terminates).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from eureka_kit.sim.cpu import CpuBatchedEnv
from eureka_kit.sim.physics import env_generator, get_physics
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.state_capture import STATE_KEY, StateCapture

TOL = 1e-9
TASKS = ["HalfCheetah-Run-v1", "Hopper-Hop-v1", "Walker2d-Walk-v1", "Ant-Run-v1", "Humanoid-Run-v1", "Pusher-Push-v1"]
N_ENVS = 2
N_STEPS = 220
TIME_LIMIT = 70  # short, so that every task auto-resets by the time limit too


def _close(name: str, got: np.ndarray, want: np.ndarray, worst: dict[str, float]) -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    diff = float(np.max(np.abs(got - want), initial=0.0))
    worst[name] = max(worst.get(name, 0.0), diff)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL, err_msg=name)


@pytest.mark.parametrize("task_id", TASKS)
def test_cpu_engine_matches_gymnasium(task_id: str) -> None:
    spec = get_task(task_id)
    seed = 7
    engine = CpuBatchedEnv(task_id, N_ENVS, threads=1, seed=seed, dtype=torch.float64, max_episode_steps=TIME_LIMIT)
    envs = []
    first_obs = []
    for i in range(N_ENVS):
        env = StateCapture(gym.make(spec.env_id, max_episode_steps=TIME_LIMIT), spec)
        env.reset(seed=0)
        env.unwrapped.np_random = env_generator(seed, i)  # the engine's generator for env i
        first_obs.append(env.reset()[0])
        envs.append(env)
    assert env.unwrapped.frame_skip == get_physics(task_id).frame_skip
    worst: dict[str, float] = {}
    _close("reset obs", engine.reset(seed).numpy(), np.stack(first_obs), worst)

    rng = np.random.default_rng(1)
    low, high = engine.action_low.double().numpy(), engine.action_high.double().numpy()
    resets = {"terminated": 0, "truncated": 0}
    for _ in range(N_STEPS):
        action = rng.uniform(low, high, size=(N_ENVS, engine.action_size))
        out = engine.step(torch.from_numpy(action))
        for i, env in enumerate(envs):
            obs, reward, terminated, truncated, info = env.step(action[i])
            truncated = truncated and not terminated
            _close("obs", out.final_obs[i].numpy(), obs, worst)
            _close("env_reward", out.env_reward[i].numpy(), reward, worst)
            assert bool(out.terminated[i]) == terminated
            assert bool(out.truncated[i]) == truncated
            state = info[STATE_KEY]
            assert set(out.state) == set(state) == set(spec.state_names)
            for name, value in state.items():
                _close(f"state.{name}", out.state[name][i].numpy(), value, worst)
            if "x_velocity" in info:
                _close("x_velocity (gymnasium info)", out.state["x_velocity"][i].numpy(), info["x_velocity"], worst)
            if terminated or truncated:
                resets["terminated" if terminated else "truncated"] += 1
                _close("obs after auto-reset", out.obs[i].numpy(), env.reset()[0], worst)
            else:
                assert torch.equal(out.obs[i], out.final_obs[i])
    engine.close()
    assert resets["truncated"] + resets["terminated"] >= 1, resets
    print(f"{task_id}: resets {resets}, worst abs diff {max(worst.values()):.3g}")


def test_float32_contract_and_shapes() -> None:
    engine = CpuBatchedEnv("Hopper-Hop-v1", 3, seed=0)
    spec = get_task("Hopper-Hop-v1")
    out = engine.step(torch.zeros(3, engine.action_size))
    assert out.obs.dtype == torch.float32 and out.obs.shape == (3, engine.observation_size)
    assert out.env_reward.shape == (3,) and out.terminated.dtype == torch.bool
    for var in spec.state:
        assert out.state[var.name].shape == (3, *var.shape), var.name
        assert out.state[var.name].dtype == torch.float32
    # actions beyond the bounds are clipped, as the state reports
    out = engine.step(torch.full((3, engine.action_size), 5.0))
    assert torch.equal(out.state["action"], engine.action_high.expand(3, -1))
