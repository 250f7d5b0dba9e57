"""Policy videos: roll a policy out in a task's env and write a browser-playable H.264 mp4.

::

    from eureka_kit.preferences.video import record_video
    result = record_video(spec, act, run_dir / "gen_000/cand_03/rollout.mp4", seed=0, max_steps=300)
    if result.status != "ok":
        print(result.message)

MuJoCo renders offscreen through an OpenGL backend chosen by the
``MUJOCO_GL`` environment variable. :func:`ensure_gl_backend` picks one that
works on this machine (EGL first: GPU or Mesa; then OSMesa: pure software),
probing each in a short child process, because PyOpenGL binds one platform per
process at its first import and a broken driver may crash the process that
tries it. A value the user set in ``MUJOCO_GL`` is kept as it is.

Classic-control envs draw with pygame; where pygame is not installed,
MountainCarContinuous is drawn by a small built-in NumPy renderer instead
(backend ``"numpy"``), so its videos work without it.

The file is written atomically (temporary file, then rename): a crash leaves
no half-written video.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from eureka_kit.files import atomic_path
from eureka_kit.tasks.kinds import get_kind
from eureka_kit.tasks.mujoco_warnings import route_mujoco_warnings
from eureka_kit.tasks.spec import TaskSpec

VideoStatus = Literal["ok", "render_error"]

GL_BACKENDS: tuple[str, ...] = ("egl", "osmesa")
"""Offscreen OpenGL backends tried by :func:`ensure_gl_backend`, in order."""

_PROBE_TIMEOUT_S = 60.0
_PROBE = """
import mujoco
m = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='.1'/></worldbody></mujoco>")
d = mujoco.MjData(m)
mujoco.mj_forward(m, d)
r = mujoco.Renderer(m, 16, 16)
r.update_scene(d)
px = r.render()
assert px.shape == (16, 16, 3), px.shape
r.close()
print("ok")
"""


class RenderError(RuntimeError):
    """No offscreen OpenGL backend works here; the message lists what was tried and how to fix it."""


@dataclass(frozen=True)
class VideoResult:
    """Outcome of :func:`record_video`.

    ``frames`` counts the frames written: the first one after ``reset`` plus
    one per step, so an episode of ``n`` steps gives ``n + 1`` frames.
    ``backend`` is how frames were drawn (``"egl"``, ``"osmesa"``, ``"pygame"``,
    ``"numpy"``) or ``None`` when nothing was drawn. ``seconds`` is the
    video's length (``frames / fps``), ``wall_s`` the time recording took.
    On ``"render_error"``,
    ``path`` is where the video would have been and no file exists there.
    """

    status: VideoStatus
    path: Path
    frames: int
    seconds: float
    backend: str | None
    message: str
    width: int = 0
    height: int = 0
    fps: float = 0.0
    wall_s: float = 0.0


_chosen_backend: str | None = None

_RENDER_LOCK = threading.RLock()
"""One video at a time in the process: the GL backend is chosen once (``os.environ``), and each video's GL
context is created, made current, used and freed in the thread that records it, never while another exists."""


def _probe(backend: str) -> str | None:
    """Try rendering with ``backend`` in a child process; ``None`` if it works, else the reason."""
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{type(e).__name__}: {e}"
    if proc.returncode == 0 and proc.stdout.strip().endswith("ok"):
        return None
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1][:300] if lines else f"exit code {proc.returncode}"


def ensure_gl_backend() -> str:
    """Choose and set ``MUJOCO_GL`` (and ``PYOPENGL_PLATFORM``) for offscreen MuJoCo rendering; return its name.

    Keeps a ``MUJOCO_GL`` the user set. Otherwise, if PyOpenGL is already
    imported with a platform, uses that one (it cannot change within a
    process); else probes :data:`GL_BACKENDS` in order in child processes and
    takes the first that renders. The choice is cached for the process.
    Raises :class:`RenderError` when none works.
    """
    with _RENDER_LOCK:
        return _ensure_gl_backend()


def _ensure_gl_backend() -> str:
    global _chosen_backend
    if _chosen_backend is not None and os.environ.get("MUJOCO_GL") == _chosen_backend:
        return _chosen_backend
    preset = os.environ.get("MUJOCO_GL")
    if preset:
        if preset in GL_BACKENDS:
            os.environ.setdefault("PYOPENGL_PLATFORM", preset)
        _chosen_backend = preset
        return preset
    platform = os.environ.get("PYOPENGL_PLATFORM")
    if "OpenGL" in sys.modules and platform in GL_BACKENDS:
        os.environ["MUJOCO_GL"] = platform
        _chosen_backend = platform
        return platform
    tried = []
    for backend in GL_BACKENDS:
        reason = _probe(backend)
        if reason is None:
            os.environ["MUJOCO_GL"] = backend
            os.environ["PYOPENGL_PLATFORM"] = backend
            _chosen_backend = backend
            return backend
        tried.append(f"{backend}: {reason}")
    raise RenderError(
        "no offscreen OpenGL backend works for MuJoCo rendering ("
        + "; ".join(tried)
        + "). Install the Debian packages libegl1 and libgl1-mesa-dri (EGL) or libosmesa6 (OSMesa), "
        "e.g. with scripts/setup_system.sh, or set MUJOCO_GL yourself."
    )


def _accepts_size(env_id: str) -> bool:
    """Whether the env's constructor takes ``width``/``height`` (gymnasium's MuJoCo envs do)."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    try:
        entry = gym.spec(env_id).entry_point
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
    except Exception:
        return False
    if not isinstance(creator, type):
        return False
    try:
        from gymnasium.envs.mujoco import MujocoEnv

        if issubclass(creator, MujocoEnv):
            return True
    except ImportError:
        pass
    params = inspect.signature(creator.__init__).parameters
    return "width" in params and "height" in params


def _make_render_env(spec: TaskSpec, width: int, height: int) -> Any:
    """``spec.make_env(render_mode="rgb_array")``, with the frame size when the env takes one."""
    size = {"width": width, "height": height} if _accepts_size(spec.env_id) else {}
    if not size:
        return spec.make_env(render_mode="rgb_array")
    params = inspect.signature(spec.make_env).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return spec.make_env(render_mode="rgb_array", **size)
    import gymnasium as gym

    # TaskSpec.make_env takes no overrides: the same call as make_env, plus the frame size.
    kwargs: dict[str, Any] = {**dict(spec.env_kwargs), **size}
    route_mujoco_warnings()
    return gym.make(spec.env_id, max_episode_steps=spec.max_episode_steps, render_mode="rgb_array", **kwargs)


PLAIN_SCENE_OFF: tuple[str, ...] = ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX")
"""MuJoCo render flags turned off for videos: with software GL (llvmpipe, osmesa) they cost ~95% of a frame
(measured on the 2-core machine, HalfCheetah at 320x240: 197 ms -> 11 ms per frame); the robot and the floor
grid stay, so gaits are as easy to judge."""


def _plain_scene(env: Any) -> None:
    """Turn off shadows, reflections and the skybox of a gymnasium MuJoCo env's offscreen viewer (if it has one)."""
    import mujoco

    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    viewer = getattr(renderer, "viewer", None)
    scene = getattr(viewer, "scn", None)
    if scene is None:
        return
    for flag in PLAIN_SCENE_OFF:
        scene.flags[getattr(mujoco.mjtRndFlag, flag)] = 0


# ------------------------------------------------------------------------------------------ recording


class _FrameError(Exception):
    """Drawing frame ``index`` failed (not an error of the policy)."""

    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(index, cause)
        self.index = index
        self.cause = f"{type(cause).__name__}: {cause}"


def _even(frame: np.ndarray) -> np.ndarray:
    """Crop a frame to even width and height (yuv420p needs both even)."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def _frames(
    env: Any, act: Callable[[np.ndarray], np.ndarray], seed: int, max_steps: int, draw: Callable[[], Any]
) -> Iterator[np.ndarray]:
    """Frames of one episode: after reset, then after every step. Errors of ``act`` propagate as they are."""
    count = 0

    def frame() -> np.ndarray:
        try:
            return _as_rgb(draw())
        except Exception as e:
            raise _FrameError(count, e) from e

    obs, _ = env.reset(seed=seed)
    yield frame()
    for count in range(1, max_steps + 1):  # noqa: B007  (read by frame())
        action = np.asarray(act(np.asarray(obs)))
        obs, _, terminated, truncated, _ = env.step(action)
        yield frame()
        if terminated or truncated:
            return


def _as_rgb(frame: Any) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"render() returned an array of shape {arr.shape}, expected (height, width, 3)")
    return np.ascontiguousarray(_even(arr[:, :, :3]).astype(np.uint8, copy=False))


def record_video(
    spec: TaskSpec,
    act: Callable[[np.ndarray], np.ndarray],
    out_path: Path,
    *,
    seed: int,
    max_steps: int = 300,
    width: int = 320,
    height: int = 240,
    fps: int | None = None,
) -> VideoResult:
    """Roll out ``act`` for one episode (at most ``max_steps`` steps) and write it as an H.264 mp4.

    ``act`` maps one observation to one action (e.g. the trusted evaluator's
    deterministic policy). ``width``/``height`` are rounded down to even
    numbers; envs that draw at a fixed size (classic control's pygame) keep
    theirs. ``fps`` defaults to the env's ``render_fps`` (real time).
    Rendering failures return ``status="render_error"`` with a message and
    leave no file; errors raised by ``act`` propagate (they are the caller's).
    Safe to call from several threads: the videos are recorded one at a time.
    """
    out_path = Path(out_path)
    width, height = width - width % 2, height - height % 2
    if width < 2 or height < 2 or max_steps < 0:
        raise ValueError(f"need width, height >= 2 and max_steps >= 0, got {width}x{height}, {max_steps}")
    with _RENDER_LOCK:
        return _record_video(spec, act, out_path, seed, max_steps, width, height, fps)


def _record_video(
    spec: TaskSpec,
    act: Callable[[np.ndarray], np.ndarray],
    out_path: Path,
    seed: int,
    max_steps: int,
    width: int,
    height: int,
    fps: int | None,
) -> VideoResult:
    """:func:`record_video` with its arguments checked, under the render lock."""
    started = time.monotonic()

    def failed(message: str, backend: str | None = None) -> VideoResult:
        return VideoResult("render_error", out_path, 0, 0.0, backend, message, wall_s=time.monotonic() - started)

    backend: str | None = None
    if get_kind(spec.kind).renderer == "mujoco":
        try:
            backend = ensure_gl_backend()
        except RenderError as e:
            return failed(str(e))
    try:
        env = _make_render_env(spec, width, height)
    except Exception as e:
        return failed(f"could not build {spec.env_id} for rendering: {type(e).__name__}: {e}", backend)
    try:
        draw: Callable[[], Any] = env.render
        try:
            env.reset(seed=seed)
            env.render()
            if get_kind(spec.kind).renderer == "mujoco":
                _plain_scene(env)
        except Exception as e:
            from gymnasium.error import DependencyNotInstalled

            drawer = spec.draw_frame
            if not isinstance(e, DependencyNotInstalled) or drawer is None:
                return failed(f"{spec.env_id}: render() failed: {type(e).__name__}: {e}", backend)
            backend = "numpy"
            draw = lambda: drawer(env, width, height)  # noqa: E731
        if backend is None:
            backend = "pygame" if "classic_control" in type(env.unwrapped).__module__ else "env"
        rate = float(fps if fps is not None else env.metadata.get("render_fps") or 30)
        try:
            n, size = _write_mp4(out_path, _frames(env, act, seed, max_steps, draw), rate)
        except _FrameError as e:
            return failed(f"{spec.env_id}: rendering failed at frame {e.index}: {e.cause}", backend)
        except OSError as e:
            return failed(f"could not write {out_path}: {e}", backend)
    finally:
        env.close()
    return VideoResult(
        "ok",
        out_path,
        n,
        n / rate,
        backend,
        f"{n} frames, {size[0]}x{size[1]} at {rate:g} fps ({n / rate:.1f} s), drawn with {backend}",
        width=size[0],
        height=size[1],
        fps=rate,
        wall_s=time.monotonic() - started,
    )


def _write_mp4(path: Path, frames: Iterator[np.ndarray], fps: float) -> tuple[int, tuple[int, int]]:
    """Encode frames (uint8 RGB, all one even size) as H.264/yuv420p mp4, atomically; returns (count, (w, h))."""
    import imageio_ffmpeg

    count = 0
    size = (0, 0)
    writer = None
    with atomic_path(path) as tmp:  # renamed onto path only when every frame was written
        try:
            for frame in frames:
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])
                    writer = imageio_ffmpeg.write_frames(
                        str(tmp),
                        size,
                        fps=fps,
                        codec="libx264",
                        pix_fmt_in="rgb24",
                        pix_fmt_out="yuv420p",
                        quality=None,
                        macro_block_size=1,
                        ffmpeg_log_level="error",
                        # "-f mp4": the temporary file's name does not end in .mp4
                        output_params=["-preset", "veryfast", "-crf", "26", "-movflags", "+faststart", "-f", "mp4"],
                    )
                    writer.send(None)
                if (frame.shape[1], frame.shape[0]) != size:
                    raise _FrameError(count, ValueError(f"frame size changed from {size} to {frame.shape[1::-1]}"))
                writer.send(frame)
                count += 1
            if writer is None:
                raise _FrameError(0, ValueError("no frames"))
            writer.close()
            writer = None
        finally:
            if writer is not None:
                writer.close()
    return count, size
