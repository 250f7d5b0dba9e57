"""Tasks for a bare MuJoCo model (``mjcf:<path>``, ``eureka-kit run --mjcf robot.xml``).

A model file becomes a small gymnasium env (:class:`MjcfEnv`, registered as
``eureka_kit/MJCF-v0``):

- action: one value per actuator, within the actuator's ``ctrlrange`` (gymnasium's MuJoCo convention);
- observation: ``qpos`` and ``qvel`` concatenated, ``(nq + nv,)``;
- an episode lasts ``episode_steps`` env steps (default 1000) of ``frame_skip`` physics steps each (default 5)
  and ends only at that limit: a bare model says nothing about falling, so nothing terminates it early;
- reset: the model's initial pose plus small noise (uniform +-0.01 on ``qpos``, normal 0.01 on ``qvel``);
- no reward of its own (``env_reward`` is 0).

The state variables are derived from the model exactly as for ``gym:`` tasks
(:func:`eureka_kit.tasks.derived.model_state`). The task id carries all of it:
``mjcf:/abs/robot.xml`` or ``mjcf:/abs/robot.mjb?episode_steps=500&frame_skip=4``.

Sandboxed children rebuild the task from its id, so they must read the model:
a run compiles the model (with its includes, meshes and textures) into one
self-contained MuJoCo binary ``<run>/model/<name>.mjb`` (:func:`localize`) and
its task id points there; the strict sandbox binds that one file read-only
(:func:`eureka_kit.tasks.model_files.exposed`), nothing else of the user's
folders. The user's XML is copied beside it for reading.
"""

from __future__ import annotations

import functools
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np

from eureka_kit.errors import UserError
from eureka_kit.tasks.derived import env_reward, model_state
from eureka_kit.tasks.model_files import expose
from eureka_kit.tasks.spec import FREE_FORM_TAG, TaskSpec, TrainDefaults, no_fitness

PREFIX = "mjcf:"
"""Task ids of bare-model tasks: ``mjcf:`` + an absolute model path (``.xml`` or ``.mjb``)."""
ENV_ID = "eureka_kit/MJCF-v0"
DEFAULT_EPISODE_STEPS = 1000
DEFAULT_FRAME_SKIP = 5
RESET_NOISE = 0.01
OPTIONS = ("episode_steps", "frame_skip")
MODEL_SUFFIXES = (".xml", ".mjb")


class MjcfModelError(UserError, ValueError):
    """The model file is missing, does not compile, or cannot be driven (no actuators)."""


@dataclass(frozen=True)
class MjcfRef:
    """What a ``mjcf:`` task id says: the model file and the episode settings."""

    path: Path
    episode_steps: int = DEFAULT_EPISODE_STEPS
    frame_skip: int = DEFAULT_FRAME_SKIP

    def __post_init__(self) -> None:
        for name in OPTIONS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MjcfModelError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.path.suffix.lower() not in MODEL_SUFFIXES:
            raise MjcfModelError(f"{self.path}: a MuJoCo model is an MJCF .xml file (or a compiled .mjb)")

    @property
    def task_id(self) -> str:
        """The canonical id: the absolute path, then the options that differ from the defaults."""
        options = {
            name: getattr(self, name)
            for name, default in zip(OPTIONS, (DEFAULT_EPISODE_STEPS, DEFAULT_FRAME_SKIP), strict=True)
            if getattr(self, name) != default
        }
        return f"{PREFIX}{self.path}" + (f"?{urlencode(options)}" if options else "")


def is_mjcf(task_id: str) -> bool:
    return task_id.startswith(PREFIX)


def mjcf_task_id(
    path: str | Path, episode_steps: int = DEFAULT_EPISODE_STEPS, frame_skip: int = DEFAULT_FRAME_SKIP
) -> str:
    """The task id of the model at ``path`` (made absolute: children run in other folders)."""
    return MjcfRef(Path(path).absolute(), episode_steps, frame_skip).task_id


def parse_task_id(task_id: str) -> MjcfRef:
    """``mjcf:<path>[?episode_steps=N&frame_skip=K]`` -> :class:`MjcfRef`; errors name the valid options."""
    if not is_mjcf(task_id):
        raise MjcfModelError(f"{task_id!r} is not a model task id (mjcf:<path>)")
    body = task_id[len(PREFIX) :]
    path, _, query = body.partition("?")
    if not path:
        raise MjcfModelError("give a model path after 'mjcf:', e.g. mjcf:/home/me/robot.xml")
    values: dict[str, int] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in OPTIONS:
            raise MjcfModelError(f"{task_id!r}: unknown option {key!r}; valid: {', '.join(OPTIONS)}")
        if not re.fullmatch(r"[0-9]+", value):
            raise MjcfModelError(f"{task_id!r}: {key} must be a whole number, got {value!r}")
        values[key] = int(value)
    return MjcfRef(Path(path), **values)


def run_label(task_id: str) -> str:
    """A run-folder-safe name of a task id (``mjcf:/a/b/robot.xml`` -> ``mjcf-robot``); other ids unchanged."""
    return f"mjcf-{parse_task_id(task_id).path.stem}" if is_mjcf(task_id) else task_id


def load_model(path: Path) -> Any:
    """The compiled ``MjModel`` of an MJCF file or an ``.mjb``; :class:`MjcfModelError` says why not."""
    import mujoco

    if not path.is_file():
        raise MjcfModelError(f"model file {path} does not exist")
    try:
        if path.suffix.lower() == ".mjb":
            return mujoco.MjModel.from_binary_path(str(path))
        return mujoco.MjModel.from_xml_path(str(path))
    except ValueError as e:
        raise MjcfModelError(f"{path}: MuJoCo cannot compile the model: {e}") from None


def localize(task_id: str, folder: Path) -> str:
    """Compile the model of ``task_id`` into ``folder/<name>.mjb`` (one self-contained file) and copy the source
    beside it; returns the task id of the copy (same options)."""
    import mujoco

    ref = parse_task_id(task_id)
    model = load_model(ref.path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder.resolve() / f"{ref.path.stem}.mjb"
    if ref.path.resolve() != target:
        if ref.path.suffix.lower() == ".xml":
            shutil.copyfile(ref.path, folder / ref.path.name)
        tmp = target.with_suffix(".mjb.tmp")
        mujoco.mj_saveModel(model, str(tmp), None)
        tmp.replace(target)
    return MjcfRef(target, ref.episode_steps, ref.frame_skip).task_id


def _make_env_class() -> type:
    from gymnasium import spaces
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

    class MjcfEnv(MujocoEnv):  # type: ignore[misc]
        """A bare MuJoCo model as a gymnasium env (see the module docstring)."""

        metadata = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"]}  # noqa: RUF012

        def __init__(
            self,
            model_path: str,
            frame_skip: int = DEFAULT_FRAME_SKIP,
            reset_noise_scale: float = RESET_NOISE,
            render_mode: str | None = None,
            width: int = 480,
            height: int = 480,
        ) -> None:
            import mujoco

            self._reset_noise_scale = reset_noise_scale
            camera = {"type": mujoco.mjtCamera.mjCAMERA_TRACKING, "trackbodyid": 1, "distance": 4.0, "elevation": -20.0}
            super().__init__(
                model_path,
                frame_skip,
                observation_space=None,
                render_mode=render_mode,
                width=width,
                height=height,
                default_camera_config=camera,
            )
            self.metadata = {**self.metadata, "render_fps": int(np.round(1.0 / self.dt))}
            size = self.model.nq + self.model.nv
            self.observation_space = spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float64)

        def _initialize_simulation(self) -> tuple[Any, Any]:
            import mujoco

            model = load_model(Path(self.fullpath))
            model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
            model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
            return model, mujoco.MjData(model)

        def _get_obs(self) -> np.ndarray:
            return np.concatenate([self.data.qpos.ravel(), self.data.qvel.ravel()])

        def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:  # type: ignore[override]
            self.do_simulation(action, self.frame_skip)
            if self.render_mode == "human":
                self.render()
            return self._get_obs(), 0.0, False, False, {}

        def reset_model(self) -> np.ndarray:
            s = self._reset_noise_scale
            qpos = self.init_qpos + self.np_random.uniform(-s, s, self.model.nq)
            qvel = self.init_qvel + s * self.np_random.standard_normal(self.model.nv)
            self.set_state(qpos, qvel)
            return self._get_obs()

    return MjcfEnv


@functools.cache
def env_class() -> type:
    """The env class, registered with gymnasium as :data:`ENV_ID` on first use (in parents and children alike)."""
    import gymnasium as gym

    cls = _make_env_class()
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=_create_env)
    return cls


def _create_env(**kwargs: Any) -> Any:
    return env_class()(**kwargs)


@functools.cache
def derive_mjcf_task(task_id: str) -> TaskSpec:
    """The task ``mjcf:<path>``: :class:`MjcfEnv` over the model, state derived from it, no ground-truth fitness."""
    ref = parse_task_id(task_id)
    model = load_model(ref.path)
    if model.nu == 0:
        raise MjcfModelError(f"{ref.path}: the model has no actuators, so there is nothing for a policy to drive")
    if ref.path.suffix.lower() == ".mjb":
        expose(ref.path)  # self-contained: this one file is all a sandboxed child needs to rebuild the task
    env_class()
    state, extract = model_state(model, int(model.nu))
    actuators = ", ".join(model.actuator(i).name or f"#{i}" for i in range(model.nu))
    dt = float(model.opt.timestep) * ref.frame_skip
    name = model.names[: model.names.index(b"\0")].decode() or ref.path.stem
    return TaskSpec(
        id=ref.task_id,
        env_id=ENV_ID,
        goal=f"a goal for the model {name}",
        description=(
            f"A robot from the MuJoCo model {name!r}: {model.nu} actuators ({actuators}), each action value within "
            f"its control range. Episodes last {ref.episode_steps} steps of {dt:g} s ({ref.episode_steps * dt:g} s) "
            "and end only at that limit (nothing detects a fall). Its state variables are derived from the model: "
            "joints, bodies, sites and the root body, in world-frame SI units; the model has no reward of its own."
        ),
        state=state,
        extract=extract,
        fitness=no_fitness("no ground-truth measure: give one with --fitness EXPR, or rank the policies with --human"),
        baseline_reward=env_reward,
        train=TrainDefaults(algo="PPO", total_steps=1_000_000, n_envs=1, normalize_obs=True),
        env_kwargs={"model_path": str(ref.path), "frame_skip": ref.frame_skip, "reset_noise_scale": RESET_NOISE},
        max_episode_steps=ref.episode_steps,
        tags=("derived", "mjcf", FREE_FORM_TAG),
    )
