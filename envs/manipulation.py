"""MuJoCo manipulation tasks (gymnasium v5 envs).

Pusher-v5: a 7-joint arm pushes a cylinder on a table to a goal marker. The
env's reward uses the 3-D distances between body frames (``get_body_com`` is
the body frame position ``data.body(name).xpos``); the goal marker sits
0.048 m below the object's centre, so that 3-D distance never drops below
about 0.05 m. The fitness therefore measures the distance in the table plane
(x, y), which is 0 when the object is exactly on the goal.

Fitness: minus the final planar object-goal distance (``aggregate="last"``,
Pusher episodes always run their 100 steps). A continuous score rather than a
success rate, so that candidates that all miss the goal are still ranked by
how close they got.

The physics side (state, observation, env reward, reset noise) is defined
once, batched, in :mod:`eureka_kit.sim.manipulation`; the spec takes its state
extraction and baseline reward from there.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from eureka_kit.envs.locomotion import ZOO_PPO_MUJOCO_DEFAULTS

from eureka_kit.sim.factory import mujoco_engine
from eureka_kit.sim.manipulation import PUSHER as PUSHER_PHYSICS
from eureka_kit.sim.physics import gym_extractor
from eureka_kit.tasks.engine import BatchedConfig
from eureka_kit.tasks.registry import register
from eureka_kit.tasks.spec import AnalysisVars, Fitness, StateVar, TaskSpec, TrainDefaults


def _planar_object_goal_distance(s: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.asarray(-np.linalg.norm(s["object_pos"][:, :2] - s["goal_pos"][:, :2], axis=-1))


_JOINTS = "shoulder_pan, shoulder_lift, upper_arm_roll, elbow_flex, forearm_roll, wrist_flex, wrist_roll"

PUSHER = register(
    TaskSpec(
        id="Pusher-Push-v1",
        goal="push the object to the goal with the arm",
        env_id="Pusher-v5",
        description=(
            "A 7-joint robot arm (shoulder, elbow, forearm and wrist joints) stands at a table with a cylinder "
            "object on it. Push the object with the fingertip so that it ends on the goal marker. The object "
            "only slides on the table (x, y); the goal is fixed, the object's start is random. Each episode "
            "lasts 100 steps (5 s)."
        ),
        state=(
            StateVar("joint_pos", (7,), "rad", f"arm joint angles: {_JOINTS}"),
            StateVar("joint_vel", (7,), "rad/s", "arm joint angular velocities, same order as joint_pos"),
            StateVar("fingertip_pos", (3,), "m", "fingertip position (x, y, z) in the world frame"),
            StateVar(
                "object_pos", (3,), "m", "object (cylinder) centre (x, y, z); it slides on the table, z is constant"
            ),
            StateVar("goal_pos", (3,), "m", "goal marker position (x, y, z); fixed, 0.048 m below the object centre"),
            StateVar("fingertip_to_object_distance", (), "m", "3-D distance between fingertip and object centre"),
            StateVar(
                "object_to_goal_distance",
                (),
                "m",
                "3-D distance between object centre and goal marker; about 0.05 (not 0) when the object is on the goal",
            ),
            StateVar("action", (7,), "torque", "joint torques applied this step, each in [-2, 2], joint_pos order"),
        ),
        extract=gym_extractor(PUSHER_PHYSICS),
        fitness=Fitness(
            name="final_object_goal_distance",
            description=(
                "minus the distance in the table plane between the object and the goal at the end of the "
                "episode (0 is perfect; between -0.17 and -0.36 if the object is not moved)"
            ),
            unit="m",
            step=_planar_object_goal_distance,
            aggregate="last",
        ),
        baseline_reward=PUSHER_PHYSICS.reward,
        engine=mujoco_engine(PUSHER_PHYSICS),
        batched=BatchedConfig(total_steps=500_000, num_envs=64, num_steps_per_env=25),
        # rl-baselines3-zoo, ppo.yml has no Pusher entry: its `mujoco-defaults` (SB3's PPO defaults + normalize).
        train=TrainDefaults(
            algo="PPO",
            total_steps=200_000,
            n_envs=1,
            normalize_obs=True,
            hyperparams=ZOO_PPO_MUJOCO_DEFAULTS,
        ),
        max_episode_steps=100,
        tags=("mujoco", "manipulation"),
        analysis=AnalysisVars(distance="object_to_goal_distance", extra=("fingertip_to_object_distance",)),
    )
)
