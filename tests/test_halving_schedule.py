"""Successive halving's logic, fast: rung budgets, decisions, and a generation on a fake executor whose fitness per
rung follows a table (programs of known quality), including resume after a rung."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from eureka_kit.evaluation.evaluator import Evaluation
from eureka_kit.executors import CandidateJob, CandidateOutcome
from eureka_kit.llm import Message
from eureka_kit.run.records import CandidateRecord, PreparedCandidate
from eureka_kit.run.store import RunStore
from eureka_kit.schedule.halving import RungResult, decide, make_plan, read_rung
from eureka_kit.schedule.rungs import FinalStatus, run_halving_generation
from eureka_kit.training.runner import TrainResult

# fitness of each candidate (by index) at rungs 0, 1, 2: cand 3 is best at the end, cand 4 fails to train at rung 0
TABLE = {0: (0.1, 0.2, 0.3), 1: (0.5, 0.6, 0.7), 2: (-1.0, -1.0, -1.0), 3: (0.4, 0.9, 1.5), 4: None, 5: (0.3, 0.1, 0.0)}


def test_plan_budgets_and_keep_counts() -> None:
    assert make_plan(9000, 3, 3).steps == (1000, 3000, 9000)
    assert make_plan(1000, 3, 2).steps == (250, 500, 1000)
    assert make_plan(1000, 3, 2, grace_steps=100).steps == (100, 316, 1000)
    assert make_plan(1000, 1, 3).steps == (1000,)
    assert [make_plan(10, 3, 3).keep(n) for n in (0, 1, 2, 3, 4, 6, 7)] == [0, 1, 1, 1, 2, 2, 3]
    with pytest.raises(ValueError, match="reduction_factor"):
        make_plan(1000, 3, 1)
    with pytest.raises(ValueError, match=r"grace_steps must be in \[1, 1000\]"):
        make_plan(1000, 3, 3, grace_steps=2000)


def test_decide_keeps_the_best_share_and_names_the_bar() -> None:
    plan = make_plan(900, 3, 3)
    results = {i: RungResult(0, 100, 100, "ok", "", fitness=f) for i, f in enumerate([0.1, 0.9, 0.5, 0.4])}
    results[4] = RungResult(0, 100, 100, "train_error", "boom")
    d = decide(plan, 0, results)
    assert d.kept == (1, 2) and d.stopped == (3, 0) and d.bar == 0.5
    assert decide(plan, 2, results).kept == (1, 2, 3, 0)  # the last rung keeps everyone who finished


class FakeSteps:
    """The loop's candidate steps with a fake executor: fitness from TABLE, every job recorded."""

    def __init__(self, root: Path, plan_steps: tuple[int, ...]) -> None:
        self.store = RunStore(root)
        self.progress = self
        self.executor = self
        self.workers = 3
        self.jobs: list[tuple[int, int, Path | None]] = []  # (candidate, steps, resume_from)
        self.finished: dict[int, tuple[FinalStatus, str | None, bool]] = {}
        self.plan_steps = plan_steps
        self.lock = threading.Lock()

    def stage(self, name: str, stage: str, detail: str = "") -> None:
        pass

    def prepare(
        self, generation: int, index: int, response: str, messages: list[Message], *, reuse: bool
    ) -> PreparedCandidate | CandidateRecord:
        self.store.cand_dir(generation, index).mkdir(parents=True, exist_ok=True)
        return PreparedCandidate(generation, index, ("r",), 0, "")

    def candidate_job(
        self, p: PreparedCandidate, steps: int, resume_from: Path | None, checkpoint_to: Path | None
    ) -> CandidateJob:
        return CandidateJob(
            spec=None, train=(p.index, steps, resume_from), out_dir=Path("."), limits=None, eval_episodes=1, eval_seed=0
        )  # type: ignore[arg-type]

    def run(self, job: CandidateJob) -> CandidateOutcome:
        index, steps, resume_from = job.train  # type: ignore[misc]
        with self.lock:
            self.jobs.append((index, steps, resume_from))
        rung = self.plan_steps.index(steps)
        row = TABLE[index]
        if row is None:
            return CandidateOutcome(TrainResult("train_error", "reward crashed", 0.1, Path(".")), None)
        evaluation = Evaluation(status="ok", message="", fitness=row[rung], fitness_std=0.0)
        return CandidateOutcome(TrainResult("ok", "", 0.1, Path(".")), evaluation)

    def finish_trained(
        self,
        p: PreparedCandidate,
        outcome: CandidateOutcome | None,
        *,
        status: FinalStatus,
        message: str | None,
        env_steps: int | None,
        rungs: int | None,
    ) -> CandidateRecord:
        assert outcome is None or outcome.evaluation is not None
        fitness = TABLE[p.index][(rungs or 1) - 1]  # type: ignore[index]
        with self.lock:
            self.finished[p.index] = (status, message, outcome is None)
        return CandidateRecord(p.generation, p.index, status, message or "", fitness=fitness, env_steps=env_steps)

    def finish(self, record: CandidateRecord) -> CandidateRecord:
        return record


def _run(steps: FakeSteps, done: dict[int, CandidateRecord] | None = None) -> list[CandidateRecord]:
    plan = make_plan(900, 3, 3)
    return run_halving_generation(steps, plan, 0, done or {}, ["answer"] * len(TABLE), [])


def test_generation_keeps_the_best_and_stops_the_worst(tmp_path: Path) -> None:
    steps = FakeSteps(tmp_path, (100, 300, 900))
    records = _run(steps)
    by = {r.index: r for r in records}
    # rung 0: 5 trained fine (cand 4 failed): keep ceil(5/3) = 2 -> 1 (0.5) and 3 (0.4); rung 1: keep 1 -> 3 (0.9)
    assert by[3].status == "ok" and by[3].fitness == 1.5 and by[3].env_steps == 900
    assert by[4].status == "train_error"
    assert {i for i, r in by.items() if r.status == "stopped_early"} == {0, 1, 2, 5}
    assert by[2].message.startswith("stopped early at rung 1 of 3 (fitness -1 vs kept 0.4")
    assert by[1].message.startswith("stopped early at rung 2 of 3 (fitness 0.6 vs kept 0.9")
    assert by[1].env_steps == 300 and by[2].env_steps == 100
    # continued from the previous rung's checkpoint, never from scratch
    later = [(i, s, r) for i, s, r in steps.jobs if s > 100]
    assert sorted(later) == [(1, 300, Path("checkpoint_rung_0")), (3, 300, Path("checkpoint_rung_0")),
                             (3, 900, Path("checkpoint_rung_1"))]  # fmt: skip
    assert sum(r.env_steps or 0 for r in records) == 4 * 100 + 300 + 900 < 5 * 900 / 2


def test_resume_after_a_rung_does_not_retrain_finished_rungs(tmp_path: Path) -> None:
    first = FakeSteps(tmp_path, (100, 300, 900))
    records = _run(first)
    # a crash after rung 1 was recorded: rung 2's file and the final records of the kept candidate are lost
    (tmp_path / "gen_000/cand_03/rungs/rung_2.json").unlink()
    done = {r.index: r for r in records if r.index not in (1, 3)}
    again = FakeSteps(tmp_path, (100, 300, 900))
    resumed = run_halving_generation(again, make_plan(900, 3, 3), 0, done, ["answer"] * len(TABLE), [])
    assert again.jobs == [(3, 900, Path("checkpoint_rung_1"))]  # only the lost rung is trained again
    assert [r.status for r in resumed] == [r.status for r in records]
    assert again.finished[1] == ("stopped_early", records[1].message, True)  # finished from its files
    assert read_rung(tmp_path / "gen_000/cand_03", 2) is not None
