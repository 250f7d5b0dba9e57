"""Tasks for any gymnasium MuJoCo env, with state variables derived from its model (``gym:<env id>``).

``get_task("gym:Ant-v5")`` (or ``eureka-kit run --env Ant-v5``) builds a task for
an env that has no hand-written spec, a user's own registered env included
(``gym:my_package:MyRobot-v0`` imports ``my_package`` first, gymnasium's
convention). Its state is read from ``env.unwrapped.model`` / ``.data`` after
every step:

- per named hinge or slide joint: ``<joint>_pos`` and ``<joint>_vel`` (rad, rad/s or m, m/s); a ball joint's
  ``_pos`` is its quaternion (4,) and ``_vel`` its angular velocity (3,); free joints are covered by their body;
- per named body: ``<body>_pos`` (3,) world position, ``<body>_quat`` (4,) orientation (w, x, y, z),
  ``<body>_up`` (3,) its z-axis in the world frame, ``<body>_rpy`` (3,) roll, pitch, yaw (rad, z-y-x),
  ``<body>_lin_vel`` (3,) and ``<body>_ang_vel`` (3,) world-frame velocities, ``<body>_contact_force`` the summed
  normal force of its contacts (N);
- per named site: ``<site>_site_pos`` (3,);
- the root (the first body under the world): ``root_height``, ``root_heading`` (yaw), ``root_pitch``,
  ``root_roll``, ``root_lin_vel_x/_y/_z``, ``root_ang_vel_z``, ``root_up_z`` (1 upright, -1 upside down);
- ``env_reward``: the env's own reward this step (the sum of its ``info["reward_*"]`` terms, 0 when it has none);
- ``action``.

Names are lower-cased with every other character turned into ``_``; unnamed
bodies are left out. The task has no ground-truth fitness: give one with
``--fitness EXPR`` (:mod:`eureka_kit.tasks.fitness_expr`) or rank the policies
yourself (``--human``). It trains on the ``sb3`` backend (the batched engines
need a hand-written physics definition).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from eureka_kit.errors import UserError
from eureka_kit.tasks.spec import (
    FREE_FORM_TAG,
    State,
    StateExtractor,
    StateVar,
    TaskSpec,
    TrainDefaults,
    no_fitness,
)

PREFIX = "gym:"
"""Task ids of derived tasks: ``gym:`` + a gymnasium env id."""

ROOT_VARS: tuple[tuple[str, str, str], ...] = (
    ("root_height", "m", "height (z) of the root body's origin above the world origin"),
    ("root_heading", "rad", "yaw of the root body (rotation about the world z-axis), in (-pi, pi]"),
    ("root_pitch", "rad", "pitch of the root body (rotation about its y-axis, z-y-x convention)"),
    ("root_roll", "rad", "roll of the root body (rotation about its x-axis, z-y-x convention)"),
    ("root_lin_vel_x", "m/s", "velocity of the root body along world x (forward in most models)"),
    ("root_lin_vel_y", "m/s", "velocity of the root body along world y"),
    ("root_lin_vel_z", "m/s", "velocity of the root body along world z (up)"),
    ("root_ang_vel_z", "rad/s", "turn rate of the root body about world z"),
    ("root_up_z", "1", "z-component of the root body's up axis: 1 upright, 0 on its side, -1 upside down"),
)


class NotAMujocoEnvError(UserError, ValueError):
    """The env id does not name a gymnasium env simulated by MuJoCo."""


def ident(name: str) -> str:
    """A MuJoCo element name as a Python identifier part (``"front_left-leg"`` -> ``front_left_leg``)."""
    out = re.sub(r"[^0-9a-zA-Z_]", "_", name).lower()
    return f"_{out}" if out[:1].isdigit() else out


@dataclass(frozen=True)
class _Layout:
    """Which model elements feed which state variables (ids into ``model``/``data``)."""

    joints: tuple[tuple[str, int, int], ...]
    """(name, joint type, joint id) of named non-free joints."""
    bodies: tuple[tuple[str, int], ...]
    sites: tuple[tuple[str, int], ...]
    root: int


def _layout(model: Any) -> _Layout:
    import mujoco

    joints = []
    for j in range(model.njnt):
        name = model.joint(j).name
        jtype = int(model.jnt_type[j])
        if name and jtype != mujoco.mjtJoint.mjJNT_FREE:
            joints.append((ident(name), jtype, j))
    bodies = [(ident(model.body(b).name), b) for b in range(1, model.nbody) if model.body(b).name]
    sites = [(ident(model.site(s).name), s) for s in range(model.nsite) if model.site(s).name]
    return _Layout(tuple(joints), tuple(bodies), tuple(sites), root=1 if model.nbody > 1 else 0)


def _state_vars(layout: _Layout, nu: int) -> tuple[StateVar, ...]:
    import mujoco

    out: list[StateVar] = []
    for name, jtype, _ in layout.joints:
        if jtype == mujoco.mjtJoint.mjJNT_BALL:
            out.append(StateVar(f"{name}_pos", (4,), "quat", f"joint {name}: orientation quaternion (w, x, y, z)"))
            out.append(StateVar(f"{name}_vel", (3,), "rad/s", f"joint {name}: angular velocity (local frame)"))
        else:
            unit = "rad" if jtype == mujoco.mjtJoint.mjJNT_HINGE else "m"
            out.append(StateVar(f"{name}_pos", (), unit, f"joint {name}: position"))
            out.append(StateVar(f"{name}_vel", (), f"{unit}/s", f"joint {name}: velocity"))
    for name, _ in layout.bodies:
        out += [
            StateVar(f"{name}_pos", (3,), "m", f"body {name}: position of its origin in the world frame"),
            StateVar(f"{name}_quat", (4,), "quat", f"body {name}: orientation quaternion (w, x, y, z), world frame"),
            StateVar(f"{name}_up", (3,), "1", f"body {name}: its z-axis in the world frame (unit vector)"),
            StateVar(f"{name}_rpy", (3,), "rad", f"body {name}: roll, pitch, yaw (z-y-x convention)"),
            StateVar(f"{name}_lin_vel", (3,), "m/s", f"body {name}: linear velocity of its origin, world frame"),
            StateVar(f"{name}_ang_vel", (3,), "rad/s", f"body {name}: angular velocity, world frame"),
            StateVar(f"{name}_contact_force", (), "N", f"body {name}: summed normal force of its contacts"),
        ]
    for name, _ in layout.sites:
        out.append(StateVar(f"{name}_site_pos", (3,), "m", f"site {name}: position in the world frame"))
    out += [StateVar(n, (), unit, doc) for n, unit, doc in ROOT_VARS]
    out.append(StateVar("env_reward", (), "1", "the env's own reward this step (sum of its info reward_* terms)"))
    out.append(StateVar("action", (nu,), "1", f"the applied action: one value per actuator ({nu})"))
    unique: dict[str, StateVar] = {}
    for v in out:  # a name made twice (a body "root" and the root variables...): the first one stays
        unique.setdefault(v.name, v)
    return tuple(unique.values())


def _rpy(quat: np.ndarray) -> np.ndarray:
    w, x, y, z = quat
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.array([roll, pitch, yaw])


def _extractor(layout: _Layout, names: frozenset[str]) -> Any:
    import mujoco

    def extract(env: Any, info: Mapping[str, Any], action: np.ndarray) -> State:
        model, data = env.model, env.data
        state: State = {}
        for name, jtype, j in layout.joints:
            qa, va = int(model.jnt_qposadr[j]), int(model.jnt_dofadr[j])
            if jtype == mujoco.mjtJoint.mjJNT_BALL:
                state[f"{name}_pos"] = np.array(data.qpos[qa : qa + 4])
                state[f"{name}_vel"] = np.array(data.qvel[va : va + 3])
            else:
                state[f"{name}_pos"] = np.array(data.qpos[qa])
                state[f"{name}_vel"] = np.array(data.qvel[va])
        contact = np.zeros(model.nbody)
        force = np.zeros(6)
        for i in range(data.ncon):
            mujoco.mj_contactForce(model, data, i, force)
            c = data.contact[i]
            for geom in (c.geom1, c.geom2):
                contact[model.geom_bodyid[geom]] += abs(force[0])
        vel = np.zeros(6)
        root_vel: np.ndarray | None = None
        for name, b in layout.bodies:
            quat = np.array(data.xquat[b])
            mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, b, vel, 0)
            if b == layout.root:
                root_vel = vel.copy()
            state[f"{name}_pos"] = np.array(data.xpos[b])
            state[f"{name}_quat"] = quat
            state[f"{name}_up"] = np.array(data.xmat[b].reshape(3, 3)[:, 2])
            state[f"{name}_rpy"] = _rpy(quat)
            state[f"{name}_lin_vel"] = vel[3:].copy()
            state[f"{name}_ang_vel"] = vel[:3].copy()
            state[f"{name}_contact_force"] = np.array(contact[b])
        for name, s in layout.sites:
            state[f"{name}_site_pos"] = np.array(data.site_xpos[s])
        r = layout.root
        if root_vel is None:  # an unnamed root body has no variables of its own
            mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, r, vel, 0)
            root_vel = vel
        vel = root_vel
        roll, pitch, yaw = _rpy(np.array(data.xquat[r]))
        root = {
            "root_height": data.xpos[r][2],
            "root_heading": yaw,
            "root_pitch": pitch,
            "root_roll": roll,
            "root_lin_vel_x": vel[3],
            "root_lin_vel_y": vel[4],
            "root_lin_vel_z": vel[5],
            "root_ang_vel_z": vel[2],
            "root_up_z": data.xmat[r][8],
        }
        for key, value in root.items():
            state[key] = np.array(float(value))
        state["env_reward"] = np.array(float(sum(float(v) for k, v in info.items() if k.startswith("reward_"))))
        return {k: v for k, v in state.items() if k in names}

    return extract


def env_reward(state: Mapping[str, np.ndarray]) -> np.ndarray:
    """The baseline reward of a derived task: the env's own reward, read from the state (batched)."""
    return np.asarray(state["env_reward"], dtype=np.float64)


def model_state(model: Any, nu: int) -> tuple[tuple[StateVar, ...], StateExtractor]:
    """The derived state variables of a MuJoCo model and their extractor (``gym:`` and ``mjcf:`` tasks alike)."""
    layout = _layout(model)
    state = _state_vars(layout, nu)
    return state, _extractor(layout, frozenset(v.name for v in state if v.name != "action"))


def is_derived(task_id: str) -> bool:
    return task_id.startswith(PREFIX)


@functools.cache
def derive_task(task_id: str) -> TaskSpec:
    """The task ``gym:<env id>``: the env as gymnasium builds it, with state derived from its MuJoCo model."""
    import gymnasium as gym

    from eureka_kit.tasks.mujoco_warnings import route_mujoco_warnings

    env_id = task_id[len(PREFIX) :]
    if not env_id:
        raise NotAMujocoEnvError("give an env id after 'gym:', e.g. gym:Ant-v5")
    route_mujoco_warnings()
    try:
        env = gym.make(env_id)
    except gym.error.Error as e:
        raise NotAMujocoEnvError(f"gymnasium cannot make {env_id!r}: {e}") from None
    try:
        inner = env.unwrapped
        if not (hasattr(inner, "model") and hasattr(inner, "data")) or type(inner.model).__name__ != "MjModel":
            raise NotAMujocoEnvError(f"{env_id!r} is not simulated by MuJoCo (its env has no MjModel)")
        if not isinstance(env.action_space, gym.spaces.Box):
            raise NotAMujocoEnvError(f"{env_id!r} has a {type(env.action_space).__name__} action space; need a Box")
        nu = int(np.prod(env.action_space.shape))
        state, extract = model_state(inner.model, nu)
        max_steps = env.spec.max_episode_steps if env.spec is not None and env.spec.max_episode_steps else 1000
    finally:
        env.close()
    return TaskSpec(
        id=task_id,
        env_id=env_id,
        goal=f"a goal for {env_id}",
        description=(
            f"The gymnasium environment {env_id} (MuJoCo): a robot with {nu} actuators. Episodes last at most "
            f"{max_steps} steps. Its state variables are derived from the MuJoCo model: joints, bodies, sites and "
            f"the root body, in world-frame SI units."
        ),
        state=state,
        extract=extract,
        fitness=no_fitness("no ground-truth measure: give one with --fitness EXPR, or rank the policies with --human"),
        baseline_reward=env_reward,
        train=TrainDefaults(algo="PPO", total_steps=1_000_000, n_envs=1, normalize_obs=True),
        max_episode_steps=int(max_steps),
        tags=("derived", FREE_FORM_TAG),
    )
