"""The same battery for every registered task (Gymnasium-style: parametrized over the registry).

For each task: the env builds; the captured state has exactly the documented
names and per-env shapes; the baseline reward recomputed from the batched
state equals the reward the env returned, step by step, terminal steps
included; fitness gives one value per env; docs and training defaults are
well formed.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from eureka_kit.tasks.registry import UnknownTaskError, get_task, list_tasks
from eureka_kit.tasks.spec import BatchedState, TaskSpec
from eureka_kit.tasks.state_capture import STATE_KEY, make_env, stack_states

N_ENVS = 3
N_STEPS = 40
NUDGE_AT = 10
TASKS = list_tasks()
IDS = [t.id for t in TASKS]


def _nudge_qpos(index: int, value: float) -> Callable[[Any], None]:
    """Move one generalized coordinate of a MuJoCo env far out of its healthy range."""

    def nudge(env: Any) -> None:
        qpos = env.data.qpos.copy()
        qpos[index] = value
        env.set_state(qpos, env.data.qvel.copy())

    return nudge


def _nudge_mountain_car(env: Any) -> None:
    env.state = np.array([0.44, 0.07], dtype=np.float32)  # next step crosses the flag at 0.45


# Puts env 0 in a state whose next step terminates, so that every task that can end has its
# terminal-step reward (healthy bonus lost, goal bonus won) checked. Keyed by gymnasium env id.
TERMINAL_NUDGES: dict[str, Callable[[Any], None]] = {
    "MountainCarContinuous-v0": _nudge_mountain_car,
    "Ant-v5": _nudge_qpos(2, 1.5),  # torso z above 1.0
    "Hopper-v5": _nudge_qpos(2, 1.0),  # torso angle beyond 0.2
    "Walker2d-v5": _nudge_qpos(2, 1.5),  # torso angle beyond 1.0
    "Humanoid-v5": _nudge_qpos(2, 0.6),  # torso z below 1.0
}
NEVER_TERMINATES = {"HalfCheetah-v5", "Pusher-v5"}


@dataclass(frozen=True)
class Step:
    """One step of N envs: the batched captured state and what the envs returned."""

    state: BatchedState
    reward: np.ndarray
    terminated: np.ndarray


@functools.cache
def _rollout(task_id: str) -> tuple[Step, ...]:
    """Random float64 actions (so the env's own arithmetic is float64 too), resets after episode ends."""
    spec = get_task(task_id)
    envs = [make_env(spec) for _ in range(N_ENVS)]
    rng = np.random.default_rng(0)
    steps: list[Step] = []
    try:
        for i, env in enumerate(envs):
            env.reset(seed=i)
        for t in range(N_STEPS):
            if t == NUDGE_AT and spec.env_id in TERMINAL_NUDGES:
                TERMINAL_NUDGES[spec.env_id](envs[0].unwrapped)
            states, rewards, terms = [], [], []
            for env in envs:
                space = env.action_space
                if isinstance(space, gym.spaces.Discrete):  # games: one of n actions
                    action: Any = int(rng.integers(space.n))
                else:
                    assert isinstance(space, gym.spaces.Box)
                    action = rng.uniform(space.low, space.high).astype(np.float64)
                _, reward, terminated, truncated, info = env.step(action)
                states.append(info[STATE_KEY])
                rewards.append(float(reward))
                terms.append(bool(terminated))
                if terminated or truncated:
                    env.reset()
            steps.append(Step(stack_states(states), np.array(rewards), np.array(terms)))
    finally:
        for env in envs:
            env.close()
    return tuple(steps)


@pytest.mark.parametrize("spec", TASKS, ids=IDS)
def test_state_capture_matches_docs(spec: TaskSpec) -> None:
    env = make_env(spec)
    try:
        env.reset(seed=0)
        _, _, _, _, info = env.step(env.action_space.sample())
    finally:
        env.close()
    state = info[STATE_KEY]
    assert sorted(state) == sorted(spec.state_names), "captured names differ from the documented ones"
    for var in spec.state:
        value = np.asarray(state[var.name])
        assert value.shape == var.shape, f"{var.name}: shape {value.shape}, documented {var.shape}"
        assert np.all(np.isfinite(value)), f"{var.name} is not finite: {value}"

    for step in _rollout(spec.id):
        assert sorted(step.state) == sorted(spec.state_names)
        for var in spec.state:
            assert step.state[var.name].shape == (N_ENVS, *var.shape), var.name
            assert step.state[var.name].dtype == np.float64, var.name
            assert np.all(np.isfinite(step.state[var.name])), f"{var.name} is not finite"


@pytest.mark.parametrize("spec", TASKS, ids=IDS)
def test_baseline_reward_matches_env_reward(spec: TaskSpec) -> None:
    steps = _rollout(spec.id)
    for t, step in enumerate(steps):
        baseline = np.asarray(spec.baseline_reward(step.state))
        assert baseline.shape == (N_ENVS,)
        np.testing.assert_allclose(
            baseline, step.reward, rtol=1e-9, atol=1e-9, err_msg=f"step {t}, terminated={step.terminated}"
        )
    n_terminal = int(sum(step.terminated.sum() for step in steps))
    if spec.env_id in TERMINAL_NUDGES:
        assert n_terminal > 0, "the rollout must include terminal steps"
    elif "game" in spec.tags:
        pass  # games end on crafted situations in tests/test_games_*.py (goal reached, lava, achievement, death)
    else:
        assert spec.env_id in NEVER_TERMINATES, f"add a TERMINAL_NUDGES entry for {spec.env_id}"
        assert n_terminal == 0


def test_terminal_steps_carry_their_bonus() -> None:
    """The terminal-step reward differs from a normal step: goal bonus won, healthy bonus lost."""
    car = [s for s in _rollout("MountainCar-Flag-v1") if s.terminated.any()]
    assert car and all(s.state["goal_reached"][s.terminated].min() == 1.0 for s in car)
    assert all(s.reward[s.terminated].min() > 99.0 for s in car)
    for task_id in ("Ant-Run-v1", "Hopper-Hop-v1", "Walker2d-Walk-v1", "Humanoid-Run-v1"):
        ends = [s for s in _rollout(task_id) if s.terminated.any()]
        assert ends, task_id
        assert all(s.state["is_healthy"][s.terminated].max() == 0.0 for s in ends), task_id


@pytest.mark.parametrize("spec", TASKS, ids=IDS)
def test_fitness(spec: TaskSpec) -> None:
    steps = _rollout(spec.id)
    values = np.stack([np.asarray(spec.fitness.step(step.state)) for step in steps])
    assert values.shape == (N_STEPS, N_ENVS)
    assert np.all(np.isfinite(values))
    episode = spec.fitness.episode_value(values[:, 1])
    assert isinstance(episode, float) and np.isfinite(episode)
    assert spec.fitness.episode_value(np.array([])) == 0.0
    assert spec.fitness.name and spec.fitness.description and spec.fitness.unit


@pytest.mark.parametrize("spec", [t for t in TASKS if t.fitness.name == "forward_distance"], ids=lambda t: t.id)
def test_forward_distance_uses_the_env_timestep(spec: TaskSpec) -> None:
    env = spec.make_env()
    try:
        dt = env.unwrapped.dt
    finally:
        env.close()
    step = _rollout(spec.id)[0]
    np.testing.assert_allclose(spec.fitness.step(step.state), step.state["x_velocity"] * dt, rtol=1e-12)
    assert spec.fitness.aggregate == "sum"


@pytest.mark.parametrize("spec", TASKS, ids=IDS)
def test_docs_and_metadata(spec: TaskSpec) -> None:
    assert re.fullmatch(r"[A-Za-z0-9]+-[A-Za-z0-9]+-v\d+", spec.id), spec.id
    assert spec.description.strip() and spec.tags
    # keep the state compact: its docs go into the prompt (games group related values into vectors)
    assert 3 <= len(spec.state) <= (16 if "game" in spec.tags else 12)
    for var in spec.state:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", var.name), var.name
        assert var.unit.strip() and var.doc.strip(), var.name
    env = spec.make_env()
    try:
        assert spec.var("action").shape == env.action_space.shape
    finally:
        env.close()


@pytest.mark.parametrize("spec", TASKS, ids=IDS)
def test_train_defaults_are_valid_sb3_arguments(spec: TaskSpec) -> None:
    from stable_baselines3 import PPO, SAC

    algo = {"PPO": PPO, "SAC": SAC}[spec.train.algo]
    accepted = set(inspect.signature(algo).parameters) - {"policy", "env", "policy_kwargs"}
    unknown = set(spec.train.hyperparams) - accepted
    assert not unknown, f"not {spec.train.algo} arguments: {unknown}"
    assert spec.train.total_steps > 0 and spec.train.n_envs > 0
    if spec.train.algo == "PPO":
        n_steps = spec.train.hyperparams.get("n_steps", 2048)
        batch = spec.train.hyperparams.get("batch_size", 64)
        assert (n_steps * spec.train.n_envs) % batch == 0, "rollout size must be a multiple of batch_size"
    activation = spec.train.policy_kwargs.get("activation_fn", "tanh")
    assert activation in {"relu", "tanh", "elu", "leaky_relu", "gelu", "silu"}, activation


def test_registry_ids() -> None:
    assert IDS == sorted(IDS) and len(set(IDS)) == len(IDS)
    for task_id in ("Ant-Run-v1", "Hopper-Hop-v1", "Walker2d-Walk-v1", "Humanoid-Run-v1", "Pusher-Push-v1"):
        assert task_id in IDS
    assert get_task("Hopper-Hop-v1") is get_task("Hopper-Hop-v1")


def test_unknown_task_lists_valid_ids() -> None:
    with pytest.raises(UnknownTaskError) as err:
        get_task("Hoper-Hop-v1")
    message = str(err.value)
    assert "Hopper-Hop-v1" in message and "Did you mean" in message
    for task_id in IDS:
        assert task_id in message
    assert err.value.valid == IDS


def test_mujoco_warnings_go_to_logging_without_gymnasiums_known_asset_notes(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HalfCheetah's model (settotalmass, deprecated in mujoco 4) loads silently; other warnings are logged."""
    import mujoco

    from eureka_kit.tasks.mujoco_warnings import route_mujoco_warnings

    monkeypatch.chdir(tmp_path)
    route_mujoco_warnings()
    with caplog.at_level(logging.WARNING, logger="mujoco"):
        env = get_task("HalfCheetah-Run-v1").make_env()
        env.reset(seed=0)
        env.close()
        assert not [r for r in caplog.records if "settotalmass" in r.getMessage()]
        mujoco.get_mju_user_warning()("a warning of our own")  # the handler MuJoCo now calls
    assert any("a warning of our own" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
