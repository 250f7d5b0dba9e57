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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from eureka_kit.envs.locomotion import ZOO_PPO_MUJOCO_DEFAULTS

from eureka_kit.tasks.registry import register
from eureka_kit.tasks.spec import AnalysisVars, Fitness, State, StateVar, TaskSpec, TrainDefaults


def _pusher_state(env: Any, info: Mapping[str, Any], action: np.ndarray) -> State:
    qpos = env.data.qpos
    qvel = env.data.qvel
    tip = np.array(env.data.body("tips_arm").xpos, dtype=np.float64)
    obj = np.array(env.data.body("object").xpos, dtype=np.float64)
    goal = np.array(env.data.body("goal").xpos, dtype=np.float64)
    return {
        "joint_pos": np.array(qpos[:7], dtype=np.float64),
        "joint_vel": np.array(qvel[:7], dtype=np.float64),
        "fingertip_pos": tip,
        "object_pos": obj,
        "goal_pos": goal,
        "fingertip_to_object_distance": np.asarray(np.linalg.norm(obj - tip), dtype=np.float64),
        "object_to_goal_distance": np.asarray(np.linalg.norm(obj - goal), dtype=np.float64),
    }


def _pusher_baseline(s: Mapping[str, np.ndarray]) -> np.ndarray:
    # gymnasium Pusher-v5: reward_near_weight=0.5, reward_dist_weight=1, reward_control_weight=0.1.
    ctrl = np.square(s["action"]).sum(axis=-1)
    return -0.5 * s["fingertip_to_object_distance"] - 1.0 * s["object_to_goal_distance"] - 0.1 * ctrl


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
        extract=_pusher_state,
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
        baseline_reward=_pusher_baseline,
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
