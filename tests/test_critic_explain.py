"""``eureka-kit check --explain``: the traced shapes per line, for a person (the trace comes from the sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eureka_kit.cli import main
from eureka_kit.reward.check_report import CheckReport
from eureka_kit.reward.critic import check_program
from eureka_kit.reward.explain import explain
from eureka_kit.tasks.registry import get_task

CORPUS = Path(__file__).parent / "data" / "corpus" / "halfcheetah-small-model" / "candidates.jsonl"
TASK = "HalfCheetah-Run-v1"


def _corpus_program(index: int) -> str:
    return str(json.loads(CORPUS.read_text().splitlines()[index])["final_program"])


def test_explain_lays_the_shapes_under_their_lines() -> None:
    source = _corpus_program(0)  # gen_000/cand_00: `.sum(dim=-1)` on an (N,) value, line 12
    text = explain(source, check_program(get_task(TASK), source))
    assert "12 |     total += forward_velocity.sum(dim=-1)  <-- error" in text
    assert "`forward_velocity.sum(dim=-1)` [sum] `forward_velocity` (N,) -> ()" in text


def test_explain_without_a_trace_says_why() -> None:
    assert "No traced shapes" in explain("x = 1\n", CheckReport())


def test_check_explain_prints_the_trace_from_the_sandbox(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "reward.py"
    path.write_text(_corpus_program(1))  # gen_000/cand_01: (N,) + (N, 6) on line 10
    assert main(["check", TASK, str(path), "--explain"]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "Traced shapes" in out
    assert "`x_velocity + action * 10.0` [add] `x_velocity` (N,), `action * 10.0` (N, 6) -> raised RuntimeError" in out
    assert "10 |     speed = (x_velocity + action * 10.0)" in out and "<-- error" in out
