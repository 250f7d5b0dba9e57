"""The batched Crafter engine against the single-env Crafter wrapper; the ``cpu`` backend training Crafter on it.

Parity: same seeds (env i started with ``seed + i``, then Crafter's next episodes), same actions: the engine's
observations, every named state variable, the env reward, terminated and truncated equal those of
``CrafterGame`` + the task's extractor at every step, across resets (the time limit and the target achievement).
The actions are random moves and actions, and ``do`` when the player faces a material or creature (so that wood
is collected and creatures are hit).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from eureka_kit.games.crafter_batch import N_ACTIONS, CrafterBatchedEnv
from eureka_kit.games.crafter_env import CrafterGame
from eureka_kit.tasks.registry import get_task

ROOT = Path(__file__).resolve().parent.parent
N_ENVS = 4
LENGTH = 90
"""A short time limit so that the parity run crosses resets by the time limit too."""


def test_crafter_engine_matches_the_single_env_wrapper() -> None:
    spec = get_task("Crafter-Wood-v1")
    seed, steps = 5, 240
    engine = CrafterBatchedEnv(N_ENVS, seed=seed, length=LENGTH, target="collect_wood")
    envs = [CrafterGame(length=LENGTH, target="collect_wood") for _ in range(N_ENVS)]
    first = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    np.testing.assert_array_equal(engine._read(engine._rows, state=False)[0], first)
    rng = np.random.default_rng(1)
    seen = {"terminated": 0, "truncated": 0, "creature_near": 0, "facing": 0, "wood": 0}
    facing = np.zeros(N_ENVS, dtype=bool)
    for t in range(steps):
        actions = np.where(rng.random(N_ENVS) < 0.6, rng.integers(1, 5, N_ENVS), rng.integers(0, N_ACTIONS, N_ENVS))
        actions = np.where(facing & (rng.random(N_ENVS) < 0.9), 5, actions)  # 'do' on what the player faces
        step = engine.step(torch.as_tensor(actions[:, None], dtype=torch.float32))
        facing = step.state["facing_target"].numpy().sum(axis=1) > 0
        for i, env in enumerate(envs):
            o, r, term, trunc, info = env.step(int(actions[i]))
            want = dict(spec.extract(env, info, np.asarray(actions[i])))
            want["action"] = np.asarray(float(actions[i]))
            assert set(step.state) == set(want), "state names differ"
            for k, v in want.items():
                np.testing.assert_array_equal(
                    step.state[k][i].numpy(), np.asarray(v, np.float32), err_msg=f"{k} t={t} env {i}"
                )
            np.testing.assert_array_equal(step.final_obs[i].numpy(), o, err_msg=f"obs t={t} env {i}")
            assert float(step.env_reward[i]) == pytest.approx(r, abs=1e-6), f"reward t={t} env {i}"
            assert (bool(step.terminated[i]), bool(step.truncated[i])) == (term, trunc), f"ends t={t} env {i}"
            seen["creature_near"] += int(min(want["nearest_distance"][-3:]) < 17)
            seen["facing"] += int(want["facing_target"].sum() > 0)
            seen["wood"] += int(want["inventory"][1] > 0)
            if term or trunc:
                seen["terminated" if term else "truncated"] += 1
                o, _ = env.reset()
                np.testing.assert_array_equal(step.obs[i].numpy(), o, err_msg=f"reset obs t={t} env {i}")
    assert seen["terminated"] >= 1 and seen["truncated"] >= 1, seen
    assert seen["creature_near"] > 0 and seen["facing"] > 0 and seen["wood"] > 0, seen
    engine.close()


def test_engine_refuses_unknown_kwargs_and_targets() -> None:
    with pytest.raises(ValueError, match="length, target"):
        CrafterBatchedEnv.for_task({"size": 9}, 1)
    with pytest.raises(ValueError, match="collect_wood"):
        CrafterBatchedEnv(1, target="collect_gold")


def test_auto_picks_the_batched_engine_for_crafter_tasks_and_sb3_stays_available() -> None:
    from eureka_kit.training.backends import get_backend, resolve_backend, resolve_training

    for task_id in ("Crafter-Wood-v1", "Crafter-Survive-v2", "Crafter-Diamond-v1"):
        spec = get_task(task_id)
        assert resolve_backend("auto", spec, "cpu") == "cpu"
        assert resolve_training("auto", spec, "auto") == ("cpu", "cpu")
        assert resolve_backend("sb3", spec, "cpu") == "sb3"
        assert "CPU" in (get_backend("gpu").unavailable(spec, "cuda") or "")


def test_crafter_trains_on_the_engine_in_the_sandbox_and_the_trusted_evaluator_scores_it(tmp_path: Path) -> None:
    from eureka_kit.evaluation.evaluator import evaluate_policy, load_actor
    from eureka_kit.sandbox.runner import Limits
    from eureka_kit.tasks.state_capture import make_env
    from eureka_kit.training.job import TrainJob
    from eureka_kit.training.runner import train_candidate

    job = TrainJob(
        task_id="Crafter-Wood-v1",
        reward_kind="program",
        reward_path=ROOT / "examples" / "crafter_wood_reward.py",
        total_steps=2048,
        n_envs=16,
        seed=0,
        backend="cpu",
    )
    out = tmp_path / "cand"
    result = train_candidate(job, out, Limits(wall_s=180.0, address_space_mb=4096, heartbeat_s=90.0))
    assert result.status == "ok", result.message
    assert result.stats is not None and result.stats.total_steps >= 2048
    assert result.stats.components, "the reward program's components were recorded"
    assert (out / "policy.safetensors").is_file()
    spec = dataclasses.replace(get_task(job.task_id), max_episode_steps=40)  # short evaluation episodes
    ev = evaluate_policy(spec, out, episodes=2, job=job)
    assert ev.status == "ok", ev.message
    assert ev.fitness is not None and 0.0 <= ev.fitness <= 1.0
    action = load_actor(spec, out, job)(make_env(spec).reset(seed=0)[0])
    assert action.shape == () and 0 <= int(action) < N_ACTIONS  # the argmax of the logits: one action id
