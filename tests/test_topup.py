"""Full generations: ``--min-valid`` draws fresh samples until M programs pass the critic, bounded by
``--max-samples``; resume redraws and retrains nothing; a repeated program in a repair is re-asked hotter.

Tiny replayed runs (tests/tiny_runs.py): top-up requests are answered by their exact id (``gen_000/topup_1``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.config import RunConfig
from eureka_kit.llm import BudgetExceeded, Message, SamplingParams
from eureka_kit.llm.client import LLMClient
from eureka_kit.loop import resume_run
from eureka_kit.loop.repair import check_with_repairs, hotter
from eureka_kit.reward.critic import check_program
from eureka_kit.run.progress import Progress
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.samples import SAMPLES_FILE
from eureka_kit.tasks.registry import get_task
from eureka_kit.web.report import render_report
from eureka_kit.web.run_view import load_run

TASK = "HalfCheetah-Run-v1"
FAST: dict[str, Any] = {"generations": 1, "analyzer": False, "trajectory_check": False}


def _good(speed: float) -> str:
    return (
        "```python\nimport torch\n\n\ndef compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):\n"
        f"    forward = {speed} * x_velocity\n    ctrl = -0.1 * (action**2).sum(dim=-1)\n"
        '    return forward + ctrl, {"forward": forward, "ctrl": ctrl}\n```\n'
    )


BAD_ARG = (
    "```python\nimport torch\n\n\ndef compute_reward(cheetah_speed: torch.Tensor):\n"
    '    return cheetah_speed, {"speed": cheetah_speed}\n```\n'
)
PROSE = "I would reward forward velocity and penalize large actions."


def _records(run_dir: Path) -> dict[int, dict[str, Any]]:
    return {
        int(p.parent.name[5:]): json.loads(p.read_text()) for p in sorted(run_dir.glob("gen_000/cand_*/candidate.json"))
    }


def _calls(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "llm_calls.jsonl").read_text().splitlines() if line]


TOPUP_REPLAY = [
    ("gen_000/initial", _good(1.0)),
    ("gen_000/initial", BAD_ARG),
    ("gen_000/initial", PROSE),
    ("gen_000/topup_1", _good(2.0)),  # topup_1 asks for the 2 missing: one passes, one fails
    ("gen_000/topup_1", PROSE),
    ("gen_000/topup_2", _good(3.0)),  # topup_2 asks for the last one
]


def test_min_valid_draws_fresh_samples_until_m_pass_and_resume_redoes_nothing(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", TOPUP_REPLAY)
    run = run_tiny(tmp_path / "runs", replay, samples=3, min_valid=3, **FAST)
    records = _records(run.run_dir)
    assert [records[i]["status"] for i in range(6)] == [
        "ok",
        "check_error",
        "extract_error",
        "ok",
        "extract_error",
        "ok",
    ]
    assert [records[i]["origin"] for i in range(6)] == ["initial"] * 3 + ["topup_1"] * 2 + ["topup_2"]
    assert records[0]["repair_stop"] == "passed" and records[1]["repair_stop"] == "rounds_exhausted"
    samples = json.loads((run.run_dir / "gen_000" / SAMPLES_FILE).read_text())
    assert samples["closed"] and samples["samples"] == 6
    assert [(r["request_id"], r["first"], r["n"]) for r in samples["rounds"]] == [
        ("gen_000/initial", 0, 3),
        ("gen_000/topup_1", 3, 2),
        ("gen_000/topup_2", 5, 1),
    ]
    gen = run.summary["fitness_per_generation"][0]
    assert (gen["samples_drawn"], gen["topups"], gen["passed"]) == (6, 2, 3)
    assert [c["origin"] for c in gen["candidates"]][-1] == "topup_2"
    assert [c["request_id"] for c in _calls(run.run_dir)] == ["gen_000/initial", "gen_000/topup_1", "gen_000/topup_2"]
    view = load_run(run.run_dir)
    assert [c.origin for c in view.generations[0].candidates] == [records[i]["origin"] for i in range(6)]
    assert ">5*: " in render_report(view)  # the report marks the fresh samples

    # a crash while cand_05 trained: the generation is open and cand_05 has no record
    closed = run.run_dir / "gen_000" / SAMPLES_FILE
    closed.write_text(json.dumps({**samples, "closed": False}))
    (run.run_dir / "gen_000" / "cand_05" / "candidate.json").unlink()

    def stamps() -> dict[int, int]:
        return {i: (run.run_dir / "gen_000" / f"cand_{i:02d}" / "candidate.json").stat().st_mtime_ns for i in range(5)}

    kept = stamps()
    before = len(_calls(run.run_dir))
    resumed = resume_run(run.run_dir, progress=Progress(TASK, 1, live=False))
    new_calls = _calls(run.run_dir)[before:]
    assert [(c["request_id"], c["status"]) for c in new_calls] == [("gen_000/topup_2", "cached")]
    assert {
        i: (run.run_dir / "gen_000" / f"cand_{i:02d}" / "candidate.json").stat().st_mtime_ns for i in range(5)
    } == kept
    assert [r["status"] for r in _records(run.run_dir).values()] == [records[i]["status"] for i in range(6)]
    assert resumed.summary["fitness_per_generation"][0]["samples_drawn"] == 6

    # resuming the finished run: nothing asked, nothing trained
    before = len(_calls(run.run_dir))
    resume_run(run.run_dir, progress=Progress(TASK, 1, live=False))
    assert len(_calls(run.run_dir)) == before


def test_max_samples_bounds_the_fresh_samples(tmp_path: Path) -> None:
    replay = write_replay(
        tmp_path / "replay.jsonl",
        [("gen_000/initial", BAD_ARG), ("gen_000/initial", PROSE), ("gen_000/topup_1", PROSE)],
    )
    run = run_tiny(tmp_path / "runs", replay, samples=2, min_valid=2, max_samples=3, **FAST)
    records = _records(run.run_dir)
    assert sorted(records) == [0, 1, 2] and all(r["status"] != "ok" for r in records.values())
    assert records[2]["origin"] == "topup_1"
    assert [c["request_id"] for c in _calls(run.run_dir)] == ["gen_000/initial", "gen_000/topup_1"]
    samples = json.loads((run.run_dir / "gen_000" / SAMPLES_FILE).read_text())
    assert samples["rounds"][1]["n"] == 1 and samples["closed"]  # min(2 missing, 3 - 2 left)
    gen = run.summary["fitness_per_generation"][0]
    assert (gen["samples_drawn"], gen["passed"]) == (3, 0)


def test_min_valid_below_k_and_no_topup_answers(tmp_path: Path) -> None:
    """M = 1 of 2: one passing program is enough; a replay file without top-up answers ends the top-ups."""
    replay = write_replay(tmp_path / "replay.jsonl", [("gen_000/initial", BAD_ARG), ("gen_000/initial", PROSE)])
    run = run_tiny(tmp_path / "runs", replay, samples=2, min_valid=1, **FAST)
    assert sorted(_records(run.run_dir)) == [0, 1]
    assert json.loads((run.run_dir / "gen_000" / SAMPLES_FILE).read_text())["closed"]


def test_config_bounds_and_halving() -> None:
    base: dict[str, Any] = {"task": TASK, "llm": "replay", "replay_path": "x", "samples": 4}
    assert RunConfig(**base).valid_target() == 4 and RunConfig(**base).sample_bound() == 8
    assert RunConfig(**base, min_valid=2, max_samples=5).sample_bound() == 5
    assert RunConfig(**base, schedule="halving").sample_bound() == 4  # halving: no fresh samples by default
    with pytest.raises(ValueError, match="min_valid must be in"):
        RunConfig(**base, min_valid=5)
    with pytest.raises(ValueError, match="max_samples must be >= samples"):
        RunConfig(**base, max_samples=3)
    with pytest.raises(ValueError, match="not supported with it"):
        RunConfig(**base, schedule="halving", max_samples=6)


def test_old_records_load_with_defaults() -> None:
    old = {"generation": 0, "index": 1, "status": "ok", "message": "", "fitness": 1.0}
    record = CandidateRecord.from_json(old)
    assert record.origin == "initial" and record.repair_stop is None


def test_same_program_is_asked_again_hotter(tmp_path: Path) -> None:
    """Unit: the same program again is re-asked once (``reask_1``); the same again ends the repair."""
    asked: list[str] = []

    def ask(conversation: list[Message], request_id: str) -> str:
        asked.append(request_id)
        return BAD_ARG

    def reask(conversation: list[Message], request_id: str) -> str | None:
        asked.append(request_id)
        return BAD_ARG

    def check(source: str):  # type: ignore[no-untyped-def]
        return check_program(get_task(TASK), source)

    messages = [Message("system", "sys"), Message("user", "write a reward")]
    outcome = check_with_repairs(
        get_task(TASK), BAD_ARG, messages, check=check, ask=ask, reask=reask, rounds=2, folder=tmp_path, name="c"
    )
    assert outcome.stop == "same_program" and outcome.reasks == 1 and outcome.repairs == 1
    assert asked == ["c/repair_1", "c/reask_1"]
    assert json.loads((tmp_path / "repairs.json").read_text())["reasks"] == 1
    assert hotter(1.0) == pytest.approx(1.4) and hotter(1.8) == 2.0


def test_same_program_reask_through_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The repair returns the program again; the re-ask at temperature 1.4 returns a good one, which trains."""
    seen: list[tuple[str, float | None]] = []
    original = LLMClient.sample

    def spy(self: LLMClient, messages: Any, *, request_id: str, n: int = 1, params: SamplingParams | None = None):  # type: ignore[no-untyped-def]
        seen.append((request_id, params.temperature if params else None))
        return original(self, messages, request_id=request_id, n=n, params=params)

    monkeypatch.setattr(LLMClient, "sample", spy)
    replay = write_replay(
        tmp_path / "replay.jsonl",
        [
            ("gen_000/initial", BAD_ARG),
            ("gen_000/cand_00/repair_1", BAD_ARG),  # the same program again
            ("gen_000/cand_00/reask_1", _good(1.5)),
        ],
    )
    run = run_tiny(tmp_path / "runs", replay, samples=1, repair_rounds=1, temperature=1.0, **FAST)
    assert seen == [("gen_000/initial", 1.0), ("gen_000/cand_00/repair_1", 1.0), ("gen_000/cand_00/reask_1", 1.4)]
    record = _records(run.run_dir)[0]
    assert record["status"] == "ok" and record["repair_stop"] == "passed" and record["origin"] == "initial"
    cand = run.run_dir / "gen_000" / "cand_00"
    assert (cand / "response_reask_1.md").read_text() == _good(1.5)
    assert json.loads((cand / "repairs.json").read_text())["reasks"] == 1


def test_budget_reached_while_drawing_a_topup_stops_the_run_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generation keeps the candidates it has (the valid one trains), stays open for a resume, the run stops."""
    original = LLMClient.sample

    def capped(self: LLMClient, messages: Any, *, request_id: str, n: int = 1, params: SamplingParams | None = None):  # type: ignore[no-untyped-def]
        if "topup" in request_id:
            raise BudgetExceeded(request_id, "the LLM budget of $0.01 would be reached")
        return original(self, messages, request_id=request_id, n=n, params=params)

    monkeypatch.setattr(LLMClient, "sample", capped)
    replay = write_replay(tmp_path / "replay.jsonl", [("gen_000/initial", _good(1.0)), ("gen_000/initial", PROSE)])
    run = run_tiny(tmp_path / "runs", replay, samples=2, **{**FAST, "generations": 2})
    assert run.stopped is not None and "gen_000/topup_1" in run.stopped
    assert [r["status"] for r in _records(run.run_dir).values()] == ["ok", "extract_error"]
    assert run.summary["finished_generations"] == 1 and run.summary["best"]["candidate"] == "gen_000/cand_00"
    assert not json.loads((run.run_dir / "gen_000" / SAMPLES_FILE).read_text())["closed"]
