"""Parity: the GPU engine's code (MuJoCo Warp, on Warp's CPU device) against the CPU engine, float32 tolerance.

MuJoCo Warp computes in float32 and the CPU engine in float64; over the few
steps compared here (with an auto-reset by a 4-step time limit) observations,
state variables and env rewards agree within ``ATOL + RTOL * |value|``, and
terminations and truncations are equal (measured on Warp's CPU device: at
most 2.4e-5 on HalfCheetah, 5.6e-7 on Hopper, 20x below the bound). Warp compiles its kernels for the CPU
once (minutes; cached in ~/.cache/warp), then each step takes about 0.5 s on
the CPU, so this check is marked expensive. Skipped when mujoco-warp is absent.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eureka_kit.sim.cpu import CpuBatchedEnv

pytestmark = [pytest.mark.expensive, pytest.mark.gpu]

ATOL = 5e-4
RTOL = 5e-4
N_ENVS = 2
N_STEPS = 6
TIME_LIMIT = 4


def _close(name: str, got: torch.Tensor, want: torch.Tensor) -> None:
    np.testing.assert_allclose(got.double().cpu().numpy(), want.double().numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("task_id", ["HalfCheetah-Run-v1", "Hopper-Hop-v1"])
def test_warp_engine_matches_cpu_engine(task_id: str) -> None:
    from eureka_kit.sim.warp import WarpBatchedEnv

    seed = 3
    gpu = WarpBatchedEnv(task_id, N_ENVS, device="cpu", seed=seed, max_episode_steps=TIME_LIMIT)
    cpu = CpuBatchedEnv(task_id, N_ENVS, seed=seed, dtype=torch.float64, max_episode_steps=TIME_LIMIT)
    _close("reset obs", gpu.reset(seed), cpu.reset(seed))
    assert gpu.observation_size == cpu.observation_size and gpu.action_size == cpu.action_size
    rng = np.random.default_rng(0)
    for t in range(N_STEPS):
        action = torch.from_numpy(rng.uniform(-1.0, 1.0, (N_ENVS, cpu.action_size)))
        g, c = gpu.step(action.float()), cpu.step(action)
        _close(f"step {t} final_obs", g.final_obs, c.final_obs)
        _close(f"step {t} obs", g.obs, c.obs)
        _close(f"step {t} env_reward", g.env_reward, c.env_reward)
        for name in c.state:
            _close(f"step {t} state.{name}", g.state[name], c.state[name])
        assert torch.equal(g.terminated.cpu(), c.terminated), t
        assert torch.equal(g.truncated.cpu(), c.truncated), t
        assert g.obs.dtype == torch.float32 and g.state["action"].dtype == torch.float32
    gpu.close()
