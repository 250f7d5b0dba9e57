"""Fitness of one reward at a fixed budget: a sandboxed training, then the trusted evaluation on fixed seeds.

Usage: .venv/bin/python bench/games_fitness.py TASK REWARD STEPS [--episodes 20] [--seed 0] [--backend auto]

``REWARD`` is a reward program's file (e.g. ``examples/doorkey_reward.py``), ``sparse`` (the task's fitness
step as the reward: 1 on the step of success) or ``baseline`` (the env's own reward). Prints the training
status and rate, and the fitness over ``--episodes`` evaluation episodes (seeds 0..E-1). ``--backend auto``
trains where a run would (the grid engine, backend ``cpu``, for grid tasks; SB3 for Crafter); ``--backend sb3``
forces SB3. docs/games.md lists the figures it gave.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from eureka_kit.evaluation.evaluator import evaluate_policy
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.registry import get_task
from eureka_kit.training.backends import resolve_backend
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import train_candidate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("task")
    ap.add_argument("reward", help="a program file, 'sparse' or 'baseline'")
    ap.add_argument("steps", type=int)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="auto", help="auto, sb3 or cpu")
    args = ap.parse_args(argv)
    backend = resolve_backend(args.backend, get_task(args.task), "cpu")
    torch.set_num_threads(1)  # the evaluation's one-observation forward passes; threads only contend on 2 cores
    kind = args.reward if args.reward in ("sparse", "baseline") else "program"
    path = None if kind != "program" else Path(args.reward).resolve()
    job = TrainJob(task_id=args.task, reward_kind=kind, reward_path=path, total_steps=args.steps, seed=args.seed)
    job = replace(job, backend=backend)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        result = train_candidate(job, Path(tmp), Limits(wall_s=4 * 3600, heartbeat_s=300))
        rate = result.env_steps_per_s or 0.0
        print(f"training ({backend}): {result.status} in {time.monotonic() - start:.0f} s ({rate:.0f} env-steps/s)")
        if result.status != "ok":
            raise SystemExit(result.message)
        ev = evaluate_policy(get_task(args.task), Path(tmp), episodes=args.episodes, job=job)
    print(
        f"{args.task} {args.reward} {args.steps} steps: fitness {ev.fitness} over {args.episodes} episodes {ev.message}"
    )


if __name__ == "__main__":
    main()
