"""Frames of a policy video as one grid image: what a vision-language model is shown of a candidate.

::

    from eureka_kit.preferences.frames import frame_grid
    grid = frame_grid(run_dir / "gen_000/cand_03/rollout.mp4", frames=6)
    if grid.status == "ok":
        Path("grid.png").write_bytes(grid.png)

``frames`` frames evenly spaced over the video (the first and the last
included) are tiled left to right, top to bottom, each labelled with its time
in seconds, and the grid is scaled down to at most ``max_side`` pixels on its
longest side and, if its PNG is still larger, until it fits ``max_bytes``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

GridStatus = Literal["ok", "no_video", "read_error"]

DEFAULT_FRAMES = 6
MAX_FRAMES = 16
MAX_SIDE = 768
"""Longest side of a grid image, pixels."""
MAX_IMAGE_BYTES = 1_000_000
"""Largest PNG of one grid image."""


@dataclass(frozen=True)
class FrameGrid:
    """Outcome of :func:`frame_grid`: ``png`` (``status == "ok"``) or ``message`` saying why there is none.

    ``times_s`` are the times of the tiles, in the video, in order; ``size`` is the image's (width, height).
    """

    status: GridStatus
    png: bytes = b""
    frames: int = 0
    size: tuple[int, int] = (0, 0)
    times_s: tuple[float, ...] = ()
    message: str = ""


def pick_indices(total: int, count: int) -> list[int]:
    """``count`` frame indices evenly spaced over ``total`` frames, first and last included (fewer if short)."""
    if total <= 0 or count <= 0:
        return []
    if count >= total:
        return list(range(total))
    if count == 1:
        return [total // 2]
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


def _read_frames(path: Path, count: int) -> tuple[list[np.ndarray], list[float]]:
    """The chosen frames of an mp4 (decoded by imageio-ffmpeg, one pass) and their times."""
    import imageio_ffmpeg

    total, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    wanted = pick_indices(total, count)
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    width, height = meta["size"]
    fps = float(meta.get("fps") or 1.0)
    frames, times = [], []
    keep = set(wanted)
    try:
        for index, raw in enumerate(reader):
            if index in keep:
                frames.append(np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3))
                times.append(index / fps)
            if index >= wanted[-1]:
                break
    finally:
        reader.close()
    return frames, times


def tile(frames: list[np.ndarray], times: list[float] | None = None) -> np.ndarray:
    """Frames (all one size) tiled into a near-square grid, left to right, top to bottom, optionally time-labelled."""
    from PIL import Image, ImageDraw

    height, width = frames[0].shape[:2]
    cols = math.ceil(math.sqrt(len(frames)))
    rows = math.ceil(len(frames) / cols)
    canvas = Image.new("RGB", (cols * width, rows * height), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, frame in enumerate(frames):
        x, y = (i % cols) * width, (i // cols) * height
        canvas.paste(Image.fromarray(np.ascontiguousarray(frame[:, :, :3])), (x, y))
        if times is not None:
            draw.rectangle((x, y, x + 58, y + 14), fill=(0, 0, 0))
            draw.text((x + 3, y + 2), f"t={times[i]:.1f}s", fill=(255, 255, 255))
    return np.asarray(canvas)


def encode_png(image: np.ndarray, *, max_side: int = MAX_SIDE, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """``image`` as a PNG no larger than ``max_side`` pixels a side and ``max_bytes`` bytes (scaled down to fit)."""
    from PIL import Image

    img = Image.fromarray(image)
    scale = min(1.0, max_side / max(img.size))
    while True:
        size = (max(1, int(img.width * scale)), max(1, int(img.height * scale)))
        out = img if size == img.size else img.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        out.save(buffer, format="PNG", optimize=True)
        data = buffer.getvalue()
        if len(data) <= max_bytes or max(size) <= 16:
            return data
        scale *= 0.75


def frame_grid(
    video: Path | None, *, frames: int = DEFAULT_FRAMES, max_side: int = MAX_SIDE, max_bytes: int = MAX_IMAGE_BYTES
) -> FrameGrid:
    """One grid PNG of ``frames`` frames of ``video`` (see the module docstring); never raises for a bad video."""
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames must be in [1, {MAX_FRAMES}], got {frames}")
    if video is None or not Path(video).is_file():
        return FrameGrid("no_video", message=f"no video at {video}")
    try:
        chosen, times = _read_frames(Path(video), frames)
    except (OSError, RuntimeError, ValueError, StopIteration, KeyError) as e:
        return FrameGrid("read_error", message=f"cannot read {video}: {type(e).__name__}: {e}")
    if not chosen:
        return FrameGrid("read_error", message=f"{video} has no frames")
    png = encode_png(tile(chosen, times), max_side=max_side, max_bytes=max_bytes)
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        size = img.size
    return FrameGrid("ok", png, len(chosen), (int(size[0]), int(size[1])), tuple(round(t, 3) for t in times))
