"""Policy videos: real offscreen rendering, real H.264 files, checked by decoding them with ffmpeg."""

from __future__ import annotations

import dataclasses
import os
import struct
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from eureka_kit.preferences.video import GL_BACKENDS, VideoResult, ensure_gl_backend, record_video
from eureka_kit.tasks.registry import get_task


def _boxes(data: bytes) -> list[bytes]:
    """Names of the top-level ISO-BMFF (mp4) boxes."""
    names, pos = [], 0
    while pos + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        names.append(name)
        if size < 8:
            break
        pos += size
    return names


def _assert_browser_mp4(result: VideoResult, frames: int, size: tuple[int, int]) -> None:
    assert result.status == "ok", result.message
    data = result.path.read_bytes()
    boxes = _boxes(data)
    assert boxes[0] == b"ftyp" and b"moov" in boxes and b"mdat" in boxes
    assert boxes.index(b"moov") < boxes.index(b"mdat"), "faststart: the index comes first so browsers can stream"
    assert b"avc1" in data  # H.264 sample entry
    reader = imageio_ffmpeg.read_frames(str(result.path))
    meta = next(reader)
    decoded = sum(1 for _ in reader)
    assert meta["codec"] == "h264"
    assert meta["pix_fmt"].startswith("yuv420p")
    assert meta["size"] == size == (result.width, result.height)
    assert decoded == frames == result.frames
    assert result.seconds == pytest.approx(frames / result.fps)
    assert not [p for p in result.path.parent.iterdir() if p.name.endswith(".tmp.mp4")]


def test_gl_backend_is_chosen_and_set() -> None:
    backend = ensure_gl_backend()
    assert os.environ["MUJOCO_GL"] == backend
    if backend in GL_BACKENDS:
        assert os.environ["PYOPENGL_PLATFORM"] == backend
    assert ensure_gl_backend() == backend  # cached


def test_halfcheetah_video(tmp_path: Path) -> None:
    spec = get_task("HalfCheetah-Run-v1")
    rng = np.random.default_rng(0)
    seen = []

    def act(obs: np.ndarray) -> np.ndarray:
        seen.append(obs.shape)
        return rng.uniform(-1, 1, size=6)

    result = record_video(
        spec, act, tmp_path / "gen_000/cand_00/rollout.mp4", seed=3, max_steps=12, width=161, height=120
    )
    assert result.backend in GL_BACKENDS or result.backend == os.environ.get("MUJOCO_GL")
    assert seen == [(17,)] * 12
    _assert_browser_mp4(result, frames=13, size=(160, 120))
    assert result.fps == 20.0  # HalfCheetah's render_fps: real time


def test_mountaincar_video_stops_at_episode_end(tmp_path: Path) -> None:
    spec = get_task("MountainCar-Flag-v1")
    result = record_video(spec, lambda obs: np.zeros(1), tmp_path / "car.mp4", seed=0, max_steps=8, fps=10)
    _assert_browser_mp4(result, frames=9, size=(result.width, result.height))
    assert result.fps == 10.0
    assert result.width % 2 == 0 and result.height % 2 == 0

    # An always-on engine from the right slope reaches the flag early: the video stops with the episode.
    def push(obs: np.ndarray) -> np.ndarray:
        return np.array([1.0 if obs[1] >= 0 else -1.0])

    result = record_video(spec, push, tmp_path / "flag.mp4", seed=0, max_steps=999, width=64, height=48)
    assert result.status == "ok", result.message
    assert 2 < result.frames < 999
    _assert_browser_mp4(result, frames=result.frames, size=(result.width, result.height))


def test_policy_errors_propagate_and_leave_no_file(tmp_path: Path) -> None:
    spec = get_task("MountainCar-Flag-v1")

    def broken(obs: np.ndarray) -> np.ndarray:
        raise ZeroDivisionError("policy bug")

    with pytest.raises(ZeroDivisionError, match="policy bug"):
        record_video(spec, broken, tmp_path / "x.mp4", seed=0, max_steps=5)
    assert list(tmp_path.iterdir()) == []


def test_render_error_is_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def bad_draw(env: object, width: int, height: int) -> np.ndarray:
        return np.zeros((4,), dtype=np.uint8)

    spec = dataclasses.replace(get_task("MountainCar-Flag-v1"), draw_frame=bad_draw)  # the task's own drawer
    monkeypatch.setattr(type(spec.make_env().unwrapped), "render", _raise_missing_pygame)
    result = record_video(spec, lambda obs: np.zeros(1), tmp_path / "bad.mp4", seed=0, max_steps=3)
    assert result.status == "render_error"
    assert "frame 0" in result.message and "shape" in result.message
    assert not (tmp_path / "bad.mp4").exists()
    assert list(tmp_path.iterdir()) == []


def _raise_missing_pygame(self: object) -> None:
    from gymnasium.error import DependencyNotInstalled

    raise DependencyNotInstalled("pygame is not installed")


def test_videos_draw_a_plain_scene() -> None:
    """Shadows, reflections and the skybox (most of a software-GL frame's cost) are off in video frames."""
    import mujoco

    from eureka_kit.preferences.video import PLAIN_SCENE_OFF, _make_render_env, _plain_scene

    ensure_gl_backend()
    env = _make_render_env(get_task("HalfCheetah-Run-v1"), 64, 48)
    env.reset(seed=0)
    env.render()
    _plain_scene(env)
    frame = env.render()
    flags = env.unwrapped.mujoco_renderer.viewer.scn.flags
    assert all(flags[getattr(mujoco.mjtRndFlag, f)] == 0 for f in PLAIN_SCENE_OFF)
    assert frame.shape == (48, 64, 3) and frame.std() > 0  # still a picture, not a blank frame
    env.close()
