"""One generation under successive halving: candidates through the rungs, keep the best, stop the rest.

The loop hands over its candidate steps (:class:`CandidateSteps`): prepare a
candidate (extract, check, repair, trajectory check, equivalence), build its
training job for a budget, and finish its record. Here every prepared
candidate trains to rung 0's budget right after its checks (in the worker
pool, at most ``workers`` at once), the trusted evaluator scores it, and its
:class:`~eureka_kit.schedule.halving.RungResult` is written; then the worse
share stops (status ``stopped_early``, with its fitness, statistics and
feedback) and the rest continue from their checkpoints. Jobs go through
``executor.run(job)`` like any other, so every executor runs rungs unchanged.

Resume: every decision is recomputed from the ``rungs/rung_<r>.json`` files,
so a run resumed after a crash trains only the rungs that have no result yet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

from eureka_kit.executors import CandidateJob, CandidateOutcome, Executor
from eureka_kit.files import atomic_write_json
from eureka_kit.llm import BudgetExceeded, Message
from eureka_kit.run.containment import contained
from eureka_kit.run.layout import EVAL_FILE
from eureka_kit.run.progress import Progress
from eureka_kit.run.records import CandidateRecord, PreparedCandidate, short
from eureka_kit.run.store import RunStore
from eureka_kit.schedule.halving import (
    HalvingPlan,
    RungResult,
    checkpoint_dir,
    decide,
    read_rung,
    stop_message,
    write_rung,
)

FinalStatus = Literal["ok", "stopped_early"]


class CandidateSteps(Protocol):
    """What the loop lends the schedule (see :class:`eureka_kit.loop.Loop`)."""

    executor: Executor
    store: RunStore
    progress: Progress

    def prepare(
        self, generation: int, index: int, response: str, messages: list[Message], *, reuse: bool
    ) -> PreparedCandidate | CandidateRecord: ...

    def candidate_job(
        self, p: PreparedCandidate, steps: int, resume_from: Path | None, checkpoint_to: Path | None
    ) -> CandidateJob: ...

    def finish_trained(
        self,
        p: PreparedCandidate,
        outcome: CandidateOutcome | None,
        *,
        status: FinalStatus,
        message: str | None,
        env_steps: int | None,
        rungs: int | None,
    ) -> CandidateRecord: ...

    def finish(self, record: CandidateRecord) -> CandidateRecord: ...

    def internal_error(self, generation: int, index: int, error: Exception) -> CandidateRecord: ...


def run_rung(steps: CandidateSteps, p: PreparedCandidate, plan: HalvingPlan, rung: int) -> CandidateOutcome:
    """Train ``p`` from the previous rung's checkpoint to rung ``rung``'s budget, evaluate it, record the result."""
    cand = steps.store.cand_dir(p.generation, p.index)
    steps.progress.stage(p.name, "training", f"rung {rung + 1}/{plan.rungs}")
    job = steps.candidate_job(
        p,
        plan.steps[rung],
        resume_from=checkpoint_dir(rung - 1) if rung > 0 else None,
        checkpoint_to=checkpoint_dir(rung) if rung < plan.rungs - 1 else None,
    )
    outcome = steps.executor.run(job)
    train, evaluation = outcome.train, outcome.evaluation
    used = train.stats.total_steps if train.stats is not None else plan.steps[rung]
    if train.status != "ok" or evaluation is None:
        result = RungResult(rung, plan.steps[rung], used, train.status, train.message, train_wall_s=train.wall_s)
    else:
        atomic_write_json(cand / EVAL_FILE, evaluation.to_json())
        result = RungResult(
            rung,
            plan.steps[rung],
            used,
            "ok" if evaluation.status == "ok" else "eval_error",
            evaluation.message if evaluation.status != "ok" else "",
            fitness=evaluation.fitness if evaluation.status == "ok" else None,
            fitness_std=evaluation.fitness_std if evaluation.status == "ok" else None,
            train_wall_s=train.wall_s,
            env_steps_per_s=train.env_steps_per_s,
        )
    write_rung(cand, result)
    return outcome


def run_halving_generation(
    steps: CandidateSteps,
    plan: HalvingPlan,
    generation: int,
    done: Mapping[int, CandidateRecord],
    responses: Sequence[str],
    messages: list[Message],
) -> list[CandidateRecord]:
    """Run the generation's candidates (one per response; those in ``done`` are finished) through the rungs."""
    k = len(responses)
    records: dict[int, CandidateRecord] = dict(done)
    prepared: dict[int, PreparedCandidate] = {}
    outcomes: dict[int, CandidateOutcome] = {}

    def cand(i: int) -> Path:
        return steps.store.cand_dir(generation, i)

    def train(p: PreparedCandidate, rung: int) -> None:
        if read_rung(cand(p.index), rung) is None:
            outcomes[p.index] = run_rung(steps, p, plan, rung)

    def first(i: int) -> None:  # checks, then rung 0 at once: a candidate does not wait for the others' checks
        p = steps.prepare(generation, i, responses[i], messages, reuse=True)
        if isinstance(p, CandidateRecord):
            records[i] = p
            return
        prepared[i] = p
        train(p, 0)

    def guarded(i: int, work: Callable[[], None]) -> None:
        """``work`` for candidate ``i``; an unexpected exception ends that candidate as ``internal_error``."""

        def internal(error: Exception) -> None:
            records[i] = steps.internal_error(generation, i, error)

        contained(work, internal, passthrough=(BudgetExceeded,))

    def finish(i: int, status: FinalStatus, message: str | None, result: RungResult, rung: int) -> None:
        records[i] = _finish(steps, prepared[i], outcomes.get(i), status, message, result, rung)

    with ThreadPoolExecutor(max_workers=steps.executor.workers, thread_name_prefix="cand") as pool:
        for fut in [pool.submit(guarded, i, partial(first, i)) for i in range(k) if i not in done]:
            fut.result()
        alive = list(range(k))
        for rung in range(plan.rungs):
            todo = [prepared[i] for i in alive if i in prepared and i not in records] if rung > 0 else []
            for fut in [pool.submit(guarded, p.index, partial(train, p, rung)) for p in todo]:
                fut.result()
            results = {i: r for i in alive if (r := read_rung(cand(i), rung)) is not None}
            for i, r in results.items():
                if not r.ok and i in prepared and i not in records:
                    records[i] = steps.finish(failed_record(prepared[i], r))
            decision = decide(plan, rung, results)
            last = rung == plan.rungs - 1
            finals: list[tuple[int, FinalStatus, str | None]] = [(i, "ok", None) for i in decision.kept] if last else []
            finals += [(i, "stopped_early", stop_message(plan, decision, results[i])) for i in decision.stopped]
            finishing = [
                pool.submit(guarded, i, partial(finish, i, status, message, results[i], rung))
                for i, status, message in finals
                if i in prepared and i not in records
            ]
            for done_fut in finishing:
                done_fut.result()
            alive = list(decision.kept)
    return [records[i] for i in range(k)]


def failed_record(p: PreparedCandidate, result: RungResult) -> CandidateRecord:
    """A candidate whose training or evaluation failed at a rung ends with that status (``rungs``: those finished)."""
    return CandidateRecord(
        p.generation, p.index, result.status, short(result.message), repairs=p.repairs,
        train_wall_s=result.train_wall_s, env_steps=result.env_steps, rungs=result.rung,
    )  # fmt: skip


def _finish(
    steps: CandidateSteps,
    p: PreparedCandidate,
    outcome: CandidateOutcome | None,
    status: FinalStatus,
    message: str | None,
    result: RungResult,
    rung: int,
) -> CandidateRecord:
    return steps.finish_trained(p, outcome, status=status, message=message, env_steps=result.env_steps, rungs=rung + 1)


def load_outcome(cand: Path) -> CandidateOutcome | None:
    """A candidate's last training and evaluation rebuilt from its files (a resumed run finishing a rung's decision).

    ``stats.json`` is parsed as untrusted bounded JSON; ``eval.json`` was written by the trusted evaluator.
    """
    from eureka_kit.evaluation.evaluator import Evaluation
    from eureka_kit.files import UntrustedFileError, read_bounded_json
    from eureka_kit.training.job import OBS_NORM_FILE, POLICY_FILE, STATS_FILE, StatsFormatError, read_stats
    from eureka_kit.training.runner import TrainResult

    try:
        evaluation = Evaluation.from_json(read_bounded_json(cand / EVAL_FILE, 16_000_000))
    except (UntrustedFileError, KeyError, TypeError, ValueError):
        return None
    try:
        stats = read_stats(cand / STATS_FILE)
    except (OSError, StatsFormatError):
        stats = None
    norm = cand / OBS_NORM_FILE
    train = TrainResult(
        "ok",
        "",
        stats.wall_s if stats is not None else 0.0,
        cand,
        env_steps_per_s=stats.env_steps_per_s if stats is not None else None,
        stats=stats,
        policy_path=cand / POLICY_FILE,
        obs_norm_path=norm if norm.is_file() else None,
    )
    return CandidateOutcome(train, evaluation)
