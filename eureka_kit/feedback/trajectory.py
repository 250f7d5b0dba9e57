"""Evaluation trajectories: the per-step record shared by the evaluator, the analyzer and the trajectory check.

A :class:`Trajectory` is one episode of a policy: the task's named state at
every step (``action`` included, as :class:`eureka_kit.tasks.state_capture.StateCapture`
reports it, stacked over time to ``(T, *shape)``), the task's per-step fitness
value, the env's own reward, how the episode ended, its fitness and its seed.

Files are compressed ``.npz`` archives written and read with
``allow_pickle=False`` (plain numeric arrays only). Their size is bounded:
at most :data:`MAX_TRAJECTORIES` trajectories of at most
:data:`MAX_STEPS_PER_TRAJECTORY` steps each. A longer trajectory is cut to its
first ``MAX_STEPS_PER_TRAJECTORY`` steps when saved (:meth:`Trajectory.clip`);
the cut one is marked ``truncated`` (not ``terminated``: its end was not
seen) and keeps the fitness of the whole episode. Every shipped task ends
episodes after at most 1000 steps, so nothing is cut in practice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from eureka_kit.files import atomic_path
from eureka_kit.tasks.spec import TaskSpec

MAX_STEPS_PER_TRAJECTORY = 1000
"""Steps kept per trajectory in a file (longer ones are cut, see the module docstring)."""

MAX_TRAJECTORIES = 256
"""Trajectories per file."""

MAX_FILE_BYTES = 64 * 1024 * 1024
"""A trajectory file larger than this is refused when read."""

FORMAT_VERSION = 1

Policy = Callable[[Any], Any]
"""``act(observation) -> action``: any policy callable (deterministic or not)."""


class TrajectoryFormatError(ValueError):
    """A trajectory file or record is malformed; the message says what is wrong."""


def _frozen_array(x: Any) -> np.ndarray:
    a = np.array(x, dtype=np.float64)  # a private copy
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One evaluation episode, step by step. ``T`` (:attr:`length`) is its number of steps, at least 1.

    ``states[name]`` has shape ``(T, *shape)`` for every state variable of the
    task (``action`` included); ``fitness_steps`` is ``spec.fitness.step`` at
    every step, ``env_rewards`` the env's own reward, both ``(T,)``;
    ``fitness`` is the episode's fitness (``spec.fitness.episode_value`` of
    the whole episode). Arrays are read-only float64 copies.
    """

    states: Mapping[str, np.ndarray]
    fitness_steps: np.ndarray
    env_rewards: np.ndarray
    terminated: bool
    truncated: bool
    fitness: float
    seed: int

    def __post_init__(self) -> None:
        if not self.states:
            raise TrajectoryFormatError("a trajectory needs at least one state variable")
        states = {str(k): _frozen_array(v) for k, v in self.states.items()}
        lengths = {k: (v.shape[0] if v.ndim else -1) for k, v in states.items()}
        t = next(iter(lengths.values()))
        if t < 1 or any(n != t for n in lengths.values()):
            raise TrajectoryFormatError(
                f"every state variable needs the same number of steps (>= 1) as leading dimension; got {lengths}"
            )
        fit = _frozen_array(self.fitness_steps)
        rew = _frozen_array(self.env_rewards)
        if fit.shape != (t,) or rew.shape != (t,):
            raise TrajectoryFormatError(
                f"fitness_steps and env_rewards must have shape ({t},); got {fit.shape} and {rew.shape}"
            )
        object.__setattr__(self, "states", MappingProxyType(states))
        object.__setattr__(self, "fitness_steps", fit)
        object.__setattr__(self, "env_rewards", rew)
        object.__setattr__(self, "terminated", bool(self.terminated))
        object.__setattr__(self, "truncated", bool(self.truncated))
        object.__setattr__(self, "fitness", float(self.fitness))
        object.__setattr__(self, "seed", int(self.seed))

    @property
    def length(self) -> int:
        """Number of steps ``T``."""
        return int(self.fitness_steps.shape[0])

    def batch(self) -> dict[str, np.ndarray]:
        """The states as one batched state with ``N = T`` (writable copies), e.g. for ``state.to_torch``."""
        return {k: np.array(v) for k, v in self.states.items()}

    def clip(self, max_steps: int = MAX_STEPS_PER_TRAJECTORY) -> Trajectory:
        """The first ``max_steps`` steps; a cut trajectory is marked truncated and keeps the episode's fitness."""
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if self.length <= max_steps:
            return self
        return Trajectory(
            states={k: v[:max_steps] for k, v in self.states.items()},
            fitness_steps=self.fitness_steps[:max_steps],
            env_rewards=self.env_rewards[:max_steps],
            terminated=False,
            truncated=True,
            fitness=self.fitness,
            seed=self.seed,
        )


def from_states(
    spec: TaskSpec,
    states: Mapping[str, np.ndarray],
    *,
    seed: int,
    terminated: bool,
    truncated: bool,
    env_rewards: np.ndarray | None = None,
    fitness: float | None = None,
) -> Trajectory:
    """A trajectory from stacked per-step states (e.g. the evaluator's rollouts).

    ``fitness_steps`` and (unless given) ``fitness`` are computed with the
    task's fitness; without ``env_rewards`` the env's reward is recomputed
    with ``spec.baseline_reward`` (which reproduces it from the state).
    """
    batch = {k: np.asarray(v, dtype=np.float64) for k, v in states.items()}
    missing = sorted(set(spec.state_names) - set(batch))
    if missing:
        raise TrajectoryFormatError(f"states lack variable(s) {missing} of task {spec.id}")
    t = len(batch["action"])
    steps = np.asarray(spec.fitness.step(batch), dtype=np.float64).reshape(t)
    rewards = np.asarray(spec.baseline_reward(batch) if env_rewards is None else env_rewards, dtype=np.float64)
    return Trajectory(
        states=batch,
        fitness_steps=steps,
        env_rewards=rewards.reshape(t),
        terminated=terminated,
        truncated=truncated,
        fitness=spec.fitness.episode_value(steps) if fitness is None else fitness,
        seed=seed,
    )


class RolloutLike(Protocol):
    """What :func:`from_rollout` reads (``eureka_kit.evaluation.evaluator.Rollout`` has it)."""

    @property
    def seed(self) -> int: ...
    @property
    def states(self) -> Mapping[str, np.ndarray]: ...
    @property
    def env_rewards(self) -> np.ndarray: ...
    @property
    def terminated(self) -> bool: ...
    @property
    def truncated(self) -> bool: ...


def from_rollout(spec: TaskSpec, rollout: RolloutLike, fitness: float | None = None) -> Trajectory:
    """A trajectory from one of the evaluator's saved rollouts.

    Pass the episode's trusted ``fitness`` (``EpisodeResult.fitness``) when the
    rollout may have been cut (its ``cut`` flag): a cut rollout is marked
    truncated, not terminated, since its end was not saved.
    """
    cut = bool(getattr(rollout, "cut", False))
    return from_states(
        spec,
        rollout.states,
        seed=rollout.seed,
        terminated=rollout.terminated and not cut,
        truncated=rollout.truncated or cut,
        env_rewards=rollout.env_rewards,
        fitness=fitness,
    )


def collect_trajectory(spec: TaskSpec, act: Policy, seed: int, max_steps: int | None = None) -> Trajectory:
    """Run one episode of ``act`` on a fresh env of the task (reset with ``seed``) and record every step.

    The episode ends when the env terminates or truncates (its time limit is
    ``spec.max_episode_steps``) or after ``max_steps`` steps (then it is
    marked truncated). The terminal step is recorded like any other.
    """
    from eureka_kit.tasks.state_capture import STATE_KEY, make_env, stack_states

    limit = spec.max_episode_steps if max_steps is None else max_steps
    if limit < 1:
        raise ValueError(f"max_steps must be >= 1, got {limit}")
    env = make_env(spec)
    try:
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        states: list[dict[str, np.ndarray]] = []
        rewards: list[float] = []
        terminated = truncated = False
        for _ in range(limit):
            obs, reward, terminated, truncated, info = env.step(act(obs))
            states.append(info[STATE_KEY])
            rewards.append(float(reward))
            if terminated or truncated:
                break
        else:
            truncated = True
    finally:
        env.close()
    return from_states(
        spec,
        stack_states(states),
        seed=seed,
        terminated=bool(terminated),
        truncated=bool(truncated) and not terminated,
        env_rewards=np.asarray(rewards),
    )


# ----- files ------------------------------------------------------------------------------------------


def save_trajectories(path: Path | str, trajectories: Sequence[Trajectory]) -> None:
    """Write trajectories to a compressed ``.npz`` (atomic: write, then rename). See the module docstring for bounds."""
    if len(trajectories) > MAX_TRAJECTORIES:
        raise ValueError(f"at most {MAX_TRAJECTORIES} trajectories per file, got {len(trajectories)}")
    arrays: dict[str, np.ndarray] = {"format_version": np.array(FORMAT_VERSION), "count": np.array(len(trajectories))}
    for i, original in enumerate(trajectories):
        tr = original.clip(MAX_STEPS_PER_TRAJECTORY)
        p = f"t{i:03d}/"
        names = sorted(tr.states)
        arrays[p + "names"] = np.array(names, dtype=np.str_)
        for j, name in enumerate(names):
            arrays[f"{p}state{j:02d}"] = np.asarray(tr.states[name])
        arrays[p + "fitness_steps"] = np.asarray(tr.fitness_steps)
        arrays[p + "env_rewards"] = np.asarray(tr.env_rewards)
        arrays[p + "meta"] = np.array([tr.terminated, tr.truncated, tr.fitness, tr.seed], dtype=np.float64)
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a name
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def load_trajectories(path: Path | str) -> list[Trajectory]:
    """Read a file written by :func:`save_trajectories`; raises :class:`TrajectoryFormatError` if malformed."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise TrajectoryFormatError(f"{path.name} is {size} bytes; at most {MAX_FILE_BYTES} are read")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)

            def get(key: str) -> np.ndarray:
                if key not in files:
                    raise TrajectoryFormatError(f"{path.name} lacks the array {key!r}")
                return np.asarray(z[key])

            if int(get("format_version")) != FORMAT_VERSION:
                raise TrajectoryFormatError(f"{path.name} has format version {int(get('format_version'))}")
            count = int(get("count"))
            if not 0 <= count <= MAX_TRAJECTORIES:
                raise TrajectoryFormatError(f"{path.name} declares {count} trajectories (at most {MAX_TRAJECTORIES})")
            out: list[Trajectory] = []
            for i in range(count):
                p = f"t{i:03d}/"
                names = get(p + "names")
                if names.dtype.kind != "U" or names.ndim != 1:
                    raise TrajectoryFormatError(f"{path.name}: {p}names must be a 1-D array of strings")
                states = {str(n): _numeric(get(f"{p}state{j:02d}"), path.name) for j, n in enumerate(names)}
                meta = _numeric(get(p + "meta"), path.name)
                if meta.shape != (4,):
                    raise TrajectoryFormatError(f"{path.name}: {p}meta must have 4 values")
                tr = Trajectory(
                    states=states,
                    fitness_steps=_numeric(get(p + "fitness_steps"), path.name),
                    env_rewards=_numeric(get(p + "env_rewards"), path.name),
                    terminated=bool(meta[0]),
                    truncated=bool(meta[1]),
                    fitness=float(meta[2]),
                    seed=int(meta[3]),
                )
                if tr.length > MAX_STEPS_PER_TRAJECTORY:
                    raise TrajectoryFormatError(f"{path.name}: trajectory {i} has more than {MAX_STEPS_PER_TRAJECTORY}")
                out.append(tr)
            return out
    except (OSError, ValueError, KeyError) as e:
        if isinstance(e, TrajectoryFormatError):
            raise
        raise TrajectoryFormatError(f"{path.name} is not a readable trajectory file: {e}") from None


def _numeric(a: np.ndarray, filename: str) -> np.ndarray:
    if a.dtype.kind not in "fiub":
        raise TrajectoryFormatError(f"{filename}: arrays must be numeric, got dtype {a.dtype}")
    return a.astype(np.float64)
