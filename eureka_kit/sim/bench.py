"""Throughput of the batched engines against raw physics, for ``bench/`` and a quick look.

:func:`raw_physics_rate` steps a bare ``mujoco.batch.Batch`` of the task's
model (controls written, nothing read): the ceiling. :func:`engine_rate` runs
the CPU engine's full :meth:`~eureka_kit.sim.cpu.CpuBatchedEnv.step`
(actions in, observations, state variables, env reward, terminations and
auto-resets out as torch tensors), optionally with a reward function called
on the batched state. :func:`compare` measures both in one run (the machine is
noisy: read the ratios)::

    python -m eureka_kit.sim.bench TASK [NUM_ENVS] [SECONDS]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from eureka_kit.sim.physics import get_physics


@dataclass(frozen=True)
class Throughput:
    """One measurement: env steps (each ``frame_skip`` physics steps) per second of wall time."""

    label: str
    task_id: str
    num_envs: int
    threads: int
    env_steps_per_s: float


def _timed(step: Callable[[], None], num_envs: int, seconds: float) -> float:
    step()  # warm up (allocations, first call)
    n = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        step()
        n += 1
    return n * num_envs / elapsed


def raw_physics_rate(task_id: str, num_envs: int = 64, threads: int = 1, seconds: float = 2.0) -> float:
    """Env steps/s of a bare ``Batch`` of the task's model: random controls, ``step(nstep=frame_skip)``."""
    from mujoco import batch as mjbatch

    physics = get_physics(task_id)
    model = physics.model()
    batch = mjbatch.Batch(model, num_envs, threads)
    batch.reset()
    ctrl = batch.bind("ctrl")
    ctrl[:] = np.random.default_rng(0).uniform(-1.0, 1.0, ctrl.shape) * 0.1

    def step() -> None:
        batch.step(nstep=physics.frame_skip)

    return _timed(step, num_envs, seconds)


def engine_rate(
    task_id: str,
    num_envs: int = 64,
    threads: int = 1,
    seconds: float = 2.0,
    reward: Callable[[Mapping[str, Any]], Any] | None = None,
) -> float:
    """Env steps/s of the CPU engine's full step (random actions), plus ``reward(state)`` when given."""
    from eureka_kit.sim.cpu import CpuBatchedEnv

    env = CpuBatchedEnv(task_id, num_envs, threads=threads, seed=0)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        action = torch.rand(num_envs, env.action_size, generator=gen) * 2.0 - 1.0
        out = env.step(action)
        if reward is not None:
            reward(out.state)

    try:
        return _timed(step, num_envs, seconds)
    finally:
        env.close()


def compare(
    task_id: str, num_envs: int = 64, threads: Sequence[int] = (1, 2), seconds: float = 2.0
) -> list[Throughput]:
    """Raw ``Batch`` physics vs the CPU engine's full step (with the task's env reward as the reward program)."""
    from eureka_kit.tasks.registry import get_task

    human_reward = get_task(task_id).baseline_reward
    rows: list[Throughput] = []
    for n in threads:
        raw = raw_physics_rate(task_id, num_envs, n, seconds)
        rows.append(Throughput("raw Batch physics", task_id, num_envs, n, raw))
        rows.append(Throughput("engine step", task_id, num_envs, n, engine_rate(task_id, num_envs, n, seconds)))
        rows.append(
            Throughput(
                "engine step + reward program",
                task_id,
                num_envs,
                n,
                engine_rate(task_id, num_envs, n, seconds, reward=human_reward),
            )
        )
    return rows


def format_table(rows: Sequence[Throughput]) -> str:
    """A plain-text table; each engine row also shows its share of the raw rate at the same thread count."""
    raw = {r.threads: r.env_steps_per_s for r in rows if r.label == "raw Batch physics"}
    lines = [f"{'what':<30} {'task':<20} {'envs':>5} {'threads':>7} {'env-steps/s':>12} {'of raw':>7}"]
    for r in rows:
        share = r.env_steps_per_s / raw[r.threads] if raw.get(r.threads) else float("nan")
        lines.append(
            f"{r.label:<30} {r.task_id:<20} {r.num_envs:>5} {r.threads:>7} {r.env_steps_per_s:>12,.0f} {share:>7.0%}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.exit("usage: python -m eureka_kit.sim.bench TASK [NUM_ENVS] [SECONDS]  (a task with batched physics)")
    task_id = args[0]
    num_envs = int(args[1]) if len(args) > 1 else 64
    seconds = float(args[2]) if len(args) > 2 else 2.0
    print(format_table(compare(task_id, num_envs, seconds=seconds)))


if __name__ == "__main__":
    main()
