"""Env-steps/s of the game tasks against the stock games, one table from one run (ratios carry over; times do not).

Usage: .venv/bin/python bench/games_throughput.py [--env-steps 5000] [--train-steps 20000] [--smoke]

Rows, per game (MiniGrid DoorKey-8x8, Crafter), all on one core (torch one thread, as the sandboxed child runs):

* stock: the game as shipped, random actions (MiniGrid's gymnasium env with its dict observation; Crafter's
  ``crafter.Env``, which draws a 64x64 image as its observation at every step), resets included;
* ours: the task's env as training sees it (flat symbolic observation, no drawing, the named state read at
  every step by :class:`~eureka_kit.tasks.state_capture.StateCapture`), random actions, resets included;
* the batched engine: for MiniGrid the grid engine (:mod:`eureka_kit.games.grid_batch`, 128 envs as numpy
  arrays), for Crafter the Crafter engine (:mod:`eureka_kit.games.crafter_batch`, 64 of Crafter's own worlds
  in one process, observation and named state read with numpy over all of them); random actions, resets
  included;
* training: one candidate's sandboxed training (``train_candidate``, the task's defaults, the example reward
  program) on SB3 PPO (``--backend sb3``) and on the batched engine with rsl-rl's PPO (``--backend cpu``, what
  ``auto`` picks), env-steps/s as the child measures it (training time only, start-up excluded);
* the same batched training in this process (the child's code without the sandbox), so that its CPU time can
  be read: ``per CPU-s`` is env-steps per second of this process's CPU time, the rate of one core that is not
  shared (on a loaded machine the wall-clock rate is lower).

``--smoke`` runs every row but the sandboxed batched trainings at seconds-long sizes (the default test suite
runs it; tests/test_games_grid_batch.py and tests/test_games_crafter_batch.py train on the engines in the
sandbox).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eureka_kit.training.backends import get_backend

ROOT = Path(__file__).resolve().parent.parent
GAMES = {
    "MiniGrid DoorKey-8x8": ("DoorKey-Grid-v1", ROOT / "examples" / "doorkey_reward.py"),
    "Crafter (collect wood)": ("Crafter-Wood-v1", ROOT / "examples" / "crafter_wood_reward.py"),
}


Rate = tuple[float, float | None]
"""(env-steps per wall-clock second, env-steps per CPU second of this process or None when not measured here)."""


def _rate(step: Callable[[], bool], reset: Callable[[], object], steps: int) -> Rate:
    reset()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        if step():
            reset()
    return steps / (time.perf_counter() - start), steps / max(time.process_time() - cpu, 1e-9)


def stock_minigrid(steps: int) -> Rate:
    import gymnasium as gym
    import minigrid  # noqa: F401

    env = gym.make("MiniGrid-DoorKey-8x8-v0")
    rng = np.random.default_rng(0)

    def step() -> bool:
        _, _, term, trunc, _ = env.step(int(rng.integers(7)))
        return bool(term or trunc)

    return _rate(step, lambda: env.reset(seed=0), steps)


def stock_crafter(steps: int) -> Rate:
    import crafter

    env = crafter.Env(seed=0, length=500)
    rng = np.random.default_rng(0)

    def step() -> bool:
        _, _, done, _ = env.step(int(rng.integers(17)))
        return bool(done)

    return _rate(step, env.reset, steps)


def ours(task_id: str, steps: int) -> Rate:
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.tasks.state_capture import make_env

    env = make_env(get_task(task_id))
    rng = np.random.default_rng(0)
    n = int(env.action_space.n)

    def step() -> bool:
        _, _, term, trunc, _ = env.step(int(rng.integers(n)))
        return bool(term or trunc)

    return _rate(step, lambda: env.reset(seed=0), steps)


def grid_engine(task_id: str, steps: int, num_envs: int = 128) -> Rate:
    from eureka_kit.games.grid_batch import GridBatchedEnv

    return _engine_rate(GridBatchedEnv(task_id, num_envs, seed=0), steps)


def crafter_engine(task_id: str, steps: int, num_envs: int = 64) -> Rate:
    from eureka_kit.games.crafter_batch import CrafterBatchedEnv
    from eureka_kit.tasks.registry import get_task

    return _engine_rate(CrafterBatchedEnv.for_task(dict(get_task(task_id).env_kwargs), num_envs, seed=0), steps)


def _engine_rate(env: Any, steps: int) -> Rate:
    """Random actions on a batched game engine (observation and named state of every env per step, resets)."""
    num_envs = env.num_envs
    rng = np.random.default_rng(0)
    batches = max(1, steps // num_envs)
    actions = torch.as_tensor(rng.integers(0, env.n_actions, (batches, num_envs, 1)), dtype=torch.float32)
    start, cpu = time.perf_counter(), time.process_time()
    for a in actions:
        env.step(a)
    n = batches * num_envs
    return n / (time.perf_counter() - start), n / max(time.process_time() - cpu, 1e-9)


def training(task_id: str, program: Path, steps: int, backend: str, n_envs: int | None = None) -> Rate:
    from eureka_kit.sandbox.runner import Limits
    from eureka_kit.training.job import TrainJob
    from eureka_kit.training.runner import train_candidate

    with tempfile.TemporaryDirectory() as tmp:
        job = TrainJob(
            task_id=task_id,
            reward_kind="program",
            reward_path=program,
            total_steps=steps,
            seed=0,
            backend=backend,
            n_envs=n_envs,
        )
        result = train_candidate(job, Path(tmp) / "cand", Limits(wall_s=3600))
    if result.status != "ok" or result.env_steps_per_s is None:
        raise SystemExit(f"{task_id}: training {result.status}: {result.message}")
    return float(result.env_steps_per_s), None


def batched_in_process(task_id: str, program: Path, steps: int, n_envs: int | None = None) -> Rate:
    """The batched child's training loop (grid engine + rsl-rl PPO + the reward program) without the sandbox."""
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.backends.batched_ppo import BatchedPPO, StepReward
    from eureka_kit.training.episode_stats import StatsRecorder
    from eureka_kit.training.job import TrainJob
    from eureka_kit.training.reward_sources import make_reward

    spec = get_task(task_id)
    job = TrainJob(
        task_id=task_id, reward_kind="program", reward_path=program, total_steps=steps, backend="cpu", n_envs=n_envs
    )
    backend = get_backend("cpu")
    config = backend.config(spec, job)  # type: ignore[attr-defined]
    env = backend.make_env(spec, config, "cpu", 0)  # type: ignore[attr-defined]
    ppo = BatchedPPO(env, config, spec, 0)
    reward = StepReward(make_reward("program", spec, program.read_text()), env.device)
    start, cpu = time.perf_counter(), time.process_time()
    done = ppo.train(reward, StatsRecorder(config.total_steps))
    return done / (time.perf_counter() - start), done / max(time.process_time() - cpu, 1e-9)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--env-steps", type=int, default=5_000, help="random-action steps per env row")
    ap.add_argument("--train-steps", type=int, default=20_000, help="training env-steps per training row")
    ap.add_argument("--smoke", action="store_true", help="seconds-long sizes (tested in CI)")
    args = ap.parse_args(argv)
    env_steps, train_steps = (100, 256) if args.smoke else (args.env_steps, args.train_steps)
    small_batch = 4 if args.smoke else None  # smoke: 4 envs, so one rollout is 256 steps, not 8,192 / 4,096
    torch.set_num_threads(1)
    rows: list[tuple[str, str, Rate]] = []
    stock = {"MiniGrid DoorKey-8x8": stock_minigrid, "Crafter (collect wood)": stock_crafter}
    for game, (task_id, program) in GAMES.items():
        ours(task_id, 10)  # warm-up: imports, and Crafter's noise compiled once
        rows.append((game, "stock env, random actions", stock[game](env_steps)))
        rows.append((game, f"{task_id} env + named state, random actions", ours(task_id, env_steps)))
        grid = task_id.endswith("-Grid-v1")
        crafter_envs = 8 if args.smoke else 64  # smoke: fewer worlds to generate (~40 ms each)
        engine = "grid engine, 128 envs" if grid else f"Crafter engine, {crafter_envs} envs"
        rate = grid_engine(task_id, env_steps) if grid else crafter_engine(task_id, env_steps, crafter_envs)
        rows.append((game, f"{engine} + named state, random actions", rate))
        rows.append(
            (game, "sandboxed SB3 PPO training (reward program)", training(task_id, program, train_steps, "sb3"))
        )
        if not args.smoke:  # tests/test_games_grid_batch.py, test_games_crafter_batch.py train them in the sandbox
            batched = training(task_id, program, train_steps, "cpu")
            rows.append((game, f"sandboxed {engine.split(',')[0]} + rsl-rl PPO training (reward program)", batched))
        rows.append(
            (
                game,
                "the same batched training, in-process",
                batched_in_process(task_id, program, train_steps, small_batch),
            )
        )
    base = {game: rate[0] for game, what, rate in rows if what.startswith("stock")}
    width = max(len(f"{g}: {w}") for g, w, _ in rows)
    print(f"{'row':<{width}}  {'env-steps/s':>11}  {'vs stock':>8}  {'per CPU-s':>9}")
    for game, what, (wall, cpu) in rows:
        per_cpu = f"{cpu:>9.0f}" if cpu is not None else f"{'-':>9}"
        print(f"{f'{game}: {what}':<{width}}  {wall:>11.0f}  {wall / base[game]:>7.2f}x  {per_cpu}")
    print(f"(one core; env rows: {env_steps} steps, training rows: {train_steps} env-steps each)")


if __name__ == "__main__":
    main()
