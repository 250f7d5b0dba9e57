"""The batched CPU engine against today's SB3 training, one table from one run (ratios carry over; times do not).

Usage: .venv/bin/python bench/engine_throughput.py [--task HalfCheetah-Run-v1] [--cap-s 240] [--skip ROWS] [--smoke]

Rows, all on one core per candidate (torch and physics one thread each, as the sandboxed child runs):

* raw physics: ``mujoco.batch.Batch`` of 64 sims, ``step(nstep=frame_skip)`` with random controls, 1 and 2 threads;
* the batched env (:class:`~eureka_kit.sim.cpu.CpuBatchedEnv`, 64 envs: observations, state variables, env
  reward, auto-resets as torch tensors), without and with a reward program called once per batch step
  (``ProgramReward.on_tensors``, ``examples/halfcheetah_reward.py``); the difference is the program's overhead;
* training of one candidate with the env's own (human) reward: the ``cpu`` backend's PPO (rsl-rl, the task's
  batched defaults) vs SB3 with rl-zoo's settings (today's default, 1 env) vs SB3 with 8 envs; env-steps/s
  counts training time only, and every ``--eval-every`` steps the deterministic policy is evaluated on 5
  episodes (the CPU engine, bit-identical to gymnasium; the clock is paused) until the mean return reaches
  ``--target`` or the method's time runs out (``--cap-s``), reported honestly as "not reached in X s";
* a generation of 4 candidates (``examples/halfcheetah_reward.py``, the ``cpu`` backend, ``--gen-steps`` each),
  each a sandboxed training child plus the trusted evaluation (the product path: ``LocalExecutor``), with 1 and
  with 2 workers: wall time of the generation and the speed-up.

``--smoke`` runs every row at seconds-long sizes (the default test suite runs it).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "examples" / "halfcheetah_reward.py"
EVAL_SEED = 12_345
WARMUP_STEPS = 200
"""Untimed batch steps before each simulation row (a cold start measured up to 20 % slower)."""

Act = Callable[[np.ndarray], np.ndarray]


# ---------------------------------------------------------------------------------------------- simulation rows


def raw_physics(task: str, n: int, threads: int, seconds: float) -> float:
    """Env-steps/s of ``mujoco.batch`` stepping ``n`` sims of the task's model (``frame_skip`` substeps each)."""
    from mujoco import batch as mjbatch

    from eureka_kit.sim.physics import get_physics

    phys = get_physics(task)
    model = phys.model()
    b = mjbatch.Batch(model, n, threads)
    ctrl = b.bind("ctrl")
    rng = np.random.default_rng(0)
    for _ in range(WARMUP_STEPS):  # first steps touch fresh memory; the timed loop starts warm
        b.step(nstep=phys.frame_skip)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        ctrl[:] = rng.uniform(-1, 1, size=ctrl.shape)
        b.step(nstep=phys.frame_skip)
        steps += n
    return steps / (time.perf_counter() - start)


def batched_env(task: str, n: int, seconds: float, program: bool) -> float:
    """Env-steps/s of the CPU engine, random actions, with or without the reward program per batch step."""
    from eureka_kit.sim.cpu import CpuBatchedEnv
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.reward_sources import ProgramReward

    env = CpuBatchedEnv(task, n, threads=1, seed=0)
    reward = ProgramReward.from_source(PROGRAM.read_text(), get_task(task), str(PROGRAM)) if program else None
    env.reset(0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(WARMUP_STEPS):
        env.step(torch.rand(n, env.action_size, generator=gen) * 2 - 1)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step = env.step(torch.rand(n, env.action_size, generator=gen) * 2 - 1)
        steps += n
        if reward is not None:
            reward.on_tensors(step.state, n, steps)
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


# ---------------------------------------------------------------------------------------------- training rows


class Evaluator:
    """Mean return of a deterministic policy over a few episodes on the CPU engine (same seeds every time)."""

    def __init__(self, task: str, episodes: int, max_steps: int | None) -> None:
        from eureka_kit.sim.cpu import CpuBatchedEnv

        self.env = CpuBatchedEnv(task, episodes, threads=1, seed=0, max_episode_steps=max_steps)
        self.n = episodes

    def __call__(self, act: Act) -> float:
        obs = self.env.reset(EVAL_SEED).numpy()
        ret, alive = np.zeros(self.n), np.ones(self.n, dtype=bool)
        while alive.any():
            step = self.env.step(torch.as_tensor(np.asarray(act(obs), dtype=np.float32)))
            ret += step.env_reward.numpy() * alive
            alive &= ~(step.terminated.numpy() | step.truncated.numpy())
            obs = step.obs.numpy()
        return float(ret.mean())


@dataclass
class Clock:
    """Training time (evaluations excluded), the cap and the target; records when the target was first reached."""

    cap_s: float
    target: float
    eval_every: int
    evaluate: Evaluator
    train_s: float = 0.0
    steps: int = 0
    best: float = float("-inf")
    reached_s: float | None = None
    reached_steps: int | None = None
    _t0: float = 0.0
    _next_eval: int = 0

    def start(self) -> None:
        self._next_eval = self.eval_every
        self._t0 = time.perf_counter()

    def tick(self, steps: int, act: Callable[[], Act]) -> bool:
        """After a training chunk: account time, evaluate when due; returns True to stop."""
        self.train_s += time.perf_counter() - self._t0
        self.steps = steps
        stop = self.train_s >= self.cap_s
        if steps >= self._next_eval or stop:
            self._next_eval = steps + self.eval_every
            value = self.evaluate(act())
            self.best = max(self.best, value)
            if value >= self.target and self.reached_s is None:
                self.reached_s, self.reached_steps = self.train_s, steps
                stop = True
        self._t0 = time.perf_counter()
        return stop


def train_cpu_engine(
    task: str, clock: Clock, seed: int = 0, overrides: Mapping[str, Any] | None = None, num_envs: int | None = None
) -> None:
    """The ``cpu`` backend's training loop (rsl-rl PPO, the task's batched defaults or ``overrides``), env reward."""
    from eureka_kit.sim.cpu import CpuBatchedEnv
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.backends.batched import policy_actor
    from eureka_kit.training.backends.batched_config import resolve_batched_config
    from eureka_kit.training.backends.batched_ppo import BatchedPPO, RunningObsNorm, StepReward
    from eureka_kit.training.episode_stats import StatsRecorder
    from eureka_kit.training.reward_sources import EnvReward
    from eureka_kit.training.weights import ObsNorm

    spec = get_task(task)
    config = resolve_batched_config(spec, total_steps=10**10, num_envs=num_envs, overrides=overrides)
    env = CpuBatchedEnv(task, config.num_envs, threads=config.sim_threads, seed=seed)
    ppo = BatchedPPO(env, config, spec, seed)
    low, high = env.action_low.numpy(), env.action_high.numpy()

    def hook(steps: int, actor: object, norm: RunningObsNorm | None) -> bool:
        def act() -> Act:
            n = None if norm is None else ObsNorm(norm.mean.numpy(), norm.var.numpy(), norm.clip_obs, norm.epsilon)
            return policy_actor(actor, n, low, high)

        return clock.tick(steps, act)

    clock.start()
    ppo.train(StepReward(EnvReward(), env.device), StatsRecorder(config.total_steps), hook)
    env.close()


def train_sb3(task: str, n_envs: int | None, clock: Clock, seed: int = 0) -> None:
    """SB3 as the ``sb3`` backend builds it (the task's rl-zoo settings), env reward, ``n_envs`` gymnasium envs."""
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from eureka_kit.tasks.registry import get_task
    from eureka_kit.tasks.state_capture import make_env
    from eureka_kit.training.algorithms import get_algorithm
    from eureka_kit.training.backends.sb3 import EurekaRewardWrapper
    from eureka_kit.training.backends.sb3_config import resolve_config, sb3_policy_kwargs
    from eureka_kit.training.reward_sources import EnvReward
    from eureka_kit.training.weights import ObsNorm

    spec = get_task(task)
    config = resolve_config(spec, 10**9, n_envs)
    venv = DummyVecEnv([lambda: make_env(spec) for _ in range(config.n_envs)])
    venv.seed(seed)
    norm = VecNormalize(EurekaRewardWrapper(venv, spec, EnvReward()), norm_obs=True, norm_reward=False)
    model = get_algorithm(config.algo).sb3_class()(
        "MlpPolicy", norm, seed=seed, device="cpu", verbose=0,
        policy_kwargs=sb3_policy_kwargs(config.policy_kwargs), **dict(config.hyperparams),
    )  # fmt: skip
    model.set_logger(Logger(folder=None, output_formats=[]))

    def act() -> Act:
        rms = norm.obs_rms
        n = ObsNorm(np.asarray(rms.mean), np.asarray(rms.var), float(norm.clip_obs), float(norm.epsilon))
        return lambda obs: model.policy.predict(n(obs), deterministic=True)[0]

    class Tick(BaseCallback):
        def _on_step(self) -> bool:
            return not clock.tick(int(self.num_timesteps), act)

    clock.start()
    model.learn(total_timesteps=10**9, callback=Tick())
    venv.close()


# ---------------------------------------------------------------------------------------------- table


def generation_wall(task: str, workers: int, candidates: int, steps: int, root: Path) -> float:
    """Wall seconds of ``candidates`` sandboxed trainings + trusted evaluations run by ``workers`` local workers."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    from eureka_kit.executors.base import CandidateJob
    from eureka_kit.executors.local import LocalExecutor
    from eureka_kit.run.layout import REWARD_FILE
    from eureka_kit.sandbox.runner import Limits
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.job import TrainJob
    from eureka_kit.training.runner import default_timeout_s

    spec = get_task(task)
    executor = LocalExecutor(workers)
    jobs = []
    for i in range(candidates):
        out = root / f"w{workers}_cand_{i:02d}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        (out / REWARD_FILE).write_text(PROGRAM.read_text())
        train = TrainJob(task, "program", out / REWARD_FILE, total_steps=steps, seed=i, backend="cpu")
        limits = Limits(wall_s=default_timeout_s(steps))
        jobs.append(CandidateJob(spec, train, out, limits, eval_episodes=2, eval_seed=EVAL_SEED))
    start = time.perf_counter()
    with ThreadPoolExecutor(candidates) as pool:
        outcomes = list(pool.map(executor.run, jobs))
    wall = time.perf_counter() - start
    failed = [o.train.message for o in outcomes if o.train.status != "ok" or o.evaluation is None]
    if failed:
        raise RuntimeError(f"generation with {workers} worker(s): {len(failed)} candidate(s) failed: {failed[0]}")
    return wall


def _rate(x: float) -> str:
    return f"{x:,.0f} env-steps/s"


def _reached(c: Clock) -> str:
    if c.reached_s is None:
        return f"not reached in {c.train_s:.0f} s ({c.steps:,} steps, best {c.best:,.0f})"
    return f"{c.reached_s:.1f} s ({c.reached_steps:,} steps)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--task", default="HalfCheetah-Run-v1")
    ap.add_argument("--cap-s", type=float, default=240.0, help="training seconds per method at most")
    ap.add_argument("--target", type=float, default=3000.0, help="evaluation return to reach")
    ap.add_argument("--gen-steps", type=int, default=300_000, help="env-steps per candidate in the workers rows")
    ap.add_argument("--work-dir", default=None, help="folder for the workers rows' candidates (default: a temp dir)")
    ap.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["sb3-8-envs", "generation"],
        help="leave out a row group (repeatable): the SB3-with-8-envs training, the 1-vs-2-workers generation",
    )
    ap.add_argument("--smoke", action="store_true", help="seconds-long sizes (CI)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    task = args.task
    sim_s = 0.3 if args.smoke else 3.0
    cap = 2.0 if args.smoke else args.cap_s
    eval_steps = 50 if args.smoke else None  # episode length of the evaluation (None: the task's)
    every = {"cpu": 4096 if args.smoke else 100_000, "sb3": 1024 if args.smoke else 20_000}
    rows: list[tuple[str, str, str]] = []

    def row(name: str, value: str, ratio: str = "") -> None:
        rows.append((name, value, ratio))
        print(f"  .. {name}: {value} {ratio}", file=sys.stderr, flush=True)

    raw1 = raw_physics(task, 64, 1, sim_s)
    row("raw physics, Batch 64 sims, 1 thread", _rate(raw1), "1.00 x raw")
    raw2 = raw_physics(task, 64, 2, sim_s)
    row("raw physics, Batch 64 sims, 2 threads", _rate(raw2), f"{raw2 / raw1:.2f} x raw")
    env0 = batched_env(task, 64, sim_s, program=False)
    row("batched env 64 (obs + state + env reward)", _rate(env0), f"{env0 / raw1:.2f} x raw")
    env1 = batched_env(task, 64, sim_s, program=True)
    row("batched env 64 + reward program", _rate(env1), f"{env1 / raw1:.2f} x raw")
    row("reward-program overhead", f"{(env0 / env1 - 1) * 100:.1f} % time per step")

    evaluate = Evaluator(task, 2 if args.smoke else 5, eval_steps)
    runs = {
        "cpu engine, rsl-rl PPO (batched defaults)": (lambda c: train_cpu_engine(task, c), every["cpu"]),
        "SB3 rl-zoo (today's default, 1 env)": (lambda c: train_sb3(task, None, c), every["sb3"]),
        "SB3 rl-zoo with 8 envs": (lambda c: train_sb3(task, 8, c), every["sb3"]),
    }
    if "sb3-8-envs" in args.skip:
        del runs["SB3 rl-zoo with 8 envs"]
    clocks: dict[str, Clock] = {}
    for name, (run, each) in runs.items():
        clock = Clock(cap, args.target, each, evaluate)
        run(clock)
        clocks[name] = clock
        rate = clock.steps / max(clock.train_s, 1e-9)
        row(f"training: {name}", _rate(rate), f"{rate / raw1:.3f} x raw")
    base = clocks["SB3 rl-zoo (today's default, 1 env)"]
    for name, clock in clocks.items():
        ratio = ""
        if clock.reached_s is not None and base.reached_s is not None:
            ratio = f"{clock.reached_s / base.reached_s:.2f} x SB3 rl-zoo"
        elif clock.reached_s is not None:
            ratio = f"<= {clock.reached_s / base.train_s:.2f} x SB3 rl-zoo"
        row(f"time to eval return {args.target:,.0f}: {name}", _reached(clock), ratio)

    if "generation" not in args.skip:
        import tempfile

        gen_steps = 2048 if args.smoke else args.gen_steps
        n_cand = 2 if args.smoke else 4
        with tempfile.TemporaryDirectory(prefix="eureka-bench-", dir=args.work_dir) as tmp:
            walls = {w: generation_wall(task, w, n_cand, gen_steps, Path(tmp)) for w in (1, 2)}
        gen = f"generation of {n_cand} candidates x {gen_steps:,} steps"
        row(f"{gen}, 1 worker", f"{walls[1]:.1f} s", "1.00 x")
        row(f"{gen}, 2 workers", f"{walls[2]:.1f} s", f"{walls[1] / walls[2]:.2f} x faster")

    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"\n{task}, {'smoke sizes' if args.smoke else 'full sizes'}, one thread per candidate unless stated\n")
    for name, value, ratio in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
