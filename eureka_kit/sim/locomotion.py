"""Batched physics of the MuJoCo locomotion tasks, with gymnasium v5's semantics.

Each definition mirrors ``gymnasium/envs/mujoco/<robot>_v5.py`` with its
default arguments (``exclude_current_positions_from_observation=True``, Ant's
clipped contact forces in the observation, Humanoid's ``cinert``/``cvel``/
``qfrc_actuator``/``cfrc_ext`` terms, the healthy ranges, reset noise scales and
``frame_skip``). The env rewards are the tasks' ``baseline_reward``; the task
specs in :mod:`eureka_kit.envs.locomotion` take their state extraction and
baseline reward from here. See :mod:`eureka_kit.sim.physics`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from eureka_kit.sim import ops
from eureka_kit.sim.ops import Array
from eureka_kit.sim.params import legged_params
from eureka_kit.sim.physics import (
    BatchState,
    Fields,
    ModelConsts,
    ObservationFn,
    ResetFn,
    TaskPhysics,
)

LEGGED = legged_params()
"""The randomizable physics of every legged robot here: mass, friction, actuator strength, joint damping and
gravity, with the standard limits (:mod:`eureka_kit.sim.params`)."""


def _uniform_reset(scale: float) -> ResetFn:
    """Hopper/Walker2d/Humanoid: qpos and qvel each + U(-scale, scale)."""

    def reset(rng: np.random.Generator, c: ModelConsts) -> tuple[np.ndarray, np.ndarray]:
        qpos = c.init_qpos + rng.uniform(low=-scale, high=scale, size=c.init_qpos.size)
        qvel = c.init_qvel + rng.uniform(low=-scale, high=scale, size=c.init_qvel.size)
        return qpos, qvel

    return reset


def _uniform_normal_reset(scale: float) -> ResetFn:
    """HalfCheetah/Ant: qpos + U(-scale, scale), qvel + scale * N(0, 1)."""

    def reset(rng: np.random.Generator, c: ModelConsts) -> tuple[np.ndarray, np.ndarray]:
        qpos = c.init_qpos + rng.uniform(low=-scale, high=scale, size=c.init_qpos.size)
        qvel = c.init_qvel + scale * rng.standard_normal(c.init_qvel.size)
        return qpos, qvel

    return reset


def _qpos0_x(f: Fields, c: ModelConsts) -> Array:
    """The planar robots' tracked position: ``qpos[0]`` (the root's x slide joint)."""
    return f["qpos"][:, 0:1]


def _planar_obs(clip_qvel: bool) -> ObservationFn:
    """qpos without x, then qvel (Hopper/Walker2d clip it to [-10, 10])."""

    def observation(f: Fields, c: ModelConsts) -> Array:
        qvel = ops.clip(f["qvel"], -10.0, 10.0) if clip_qvel else f["qvel"]
        return ops.concat([f["qpos"][:, 1:], qvel])

    return observation


def _force_norm(f: Fields, body: int) -> Array:
    """Magnitude of the external (contact) force on a body; ``cfrc_ext`` rows are [torque xyz, force xyz]."""
    return ops.norm(f["cfrc_ext"][:, body, 3:6])


# ---------------------------------------------------------------------------------------------- HalfCheetah


def _half_cheetah_state(f: Fields, vel: Array, c: ModelConsts) -> BatchState:
    qpos, qvel = f["qpos"], f["qvel"]
    return {
        "x_position": qpos[:, 0],
        "x_velocity": vel[:, 0],
        "torso_height": qpos[:, 1],
        "torso_angle": qpos[:, 2],
        "torso_angular_velocity": qvel[:, 2],
        "joint_pos": qpos[:, 3:9],
        "joint_vel": qvel[:, 3:9],
    }


def half_cheetah_reward(s: Mapping[str, Array]) -> Array:
    """gymnasium HalfCheetah-v5: forward_reward_weight=1.0, ctrl_cost_weight=0.1."""
    return s["x_velocity"] - 0.1 * ops.sum_sq(s["action"])


HALF_CHEETAH = TaskPhysics(
    name="half_cheetah",
    xml_file="half_cheetah.xml",
    frame_skip=5,
    fields=("qpos", "qvel"),
    velocity_names=("x_velocity",),
    position=_qpos0_x,
    state=_half_cheetah_state,
    observation=_planar_obs(clip_qvel=False),
    reward=half_cheetah_reward,
    healthy=None,
    reset=_uniform_normal_reset(0.1),
    params=LEGGED,
)

# ---------------------------------------------------------------------------------------------- Hopper


def _hopper_healthy(f: Fields, c: ModelConsts) -> Array:
    # healthy_state_range (-100, 100) on state_vector()[2:], healthy_z_range (0.7, inf), healthy_angle_range (-0.2, 0.2)
    qpos, qvel = f["qpos"], f["qvel"]
    state = ops.concat([qpos, qvel])[:, 2:]
    z, angle = qpos[:, 1], qpos[:, 2]
    ok_state = ops.all_last((state > -100.0) & (state < 100.0))
    return ok_state & (z > 0.7) & (z < float("inf")) & (angle > -0.2) & (angle < 0.2)


def _hopper_state(f: Fields, vel: Array, c: ModelConsts) -> BatchState:
    qpos, qvel = f["qpos"], f["qvel"]
    return {
        "x_velocity": vel[:, 0],
        "z_velocity": qvel[:, 1],
        "torso_height": qpos[:, 1],
        "torso_angle": qpos[:, 2],
        "torso_angular_velocity": qvel[:, 2],
        "joint_pos": qpos[:, 3:6],
        "joint_vel": qvel[:, 3:6],
        "foot_contact_force": _force_norm(f, c.body["foot"]),
        "is_healthy": ops.as_float(_hopper_healthy(f, c), qpos),
    }


def hopper_walker_reward(s: Mapping[str, Array]) -> Array:
    """gymnasium Hopper-v5 and Walker2d-v5: forward_reward_weight=1, healthy_reward=1, ctrl_cost_weight=1e-3."""
    return s["x_velocity"] + 1.0 * s["is_healthy"] - 1e-3 * ops.sum_sq(s["action"])


HOPPER = TaskPhysics(
    name="hopper",
    xml_file="hopper.xml",
    frame_skip=4,
    fields=("qpos", "qvel", "cfrc_ext"),
    velocity_names=("x_velocity",),
    position=_qpos0_x,
    state=_hopper_state,
    observation=_planar_obs(clip_qvel=True),
    reward=hopper_walker_reward,
    healthy=_hopper_healthy,
    reset=_uniform_reset(5e-3),
    params=LEGGED,
)

# ---------------------------------------------------------------------------------------------- Walker2d


def _walker_healthy(f: Fields, c: ModelConsts) -> Array:
    # healthy_z_range (0.8, 2.0), healthy_angle_range (-1, 1)
    z, angle = f["qpos"][:, 1], f["qpos"][:, 2]
    return (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0)


def _walker_state(f: Fields, vel: Array, c: ModelConsts) -> BatchState:
    qpos, qvel = f["qpos"], f["qvel"]
    feet = [_force_norm(f, c.body["foot"])[:, None], _force_norm(f, c.body["foot_left"])[:, None]]
    return {
        "x_velocity": vel[:, 0],
        "torso_height": qpos[:, 1],
        "torso_angle": qpos[:, 2],
        "torso_angular_velocity": qvel[:, 2],
        "joint_pos": qpos[:, 3:9],
        "joint_vel": qvel[:, 3:9],
        "feet_contact_force": ops.concat(feet),
        "is_healthy": ops.as_float(_walker_healthy(f, c), qpos),
    }


WALKER = TaskPhysics(
    name="walker2d",
    xml_file="walker2d_v5.xml",
    frame_skip=4,
    fields=("qpos", "qvel", "cfrc_ext"),
    velocity_names=("x_velocity",),
    position=_qpos0_x,
    state=_walker_state,
    observation=_planar_obs(clip_qvel=True),
    reward=hopper_walker_reward,
    healthy=_walker_healthy,
    reset=_uniform_reset(5e-3),
    params=LEGGED,
)

# ---------------------------------------------------------------------------------------------- Ant


def _ant_position(f: Fields, c: ModelConsts) -> Array:
    return f["xpos"][:, c.body["torso"], :2]


def _ant_healthy(f: Fields, c: ModelConsts) -> Array:
    # every qpos/qvel finite and healthy_z_range [0.2, 1.0] (inclusive, as gymnasium's Ant)
    qpos = f["qpos"]
    finite = ops.all_last(ops.isfinite(ops.concat([qpos, f["qvel"]])))
    return finite & (qpos[:, 2] >= 0.2) & (qpos[:, 2] <= 1.0)


def _ant_state(f: Fields, vel: Array, c: ModelConsts) -> BatchState:
    qpos, qvel = f["qpos"], f["qvel"]
    return {
        "x_velocity": vel[:, 0],
        "y_velocity": vel[:, 1],
        "torso_height": qpos[:, 2],
        "upright": f["xmat"][:, c.body["torso"], 8],
        "torso_angular_velocity": qvel[:, 3:6],
        "joint_pos": qpos[:, 7:15],
        "joint_vel": qvel[:, 6:14],
        "contact_forces": f["cfrc_ext"][:, 1:],
        "is_healthy": ops.as_float(_ant_healthy(f, c), qpos),
    }


def _ant_obs(f: Fields, c: ModelConsts) -> Array:
    # contact_force_range (-1, 1) clips cfrc_ext in the observation
    return ops.concat([f["qpos"][:, 2:], f["qvel"], ops.flat(ops.clip(f["cfrc_ext"][:, 1:], -1.0, 1.0))])


def ant_reward(s: Mapping[str, Array]) -> Array:
    """gymnasium Ant-v5: forward 1, healthy 1, ctrl 0.5, contact 5e-4 on forces clipped to (-1, 1)."""
    contact_cost = 5e-4 * ops.sum_sq(ops.clip(s["contact_forces"], -1.0, 1.0))
    ctrl_cost = 0.5 * ops.sum_sq(s["action"])
    return s["x_velocity"] + 1.0 * s["is_healthy"] - ctrl_cost - contact_cost


ANT = TaskPhysics(
    name="ant",
    warp_capacity=(32, 160),
    xml_file="ant.xml",
    frame_skip=5,
    fields=("qpos", "qvel", "xpos", "xmat", "cfrc_ext"),
    velocity_names=("x_velocity", "y_velocity"),
    position=_ant_position,
    state=_ant_state,
    observation=_ant_obs,
    reward=ant_reward,
    healthy=_ant_healthy,
    reset=_uniform_normal_reset(0.1),
    params=LEGGED,
)

# ---------------------------------------------------------------------------------------------- Humanoid


def _mass_center(f: Fields, c: ModelConsts) -> Array:
    """x, y of the centre of mass: sum(body_mass * xipos) / sum(body_mass), as gymnasium's ``mass_center``."""
    xipos = f["xipos"]
    mass = ops.like(c.body_mass, xipos)
    return (mass[None, :, None] * xipos).sum(-2)[:, :2] / float(c.body_mass.sum())


def _humanoid_healthy(f: Fields, c: ModelConsts) -> Array:
    # healthy_z_range (1.0, 2.0)
    z = f["qpos"][:, 2]
    return (z > 1.0) & (z < 2.0)


def _humanoid_state(f: Fields, vel: Array, c: ModelConsts) -> BatchState:
    qpos, qvel = f["qpos"], f["qvel"]
    return {
        "x_velocity": vel[:, 0],
        "y_velocity": vel[:, 1],
        "torso_height": qpos[:, 2],
        "upright": f["xmat"][:, c.body["torso"], 8],
        "torso_angular_velocity": qvel[:, 3:6],
        "joint_pos": qpos[:, 7:24],
        "joint_vel": qvel[:, 6:23],
        "contact_forces": f["cfrc_ext"][:, 1:],
        "is_healthy": ops.as_float(_humanoid_healthy(f, c), qpos),
    }


def _humanoid_obs(f: Fields, c: ModelConsts) -> Array:
    return ops.concat(
        [
            f["qpos"][:, 2:],
            f["qvel"],
            ops.flat(f["cinert"][:, 1:]),
            ops.flat(f["cvel"][:, 1:]),
            f["qfrc_actuator"][:, 6:],
            ops.flat(f["cfrc_ext"][:, 1:]),
        ]
    )


def humanoid_reward(s: Mapping[str, Array]) -> Array:
    """gymnasium Humanoid-v5: forward 1.25, healthy 5, ctrl 0.1, contact 5e-7 with the cost capped at 10."""
    contact_cost = ops.minimum(5e-7 * ops.sum_sq(s["contact_forces"]), 10.0)
    ctrl_cost = 0.1 * ops.sum_sq(s["action"])
    return 1.25 * s["x_velocity"] + 5.0 * s["is_healthy"] - ctrl_cost - contact_cost


HUMANOID = TaskPhysics(
    name="humanoid",
    warp_capacity=(64, 256),
    xml_file="humanoid.xml",
    frame_skip=5,
    fields=("qpos", "qvel", "xmat", "xipos", "cinert", "cvel", "qfrc_actuator", "cfrc_ext"),
    velocity_names=("x_velocity", "y_velocity"),
    position=_mass_center,
    state=_humanoid_state,
    observation=_humanoid_obs,
    reward=humanoid_reward,
    healthy=_humanoid_healthy,
    reset=_uniform_reset(1e-2),
    params=LEGGED,
)
