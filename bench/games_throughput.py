"""Env-steps/s of the game tasks against the stock games, one table from one run (ratios carry over; times do not).

Usage: .venv/bin/python bench/games_throughput.py [--env-steps 5000] [--train-steps 20000] [--smoke]

Rows, per game (MiniGrid DoorKey-8x8, Crafter), all on one core (torch one thread, as the sandboxed child runs):

* stock: the game as shipped, random actions (MiniGrid's gymnasium env with its dict observation; Crafter's
  ``crafter.Env``, which draws a 64x64 image as its observation at every step), resets included;
* ours: the task's env as training sees it (flat symbolic observation, no drawing, the named state read at
  every step by :class:`~eureka_kit.tasks.state_capture.StateCapture`), random actions, resets included;
* training: one candidate's sandboxed training (``train_candidate``: SB3 PPO, the task's defaults, the
  example reward program), env-steps/s as the child measures it (training time only, start-up excluded).

``--smoke`` runs the env rows at seconds-long sizes and no training (the default test suite runs it; the games'
test files train in the sandbox).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
GAMES = {
    "MiniGrid DoorKey-8x8": ("DoorKey-Grid-v1", ROOT / "examples" / "doorkey_reward.py"),
    "Crafter (collect wood)": ("Crafter-Wood-v1", ROOT / "examples" / "crafter_wood_reward.py"),
}


def _rate(step: Callable[[], bool], reset: Callable[[], object], steps: int) -> float:
    reset()
    start = time.perf_counter()
    for _ in range(steps):
        if step():
            reset()
    return steps / (time.perf_counter() - start)


def stock_minigrid(steps: int) -> float:
    import gymnasium as gym
    import minigrid  # noqa: F401

    env = gym.make("MiniGrid-DoorKey-8x8-v0")
    rng = np.random.default_rng(0)

    def step() -> bool:
        _, _, term, trunc, _ = env.step(int(rng.integers(7)))
        return bool(term or trunc)

    return _rate(step, lambda: env.reset(seed=0), steps)


def stock_crafter(steps: int) -> float:
    import crafter

    env = crafter.Env(seed=0, length=500)
    rng = np.random.default_rng(0)

    def step() -> bool:
        _, _, done, _ = env.step(int(rng.integers(17)))
        return bool(done)

    return _rate(step, env.reset, steps)


def ours(task_id: str, steps: int) -> float:
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.tasks.state_capture import make_env

    env = make_env(get_task(task_id))
    rng = np.random.default_rng(0)
    n = int(env.action_space.n)

    def step() -> bool:
        _, _, term, trunc, _ = env.step(int(rng.integers(n)))
        return bool(term or trunc)

    return _rate(step, lambda: env.reset(seed=0), steps)


def training(task_id: str, program: Path, steps: int) -> float:
    from eureka_kit.sandbox.runner import Limits
    from eureka_kit.training.job import TrainJob
    from eureka_kit.training.runner import train_candidate

    with tempfile.TemporaryDirectory() as tmp:
        job = TrainJob(task_id=task_id, reward_kind="program", reward_path=program, total_steps=steps, seed=0)
        result = train_candidate(job, Path(tmp) / "cand", Limits(wall_s=3600))
    if result.status != "ok" or result.env_steps_per_s is None:
        raise SystemExit(f"{task_id}: training {result.status}: {result.message}")
    return float(result.env_steps_per_s)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--env-steps", type=int, default=5_000, help="random-action steps per env row")
    ap.add_argument("--train-steps", type=int, default=20_000, help="training env-steps per training row")
    ap.add_argument("--smoke", action="store_true", help="seconds-long sizes (tested in CI)")
    args = ap.parse_args(argv)
    env_steps, train_steps = (100, 256) if args.smoke else (args.env_steps, args.train_steps)
    torch.set_num_threads(1)
    rows: list[tuple[str, str, float]] = []
    stock = {"MiniGrid DoorKey-8x8": stock_minigrid, "Crafter (collect wood)": stock_crafter}
    for game, (task_id, program) in GAMES.items():
        ours(task_id, 10)  # warm-up: imports, and Crafter's noise compiled once
        rows.append((game, "stock env, random actions", stock[game](env_steps)))
        rows.append((game, f"{task_id} env + named state, random actions", ours(task_id, env_steps)))
        rows.append(
            (game, f"{task_id} sandboxed SB3 PPO training (reward program)", training(task_id, program, train_steps))
        )
    base = {game: rate for game, what, rate in rows if what.startswith("stock")}
    width = max(len(f"{g}: {w}") for g, w, _ in rows)
    print(f"{'row':<{width}}  {'env-steps/s':>11}  {'vs stock':>8}")
    for game, what, rate in rows:
        print(f"{f'{game}: {what}':<{width}}  {rate:>11.0f}  {rate / base[game]:>7.2f}x")
    print(f"(one core; env rows: {env_steps} steps, training rows: {train_steps} env-steps each)")


if __name__ == "__main__":
    main()
