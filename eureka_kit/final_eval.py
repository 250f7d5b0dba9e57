"""``eureka-kit eval RUN``: retrain the best program, the human reward and a sparse reward with N seeds.

Prints and stores (``final_eval.json``) fitness mean ± std per reward and the
human-normalized score ``(F_best - F_sparse) / (F_human - F_sparse)`` (Eureka's
metric; the denominator is taken as an absolute value so the sign stays
meaningful when the sparse reward beats the human one).
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from eureka_kit.config import RunConfig
from eureka_kit.errors import UsageError
from eureka_kit.executors.base import CandidateJob, run_candidate_job
from eureka_kit.run.layout import EVAL_FILE
from eureka_kit.run.store import RunStore, atomic_write_json, read_json
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.backends import get_backend, resolve_training
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import default_timeout_s

RewardKind = Literal["program", "baseline", "sparse"]
LABELS: dict[RewardKind, str] = {"program": "eureka (best)", "baseline": "human", "sparse": "sparse"}


@dataclass(frozen=True)
class SeedResult:
    reward: RewardKind
    seed: int
    status: str
    fitness: float | None
    message: str


@dataclass(frozen=True)
class FinalEval:
    task: str
    steps: int
    seeds: int
    results: tuple[SeedResult, ...]

    def fitnesses(self, reward: RewardKind) -> list[float]:
        return [r.fitness for r in self.results if r.reward == reward and r.fitness is not None]

    def mean_std(self, reward: RewardKind) -> tuple[float | None, float | None]:
        f = self.fitnesses(reward)
        if not f:
            return None, None
        return statistics.fmean(f), (statistics.stdev(f) if len(f) > 1 else 0.0)

    @property
    def human_normalized(self) -> float | None:
        best, human, sparse = (self.mean_std(k)[0] for k in ("program", "baseline", "sparse"))
        if best is None or human is None or sparse is None or math.isclose(human, sparse, abs_tol=1e-12):
            return None
        return (best - sparse) / abs(human - sparse)

    def to_json(self) -> dict[str, object]:
        return {
            "task": self.task,
            "steps": self.steps,
            "seeds": self.seeds,
            "results": [asdict(r) for r in self.results],
            "summary": {
                LABELS[k]: dict(zip(("mean", "std"), self.mean_std(k), strict=True))
                for k in ("program", "baseline", "sparse")
            },
            "human_normalized_score": self.human_normalized,
        }


@dataclass(frozen=True)
class TrainSettings:
    """How a reward is retrained for the final evaluation: the same budget for the best program and the baselines."""

    steps: int
    n_envs: int
    episodes: int
    backend: str
    device: str
    fitness: str | None


def train_and_evaluate(
    spec: TaskSpec, reward: RewardKind, reward_path: Path | None, seed: int, settings: TrainSettings, out: Path
) -> SeedResult:
    """Train ``reward`` with ``seed`` in the fresh folder ``out`` and evaluate the policy (trusted); ``eval.json``."""
    if out.exists():  # a previous eval's weights must never be evaluated in place of this training's
        shutil.rmtree(out)
    out.mkdir(parents=True)
    job = TrainJob(
        task_id=spec.id,
        reward_kind=reward,
        reward_path=reward_path if reward == "program" else None,
        total_steps=settings.steps,
        n_envs=settings.n_envs,
        seed=seed,
        backend=settings.backend,
        device=settings.device,
        fitness=settings.fitness,
    )
    limits = Limits(wall_s=default_timeout_s(settings.steps), address_space_mb=4096)
    job_spec = CandidateJob(spec, job, out, limits, eval_episodes=settings.episodes, eval_seed=2_000_000)
    outcome = run_candidate_job(job_spec)
    train, ev = outcome.train, outcome.evaluation
    if train.status != "ok" or ev is None:
        return SeedResult(reward, seed, train.status, None, train.message)
    atomic_write_json(out / EVAL_FILE, ev.to_json())
    if ev.status != "ok":
        return SeedResult(reward, seed, ev.status, None, ev.message)
    return SeedResult(reward, seed, "ok", ev.fitness, "")


def _one(
    run: RunStore, spec: TaskSpec, best_program: Path, reward: RewardKind, seed: int, settings: TrainSettings
) -> SeedResult:
    return train_and_evaluate(
        spec, reward, best_program, seed, settings, run.root / "final_eval" / f"{reward}_seed{seed}"
    )


def evaluate_run(
    run_dir: Path,
    seeds: int = 3,
    steps: int | None = None,
    workers: int | None = None,
    log: Callable[[str], None] = print,
) -> FinalEval:
    """Retrain and evaluate best / human / sparse rewards with ``seeds`` seeds each; stores ``final_eval.json``."""
    run = RunStore(run_dir)
    if not run.exists():
        raise FileNotFoundError(f"{run_dir} is not a eureka-kit run (no config.json)")
    best = read_json(run.summary_path).get("best") if run.summary_path.exists() else None
    if best is None:
        raise UsageError(f"run {run_dir} has no best program yet (no candidate succeeded); nothing to evaluate")
    config = RunConfig.from_json(read_json(run.config_path)["config"])
    spec = config.task_spec()
    backend, device = resolve_training(config.backend, spec, config.device)
    budget = get_backend(backend).budget(spec)
    steps = steps or config.steps or budget.total_steps
    n_envs = config.n_envs or budget.n_envs
    best_program = run.root / best["program"]
    settings = TrainSettings(steps, n_envs, config.eval_episodes, backend, device, config.fitness)
    kinds: tuple[RewardKind, ...] = ("program", "baseline", "sparse")
    jobs = [(k, s) for k in kinds for s in range(seeds)]
    log(f"retraining {len(jobs)} policies ({', '.join(LABELS[k] for k in kinds)} x {seeds} seeds, {steps} steps each)")

    def one(job: tuple[RewardKind, int]) -> SeedResult:
        result = _one(run, spec, best_program, job[0], job[1], settings)
        if result.fitness is not None:
            fit = f"fitness {result.fitness:.4g}"
        else:
            fit = f"{result.status}: {result.message[:80]}"
        log(f"  {LABELS[job[0]]} seed {job[1]}: {fit}")
        return result

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = list(pool.map(one, jobs))
    final = FinalEval(task=spec.id, steps=steps, seeds=seeds, results=tuple(results))
    atomic_write_json(run.root / "final_eval.json", final.to_json())
    return final


def format_table(final: FinalEval) -> str:
    """A plain-text table of fitness mean ± std per reward and the human-normalized score."""
    lines = [f"task {final.task}: {final.seeds} seeds x {final.steps} steps", f"{'reward':<16}{'fitness':>22}  ok"]
    for k in ("program", "baseline", "sparse"):
        mean, std = final.mean_std(k)  # type: ignore[arg-type]
        ok = sum(1 for r in final.results if r.reward == k and r.status == "ok")
        cell = f"{mean:.4g} ± {std:.3g}" if mean is not None and std is not None else "n/a"
        lines.append(f"{LABELS[k]:<16}{cell:>22}  {ok}/{final.seeds}")  # type: ignore[index]
    hn = final.human_normalized
    lines.append(f"human-normalized score: {hn:.3f}" if hn is not None else "human-normalized score: n/a")
    for r in final.results:
        if r.status != "ok":
            lines.append(f"  {LABELS[r.reward]} seed {r.seed}: {r.status} - {r.message.splitlines()[0][:120]}")
    return "\n".join(lines)
