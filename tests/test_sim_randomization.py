"""Domain randomization on the CPU engine: per-env physics in ``mujoco.batch``'s per-simulation model fields.

Parity: envs whose parameters are set (mass scale 1.5, friction scale 0.6, ...) step exactly as single MuJoCo
models edited by hand with the same values (``MjModel`` fields written, ``mj_setConst``, ``mj_step``).
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from eureka_kit.sim.cpu import CpuBatchedEnv
from eureka_kit.sim.params import apply_to_model
from eureka_kit.sim.physics import env_generator, get_physics
from eureka_kit.sim.randomization import RandomizationConfig, RandomizationConfigError, parse_randomization

TASK = "HalfCheetah-Run-v1"  # never terminates: no auto-reset within the compared steps
N_STEPS = 60
VALUES = {"mass": 1.5, "friction": 0.6, "actuator_strength": 1.2, "joint_damping": 2.0, "gravity": -8.0}


def _by_hand(values: dict[str, float]) -> mujoco.MjModel:
    """The task's model with the values written into its fields by hand."""
    model = get_physics(TASK).model()
    model.body_mass[:] *= values.get("mass", 1.0)
    model.body_inertia[:] *= values.get("mass", 1.0)
    model.geom_friction[:, 0] *= values.get("friction", 1.0)
    model.actuator_gear[:, 0] *= values.get("actuator_strength", 1.0)
    model.dof_damping[:] *= values.get("joint_damping", 1.0)
    model.opt.gravity[2] = values.get("gravity", model.opt.gravity[2])
    mujoco.mj_setConst(model, mujoco.MjData(model))
    return model


def _rollout(model: mujoco.MjModel, seed: int, index: int, actions: np.ndarray) -> np.ndarray:
    """qpos after each env step of env ``index`` of a batch reset with ``seed``, on one MjModel."""
    physics = get_physics(TASK)
    data = mujoco.MjData(model)
    qpos, qvel = physics.reset(env_generator(seed, index), physics.consts())
    data.qpos[:], data.qvel[:] = qpos, qvel
    mujoco.mj_forward(model, data)
    out = []
    for a in actions:
        data.ctrl[:] = a
        mujoco.mj_step(model, data, nstep=physics.frame_skip)
        out.append(data.qpos.copy())
    return np.array(out)


def _engine_rollout(env: CpuBatchedEnv, actions: np.ndarray) -> np.ndarray:
    out = []
    for a in actions:
        step = env.step(torch.from_numpy(np.broadcast_to(a, (env.num_envs, a.size)).copy()))
        assert not (step.terminated | step.truncated).any()
        out.append(env._qpos.copy())
    return np.array(out).transpose(1, 0, 2)  # (N, steps, nq)


@pytest.fixture(scope="module")
def actions() -> np.ndarray:
    return np.random.default_rng(3).uniform(-1, 1, size=(N_STEPS, 6))


def test_randomized_env_steps_as_a_model_edited_by_hand(actions: np.ndarray) -> None:
    params = get_physics(TASK).parameters()
    config = RandomizationConfig.fixed(params, VALUES)
    env = CpuBatchedEnv(TASK, 2, seed=5, dtype=torch.float64, randomization=config)
    assert {k: v.tolist() for k, v in env.physics_values.items()} == {k: [v, v] for k, v in VALUES.items()}
    got = _engine_rollout(env, actions)
    for i in range(2):
        want = _rollout(_by_hand(VALUES), 5, i, actions)
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-9)
    nominal = _rollout(get_physics(TASK).model(), 5, 0, actions)
    assert np.abs(got[0] - nominal).max() > 1e-2  # the parameters change the motion
    # the library's own model editing agrees
    model = get_physics(TASK).model()
    apply_to_model(model, params, VALUES)
    np.testing.assert_allclose(_rollout(model, 5, 0, actions), got[0], rtol=0, atol=1e-9)


def test_per_env_fixed_values_match_their_own_models(actions: np.ndarray) -> None:
    fixed = {"mass": [1.5, 0.7, 1.0], "friction": [0.6, 2.0, 1.0]}
    env = CpuBatchedEnv(TASK, 3, seed=2, dtype=torch.float64, physics=fixed)
    got = _engine_rollout(env, actions)
    for i in range(3):
        values = {k: v[i] for k, v in fixed.items()}
        np.testing.assert_allclose(got[i], _rollout(_by_hand(values), 2, i, actions), rtol=0, atol=1e-9)
    with pytest.raises(RandomizationConfigError, match="outside its limits"):
        CpuBatchedEnv(TASK, 2, physics={"mass": [1.0, 9.0]})


def test_nominal_config_is_bit_identical_to_no_config(actions: np.ndarray) -> None:
    params = get_physics(TASK).parameters()
    nominal = RandomizationConfig.fixed(params, {"mass": 1.0, "gravity": -9.81})
    a = _engine_rollout(CpuBatchedEnv(TASK, 2, seed=1, randomization=nominal), actions[:20])
    b = _engine_rollout(CpuBatchedEnv(TASK, 2, seed=1), actions[:20])
    assert np.array_equal(a, b)


def test_physics_is_drawn_again_at_every_reset_apart_from_reset_noise() -> None:
    config = parse_randomization(
        "mass = [0.5, 2.0]\nfriction = { range = [0.3, 3.0], distribution = 'log_uniform' }",
        get_physics(TASK).parameters(),
    )
    env = CpuBatchedEnv(TASK, 4, seed=9, randomization=config, max_episode_steps=3)
    plain = CpuBatchedEnv(TASK, 4, seed=9, max_episode_steps=3)
    assert np.array_equal(env._qpos, plain._qpos)  # the same reset states: physics has its own stream
    first = env.physics_values
    assert len(set(first["mass"].tolist())) == 4
    assert ((first["mass"] >= 0.5) & (first["mass"] <= 2.0)).all()
    for _ in range(3):
        env.step(torch.zeros(4, 6))
    second = env.physics_values
    assert not np.array_equal(first["mass"], second["mass"])  # every env reset by the time limit: redrawn
    masses = env._batch.expanded("body_mass")
    np.testing.assert_allclose(masses, second["mass"][:, None] * get_physics(TASK).model().body_mass[None])
    again = CpuBatchedEnv(TASK, 4, seed=9, randomization=config)
    assert np.array_equal(again.physics_values["friction"], first["friction"])  # reproducible from the seed
    gravity = RandomizationConfig.fixed(get_physics(TASK).parameters(), {"gravity": -9.0})
    with pytest.raises(RandomizationConfigError, match="gravity: not a physics parameter of Pusher"):
        CpuBatchedEnv("Pusher-Push-v1", 1, randomization=gravity)  # checked against another task's parameters
    with pytest.raises(RandomizationConfigError, match="both randomized and fixed"):
        CpuBatchedEnv(TASK, 4, randomization=config, physics={"mass": [1, 1, 1, 1]})


def test_the_gpu_engine_refuses_randomization() -> None:
    from eureka_kit.errors import UsageError
    from eureka_kit.sim.factory import make_batched_env

    config = RandomizationConfig.fixed(get_physics(TASK).parameters(), {"mass": 1.5})
    with pytest.raises(UsageError, match="CPU engine only"):
        make_batched_env(TASK, 2, device="warp-cpu", randomization=config)
    assert make_batched_env(TASK, 2, device="cpu", randomization=config).physics_values["mass"].tolist() == [1.5] * 2
