"""Build the batched env of a task on the engine a device names.

``device``:

* ``"cpu"``: the CPU engine (:class:`~eureka_kit.sim.cpu.CpuBatchedEnv`, ``mujoco.batch`` on ``threads`` threads);
* ``"cuda"`` / ``"cuda:K"``: the GPU engine (:class:`~eureka_kit.sim.warp.WarpBatchedEnv`, MuJoCo Warp);
* ``"warp-cpu"``: the GPU engine's code on Warp's CPU device (slow; parity checks without a GPU);
* ``"auto"``: ``cuda`` when torch sees a CUDA device and ``mujoco_warp`` imports, else ``cpu``.
"""

from __future__ import annotations

from typing import Any

import torch

from eureka_kit.errors import UsageError
from eureka_kit.sim.base import BatchedEnv
from eureka_kit.sim.physics import TaskPhysics, get_physics
from eureka_kit.tasks.engine import BatchedEngine

DEVICES = ("auto", "cpu", "cuda", "cuda:K", "warp-cpu")


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` or ``cpu`` (see the module docstring); other valid names are returned as they are."""
    from eureka_kit.sim.warp import warp_available

    if device == "auto":
        return "cuda" if torch.cuda.is_available() and warp_available() else "cpu"
    if device in ("cpu", "cuda", "warp-cpu") or (device.startswith("cuda:") and device[5:].isdigit()):
        return device
    raise ValueError(f"unknown engine device {device!r}; valid: {', '.join(DEVICES)}")


def make_batched_env(
    task_id: str, num_envs: int, device: str = "cpu", threads: int = 1, seed: int = 0, **options: Any
) -> BatchedEnv:
    """``num_envs`` envs of ``task_id`` on the engine ``device`` names, reset with ``seed``.

    Raises :class:`~eureka_kit.sim.physics.NoBatchedPhysicsError` (naming the
    tasks that have one) when the task has no batched physics definition.
    ``threads`` is the CPU engine's thread count; ``options`` go to the
    engine's constructor (e.g. ``max_episode_steps``; on the CPU engine ``randomization`` and ``physics``,
    domain randomization, which the GPU engine does not run yet: a :class:`~eureka_kit.errors.UsageError` there).
    """
    get_physics(task_id)
    resolved = resolve_device(device)
    if resolved == "cpu":
        from eureka_kit.sim.cpu import CpuBatchedEnv

        return CpuBatchedEnv(task_id, num_envs, threads=threads, seed=seed, **options)
    from eureka_kit.sim.warp import WarpBatchedEnv

    if options.get("randomization") is not None or options.get("physics"):
        raise UsageError(f"domain randomization runs on the CPU engine only (device cpu), not on {resolved}")

    torch_device = "cpu" if resolved == "warp-cpu" else resolved
    return WarpBatchedEnv(task_id, num_envs, device=torch_device, seed=seed, **options)


def mujoco_engine(physics: TaskPhysics) -> BatchedEngine:
    """The batched MuJoCo engines of a task (its registration's ``engine``): ``mujoco.batch`` on CPU threads, MuJoCo
    Warp on a CUDA device; the trusted evaluator runs evaluation episodes on the CPU engine."""

    def make_env(spec: Any, num_envs: int, device: str, seed: int, threads: int) -> Any:
        return make_batched_env(spec.id, num_envs, device=device, threads=threads, seed=seed)

    return BatchedEngine(
        "mujoco",
        make_env,
        devices=("cpu", "cuda"),
        cpu_requires=("mujoco.batch",),
        cuda_requires=("warp", "mujoco_warp"),
        install_hint="mujoco.batch needs mujoco >= 4.0; the CUDA engine: pip install 'eureka-kit[gpu]'",
        definition=physics,
        batched_eval=True,
    )
