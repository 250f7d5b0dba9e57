"""The evolutionary loop: wires prompts, LLM, extraction, critic, trainer, evaluator and store.

Each generation: render the prompt from the elite so far, ask the LLM for K
programs, and for each one (up to ``workers`` at once) extract, check (with
up to R repair rounds that show the LLM its own program and the critic's
findings, :mod:`eureka_kit.loop.repair`), train
in a sandboxed child, evaluate with the trusted evaluator, and write its
typed record; while fewer than M programs pass the critic, fresh samples are
drawn (:mod:`eureka_kit.loop.topup`). The loop holds no stage logic of its own.

Failures never stop the run: every candidate ends with a status and a short
message that the next prompt can carry. A crash or ``kill -9`` loses at most
the candidates in flight: :func:`resume_run` skips finished candidates and the
LLM cache answers requests already made.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from eureka_kit.config import RunConfig
from eureka_kit.errors import UsageError
from eureka_kit.executors import CandidateJob, CandidateOutcome, Executor, make_executor
from eureka_kit.feedback.card_check import TrajectoryStore, check_trajectories
from eureka_kit.feedback.compose import ROLLOUTS_FILE, trajectory_store
from eureka_kit.files import UntrustedFileError, read_bounded_json
from eureka_kit.llm import BudgetExceeded, LLMClient, Message, SamplingParams, make_client
from eureka_kit.loop.callbacks import (
    CallbackList,
    CandidateContext,
    GenerationContext,
    LoopCallback,
    RunContext,
    default_callbacks,
    ranker_for,
)
from eureka_kit.loop.few_shot import first_prompt_blocks
from eureka_kit.loop.glue import PREPARED_FILE, equivalent_record, halving_plan, make_pruner
from eureka_kit.loop.judge import judge_fitness
from eureka_kit.loop.repair import ask_with, check_with_repairs, reask_with
from eureka_kit.loop.run_setup import (
    MAX_RUN_FILE_BYTES,
    RunFileError,
    RunResult,
    new_run_id,
    package_versions,
    read_run_config,
    run_lock,
)
from eureka_kit.loop.selection import Elite, base_messages, find_elite, next_messages
from eureka_kit.loop.summary import write_summary
from eureka_kit.loop.topup import GenerationCut, annotated, fill_generation, finished_generation, halving_generation
from eureka_kit.preferences.ranking import Ranker
from eureka_kit.prompting import render
from eureka_kit.reward.check_report import CheckReport
from eureka_kit.reward.check_runner import check_sandboxed
from eureka_kit.reward.static_checks import check_static
from eureka_kit.run.containment import contain_hook, contained, internal_error_record, report_internal_errors
from eureka_kit.run.layout import CANDIDATE_FILE, CHECK_FILE, EVAL_FILE, RESPONSE_FILE, REWARD_FILE, candidate_name
from eureka_kit.run.notes import take_notes
from eureka_kit.run.progress import Progress
from eureka_kit.run.records import RETRIED_ON_RESUME, CandidateRecord, CandidateStatus, PreparedCandidate, short
from eureka_kit.run.store import RunStore, atomic_write_json, atomic_write_text, read_json
from eureka_kit.sandbox.runner import Limits, configure_sandbox, default_mode, ensure_isolation, sandbox_mode
from eureka_kit.sandbox.verify import BASIC_MODE_WARNING
from eureka_kit.schedule.pruning import EquivalencePruner
from eureka_kit.schedule.rungs import FinalStatus, load_outcome
from eureka_kit.tasks.mjcf import is_mjcf, localize
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.backends import get_backend, resolve_training
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import default_timeout_s

EVAL_SEED = 1_000_000
T = TypeVar("T")


class Loop:
    """One run of the method. Build with :func:`start_run` or :func:`resume_run`."""

    def __init__(
        self,
        config: RunConfig,
        store: RunStore,
        client: LLMClient,
        progress: Progress,
        callbacks: Sequence[LoopCallback] = (),
    ) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.progress = progress
        self.spec: TaskSpec = config.task_spec()
        self.params = SamplingParams(temperature=config.temperature)
        self.ranker: Ranker | None = ranker_for(config, self.spec, store, announce=progress.log)
        self._trajectories: TrajectoryStore | None = None
        self._pruner: EquivalencePruner | None = None
        self._prunes = config.prune_equivalent and (config.analyzer or config.trajectory_check)  # rollouts stored
        self.backend, self.device = resolve_training(config.backend, self.spec, config.device)
        budget = get_backend(self.backend).budget(self.spec)
        self.steps = config.steps or budget.total_steps
        self.plan = halving_plan(config, self.backend, self.steps)
        self.n_envs = config.n_envs or budget.n_envs
        self.executor: Executor = make_executor(config.executor, config.workers, ray=config.ray_options())
        self.callbacks = CallbackList([*default_callbacks(config, self.ranker), *callbacks])
        self.context = RunContext(config, self.spec, store, client, progress.log, self.steps, self.backend)
        self.examples_text, self.init_text = first_prompt_blocks(config, self.spec, progress.log)

    # ----- prompts ---------------------------------------------------------------------------------
    def base_messages(self) -> list[Message]:
        return base_messages(self.spec)

    def messages_for(self, generation: int, history: list[CandidateRecord]) -> list[Message]:
        """Generation 0: system + task. Later: also the elite program and its feedback (see :mod:`selection`)."""
        messages = next_messages(self.spec, self.store.root, generation, history, ranked=self.ranker is not None)
        extra = [t for t in (self.examples_text, self.init_text if generation == 0 else "") if t]
        if extra:  # few-shot examples (every generation), the user's starting program (generation 0)
            first = messages[1]  # the task's first user message (selection.base_messages)
            messages[1] = Message(first.role, "\n\n".join([first.content.rstrip(), *extra]))
        return messages

    def elite(self, history: list[CandidateRecord]) -> Elite | None:
        """Best candidate by trusted fitness over all generations so far (see :func:`selection.find_elite`)."""
        return find_elite(self.spec, self.store.root, history)

    # ----- one candidate ---------------------------------------------------------------------------
    def finish(self, record: CandidateRecord) -> CandidateRecord:
        """Write the record (with the sample it came from and how its repair ended) and report it."""
        record = annotated(self.store, record)
        atomic_write_json(self.store.cand_dir(record.generation, record.index) / CANDIDATE_FILE, record.to_json())
        self.progress.finished(record.name, record.status, record.fitness, record.message)
        return record

    def _check(self, source: str, cand: Path) -> CheckReport:
        report = check_static(self.spec, source)
        if report.ok:
            report = check_sandboxed(self.spec, source, cand)
        atomic_write_json(cand / CHECK_FILE, report.to_dict())
        return report

    def prepare(
        self, generation: int, index: int, response: str, messages: list[Message], *, reuse: bool = False
    ) -> PreparedCandidate | CandidateRecord:
        """Extract, check (with repairs), CARD's check and the equivalence check: ready to train, or its record.

        ``reuse``: a candidate prepared before a crash (``prepared.json``) is not checked again (halving's resume).
        """
        name = candidate_name(generation, index)
        cand = self.store.cand_dir(generation, index)
        if reuse and (cand / PREPARED_FILE).is_file():
            return PreparedCandidate.from_json(read_json(cand / PREPARED_FILE))
        if cand.exists():  # an unfinished attempt from before a crash: start the candidate over
            shutil.rmtree(cand)
        cand.mkdir(parents=True)
        atomic_write_text(cand / RESPONSE_FILE, response)

        def fail(status: CandidateStatus, message: str, repairs: int = 0) -> CandidateRecord:
            return self.finish(CandidateRecord(generation, index, status, short(message), repairs=repairs))

        # extract + check, with repair rounds: the model sees its own program and the critic's findings
        self.progress.stage(name, "checking")
        checked = check_with_repairs(
            self.spec,
            response,
            messages,
            check=lambda source: self._check(source, cand),
            ask=ask_with(self.client, self.params, self.report_usage),
            reask=reask_with(self.client, self.params, self.report_usage),
            rounds=self.config.repair_rounds,
            folder=cand,
            name=name,
        )
        repairs = checked.repairs
        if checked.stop == "extract_error":
            return fail("extract_error", checked.message, repairs)
        if not checked.ok or checked.source is None or checked.report is None:
            return fail("check_error", checked.message, repairs)
        source, report = checked.source, checked.report

        # CARD's trajectory check: does the program prefer earlier successful trajectories to failed ones?
        if self._trajectories is not None:
            tcheck = check_trajectories(self.spec, source, self._trajectories, cand / "trajectory_check")
            atomic_write_json(cand / "trajectory_check.json", tcheck.to_json())
            if tcheck.status in ("fail", "error") and self.config.skip_on_trajectory_check:
                return fail("trajectory_rejected", tcheck.message, repairs)

        # equal to an earlier trained program up to scale, shift or shaping? then reuse its result
        rec = equivalent_record(self._pruner, source, cand, generation, index, report.components, repairs)
        if rec is not None:
            return self.finish(rec)
        prepared = PreparedCandidate(generation, index, report.components, repairs, checked.message)
        atomic_write_json(cand / PREPARED_FILE, prepared.to_json())
        return prepared

    def candidate_job(
        self, p: PreparedCandidate, steps: int, resume_from: Path | None = None, checkpoint_to: Path | None = None
    ) -> CandidateJob:
        """The job that trains ``p`` to ``steps`` env-steps in all (from a checkpoint of its own, if given)."""
        cand = self.store.cand_dir(p.generation, p.index)
        train = TrainJob(
            task_id=self.spec.id, reward_kind="program", reward_path=cand / REWARD_FILE, total_steps=steps,
            n_envs=self.n_envs, seed=self.config.seed, backend=self.backend, device=self.device,
            fitness=self.config.fitness, resume_from=resume_from, checkpoint_to=checkpoint_to,
        )  # fmt: skip
        return CandidateJob(
            spec=self.spec,
            train=train,
            out_dir=cand,
            limits=Limits(
                wall_s=self.config.candidate_timeout_s or default_timeout_s(self.steps),
                address_space_mb=self.config.memory_mb,
            ),
            eval_episodes=self.config.eval_episodes,
            eval_seed=EVAL_SEED,
            rollouts_path=cand / ROLLOUTS_FILE if self.config.analyzer or self.config.trajectory_check else None,
        )

    def finish_trained(
        self,
        p: PreparedCandidate,
        outcome: CandidateOutcome | None,
        *,
        status: FinalStatus = "ok",
        message: str | None = None,
        env_steps: int | None = None,
        rungs: int | None = None,
    ) -> CandidateRecord:
        """The record of a trained candidate (feedback callbacks first); ``None`` outcome: rebuilt from its files."""
        cand = self.store.cand_dir(p.generation, p.index)
        outcome = outcome if outcome is not None else load_outcome(cand)
        common: dict[str, Any] = {"repairs": p.repairs, "env_steps": env_steps, "rungs": rungs}
        if outcome is None:
            return self.finish(CandidateRecord(p.generation, p.index, "eval_error", "no evaluation found", **common))
        train, evaluation = outcome.train, outcome.evaluation
        common["train_wall_s"] = train.wall_s
        if train.status != "ok" or evaluation is None:
            return self.finish(CandidateRecord(p.generation, p.index, train.status, short(train.message), **common))
        atomic_write_json(cand / EVAL_FILE, evaluation.to_json())
        if evaluation.status != "ok":
            return self.finish(
                CandidateRecord(p.generation, p.index, "eval_error", short(evaluation.message), **common)
            )
        source = (cand / REWARD_FILE).read_text()
        self.callbacks.on_candidate_evaluated(CandidateContext(self.context, p.name, cand, source, train, evaluation))
        rec = CandidateRecord(
            p.generation, p.index, status, message if message is not None else p.note,  # p.note: normalizations
            fitness=evaluation.fitness, fitness_std=evaluation.fitness_std, components=p.components,
            env_steps_per_s=train.env_steps_per_s, backend=self.backend, **common,
        )  # fmt: skip
        return self.finish(rec)

    def train(self, p: PreparedCandidate) -> CandidateRecord:
        """A prepared candidate under the full schedule: train the whole budget, evaluate, record."""
        self.progress.stage(p.name, "training")  # train in the sandboxed child, then the trusted evaluation
        outcome = self.executor.run(self.candidate_job(p, self.steps))
        used = outcome.train.stats.total_steps if outcome.train.stats is not None else self.steps
        return self.finish_trained(p, outcome, env_steps=used if outcome.train.status == "ok" else None)

    def contained(self, generation: int, index: int, work: Callable[[], T]) -> T | CandidateRecord:
        """``work()``; an unexpected exception ends the candidate ``internal_error`` (the LLM budget ends the run)."""
        widened: Callable[[], T | CandidateRecord] = work
        on_error = functools.partial(self.internal_error, generation, index)
        return contained(widened, on_error, passthrough=(BudgetExceeded,))

    def internal_error(self, generation: int, index: int, error: Exception) -> CandidateRecord:
        """End a candidate as ``internal_error``: traceback in its folder, record written, one console line."""
        stage = self.progress.stage_of(candidate_name(generation, index)) or "preparing"
        return self.finish(internal_error_record(self.store.root, generation, index, stage, error))

    # ----- generations ------------------------------------------------------------------------------
    def load_record(self, generation: int, index: int) -> CandidateRecord | None:
        """The finished record of a candidate; ``None`` when it has none or must run again (``internal_error``)."""
        path = self.store.cand_dir(generation, index) / CANDIDATE_FILE
        if not path.exists():
            return None
        record = CandidateRecord.from_json(read_json(path))
        return None if record.status in RETRIED_ON_RESUME else record

    def report_usage(self) -> None:
        totals = self.client.totals()
        self.progress.usage(totals.total_tokens, totals.cost_usd)

    def run_generation(self, generation: int, history: list[CandidateRecord]) -> list[CandidateRecord]:
        self.progress.generation(generation)
        finished = finished_generation(self, generation)
        if finished is not None:
            self.progress.log(f"  gen {generation}: all {len(finished)} candidates already finished (resumed)")
            self._after_generation(generation, finished)
            return finished
        messages = self.messages_for(generation, history)
        notes = take_notes(self.store.root, generation)
        if notes:  # a person's notes (eureka-kit feedback) go with the request's last message
            last = messages[-1]  # every request ends with a user message (see selection.next_messages)
            messages[-1] = Message(last.role, f"{last.content.rstrip()}\n\n{render('human_note', notes=notes)}")
            self.progress.log(f"  gen {generation}: the prompt carries {len(notes)} note(s) from a person")
        atomic_write_json(
            self.store.gen_dir(generation) / "prompt.json", [{"role": m.role, "content": m.content} for m in messages]
        )
        if generation > 0 and (self.config.trajectory_check or self._prunes):  # earlier generations: same on resume
            store = trajectory_store(self.spec, self.store.root, history)
            self._trajectories = store if self.config.trajectory_check else None
            self._pruner = (
                make_pruner(self.config, self.spec, self.store.root, generation, store, history)
                if self._prunes
                else None
            )
        if self.plan is None:
            records = fill_generation(self, generation, messages)
        else:  # successive halving: exactly K candidates (top-ups are refused at config validation)
            records = halving_generation(self, self.plan, generation, messages)
        self._after_generation(generation, records)
        return records

    def _after_generation(self, generation: int, records: list[CandidateRecord]) -> None:
        """The callbacks' end of generation: videos, rankings (and any the user added).

        The records are already written; a callback that raises is contained (its traceback in the generation's
        folder, one console line) and the run goes on with the next callback and generation.
        """
        context, folder = GenerationContext(self.context, generation, tuple(records)), self.store.gen_dir(generation)
        for callback in self.callbacks.callbacks:
            end = functools.partial(callback.on_generation_end, context)
            contain_hook(self.progress.log, folder, type(callback).__name__, "generation end", end, (BudgetExceeded,))

    def run(self) -> RunResult:
        started = time.monotonic()
        previous_wall = 0.0
        if not self.store.summary_path.exists() and any(self.store.root.glob("gen_*")):
            self.progress.log(
                f"{self.store.summary_path.name} is missing: it is rebuilt from the candidates' files; its wall time "
                "counts from this resume only"
            )
        if self.store.summary_path.exists():
            try:
                previous_wall = float(read_bounded_json(self.store.summary_path, MAX_RUN_FILE_BYTES)["wall_time_s"])
            except (UntrustedFileError, KeyError, TypeError, ValueError) as e:
                raise RunFileError(
                    f"cannot resume: {self.store.summary_path} is damaged ({e}); delete it and resume again: it is "
                    "rebuilt from the candidates' files (its wall time then counts from the resume only)"
                ) from None
        history: list[CandidateRecord] = []
        stopped: str | None = None
        with run_lock(self.store):
            self.progress.log(f"training backend: {self.backend} on {self.device}; executor: {self.executor.name}")
            self.callbacks.on_run_start(self.context)
            try:
                for g in range(self.config.generations):
                    history += self.run_generation(g, history)
                    self._write_summary(history, previous_wall + time.monotonic() - started, None)
            except (BudgetExceeded, GenerationCut) as e:
                history += e.records if isinstance(e, GenerationCut) else []  # a generation cut by the budget
                stopped = f"budget: {e}"
                self.progress.log(f"LLM budget reached, stopping cleanly: {e}")
            summary = self._write_summary(history, previous_wall + time.monotonic() - started, stopped)
            for callback in self.callbacks.callbacks:  # the report and the like: contained like generation ends
                end = functools.partial(callback.on_run_end, self.context, summary)
                contain_hook(self.progress.log, self.store.root, type(callback).__name__, "run end", end)
            self.executor.close()
            report_internal_errors(self.progress.log, self.store.root, history)
        elite = self.elite(history)
        return RunResult(self.store.root, elite.record if elite else None, stopped, summary)

    def _write_summary(self, history: list[CandidateRecord], wall: float, stopped: str | None) -> dict[str, Any]:
        return write_summary(
            self.spec,
            self.store,
            history,
            generations=self.config.generations,
            model=self.client.model,
            wall=wall,
            stopped=stopped,
        )


def _make_client(config: RunConfig, store: RunStore) -> LLMClient:
    return make_client(
        config.llm,
        model=config.model,
        base_url=config.base_url,
        replay_path=config.resolved_replay_path(),
        cache_dir=store.llm_cache_dir,
        budget_usd=config.budget_usd,
        calls_log=store.llm_calls_path,
    )


def start_run(
    config: RunConfig,
    runs_dir: Path = Path("runs"),
    progress: Progress | None = None,
    callbacks: Sequence[LoopCallback] = (),
) -> RunResult:
    """Create ``runs/<run-id>/`` for ``config`` and run it to the end.

    Everything that can be checked before work starts is (task, training
    backend, replay file, sandbox); if the run fails before its first
    generation, its folder is removed again, so a failed start leaves nothing.
    """
    config.task_spec()  # fail fast on an unknown task (listing the valid ones) or a bad fitness expression
    if config.sandbox is None:  # record the mode actually used, so resume uses the same
        config = dataclasses.replace(config, sandbox=default_mode())
    store = RunStore(runs_dir / new_run_id(config))
    if store.root.exists():
        raise FileExistsError(f"run folder {store.root} already exists")
    store.root.mkdir(parents=True)
    try:
        if is_mjcf(config.task):  # children rebuild the task from the run's own compiled copy of the model
            config = dataclasses.replace(config, task=localize(config.task, store.root / "model"))
        if config.judge == "llm":  # the LLM proposes the fitness expression; the run uses it only once accepted
            config = _judged(config, store)
    except BaseException:  # a failed start leaves nothing
        shutil.rmtree(store.root, ignore_errors=True)
        raise
    atomic_write_json(
        store.config_path, {"config": config.to_json(), "versions": package_versions(), "run_id": store.run_id}
    )
    return _run(config, store, progress, callbacks, fresh=True)


def _judged(config: RunConfig, store: RunStore) -> RunConfig:
    """The config with the LLM judge's accepted expression as its fitness (:mod:`eureka_kit.loop.judge`)."""
    if config.fitness is not None:
        raise UsageError("give --fitness EXPR or --judge llm (which proposes one), not both")
    expression = judge_fitness(
        _make_client(config, store), config.task_spec(), config.goal or "", store.root, yes=config.yes
    )
    return dataclasses.replace(config, fitness=expression)


def resume_run(run_dir: Path, progress: Progress | None = None, callbacks: Sequence[LoopCallback] = ()) -> RunResult:
    """Continue a run after a crash: finished candidates are kept, answered LLM requests come from the cache."""
    store = RunStore(run_dir)
    if not store.exists():
        raise FileNotFoundError(f"{run_dir} is not a eureka-kit run (no config.json)")
    config = read_run_config(store)
    return _run(config, store, progress, callbacks, fresh=False)


def prepare_sandbox(mode: str | None, log: Callable[[str], None] = print) -> None:
    """Select the sandbox mode and verify isolation once (raises ``IsolationUnavailable`` naming what is missing)."""
    configure_sandbox(mode)  # type: ignore[arg-type]
    report = ensure_isolation()
    if sandbox_mode() == "basic":
        log(BASIC_MODE_WARNING)
    else:
        log(f"sandbox: strict ({report.summary().splitlines()[0]})")


def _run(
    config: RunConfig, store: RunStore, progress: Progress | None, callbacks: Sequence[LoopCallback], *, fresh: bool
) -> RunResult:
    try:  # set-up, cheap checks first: the replay file (client), the training backend, then the sandbox (seconds)
        client = _make_client(config, store)
        resolve_training(config.backend, config.task_spec(), config.device)
        prog = progress or Progress(config.task, config.generations)
    except BaseException:
        if fresh:
            shutil.rmtree(store.root, ignore_errors=True)
        raise
    with prog:
        try:
            prepare_sandbox(config.sandbox, prog.log)
            prog.log(f"run {store.root} (task {config.task}, LLM {config.llm}:{client.model})")
            loop = Loop(config, store, client, prog, callbacks)
        except BaseException:
            if fresh:
                shutil.rmtree(store.root, ignore_errors=True)
            raise
        return loop.run()
