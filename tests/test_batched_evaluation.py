"""The trusted evaluator's episodes on the batched CPU engine equal those on the gymnasium env (same seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from eureka_kit.evaluation.episodes import batched_available, run_episodes
from eureka_kit.tasks.registry import get_task


def _linear_policy(obs_size: int, act_size: int, seed: int) -> object:
    w = np.random.default_rng(seed).normal(scale=0.3, size=(obs_size, act_size))

    def act(obs: np.ndarray) -> np.ndarray:
        return np.tanh(obs.astype(np.float64) @ w).astype(np.float32)

    return act


@pytest.mark.parametrize("task_id", ["HalfCheetah-Run-v1", "Hopper-Hop-v1", "Ant-Run-v1"])
def test_batched_episodes_equal_gymnasium_episodes(task_id: str) -> None:
    spec = get_task(task_id)
    assert batched_available(spec)
    env = spec.make_env()
    act = _linear_policy(env.observation_space.shape[0], env.action_space.shape[0], seed=3)
    env.close()
    gym = run_episodes(spec, act, episodes=3, seed=17, engine="gymnasium")  # type: ignore[arg-type]
    batched = run_episodes(spec, act, episodes=3, seed=17, engine="batched")  # type: ignore[arg-type]
    for g, b in zip(gym, batched, strict=True):
        assert (len(g.states), g.terminated, g.truncated) == (len(b.states), b.terminated, b.truncated)
        # gymnasium computes its control cost from the float32 action, the engine from the applied float64 one
        np.testing.assert_allclose(b.rewards, g.rewards, rtol=1e-6, atol=1e-6)
        for name in spec.state_names:
            want = np.stack([s[name] for s in g.states])
            got = np.stack([s[name] for s in b.states])
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=name)


def test_tasks_without_batched_physics_use_gymnasium() -> None:
    spec = get_task("MountainCar-Flag-v1")
    assert not batched_available(spec)
    episodes = run_episodes(spec, lambda obs: np.zeros((len(obs), 1), np.float32), episodes=2, seed=0)
    assert len(episodes) == 2 and all(len(e.states) == spec.max_episode_steps for e in episodes)
