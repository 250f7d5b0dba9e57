"""Task files: a user's task in TOML (``run --task-file mytask.toml``, ``tasks --validate mytask.toml``).

::

    # mytask.toml
    env = "Ant-v5"                 # any gymnasium MuJoCo env (state derived from its model) ...
    # task = "Ant-Run-v1"          # ... or a registered task to start from (its richer state and defaults)
    # mjcf = "robot.xml"           # ... or a bare MuJoCo model, relative to this file (episode_steps = 1000,
    #                              #     frame_skip = 5 may follow it)
    goal = "walk backwards keeping the torso level"
    fitness = "mean(-root_lin_vel_x * (root_up_z > 0.9))"   # or leave it out and rank with --human

    [train]                        # optional: the run's training budget
    steps = 1_000_000
    n_envs = 4
    backend = "sb3"

Every field is checked and every error is reported at once, by field name
(:class:`TaskFileError`). A task file becomes run settings (task id, goal,
fitness expression, budget): the sandboxed children rebuild the same task from
those, so a task file needs no code and nothing to install.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eureka_kit.errors import UserError
from eureka_kit.files import read_bounded_text

MAX_TASK_FILE_BYTES = 100_000
TOP_FIELDS = ("env", "task", "mjcf", "episode_steps", "frame_skip", "goal", "fitness", "train")
TRAIN_FIELDS = ("steps", "n_envs", "backend")


class TaskFileError(UserError, ValueError):
    """A task file with errors; ``errors`` has one line per field."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"{path}: {len(errors)} error(s)\n" + "\n".join(f"  - {e}" for e in errors))


@dataclass(frozen=True)
class TaskFile:
    """What a valid task file says, as run settings."""

    path: Path
    task_id: str
    goal: str | None
    fitness: str | None
    steps: int | None = None
    n_envs: int | None = None
    backend: str | None = None

    @property
    def needs_a_person(self) -> bool:
        """No fitness: the task's own is replaced by the goal, or it has none (``env``): a run needs ``--human``."""
        return self.fitness is None and (self.goal is not None or self.task_id.startswith(("gym:", "mjcf:")))

    def config_values(self) -> dict[str, Any]:
        """The :class:`~eureka_kit.config.RunConfig` fields this file sets."""
        values: dict[str, Any] = {"task": self.task_id, "goal": self.goal, "fitness": self.fitness}
        for name in ("steps", "n_envs", "backend"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        return values


def load_task_file(path: Path) -> TaskFile:
    """Read and check ``path``; :class:`TaskFileError` lists every error by field."""
    path = Path(path)
    try:
        data = tomllib.loads(read_bounded_text(path, MAX_TASK_FILE_BYTES))
    except tomllib.TOMLDecodeError as e:
        raise TaskFileError(path, [f"not valid TOML: {e}"]) from None
    errors: list[str] = []
    for key in data:
        if key not in TOP_FIELDS:
            errors.append(f"{key}: unknown field; the fields are {', '.join(TOP_FIELDS)}")
    task_id = _task_id(data, path, errors)
    goal = _text(data, "goal", errors)
    fitness = _text(data, "fitness", errors)
    train = data.get("train", {})
    steps = n_envs = backend = None
    if not isinstance(train, Mapping):
        errors.append("train: must be a table ([train] with steps, n_envs, backend)")
    else:
        for key in train:
            if key not in TRAIN_FIELDS:
                errors.append(f"train.{key}: unknown field; the fields are {', '.join(TRAIN_FIELDS)}")
        steps = _positive_int(train, "steps", errors)
        n_envs = _positive_int(train, "n_envs", errors)
        backend = _backend(train, errors)
    if task_id is not None and not errors:
        _check_task(task_id, fitness, errors)
    if errors:
        raise TaskFileError(path, errors)
    assert task_id is not None
    return TaskFile(path, task_id, goal, fitness, steps, n_envs, backend)


def _task_id(data: Mapping[str, Any], path: Path, errors: list[str]) -> str | None:
    given = [k for k in ("env", "task", "mjcf") if data.get(k) is not None]
    episode = {k: data[k] for k in ("episode_steps", "frame_skip") if data.get(k) is not None}
    if episode and given != ["mjcf"]:
        errors.append(f"{', '.join(episode)}: set up an mjcf model only (other tasks have their own episodes)")
    if len(given) != 1:
        errors.append(
            "env / task / mjcf: give exactly one: env (a gymnasium MuJoCo env id), task (a registered task id) or "
            "mjcf (a MuJoCo model file, relative to the task file)"
        )
        return None
    key = given[0]
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{key}: must be a non-empty string, got {value!r}")
        return None
    if key == "env":
        return f"gym:{value.strip()}"
    if key == "task":
        return value.strip()
    from eureka_kit.tasks.mjcf import MjcfModelError, mjcf_task_id

    bad = [k for k, v in episode.items() if isinstance(v, bool) or not isinstance(v, int) or v < 1]
    for k in bad:
        errors.append(f"{k}: must be a whole number >= 1, got {episode[k]!r}")
    if bad:
        return None
    try:
        return mjcf_task_id(path.parent / value.strip(), **episode)
    except MjcfModelError as e:
        errors.append(f"mjcf: {e}")
        return None


def _text(data: Mapping[str, Any], key: str, errors: list[str]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{key}: must be a non-empty string, got {value!r}")
        return None
    return value.strip()


def _positive_int(data: Mapping[str, Any], key: str, errors: list[str]) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errors.append(f"train.{key}: must be a whole number >= 1, got {value!r}")
        return None
    return value


def _backend(data: Mapping[str, Any], errors: list[str]) -> str | None:
    from eureka_kit.training.backends import backend_names

    value = data.get("backend")
    if value is None:
        return None
    valid = ["auto", *backend_names()]
    if value not in valid:
        errors.append(f"train.backend: {value!r} is not a training backend; valid: {', '.join(valid)}")
        return None
    return str(value)


def _check_task(task_id: str, fitness: str | None, errors: list[str]) -> None:
    """The task exists (for ``env``: gymnasium builds it and it runs on MuJoCo) and the expression fits its state."""
    from eureka_kit.tasks.fitness_expr import FitnessExprError, parse_fitness
    from eureka_kit.tasks.registry import UnknownTaskError, get_task

    field = "env" if task_id.startswith("gym:") else "mjcf" if task_id.startswith("mjcf:") else "task"
    try:
        spec = get_task(task_id)
    except (UnknownTaskError, ValueError) as e:
        errors.append(f"{field}: {e}")
        return
    if fitness is not None:
        try:
            parse_fitness(fitness, spec)
        except FitnessExprError as e:
            errors.append(f"fitness: {e}")
