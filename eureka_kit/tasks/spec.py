"""Task specs and the task registry.

A *task* is a gymnasium environment plus a goal in plain language, a set of
named, documented state variables that reward programs may read, a fitness
(the ground-truth success measure) and the env's own human-written reward,
kept as a baseline. Tasks are registered once, Gymnasium-style, and looked up
by id; an unknown id lists the valid ones::

    from eureka_kit.tasks.registry import get_task, list_tasks
    spec = get_task("HalfCheetah-Run-v1")

The concrete specs live in the top-level ``envs`` package (one module per task
family); importing :mod:`envs` registers them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from eureka_kit.errors import UsageError
from eureka_kit.tasks.engine import BatchedConfig, BatchedEngine
from eureka_kit.tasks.kinds import get_kind

State = dict[str, np.ndarray]
"""Named state variables of ONE env at one step (no leading batch dimension)."""

BatchedState = dict[str, np.ndarray]
"""Named state variables of N envs at one step: every array has a leading dimension N."""

StateExtractor = Callable[[Any, Mapping[str, Any], np.ndarray], State]
"""``extract(unwrapped_env, info, action) -> State`` called right after ``env.step``.

``unwrapped_env`` is ``env.unwrapped`` (for MuJoCo envs it has ``.model`` and
``.data``), ``info`` is the dict the step returned and ``action`` the action
that was applied (after clipping to the action space). The result must
contain exactly the task's declared state variables except ``action``, which
is added by the framework.
"""

BaselineReward = Callable[[Mapping[str, np.ndarray]], np.ndarray]
"""Recompute the env's own reward from a *batched* state (including ``action``); returns shape (N,)."""

FrameDrawer = Callable[[Any, int, int], np.ndarray]
"""``draw(env, width, height) -> (height, width, 3) uint8``: a frame of the env's current state."""

FitnessStep = Callable[[Mapping[str, np.ndarray]], np.ndarray]
RunScore = Callable[[Sequence[Mapping[str, np.ndarray]]], float]
"""``score(final_states) -> float``: a fitness across episodes, from each evaluation episode's last state."""
"""Per-step fitness value from a *batched* state; returns shape (N,)."""


@dataclass(frozen=True)
class StateVar:
    """One named state variable shown to the LLM and bound to reward arguments.

    ``shape`` is the per-env shape: ``()`` for a scalar, ``(6,)`` for six joint
    velocities. Reward programs receive it batched: ``(N, *shape)``.
    """

    name: str
    shape: tuple[int, ...]
    unit: str
    doc: str

    @property
    def batched_shape(self) -> str:
        """The shape as shown to the LLM, e.g. ``(N,)`` or ``(N, 6)``."""
        return "(" + ", ".join(["N", *map(str, self.shape)]) + ("," if not self.shape else "") + ")"


@dataclass(frozen=True)
class Fitness:
    """Ground-truth success measure of a task.

    ``step`` gives a per-step value from a batched state; an episode's fitness
    is ``aggregate`` of its step values (``mean``: e.g. mean forward velocity;
    ``sum``; ``max``; ``last``: e.g. final distance; ``any``: success if the
    value was ever > 0). The run's fitness is the mean over episodes, or,
    with ``across``, a score computed across the episodes (e.g. Crafter's
    geometric mean of achievement success rates). Higher is always better
    (negate distances).
    """

    name: str
    description: str
    unit: str
    step: FitnessStep
    aggregate: Literal["mean", "sum", "max", "last", "any"]
    across: RunScore | None = None
    """The trusted evaluator's fitness across episodes from each episode's last state; ``None``: the mean of the
    episodes' values. Training statistics and the analyzer still use the per-episode values."""

    def episode_value(self, step_values: np.ndarray) -> float:
        """Aggregate one episode's per-step values (1-D array) into its fitness."""
        v = np.asarray(step_values, dtype=np.float64)
        if v.size == 0:
            return 0.0
        if self.aggregate == "mean":
            return float(v.mean())
        if self.aggregate == "sum":
            return float(v.sum())
        if self.aggregate == "max":
            return float(v.max())
        if self.aggregate == "last":
            return float(v[-1])
        return float(np.any(v > 0))


def _freeze(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class TrainDefaults:
    """Training defaults of a task (rl-baselines3-zoo's tuned values where they exist).

    ``hyperparams`` are keyword arguments of the SB3 algorithm constructor
    (without ``policy``/``env``); ``policy_kwargs`` are passed as SB3's
    ``policy_kwargs`` and must be plain data (e.g. ``{"net_arch": [64, 64]}``,
    ``activation_fn`` as a name ``"tanh"``/``"relu"``).
    """

    algo: Literal["PPO", "SAC"]
    total_steps: int
    n_envs: int
    hyperparams: Mapping[str, Any] = field(default_factory=lambda: _freeze({}))
    policy_kwargs: Mapping[str, Any] = field(default_factory=lambda: _freeze({}))
    normalize_obs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "hyperparams", _freeze(self.hyperparams))
        object.__setattr__(self, "policy_kwargs", _freeze(self.policy_kwargs))


@dataclass(frozen=True)
class AnalysisVars:
    """Which state variables of a task mean what, for the analyzer (all optional).

    ``forward_velocity``: signed progress speed (stands still / moves
    backwards below ``still_speed`` in its unit); ``height``, ``pitch`` (rad;
    ``|pitch| > pi/2`` is upside down), ``upright`` (cosine: < 0 upside down),
    ``spin_rate`` (scalar or vector angular velocity); ``distance`` to the
    goal (lower is better); ``termination``: what the env's termination
    means (``failure``: fell; ``success``: reached the goal; ``either``: a game that
    ends on success or on death); ``extra``: more
    variables to summarize; ``action_bound``: the action limit (default: the
    env's action space). The game roles (``cell``, ``left_start``, ``deaths``,
    ``achievements``) feed :mod:`eureka_kit.feedback.game_checks`.
    """

    forward_velocity: str | None = None
    still_speed: float = 0.1
    height: str | None = None
    pitch: str | None = None
    upright: str | None = None
    spin_rate: str | None = None
    distance: str | None = None
    termination: Literal["failure", "success", "either"] = "failure"
    extra: tuple[str, ...] = ()
    action_bound: float | None = None
    cell: str | None = None
    """Games: the agent's grid cell ``(2,)`` (loops in place: few distinct cells in a long episode)."""
    left_start: str | None = None
    """Games: a 0/1 variable that is 1 once the agent is out of its start room (never leaves the start room)."""
    deaths: tuple[tuple[str, str], ...] = ()
    """Games: ``(0/1 variable, what it means)`` pairs of ways to fail, e.g. ``("in_lava", "walked into lava")``."""
    achievements: str | None = None
    """Games: a 0/1 vector variable, 1 where an achievement is unlocked on this step (what the agent achieved, when)."""
    achievement_names: tuple[str, ...] = ()
    """The names of the columns of ``achievements``."""
    death_cause: Callable[[Mapping[str, np.ndarray]], str] | None = None
    """Games: the cause of a death from the state of the step it happened (e.g. ``"starved"``), for ``deaths``."""

    def relevant(self) -> tuple[str, ...]:
        """The variables summarized in ``state`` and ``episode_end``, in this order, without repeats."""
        names = [self.forward_velocity, self.height, self.pitch, self.upright, self.spin_rate, self.distance]
        out: list[str] = []
        for n in [*names, *self.extra]:
            if n is not None and n not in out:
                out.append(n)
        return tuple(out)


LOCOMOTION_PLANAR = AnalysisVars(
    forward_velocity="x_velocity", height="torso_height", pitch="torso_angle", spin_rate="torso_angular_velocity"
)
"""Analysis roles of a planar walker's usual state variables (HalfCheetah, Hopper, Walker2d)."""

LOCOMOTION_3D = AnalysisVars(
    forward_velocity="x_velocity", height="torso_height", upright="upright", spin_rate="torso_angular_velocity"
)
"""Analysis roles of a 3-D walker's usual state variables (Ant, Humanoid)."""


@dataclass(frozen=True)
class TaskSpec:
    """Everything eureka-kit knows about one task. See the module docstring."""

    id: str
    env_id: str
    goal: str
    """The goal in a few words, for tables and run names (e.g. "make the ant run forward fast")."""
    description: str
    """The goal in plain language as the LLM sees it: the robot, what to achieve, how episodes end."""
    state: tuple[StateVar, ...]
    extract: StateExtractor
    fitness: Fitness
    baseline_reward: BaselineReward
    train: TrainDefaults
    env_kwargs: Mapping[str, Any] = field(default_factory=lambda: _freeze({}))
    max_episode_steps: int = 1000
    tags: tuple[str, ...] = ()
    kind: str = "mujoco"
    """The environment kind (:mod:`eureka_kit.tasks.kinds`): how to build, render and train on this task's env."""
    analysis: AnalysisVars | None = None
    """Roles of state variables for the trajectory analyzer; ``None``: guessed from the variable names."""
    draw_frame: FrameDrawer | None = None
    """Draws a frame of the env with NumPy when its own renderer is unavailable (e.g. no pygame); optional."""
    engine: BatchedEngine | None = None
    """The batched engine that runs it (:mod:`eureka_kit.tasks.engine`); ``None``: the ``sb3`` backend only."""
    batched: BatchedConfig | None = None
    """Defaults of the batched backends (``cpu``, ``gpu``): PPO settings, envs, budget; ``None``: the fallback row."""
    prepare_child: Callable[[Path], Mapping[str, str]] | None = None
    """Run in the driver before a training child starts: fills the child's folder (e.g. a compiled cache) and
    returns the environment variables the child needs; ``None``: nothing to prepare."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "env_kwargs", _freeze(self.env_kwargs))
        names = [v.name for v in self.state]
        if len(set(names)) != len(names):
            raise ValueError(f"task {self.id}: duplicate state variable names in {names}")
        if "action" not in names:
            raise ValueError(f"task {self.id}: state must declare 'action' (the applied action)")
        get_kind(self.kind)  # an unknown kind fails at registration, listing the valid ones

    @property
    def free_form(self) -> bool:
        """True for a free-form goal without ground-truth fitness (see :func:`with_goal`)."""
        return FREE_FORM_TAG in self.tags

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.state)

    def var(self, name: str) -> StateVar:
        for v in self.state:
            if v.name == name:
                return v
        raise KeyError(name)

    def make_env(self, render_mode: str | None = None, **overrides: Any) -> Any:
        """Build one gymnasium env of this task (with its time limit); ``overrides`` update ``env_kwargs``."""
        import gymnasium as gym

        from eureka_kit.tasks.mujoco_warnings import route_mujoco_warnings

        route_mujoco_warnings()
        return gym.make(
            self.env_id,
            max_episode_steps=self.max_episode_steps,
            render_mode=render_mode,
            **{**self.env_kwargs, **overrides},
        )


FREE_FORM_TAG = "free-form"


def _no_fitness(state: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.zeros(len(state["action"]))


def no_fitness(description: str) -> Fitness:
    """The fitness of a task without a ground-truth measure: a constant 0 (rankings or an expression steer it)."""
    return Fitness(name="none", description=description, unit="ranking", step=_no_fitness, aggregate="mean")


def with_goal(spec: TaskSpec, goal: str) -> TaskSpec:
    """The task's env and state with a free-form goal in plain language and no ground-truth fitness.

    Such a run is steered by rankings alone (a person watches the policies):
    the fitness is a constant 0 and is never shown to the LLM. The id stays
    the base task's, so sandboxed children build the same env and state.
    """
    goal = goal.strip()
    if not goal:
        raise UsageError("the free-form goal is empty")
    return replace(
        spec,
        goal=goal if len(goal) <= 80 else goal[:77] + "...",
        description=f"{goal}\n\n(The robot and its environment: {spec.description})",
        fitness=no_fitness("no ground-truth measure: a person watches videos of the policies and ranks them"),
        tags=(*spec.tags, FREE_FORM_TAG),
    )
