"""Parity: the batched grid engine against the stock MiniGrid env, per grid task.

Same seeds (env i reset with ``seed + i``, then unseeded resets), same actions:
the engine's observations, named state, env reward, terminated and truncated
equal the gymnasium env's (MiniGrid + ``MiniGridGame`` + the task's extractor)
at every step, across resets by success, death and the time limit. The actions
are random but weighted towards the interactions (pick up, drop, toggle) and
the test asserts that those situations occurred, so the rules were exercised.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eureka_kit.games.grid_batch import GridBatchedEnv
from eureka_kit.games.grid_batch_state import DIR_VEC, NoGridBatchError, get_grid_batch
from eureka_kit.games.minigrid_env import VISITS_KEY
from eureka_kit.tasks.registry import get_task

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
        for i, env in enumerate(envs):
            o, r, term, trunc, info = env.step(int(actions[i]))
            want = dict(spec.extract(env.unwrapped, info, np.asarray(actions[i])))
            want["action"] = np.asarray(float(actions[i]))
            assert set(step.state) == set(want), f"{task_id}: state names differ"
            for k, v in want.items():
                np.testing.assert_array_equal(step.state[k][i].numpy(), np.asarray(v, np.float32), err_msg=f"{k} t={t}")
            np.testing.assert_array_equal(step.final_obs[i].numpy(), o, err_msg=f"obs t={t} env {i}")
            assert float(step.env_reward[i]) == pytest.approx(r, abs=1e-6), f"reward t={t}"
            assert bool(step.terminated[i]) == term, f"terminated t={t} env {i}"
            assert bool(step.truncated[i]) == (trunc and not term), f"truncated t={t} env {i}"
            seen["carrying"] += int(want.get("carrying", 0) > 0)
            seen["door_open"] += int(want.get("door_state", 1) == 0)
            seen["reward"] += int(r > 0)
            seen["no_box"] += int("box_pos" in want and want["distances"][-1] == 0 and want["carrying"] != 7)
            if term or trunc:
                seen["done"] += 1
                seen["truncated"] += int(trunc and not term)
                o, _ = env.reset()
                np.testing.assert_array_equal(step.obs[i].numpy(), o, err_msg=f"reset obs t={t} env {i}")
                assert info.get(VISITS_KEY) is not None
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
