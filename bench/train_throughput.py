"""Env-steps/s of one candidate's sandboxed training: reward program vs the env's own reward, same machine.

Usage: .venv/bin/python bench/train_throughput.py [--task HalfCheetah-Run-v1] [--steps 20000]

Both runs go through the same sandboxed child (`eureka_kit.training.runner.train_candidate`) with the task's
default algorithm and hyperparameters; the only difference is the reward: the batched reward program
through the VecEnv wrapper, or the env's own reward (no wrapper). Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from eureka_kit.sandbox.runner import Limits
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import train_candidate

PROGRAM = Path(__file__).resolve().parent.parent / "examples" / "halfcheetah_reward.py"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="HalfCheetah-Run-v1")
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--program", type=Path, default=PROGRAM)
    args = ap.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("baseline", "program"):
            job = TrainJob(
                task_id=args.task,
                reward_kind=kind,  # type: ignore[arg-type]
                reward_path=args.program if kind == "program" else None,
                total_steps=args.steps,
            )
            result = train_candidate(job, Path(tmp) / kind, Limits(wall_s=1800))
            if result.status != "ok" or result.env_steps_per_s is None:
                raise SystemExit(f"{kind}: {result.status}: {result.message}")
            rates[kind] = result.env_steps_per_s
            print(f"{kind:>9}: {result.env_steps_per_s:8.0f} env-steps/s  ({result.wall_s:.1f} s wall incl. start-up)")
    print(f"ratio program/baseline: {rates['program'] / rates['baseline']:.3f}")


if __name__ == "__main__":
    main()
