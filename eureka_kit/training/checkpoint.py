"""Resumable training checkpoints, written and read by the sandboxed training child only.

A checkpoint is a folder inside the candidate's folder (the child's working
folder), e.g. ``checkpoints/rung_0/``:

- ``state.safetensors``: every tensor of the training state (networks,
  optimizer moments, observation statistics, torch's random state), plain tensors;
- ``state.json``: the rest of the state's structure (nesting, numbers, strings)
  with references to those tensors, bounded in size;
- ``stats.json``: the reflection statistics so far, so the resumed child's
  ``stats.json`` covers the whole training, not only its last part;
- ``sb3_model.zip`` / ``vecnormalize.pkl`` for the ``sb3`` backend (SB3's own format).

The trusted process never reads a checkpoint: it only names its folder in the
next :class:`~eureka_kit.training.job.TrainJob` (``resume_from``); the child
that resumes is as untrusted as the one that wrote it. Nothing here is pickled
(the SB3 files are, and only a sandboxed child loads them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from eureka_kit.files import atomic_write_bytes, read_bounded_json

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"
STATS_COPY = "stats.json"
FORMAT_VERSION = 1
MAX_STATE_JSON_BYTES = 2_000_000


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or from another backend or format; the message names the file."""


def _encode(x: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(x, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = x.detach().to("cpu").contiguous().clone()
        return {"tensor": key}
    if isinstance(x, Mapping):
        return {"dict": [[k, _encode(v, tensors)] for k, v in x.items()]}
    if isinstance(x, (list, tuple)):
        return {"list": [_encode(v, tensors) for v in x], "tuple": isinstance(x, tuple)}
    if x is None or isinstance(x, (bool, int, float, str)):
        return {"value": x}
    raise TypeError(f"cannot checkpoint a {type(x).__name__}")


def _decode(node: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if not isinstance(node, dict) or len(node) == 0:
        raise CheckpointError(f"{STATE_JSON}: unexpected node {str(node)[:80]!r}")
    if "tensor" in node:
        key = node["tensor"]
        if key not in tensors:
            raise CheckpointError(f"{STATE_JSON} names tensor {key!r}, missing from {STATE_TENSORS}")
        return tensors[key]
    if "dict" in node:
        return {k: _decode(v, tensors) for k, v in node["dict"]}
    if "list" in node:
        items = [_decode(v, tensors) for v in node["list"]]
        return tuple(items) if node.get("tuple") else items
    if "value" in node:
        return node["value"]
    raise CheckpointError(f"{STATE_JSON}: unexpected node keys {sorted(node)[:5]}")


def save_state(folder: Path, backend: str, steps: int, state: Mapping[str, Any]) -> None:
    """Write ``state`` (nested dicts/lists of tensors and plain values) after ``steps`` env-steps into ``folder``."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(dict(state), tensors)
    atomic_write_bytes(folder / STATE_TENSORS, save(tensors))
    meta = {"format": FORMAT_VERSION, "backend": backend, "steps": int(steps), "state": skeleton}
    atomic_write_bytes(folder / STATE_JSON, json.dumps(meta).encode())


def load_state(folder: Path, backend: str) -> tuple[int, dict[str, Any]]:
    """``(steps, state)`` written by :func:`save_state` with the same ``backend``; raises :class:`CheckpointError`."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / STATE_JSON).is_file() or not (folder / STATE_TENSORS).is_file():
        raise CheckpointError(f"no checkpoint in {folder} ({STATE_JSON} and {STATE_TENSORS} expected)")
    try:
        meta = read_bounded_json(folder / STATE_JSON, MAX_STATE_JSON_BYTES)
        tensors = load_file(str(folder / STATE_TENSORS))
    except Exception as e:  # any damage is one typed error
        raise CheckpointError(f"unreadable checkpoint in {folder}: {type(e).__name__}: {e}") from None
    if meta.get("format") != FORMAT_VERSION or meta.get("backend") != backend:
        raise CheckpointError(
            f"checkpoint in {folder} is format {meta.get('format')!r} of backend {meta.get('backend')!r}; "
            f"this child reads format {FORMAT_VERSION} of backend {backend!r}"
        )
    state = _decode(meta.get("state"), tensors)
    if not isinstance(state, dict):
        raise CheckpointError(f"{STATE_JSON} in {folder} does not hold a state mapping")
    return int(meta["steps"]), state
