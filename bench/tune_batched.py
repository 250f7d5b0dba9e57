"""Time to an evaluation return for one candidate on the ``cpu`` backend, with PPO settings overridden.

The experiment behind the tasks' ``batched`` rows (set where each task registers in ``envs/``): the training
row of ``bench/engine_throughput.py`` (rsl-rl PPO on the CPU engine, the env's own reward, one core, the
deterministic policy evaluated on 5 episodes every ``--eval-every`` env-steps with the clock paused), with the
task's defaults changed by ``--set`` and one line of JSON per seed.

Usage:
  .venv/bin/python bench/tune_batched.py --task HalfCheetah-Run-v1 --seeds 0 1 2 --set num_mini_batches=2
  .venv/bin/python bench/tune_batched.py --task Hopper-Hop-v1 --set init_std=0.5 --set actor_hidden_dims=[128,128]

Values of ``--set`` are JSON (``0.03``, ``[128,128]``, ``"fixed"``); ``num_envs`` sets the env count. Compare
settings by env-steps to the target (``reached_steps``) over several seeds; seconds only from runs made alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import engine_throughput as bench


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["key=json", ...]`` as a dict (a value that is not JSON is taken as a string)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes key=value, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--task", default="HalfCheetah-Run-v1")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a default (repeatable)")
    ap.add_argument("--target", type=float, default=3000.0, help="evaluation return to reach")
    ap.add_argument("--cap-s", type=float, default=150.0, help="training seconds per seed at most")
    ap.add_argument("--raw-s", type=float, default=3.0, help="seconds of the raw-physics measurement (the x_raw base)")
    ap.add_argument("--eval-every", type=int, default=51_200, help="env-steps between evaluations")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    settings = parse_set(args.set)
    overrides = {k: v for k, v in settings.items() if k != "num_envs"}
    raw = bench.raw_physics(args.task, 64, 1, args.raw_s)
    for seed in args.seeds:
        clock = bench.Clock(args.cap_s, args.target, args.eval_every, bench.Evaluator(args.task, 5, None))
        bench.train_cpu_engine(args.task, clock, seed, overrides, settings.get("num_envs"))
        rate = clock.steps / max(clock.train_s, 1e-9)
        result = {
            "task": args.task,
            "set": settings,
            "seed": seed,
            "reached_steps": clock.reached_steps,
            "reached_s": None if clock.reached_s is None else round(clock.reached_s, 1),
            "best": round(clock.best, 1),
            "steps": clock.steps,
            "env_steps_per_s": round(rate),
            "x_raw": round(rate / raw, 3),
        }
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
