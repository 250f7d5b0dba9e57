"""Full generations: draw fresh samples until M programs of a generation pass the critic (``--min-valid``).

A generation asks the LLM for K programs (``initial``). Each candidate is prepared (extract, check with repair
rounds, CARD's check, equivalence) in a preparing pool; one that passes (a
:class:`~eureka_kit.run.records.PreparedCandidate`) goes at once to the training pool, without waiting for the
others. When every candidate drawn so far is prepared and fewer than M passed, one more request asks for the
missing number of fresh samples from the same prompt (``gen_XXX/topup_<r>``, r = 1, 2, ...), bounded by
``--max-samples`` samples per generation in all; its candidates take the next indices (``cand_K``,
``cand_K+1``...) and are prepared and trained like the others. A program that fails, an equivalent one (nothing new
to train) and an internal error all count as not passed.

Every draw is written to ``gen_XXX/samples.json`` (:mod:`eureka_kit.run.samples`) once answered, so a resumed
generation asks the same requests again (the LLM cache answers them), keeps every finished candidate, and decides
further draws from the same counts. Top-up requests count in the LLM budget like any: when the budget is reached,
the generation ends with the candidates it has and the run then stops cleanly. A replay file with no answer for a
top-up request (:class:`~eureka_kit.llm.errors.ReplayError`) ends the top-ups: a recording has no more samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Protocol, TypeVar

from eureka_kit.config import RunConfig
from eureka_kit.executors import Executor
from eureka_kit.llm import BudgetExceeded, Completion, LLMClient, Message, SamplingParams
from eureka_kit.llm.errors import ReplayError
from eureka_kit.loop.repair import REPAIRS_FILE
from eureka_kit.run.layout import candidate_name, gen_name
from eureka_kit.run.progress import Progress
from eureka_kit.run.records import CandidateRecord, PreparedCandidate
from eureka_kit.run.samples import GenerationSamples, SampleRound, passed_critic, read_samples, write_samples
from eureka_kit.run.store import RunStore, read_json
from eureka_kit.schedule.halving import HalvingPlan
from eureka_kit.schedule.rungs import CandidateSteps, run_halving_generation

T = TypeVar("T")


class FillSteps(Protocol):
    """What the loop lends the generation filler (see :class:`eureka_kit.loop.Loop`)."""

    config: RunConfig
    client: LLMClient
    params: SamplingParams
    store: RunStore
    progress: Progress
    executor: Executor

    def prepare(
        self, generation: int, index: int, response: str, messages: list[Message], *, reuse: bool = False
    ) -> PreparedCandidate | CandidateRecord: ...

    def train(self, p: PreparedCandidate) -> CandidateRecord: ...

    def contained(self, generation: int, index: int, work: Callable[[], T]) -> T | CandidateRecord: ...

    def load_record(self, generation: int, index: int) -> CandidateRecord | None: ...

    def report_usage(self) -> None: ...


class HalvingSteps(FillSteps, CandidateSteps, Protocol):
    """The loop as both the filler and successive halving see it."""


def halving_generation(
    steps: HalvingSteps, plan: HalvingPlan, generation: int, messages: list[Message]
) -> list[CandidateRecord]:
    """A generation under ``--schedule halving``: exactly K candidates through the rungs (no fresh samples)."""
    round_ = initial_round(generation, steps.config.samples)
    completions = steps.client.sample(messages, n=round_.n, params=steps.params, request_id=round_.request_id)
    steps.report_usage()
    done = {i: r for i in round_.indices if (r := steps.load_record(generation, i)) is not None}
    for i in (i for i in round_.indices if i not in done):
        steps.progress.stage(candidate_name(generation, i), "queued")
    return run_halving_generation(steps, plan, generation, done, [c.text for c in completions], messages)


def annotated(store: RunStore, record: CandidateRecord) -> CandidateRecord:
    """``record`` with the sample it came from (``samples.json``) and how its repair ended (``repairs.json``)."""
    samples = read_samples(store.gen_dir(record.generation))
    repairs = store.cand_dir(record.generation, record.index) / REPAIRS_FILE
    stop = read_json(repairs).get("stop") if repairs.is_file() else None
    return dataclasses.replace(
        record,
        origin=samples.origin_of(record.index) if samples is not None else "initial",
        repair_stop=str(stop) if stop is not None else None,
    )


def initial_round(generation: int, k: int) -> SampleRound:
    """The generation's first request: K samples (``initial`` in generation 0, ``reflection`` later)."""
    kind = "initial" if generation == 0 else "reflection"
    return SampleRound("initial", f"{gen_name(generation)}/{kind}", 0, k)


def finished_generation(steps: FillSteps, generation: int) -> list[CandidateRecord] | None:
    """The records of a generation that needs nothing more (a resumed run), else ``None``.

    Finished: every candidate drawn has its record and the candidate set is final (``samples.json`` closed; a
    generation from before top-ups, without the file, has K candidates).
    """
    stored = read_samples(steps.store.gen_dir(generation))
    if stored is not None and not stored.closed:
        return None
    total = stored.total if stored is not None else steps.config.samples
    records = [steps.load_record(generation, i) for i in range(total)]
    return None if any(r is None for r in records) else [r for r in records if r is not None]


def fill_generation(steps: FillSteps, generation: int, messages: list[Message]) -> list[CandidateRecord]:
    """Prepare and train the generation's candidates, drawing fresh samples until M pass (or the bound is reached).

    Candidates with a finished record (a resumed run) are kept; the records come back in index order.
    """
    gen_dir = steps.store.gen_dir(generation)
    config = steps.config
    target, bound = config.valid_target(), max(config.sample_bound(), config.samples)
    state = read_samples(gen_dir) or GenerationSamples((initial_round(generation, config.samples),))
    records: dict[int, CandidateRecord] = {}
    passed: set[int] = set()
    preparing: dict[Future[PreparedCandidate | CandidateRecord], int] = {}
    training: dict[int, Future[CandidateRecord]] = {}
    budget: BudgetExceeded | None = None

    def name(i: int) -> str:
        return candidate_name(generation, i)

    with (
        ThreadPoolExecutor(max_workers=steps.executor.workers, thread_name_prefix="prep") as prep_pool,
        ThreadPoolExecutor(max_workers=steps.executor.workers, thread_name_prefix="cand") as train_pool,
    ):

        def launch(round_: SampleRound, completions: list[Completion] | None = None) -> None:
            """Ask ``round_``'s request (unless answered: ``completions``) and start its unfinished candidates.

            A resumed run asks again only for a round with unfinished candidates; the LLM cache answers it.
            """
            for i in round_.indices:
                if (record := steps.load_record(generation, i)) is not None:
                    records[i] = record
                    if passed_critic(steps.store.cand_dir(generation, i)):
                        passed.add(i)
            todo = [i for i in round_.indices if i not in records]
            if not todo:
                return
            if completions is None:
                completions = steps.client.sample(
                    messages, n=round_.n, params=steps.params, request_id=round_.request_id
                )
                steps.report_usage()
            for i in todo:
                steps.progress.stage(name(i), "queued")
            for i in todo:
                text = completions[i - round_.first].text
                work = partial(steps.prepare, generation, i, text, messages)
                preparing[prep_pool.submit(steps.contained, generation, i, work)] = i

        def settle() -> None:
            """Wait for every candidate in preparation; those that pass start training at once."""
            while preparing:
                ready, _ = wait(list(preparing), return_when=FIRST_COMPLETED)
                for fut in ready:
                    i = preparing.pop(fut)
                    result = fut.result()
                    if isinstance(result, PreparedCandidate):
                        passed.add(i)
                        training[i] = train_pool.submit(steps.contained, generation, i, partial(steps.train, result))
                    else:
                        records[i] = result

        if read_samples(gen_dir) is None:
            write_samples(gen_dir, state)
        for round_ in state.rounds:
            launch(round_)
        settle()
        while not state.closed and len(passed) < target and state.total < bound:
            r = state.topups + 1
            n = min(target - len(passed), bound - state.total)
            round_ = SampleRound(f"topup_{r}", f"{gen_name(generation)}/topup_{r}", state.total, n)
            steps.progress.log(
                f"  gen {generation}: {len(passed)} of {target} programs passed the critic; drawing {n} fresh "
                f"sample(s) ({round_.request_id})"
            )
            try:
                fresh = steps.client.sample(messages, n=n, params=steps.params, request_id=round_.request_id)
            except ReplayError as e:
                steps.progress.log(f"  gen {generation}: no fresh samples: {e}")
                break
            except BudgetExceeded as e:
                budget = e
                break
            state = state.with_round(round_)
            write_samples(gen_dir, state)
            steps.report_usage()
            launch(round_, fresh)
            settle()
        if budget is None:
            state = GenerationSamples(state.rounds, closed=True)
            write_samples(gen_dir, state)
        for i, fut in training.items():
            records[i] = fut.result()
    if len(passed) < target:
        steps.progress.log(f"  gen {generation}: {len(passed)} of {target} programs passed ({state.total} samples)")
    if budget is not None:
        raise GenerationCut([records[i] for i in sorted(records)], budget)
    return [records[i] for i in sorted(records)]


class GenerationCut(Exception):
    """The LLM budget was reached while drawing fresh samples: the generation's records so far, then the stop."""

    def __init__(self, records: list[CandidateRecord], budget: BudgetExceeded) -> None:
        super().__init__(str(budget))
        self.records = records
        self.budget = budget
