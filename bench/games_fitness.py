"""Fitness of one reward at a fixed budget: a sandboxed training, then the trusted evaluation on fixed seeds.

Usage: .venv/bin/python bench/games_fitness.py TASK REWARD STEPS [--episodes 20] [--seed 0] [--backend auto]

``REWARD`` is a reward program's file (e.g. ``examples/doorkey_reward.py``), ``sparse`` (the task's fitness
step as the reward: 1 on the step of success), ``baseline`` (the env's own reward) or ``untrained`` (no training:
a freshly initialized SB3 policy, the floor; ``STEPS`` is ignored). Prints the training
status and rate, and the fitness over ``--episodes`` evaluation episodes (seeds 0..E-1). ``--backend auto``
trains where a run would (backend ``cpu``: the grid engine for grid tasks, the batched Crafter engine for
Crafter tasks); ``--backend sb3`` forces SB3. docs/games.md lists the figures it gave.
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


def untrained(task_id: str, episodes: int, seed: int) -> None:
    """The fitness of a freshly initialized SB3 policy (torch seed ``seed``): the floor a training must beat."""
    from safetensors.torch import save_file

    from eureka_kit.tasks.state_capture import make_env
    from eureka_kit.training.backends.sb3_config import build_policy, resolve_config
    from eureka_kit.training.weights import plain_state_dict

    spec = get_task(task_id)
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    env = make_env(spec)
    policy = build_policy(resolve_config(spec), env.observation_space, env.action_space)
    if resolve_config(spec).normalize_obs:
        raise SystemExit(f"{task_id} normalizes observations; 'untrained' supports tasks without normalization only")
    with tempfile.TemporaryDirectory() as tmp:
        save_file(plain_state_dict(policy), str(Path(tmp) / "policy.safetensors"))
        ev = evaluate_policy(spec, Path(tmp), episodes=episodes, seed=0)
    print(f"{task_id} untrained (torch seed {seed}): fitness {ev.fitness} over {episodes} episodes {ev.message}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("task")
    ap.add_argument("reward", help="a program file, 'sparse', 'baseline' or 'untrained' (sb3 only: no training)")
    ap.add_argument("steps", type=int)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="auto", help="auto, sb3 or cpu")
    args = ap.parse_args(argv)
    backend = resolve_backend(args.backend, get_task(args.task), "cpu")
    torch.set_num_threads(1)  # the evaluation's one-observation forward passes; threads only contend on 2 cores
    if args.reward == "untrained":
        untrained(args.task, args.episodes, args.seed)
        return
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
