"""Parity: the batched grid engine against the stock MiniGrid env, per grid task.

Same seeds (env i reset with ``seed + i``, then unseeded resets), same actions:
the engine's observations, named state, env reward, terminated and truncated
equal the gymnasium env's (MiniGrid + ``MiniGridGame`` + the task's extractor)
at every step, across resets by success, death and the time limit. The actions
are random but weighted towards the interactions (pick up, drop, toggle) and
the test asserts that those situations occurred, so the rules were exercised.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from eureka_kit.games.grid_batch import GridBatchedEnv
from eureka_kit.games.grid_batch_state import DIR_VEC, NoGridBatchError, get_grid_batch
from eureka_kit.tasks.registry import get_task

ROOT = Path(__file__).resolve().parent.parent
TASKS = ["LavaCrossing-Grid-v1", "DoorKey-Grid-v1", "UnlockPickup-Grid-v1"]
N_ENVS = 6
WEIGHTS = np.array([0.14, 0.14, 0.34, 0.13, 0.08, 0.14, 0.03])  # left right forward pickup drop toggle done


def _actions(engine: GridBatchedEnv, rng: np.random.Generator) -> np.ndarray:
    """Random actions, but half of the time the interaction that fits the cell in front (to reach every rule)."""
    actions = rng.choice(7, size=N_ENVS, p=WEIGHTS)
    for i in range(N_ENVS):
        x, y = engine.pos[i] + DIR_VEC[engine.dir[i]]
        front = int(engine.typ[i, x, y])
        if rng.random() < 0.5:
            if front in (5, 7) and engine.carry[i] == 0:
                actions[i] = 3 if front == 5 or rng.random() < 0.5 else 5  # pick up; an empty box may be toggled away
            elif front == 4:
                actions[i] = 5
            elif front == 1 and engine.carry[i] != 0 and rng.random() < 0.3:
                actions[i] = 4
    return actions


def _reference(spec, n: int, seed: int):  # type: ignore[no-untyped-def]
    envs, obs = [], []
    for i in range(n):
        env = spec.make_env()
        o, _ = env.reset(seed=seed + i)
        envs.append(env)
        obs.append(o)
    return envs, np.stack(obs)


@pytest.mark.parametrize("task_id", TASKS)
def test_grid_engine_matches_minigrid(task_id: str) -> None:
    spec = get_task(task_id)
    n_steps = get_grid_batch(task_id).layout.max_steps + 60  # past the time limit (DoorKey, UnlockPickup)
    seed = 11
    engine = GridBatchedEnv(task_id, N_ENVS, seed=seed)
    envs, ref_obs = _reference(spec, N_ENVS, seed)
    np.testing.assert_array_equal(engine._observe(engine._rows), ref_obs)
    rng = np.random.default_rng(3)
    seen = {"done": 0, "truncated": 0, "carrying": 0, "door_open": 0, "reward": 0, "no_box": 0}
    for t in range(n_steps):
        actions = _actions(engine, rng)
        step = engine.step(torch.as_tensor(actions[:, None], dtype=torch.float32))
        wants, obs, rewards, ends = [], [], [], []
        for i, env in enumerate(envs):
            o, r, term, trunc, info = env.step(int(actions[i]))
            want = dict(spec.extract(env.unwrapped, info, np.asarray(actions[i])))
            want["action"] = np.asarray(float(actions[i]))
            wants.append(want)
            obs.append(o)
            rewards.append(r)
            ends.append((term, trunc and not term))
            seen["carrying"] += int(want.get("carrying", 0) > 0)
            seen["door_open"] += int(want.get("door_state", 1) == 0)
            seen["reward"] += int(r > 0)
            seen["no_box"] += int("box_pos" in want and want["distances"][-1] == 0 and want["carrying"] != 7)
        assert set(step.state) == set(wants[0]), f"{task_id}: state names differ"
        for k in wants[0]:
            want_k = np.stack([np.asarray(w[k], np.float32) for w in wants])
            np.testing.assert_array_equal(step.state[k].numpy(), want_k, err_msg=f"{k} t={t}")
        np.testing.assert_array_equal(step.final_obs.numpy(), np.stack(obs), err_msg=f"obs t={t}")
        np.testing.assert_allclose(step.env_reward.numpy(), rewards, atol=1e-6, err_msg=f"reward t={t}")
        assert step.terminated.tolist() == [e[0] for e in ends], f"terminated t={t}"
        assert step.truncated.tolist() == [e[1] for e in ends], f"truncated t={t}"
        for i, (term, trunc) in enumerate(ends):
            if term or trunc:
                seen["done"] += 1
                seen["truncated"] += int(trunc)
                o, _ = envs[i].reset()
                np.testing.assert_array_equal(step.obs[i].numpy(), o, err_msg=f"reset obs t={t} env {i}")
    assert seen["done"] >= N_ENVS, seen
    if "Lava" in task_id:
        assert seen["done"] > 2 * N_ENVS and seen["reward"] > 0, seen  # deaths in lava and a goal reached
    else:
        assert seen["truncated"] >= 1 and seen["carrying"] > 0 and seen["door_open"] > 0, seen
    if "DoorKey" in task_id:
        assert seen["reward"] > 0, seen
    if "Unlock" in task_id:
        assert seen["no_box"] > 0, seen  # the box was toggled away
    engine.close()


def test_unknown_task_names_the_valid_ones() -> None:
    with pytest.raises(NoGridBatchError, match="DoorKey-Grid-v1"):
        GridBatchedEnv("Crafter-Wood-v1", 2)


def test_categorical_head_matches_torch_categorical() -> None:
    from torch.distributions import Categorical, kl_divergence

    from eureka_kit.training.backends.categorical import CategoricalDistribution

    dist = CategoricalDistribution(1, n_actions=7)
    logits = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    dist.update(logits)
    ref = Categorical(logits=logits)
    sample = dist.sample()
    assert sample.shape == (5, 1) and sample.dtype == torch.float32
    assert bool(((sample >= 0) & (sample < 7)).all())
    torch.testing.assert_close(dist.log_prob(sample), ref.log_prob(sample.squeeze(1).long()))
    torch.testing.assert_close(dist.entropy, ref.entropy())
    other = torch.randn(5, 7, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        dist.kl_divergence((logits,), (other,)), kl_divergence(ref, Categorical(logits=other))
    )  # fmt: skip
    torch.testing.assert_close(dist.deterministic_output(logits).squeeze(1), logits.argmax(1).float())
    with pytest.raises(ValueError, match="output_dim 1"):
        CategoricalDistribution(2, n_actions=7)


def test_auto_picks_the_grid_engine_for_grid_tasks_and_sb3_stays_available() -> None:
    from eureka_kit.training.backends import get_backend, resolve_backend, resolve_training

    for task_id in TASKS:
        spec = get_task(task_id)
        assert resolve_backend("auto", spec, "cpu") == "cpu"
        assert resolve_training("auto", spec, "auto") == ("cpu", "cpu")
        assert resolve_backend("sb3", spec, "cpu") == "sb3"
        assert "CPU grid engine" in (get_backend("gpu").unavailable(spec, "cuda") or "")
    assert resolve_backend("auto", get_task("Crafter-Wood-v1"), "cpu") == "cpu"  # the batched Crafter engine


def test_grid_engine_trains_in_the_sandbox_and_the_trusted_evaluator_scores_it(tmp_path: Path) -> None:
    from eureka_kit.evaluation.evaluator import evaluate_policy, load_actor
    from eureka_kit.sandbox.runner import Limits
    from eureka_kit.tasks.state_capture import make_env
    from eureka_kit.training.job import TrainJob
    from eureka_kit.training.runner import train_candidate

    job = TrainJob(
        task_id="DoorKey-Grid-v1",
        reward_kind="program",
        reward_path=ROOT / "examples" / "doorkey_reward.py",
        total_steps=4096,
        n_envs=32,
        seed=0,
        backend="cpu",
    )
    out = tmp_path / "cand"
    result = train_candidate(job, out, Limits(wall_s=120.0, address_space_mb=4096, heartbeat_s=60.0))
    assert result.status == "ok", result.message
    assert result.stats is not None and result.stats.total_steps >= 4096
    assert {"progress", "goal"} <= set(result.stats.components)
    assert (out / "policy.safetensors").is_file() and not (out / "obs_norm.safetensors").exists()
    spec = dataclasses.replace(get_task(job.task_id), max_episode_steps=50)  # short evaluation episodes
    ev = evaluate_policy(spec, out, episodes=2, job=job)
    assert ev.status == "ok", ev.message
    assert ev.fitness is not None and 0.0 <= ev.fitness <= 1.0
    action = load_actor(spec, out, job)(make_env(spec).reset(seed=0)[0])
    assert action.shape == () and 0 <= int(action) < 7  # the argmax of the logits: one action id
