"""One definition of a MuJoCo task's physics side, for N envs at once.

A :class:`TaskPhysics` says, as functions of batched MuJoCo data fields
(``qpos``, ``qvel``, ``xpos``, ``cfrc_ext``, ... each with a leading N, in
MjData's layout: ``xmat`` is (N, nbody, 9), ``cfrc_ext`` (N, nbody, 6)), what a
task's state variables, observation, env reward, termination and reset noise
are, with the semantics of the task's gymnasium v5 env. The same functions
serve the gymnasium env at N=1 (:func:`gym_extractor`, the task's
``TaskSpec.extract``), the CPU engine (:mod:`eureka_kit.sim.cpu`, numpy views
of ``mujoco.batch``) and the GPU engine (:mod:`eureka_kit.sim.warp`, torch
tensors of MuJoCo Warp's buffers), so the three cannot drift.

Gymnasium's conventions reproduced here:

* velocities in the state (``x_velocity``...) are ``(position_after -
  position_before) / dt`` of :attr:`TaskPhysics.position` read before and
  after the step (on the gymnasium path they come from the step ``info``,
  which gymnasium computes that way);
* fields after a step are MjData's after ``mj_step(nstep=frame_skip)``
  (derived fields one substep behind), and ``cfrc_ext`` is that of
  ``mj_rnePostConstraint`` run after the step (:attr:`TaskPhysics.needs_cfrc_ext`);
  right after a reset it is zero (gymnasium's reset runs ``mj_forward`` only);
* a reset is ``mj_resetData``, then ``qpos``/``qvel`` from
  :attr:`TaskPhysics.reset` (drawn from the env's own generator in
  gymnasium's order), then ``mj_forward``;
* ``terminated`` is ``not healthy`` (tasks with a healthy range),
  ``truncated`` the task's time limit (``TaskSpec.max_episode_steps``).

The physics of every shipped MuJoCo task is registered here by task id
(:func:`get_physics`); a task without one has no batched engine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from eureka_kit.errors import UserError
from eureka_kit.sim.ops import Array
from eureka_kit.sim.params import PhysicsParam, check_unique, generic_params
from eureka_kit.tasks.mujoco_warnings import route_mujoco_warnings

Fields = Mapping[str, Array]
"""Batched MuJoCo data fields by MjData name, each (N, ...)."""

BatchState = dict[str, Array]
"""Batched state variables by name, each (N, *shape)."""


@dataclass(frozen=True)
class ModelConsts:
    """Constants of a task's MuJoCo model that the physics functions read (numpy; engines convert them)."""

    body: Mapping[str, int]
    """Body id by name."""
    body_mass: np.ndarray
    """(nbody,) body masses."""
    dt: float
    """Seconds per env step: ``opt.timestep * frame_skip``."""
    init_qpos: np.ndarray
    """(nq,) the model's initial ``qpos`` (``qpos0``): gymnasium's ``init_qpos``."""
    init_qvel: np.ndarray
    """(nv,) zeros: gymnasium's ``init_qvel``."""


ObservationFn = Callable[[Fields, ModelConsts], Array]
"""(N, obs_size) observation from the fields."""

ResetFn = Callable[[np.random.Generator, ModelConsts], tuple[np.ndarray, np.ndarray]]
"""One env's initial ``(qpos, qvel)`` drawn from its generator."""


@dataclass(frozen=True)
class TaskPhysics:
    """The physics side of one MuJoCo task, batched (see the module docstring)."""

    name: str
    """The model's name in messages (``hopper``); tasks carry their physics in their registration (``engine``)."""
    xml_file: str
    """The model file among gymnasium's MuJoCo assets (the gymnasium env's default ``xml_file``)."""
    frame_skip: int
    """Physics steps per env step (the gymnasium env's default)."""
    fields: tuple[str, ...]
    """The MjData fields the functions read (``cfrc_ext`` included where they read it)."""
    velocity_names: tuple[str, ...]
    """State variables that are velocities of :attr:`position`, e.g. ``("x_velocity", "y_velocity")``."""
    position: Callable[[Fields, ModelConsts], Array] | None
    """(N, len(velocity_names)) the tracked position; ``None`` when the task has no such velocity."""
    state: Callable[[Fields, Array | None, ModelConsts], BatchState]
    """The task's state variables except ``action``, from the fields and the (N, k) velocities (or None)."""
    observation: ObservationFn
    """(N, obs_size) the gymnasium env's observation."""
    reward: Callable[[Mapping[str, Array]], Array]
    """(N,) the env's own reward from the batched state (``action`` included): the task's ``baseline_reward``."""
    healthy: Callable[[Fields, ModelConsts], Array] | None
    """(N,) bool: the robot is in its healthy range; the episode terminates when not. ``None``: never terminates."""
    reset: ResetFn
    """One env's initial ``(qpos, qvel)`` drawn from its generator, in gymnasium's ``reset_model`` order."""
    warp_capacity: tuple[int, int] = (16, 96)
    """Contacts and constraints per world that MuJoCo Warp allocates up front (the GPU engine)."""
    params: tuple[PhysicsParam, ...] | None = None
    """The physics parameters domain randomization may change (:mod:`eureka_kit.sim.params`); ``None``: the
    generic set of the model (:func:`~eureka_kit.sim.params.generic_params`).

    They are declared here, with the model, rather than on the engine-agnostic ``BatchedEngine``: they name
    MuJoCo model fields and their nominal values are the model file's, every MuJoCo engine (CPU and GPU) reads
    this definition, and every task built on one model shares them whatever its reward."""

    def __post_init__(self) -> None:
        if self.params is not None:
            check_unique(self.params)

    def parameters(self) -> tuple[PhysicsParam, ...]:
        """The declared :attr:`params`, or the generic set derived from the model."""
        return self.params if self.params is not None else _generic_params(self.xml_file)

    @property
    def needs_cfrc_ext(self) -> bool:
        """Whether the functions read ``cfrc_ext`` (engines then run ``mj_rnePostConstraint`` after each step)."""
        return "cfrc_ext" in self.fields

    def consts(self) -> ModelConsts:
        """The model's constants (loaded once per task, read-only: shared across threads)."""
        return _consts(self.xml_file, self.frame_skip)

    def model(self) -> Any:
        """A fresh ``mujoco.MjModel`` of the task, from the same file as the gymnasium env."""
        import mujoco

        return mujoco.MjModel.from_xml_path(model_path(self.xml_file))


def model_path(xml_file: str) -> str:
    """Full path of a model file among gymnasium's MuJoCo assets (and MuJoCo's warnings routed to logging)."""
    route_mujoco_warnings()
    from gymnasium.envs.mujoco.mujoco_env import expand_model_path

    return str(expand_model_path(xml_file))


@functools.cache
def _generic_params(xml_file: str) -> tuple[PhysicsParam, ...]:
    import mujoco

    return generic_params(mujoco.MjModel.from_xml_path(model_path(xml_file)))


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@functools.cache
def _consts(xml_file: str, frame_skip: int) -> ModelConsts:
    """One read-only :class:`ModelConsts` per model, shared by every env of every thread (none can change it)."""
    import mujoco

    model = mujoco.MjModel.from_xml_path(model_path(xml_file))
    return ModelConsts(
        body=MappingProxyType({model.body(i).name: i for i in range(model.nbody)}),
        body_mass=_frozen(np.array(model.body_mass, dtype=np.float64)),
        dt=float(model.opt.timestep * frame_skip),
        init_qpos=_frozen(np.array(model.qpos0, dtype=np.float64)),
        init_qvel=_frozen(np.zeros(model.nv, dtype=np.float64)),
    )


def gym_generator(seed: int) -> np.random.Generator:
    """The generator gymnasium's ``env.reset(seed=seed)`` gives an env (``gymnasium.utils.seeding.np_random``)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def env_generator(seed: int, index: int) -> np.random.Generator:
    """The reset-noise generator of env ``index`` of a batch reset with ``seed`` (independent streams)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))


# ---------------------------------------------------------------------------------------------- registry


class NoBatchedPhysicsError(UserError, KeyError):
    """The task has no batched physics definition, so no batched engine can run it."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_physics(task_id: str) -> TaskPhysics:
    """The batched physics in the task's registration; :class:`NoBatchedPhysicsError` naming the tasks with one."""
    from eureka_kit.tasks.registry import engine_definition

    physics, valid = engine_definition(task_id, TaskPhysics)
    if physics is not None:
        return physics
    raise NoBatchedPhysicsError(
        f"task {task_id!r} has no batched physics definition, so the batched engines cannot run it "
        f"(train it with the sb3 backend). Tasks with one: {', '.join(valid) or '(none)'}"
    )


# ---------------------------------------------------------------------------------------------- gymnasium path


def gym_extractor(physics: TaskPhysics) -> Callable[[Any, Mapping[str, Any], np.ndarray], dict[str, np.ndarray]]:
    """``TaskSpec.extract`` for the gymnasium env: the physics' state function at N=1 on ``env.data``.

    The velocities come from the step ``info`` (gymnasium computes them as
    position difference over ``dt``, as the engines do).
    """

    def extract(env: Any, info: Mapping[str, Any], action: np.ndarray) -> dict[str, np.ndarray]:
        data = env.data
        fields = {name: getattr(data, name)[None] for name in physics.fields}
        vel = None
        if physics.velocity_names:
            vel = np.array([[info[name] for name in physics.velocity_names]], dtype=np.float64)
        state = physics.state(fields, vel, physics.consts())
        return {k: np.array(v[0], dtype=np.float64) for k, v in state.items()}

    return extract
