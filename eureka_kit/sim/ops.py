"""The few array operations the task physics needs, for numpy arrays and torch tensors alike.

A task's physics functions (:mod:`eureka_kit.sim.physics`) run on numpy views
of ``mujoco.batch`` (CPU engine, gymnasium path) and on torch tensors of
MuJoCo Warp's buffers (GPU engine). Indexing, arithmetic and comparisons are
spelled the same in both libraries; the functions here cover what is not.
Each returns an array of the library it was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import torch

Array: TypeAlias = Any
"""A numpy array or a torch tensor (the physics functions accept either)."""


def _is_torch(x: Array) -> bool:
    return isinstance(x, torch.Tensor)


def concat(parts: Sequence[Array]) -> Array:
    """Concatenate along the last axis."""
    if _is_torch(parts[0]):
        return torch.cat(list(parts), dim=-1)
    return np.concatenate(parts, axis=-1)


def flat(x: Array) -> Array:
    """(N, ...) -> (N, prod(...)), a view where the layout allows it."""
    return x.reshape(x.shape[0], -1)


def clip(x: Array, low: float, high: float) -> Array:
    """Elementwise clip to [low, high]."""
    if _is_torch(x):
        return torch.clamp(x, low, high)
    return np.clip(x, low, high)


def minimum(x: Array, high: float) -> Array:
    """Elementwise min with a scalar."""
    if _is_torch(x):
        return torch.clamp(x, max=high)
    return np.minimum(x, high)


def sum_sq(x: Array) -> Array:
    """Sum of squares over every non-batch axis: (N, ...) -> (N,)."""
    sq = x * x
    return sq.reshape(sq.shape[0], -1).sum(-1)


def norm(x: Array) -> Array:
    """Euclidean norm over the last axis."""
    if _is_torch(x):
        return torch.linalg.vector_norm(x, dim=-1)
    return np.linalg.norm(x, axis=-1)


def all_last(x: Array) -> Array:
    """Logical all over the last axis."""
    if _is_torch(x):
        return torch.all(x, dim=-1)
    return np.all(x, axis=-1)


def isfinite(x: Array) -> Array:
    """Elementwise finiteness."""
    if _is_torch(x):
        return torch.isfinite(x)
    return np.isfinite(x)


def as_float(x: Array, like: Array) -> Array:
    """A boolean array as 0.0/1.0 in ``like``'s float dtype."""
    if _is_torch(x):
        return x.to(like.dtype)
    return x.astype(like.dtype)


def like(value: np.ndarray, ref: Array) -> Array:
    """A numpy constant in ``ref``'s library (and, for torch, its device and dtype)."""
    if _is_torch(ref):  # a copy: torch cannot share a read-only array (the cached task constants are)
        return torch.tensor(value, dtype=ref.dtype, device=ref.device)
    return value
