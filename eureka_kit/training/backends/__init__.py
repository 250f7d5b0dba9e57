"""Training backends, registered by name: ``sb3`` (stable-baselines3 on gymnasium envs), and the batched engines.

::

    backend = get_backend("sb3")            # an unknown name lists the valid ones
    name = resolve_backend("auto", spec, device="cpu")
    name, device = resolve_training("auto", spec, device="auto")   # ("gpu", "cuda") where a GPU can train it

A backend is registered with an import path (``module:attribute``) and loaded
on first use, so importing this package imports no simulator or RL library.
Adding one is one class implementing :class:`~eureka_kit.training.backends.base.TrainingBackend`
and one :func:`register_backend` call.
"""

from __future__ import annotations

import importlib
from typing import Literal

from eureka_kit.registry import Registry
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.backends.base import Actor, SecureReward, TrainBudget, TrainingBackend
from eureka_kit.training.job import ConfigError

__all__ = [
    "AUTO_ORDER",
    "Actor",
    "SecureReward",
    "TrainBudget",
    "TrainingBackend",
    "backend_names",
    "get_backend",
    "register_backend",
    "resolve_backend",
    "resolve_training",
]

_PATHS: Registry[str] = Registry("training backend", error=ConfigError, more=", or auto")
"""Import paths of the backends, by name (loaded on first use)."""
_LOADED: dict[str, TrainingBackend] = {}

AUTO_ORDER: tuple[str, ...] = ("gpu", "cpu", "sb3")
"""What ``auto`` tries, in order: the first registered backend that can train the task on the device."""

BackendChoice = Literal["auto"] | str


def register_backend(name: str, target: str) -> None:
    """Register a backend by import path ``"package.module:attribute"`` (a class or instance; loaded lazily)."""
    _PATHS.register(name, target)


def backend_names() -> list[str]:
    return _PATHS.names()


def get_backend(name: str) -> TrainingBackend:
    """The backend registered as ``name``; :class:`ConfigError` listing the valid names otherwise."""
    path = _PATHS.get(name)
    if name not in _LOADED:
        module, _, attr = path.partition(":")
        obj = getattr(importlib.import_module(module), attr)
        _LOADED.setdefault(name, obj() if isinstance(obj, type) else obj)  # threads racing here share the first
    return _LOADED[name]


def resolve_backend(choice: BackendChoice, spec: TaskSpec, device: str = "cpu") -> str:
    """``auto`` -> the first of :data:`AUTO_ORDER` that can train ``spec`` on ``device``; a name -> itself, checked.

    Raises :class:`ConfigError` with the backend's reason when an explicitly
    named backend cannot train the task here.
    """
    if choice != "auto":
        reason = get_backend(choice).unavailable(spec, device)
        if reason is not None:
            raise ConfigError(f"training backend {choice!r} cannot train {spec.id}: {reason}")
        return choice
    reasons = []
    for name in AUTO_ORDER:
        if name not in _PATHS:
            continue
        reason = get_backend(name).unavailable(spec, device)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    raise ConfigError(f"no training backend can train {spec.id} on {device}: " + "; ".join(reasons))


register_backend("sb3", "eureka_kit.training.backends.sb3:SB3Backend")
register_backend("cpu", "eureka_kit.training.backends.batched:CpuBackend")
register_backend("gpu", "eureka_kit.training.backends.batched:GpuBackend")


def resolve_training(choice: BackendChoice, spec: TaskSpec, device: str = "auto") -> tuple[str, str]:
    """The backend and the torch device a run trains ``spec`` with.

    ``device="auto"``: ``cuda`` when the chosen (or, for ``auto``, the first
    usable) backend can train the task on CUDA here, else ``cpu``. So
    ``auto``/``auto`` is the GPU engine on a machine with CUDA and MuJoCo
    Warp, the CPU engine for MuJoCo tasks elsewhere, and SB3 for the rest.
    """
    if device != "auto":
        return resolve_backend(choice, spec, device), device
    try:
        return resolve_backend(choice, spec, "cuda"), "cuda"
    except ConfigError:
        return resolve_backend(choice, spec, "cpu"), "cpu"
