"""The executor seam: one candidate's job in, its typed outcome and files out.

A :class:`CandidateJob` is everything needed to train one reward program and
evaluate the policy: plain data (paths, the training job, limits, evaluation
seeds), so it can be shipped to another machine. :func:`run_candidate_job`
is what every executor runs, wherever it runs: the sandboxed training child,
then the trusted evaluator on the weights it wrote. LLM calls and API keys
never leave the loop's process: an executor only trains and evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from eureka_kit.evaluation.evaluator import Evaluation, evaluate_policy
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import TrainResult, train_candidate


@dataclass(frozen=True)
class CandidateJob:
    """Train ``train`` in ``out_dir`` under ``limits``, then evaluate ``eval_episodes`` episodes from ``eval_seed``."""

    spec: TaskSpec
    train: TrainJob
    out_dir: Path
    limits: Limits
    eval_episodes: int
    eval_seed: int
    rollouts_path: Path | None = None
    """Where the evaluator saves the evaluation episodes' states (for the analyzer and CARD's check)."""


@dataclass(frozen=True)
class CandidateOutcome:
    """How a job ended: the training result, and the trusted evaluation when training succeeded."""

    train: TrainResult
    evaluation: Evaluation | None


def run_candidate_job(job: CandidateJob) -> CandidateOutcome:
    """Train in the sandbox, then evaluate the weights with the trusted evaluator (never raises for a bad program)."""
    train = train_candidate(job.train, job.out_dir, job.limits)
    if train.status != "ok":
        return CandidateOutcome(train, None)
    evaluation = evaluate_policy(
        job.spec,
        job.out_dir,
        episodes=job.eval_episodes,
        seed=job.eval_seed,
        job=job.train,
        rollouts_path=job.rollouts_path,
    )
    return CandidateOutcome(train, evaluation)


class Executor(Protocol):
    """Runs candidate jobs; :meth:`run` blocks the calling thread and is safe to call from several threads."""

    name: str
    workers: int

    def run(self, job: CandidateJob) -> CandidateOutcome:
        """Run ``job`` to its end; the job's files are in ``job.out_dir`` when it returns."""
        ...

    def close(self) -> None:
        """Release workers and connections."""
        ...
