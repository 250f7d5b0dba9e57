"""Policy weights as plain tensors: saved by the training child, loaded and checked by trusted code.

Only ``safetensors`` files are accepted (never a pickle, an SB3 zip or a
``torch.save`` archive): :func:`load_tensors` refuses anything else with a
clear reason, :func:`check_state_dict` requires the keys, shapes and dtypes of
the network that trusted code built itself. :class:`ObsNorm` is the stored
observation normalization (``obs_norm.safetensors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from eureka_kit.files import atomic_path

MAX_WEIGHTS_BYTES = 512 * 1024 * 1024


class WeightsError(ValueError):
    """Weights or normalization files are unusable; the message says why."""


def _read_safetensors_bytes(path: Path) -> bytes:
    """The file's bytes, after refusing (with a clear reason) anything but a plain safetensors file."""
    try:
        size = path.stat().st_size
        if size > MAX_WEIGHTS_BYTES:
            raise WeightsError(f"{path.name} is {size} bytes; more than the {MAX_WEIGHTS_BYTES} allowed")
        with open(path, "rb") as f:
            raw = f.read(MAX_WEIGHTS_BYTES + 1)
    except OSError as e:
        raise WeightsError(f"{path.name} cannot be read: {e}") from None
    if raw[:1] == b"\x80" or raw[:2] == b"PK":
        raise WeightsError(
            f"{path.name} looks like a pickle or a torch.save/zip archive, not a safetensors file; "
            "only plain safetensors tensors are accepted"
        )
    if len(raw) < 10:
        raise WeightsError(f"{path.name} is not a safetensors file (too short)")
    n = int.from_bytes(raw[:8], "little")
    if not 2 <= n <= len(raw) - 8 or raw[8:9] != b"{":
        raise WeightsError(f"{path.name} is not a safetensors file (bad header)")
    return raw


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a plain safetensors file, read into memory (no mmap, no code executed); raises WeightsError."""
    from safetensors.torch import load

    raw = _read_safetensors_bytes(path)
    try:
        return load(raw)
    except Exception as e:  # SafetensorError and friends: the file is malformed
        raise WeightsError(f"{path.name} is not a valid safetensors file: {e}") from None


def check_state_dict(loaded: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> None:
    """Keys, shapes and dtypes must match the network exactly, and every value must be finite."""
    missing = sorted(set(expected) - set(loaded))
    unexpected = sorted(set(loaded) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"the weights do not match the policy network: missing {missing[:8]}, unexpected {unexpected[:8]}"
        )
    for k, want in expected.items():
        got = loaded[k]
        if tuple(got.shape) != tuple(want.shape) or got.dtype != want.dtype:
            raise WeightsError(
                f"weight {k!r} has shape {tuple(got.shape)} {got.dtype}; the network needs {tuple(want.shape)} "
                f"{want.dtype}"
            )
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise WeightsError(f"weight {k!r} contains non-finite values")


@dataclass(frozen=True)
class ObsNorm:
    """Observation normalization of VecNormalize: ``clip((obs - mean) / sqrt(var + epsilon), ±clip_obs)``."""

    mean: np.ndarray
    var: np.ndarray
    clip_obs: float
    epsilon: float

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        out = np.clip((obs - self.mean) / np.sqrt(self.var + self.epsilon), -self.clip_obs, self.clip_obs)
        return out.astype(np.float32)


def load_obs_norm(path: Path, obs_shape: tuple[int, ...]) -> ObsNorm:
    """Read and validate ``obs_norm.safetensors`` for observations of ``obs_shape``."""
    t = load_tensors(path)
    need = {"mean", "var", "clip_obs", "epsilon"}
    if not need <= set(t):
        raise WeightsError(f"{path.name} lacks {sorted(need - set(t))}")
    mean = t["mean"].to(torch.float64).numpy()
    var = t["var"].to(torch.float64).numpy()
    if mean.shape != obs_shape or var.shape != obs_shape:
        raise WeightsError(f"{path.name}: mean/var have shapes {mean.shape}/{var.shape}; observations are {obs_shape}")
    if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all()):
        raise WeightsError(f"{path.name}: mean/var must be finite and var >= 0")
    if t["clip_obs"].numel() != 1 or t["epsilon"].numel() != 1:
        raise WeightsError(f"{path.name}: clip_obs and epsilon must be single numbers")
    clip, eps = float(t["clip_obs"].reshape(-1)[0]), float(t["epsilon"].reshape(-1)[0])
    if not (0 < clip <= 1e6 and 0 < eps <= 1.0):
        raise WeightsError(f"{path.name}: clip_obs {clip} or epsilon {eps} out of range")
    return ObsNorm(mean=mean, var=var, clip_obs=clip, epsilon=eps)


def plain_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict as contiguous CPU tensors, ready for :func:`save_tensors`."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def save_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> None:
    """Write plain tensors as a safetensors file, atomically."""
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file(dict(tensors), str(tmp))


def save_obs_norm(path: Path, mean: np.ndarray, var: np.ndarray, count: float, clip_obs: float, epsilon: float) -> None:
    """Write ``obs_norm.safetensors`` (read back by :func:`load_obs_norm`)."""
    save_tensors(
        path,
        {
            "mean": torch.as_tensor(np.asarray(mean, dtype=np.float64)),
            "var": torch.as_tensor(np.asarray(var, dtype=np.float64)),
            "count": torch.tensor([float(count)], dtype=torch.float64),
            "clip_obs": torch.tensor([float(clip_obs)], dtype=torch.float64),
            "epsilon": torch.tensor([float(epsilon)], dtype=torch.float64),
        },
    )
