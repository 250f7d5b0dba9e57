"""Classic-control tasks: small and fast, used by tests and demos."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from eureka_kit.tasks.registry import register
from eureka_kit.tasks.spec import AnalysisVars, Fitness, State, StateVar, TaskSpec, TrainDefaults

_GOAL_POSITION = 0.45


def _mountain_car_state(env: Any, info: Mapping[str, Any], action: np.ndarray) -> State:
    position, velocity = (float(x) for x in env.state)
    # The env's `terminated` (and its +100) is this same test on the new position and velocity, made before
    # they are stored in `env.state` as float32: identical for float32 actions (NumPy 2 keeps float32 math).
    reached = position >= env.goal_position and velocity >= env.goal_velocity
    return {
        "position": np.asarray(position, dtype=np.float64),
        "velocity": np.asarray(velocity, dtype=np.float64),
        "goal_position": np.asarray(env.goal_position, dtype=np.float64),
        "goal_reached": np.asarray(reached, dtype=np.float64),
    }


def _mountain_car_baseline(s: Mapping[str, np.ndarray]) -> np.ndarray:
    return 100.0 * s["goal_reached"] - 0.1 * np.square(s["action"][:, 0])


def draw_mountain_car(env: Any, width: int, height: int) -> np.ndarray:
    """A frame of MountainCarContinuous (hill, flag, car) drawn with NumPy, for machines without pygame."""
    u = env.unwrapped
    lo, hi = float(u.min_position), float(u.max_position)
    img = np.full((height, width, 3), 255, dtype=np.uint8)

    def hill(x: np.ndarray | float) -> Any:
        return np.sin(3 * np.asarray(x)) * 0.45 + 0.55

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (x - lo) / (hi - lo) * (width - 1), (1.0 - y / 1.3) * (height - 1)

    cols = np.arange(width)
    xs = lo + cols / (width - 1) * (hi - lo)
    ground = (1.0 - hill(xs) / 1.3) * (height - 1)
    rows = np.arange(height)[:, None]
    img[rows >= ground[None, :]] = (200, 200, 200)
    img[(np.abs(rows - ground[None, :]) <= 1)] = (0, 0, 0)
    # Flag: a pole and a yellow pennant at the goal.
    gx, gy = to_px(float(u.goal_position), float(hill(u.goal_position)))
    pole = max(10, height // 8)
    c0 = round(gx)
    img[max(0, round(gy) - pole) : max(0, round(gy)), max(0, c0 - 1) : c0 + 1] = (0, 0, 0)
    img[max(0, round(gy) - pole) : max(0, round(gy) - pole + pole // 3), c0 + 1 : c0 + 1 + pole // 2] = (
        204,
        204,
        0,
    )
    # Car: a dark disc on the track at its position.
    pos = float(u.state[0])
    cx, cy = to_px(pos, float(hill(pos)))
    r = max(3, height // 24)
    yy, xx = np.mgrid[0:height, 0:width]
    img[(xx - cx) ** 2 + (yy - (cy - r)) ** 2 <= r * r] = (40, 40, 200)
    return img


MOUNTAIN_CAR = register(
    TaskSpec(
        id="MountainCar-Flag-v1",
        goal="drive the underpowered car up to the flag",
        env_id="MountainCarContinuous-v0",
        description=(
            "A car sits in a valley between two hills. Drive it to the flag on top of the right hill "
            "(position >= 0.45). The engine is too weak to climb directly: the car must swing back and "
            "forth to build momentum. The episode ends when the flag is reached."
        ),
        state=(
            StateVar("position", (), "m", "car position along the track, in [-1.2, 0.6]; the flag is at 0.45"),
            StateVar("velocity", (), "m/step", "car velocity, in [-0.07, 0.07]; positive is to the right"),
            StateVar("goal_position", (), "m", "position of the flag (constant 0.45)"),
            StateVar("goal_reached", (), "bool as 0/1", "1.0 on the step the car reaches the flag, else 0.0"),
            StateVar("action", (1,), "force", "engine force applied this step, in [-1, 1]"),
        ),
        extract=_mountain_car_state,
        fitness=Fitness(
            name="success",
            description="fraction of episodes in which the car reaches the flag",
            unit="success rate",
            step=lambda s: s["goal_reached"],
            aggregate="any",
        ),
        baseline_reward=_mountain_car_baseline,
        # rl-baselines3-zoo, ppo.yml, MountainCarContinuous-v0. The zoo's batch_size 256 exceeds the rollout
        # (n_steps 8 x 1 env), so SB3 trains on one minibatch of 8 and warns; batch_size 8 is the same, silently.
        train=TrainDefaults(
            algo="PPO",
            total_steps=20_000,
            n_envs=1,
            normalize_obs=True,
            hyperparams={
                "batch_size": 8,
                "n_steps": 8,
                "gamma": 0.9999,
                "learning_rate": 7.77e-05,
                "ent_coef": 0.00429,
                "clip_range": 0.1,
                "n_epochs": 10,
                "gae_lambda": 0.9,
                "max_grad_norm": 5.0,
                "vf_coef": 0.19,
                "use_sde": True,
            },
            policy_kwargs={"log_std_init": -3.29, "ortho_init": False},
        ),
        max_episode_steps=999,
        tags=("classic", "fast"),
        kind="classic",
        draw_frame=draw_mountain_car,
        analysis=AnalysisVars(termination="success", extra=("position", "velocity")),
    )
)
