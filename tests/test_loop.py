"""End to end: the whole loop with replayed LLM responses and tiny training budgets (HalfCheetah)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_runs import run_tiny

from eureka_kit.loop import RunResult

DATA = Path(__file__).parent / "data"
REPLAY = DATA / "halfcheetah_loop.jsonl"
CANDIDATE_FILES = (
    "response.md",
    "reward.py",
    "check.json",
    "train.log",
    "stats.json",
    "eval.json",
    "policy.safetensors",
    "feedback.md",
    "candidate.json",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return run_tiny(tmp_path_factory.mktemp("runs"), REPLAY)


def _record(run: RunResult, g: int, i: int) -> dict[str, object]:
    return json.loads((run.run_dir / f"gen_{g:03d}" / f"cand_{i:02d}" / "candidate.json").read_text())


def test_statuses_are_typed(run: RunResult) -> None:
    statuses = [[_record(run, g, i)["status"] for i in range(3)] for g in range(2)]
    assert statuses == [["ok", "check_error", "train_error"], ["ok", "train_error", "ok"]]
    assert "cheetah_speed" in str(_record(run, 0, 1)["message"])  # the critic names the unknown argument
    assert "buffer overflow" in str(_record(run, 0, 2)["message"])  # the exception raised during training
    assert "nan" in str(_record(run, 1, 1)["message"]).lower()


def test_failure_messages_reach_next_prompt(run: RunResult) -> None:
    prompt = json.loads((run.run_dir / "gen_001" / "prompt.json").read_text())
    last = prompt[-1]["content"]
    assert prompt[-2]["role"] == "assistant" and "compute_reward" in prompt[-2]["content"]
    assert "candidate 1 (check_error)" in last and "cheetah_speed" in last
    assert "candidate 2 (train_error)" in last and "buffer overflow" in last
    assert "Evaluated on 1 fresh episodes" in last  # the elite's reflection


def test_best_is_selected_by_trusted_fitness(run: RunResult) -> None:
    evals = {}
    for cand in sorted(run.run_dir.glob("gen_*/cand_*")):
        rec = json.loads((cand / "candidate.json").read_text())
        if rec["status"] == "ok":
            evals[f"{cand.parent.name}/{cand.name}"] = json.loads((cand / "eval.json").read_text())["fitness"]
            assert rec["fitness"] == evals[f"{cand.parent.name}/{cand.name}"]
    best_name = max(evals, key=lambda k: evals[k])
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["best"]["candidate"] == best_name
    assert summary["best"]["fitness"] == evals[best_name]
    assert run.best is not None and run.best.name == best_name


def test_run_files_are_complete(run: RunResult) -> None:
    for g, i in [(0, 0), (1, 0), (1, 2)]:
        cand = run.run_dir / f"gen_{g:03d}" / f"cand_{i:02d}"
        missing = [f for f in CANDIDATE_FILES if not (cand / f).exists()]
        assert not missing, f"{cand}: missing {missing}"
    config = json.loads((run.run_dir / "config.json").read_text())
    assert config["config"]["task"] == "HalfCheetah-Run-v1"
    assert "torch" in config["versions"]
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["status_counts"] == {"ok": 3, "check_error": 1, "train_error": 2}
    assert [g["generation"] for g in summary["fitness_per_generation"]] == [0, 1]
    assert summary["llm"]["calls"] >= 2 and summary["llm"]["prompt_tokens"] > 0
    assert summary["wall_time_s"] > 0
    assert not list(run.run_dir.rglob("*.tmp")), "atomic writes left temporary files"


def test_analyzer_and_trajectory_check_feed_the_loop(run: RunResult) -> None:
    cand = run.run_dir / "gen_000" / "cand_00"
    analysis = json.loads((cand / "analysis.json").read_text())
    assert analysis["findings"], "the analyzer found nothing to say"
    feedback = (cand / "feedback.md").read_text()
    assert "Evaluated on 1 fresh episodes" in feedback
    kinds = {f["kind"] for f in analysis["findings"]}
    assert "episode_end" in kinds or "fitness" in kinds
    # generation 1 programs were checked against generation 0's stored trajectories (too few: skipped)
    check = json.loads((run.run_dir / "gen_001" / "cand_00" / "trajectory_check.json").read_text())
    assert check["status"] in ("pass", "fail", "skipped")
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["trajectory_check"]["checked"] >= 2
    assert summary["trajectory_check"]["training_runs_saved"] == 0
