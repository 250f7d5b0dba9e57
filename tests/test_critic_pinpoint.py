"""The pinpointing critic: every answer of the small-model corpus (tests/data/corpus/) through extraction and the
critic; each rejected one gets a message naming its line and operation, with advice that the traced shapes
do not contradict. Plus the finding kinds one by one on small programs, and the trace through the sandbox."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from eureka_kit.reward.check_runner import check_sandboxed
from eureka_kit.reward.critic import check_program
from eureka_kit.reward.extract import extract_program
from eureka_kit.reward.pinpoint import pinpoint
from eureka_kit.reward.program import PROGRAM_FILENAME, load_program
from eureka_kit.reward.shape_findings import REDUCTIONS, ShapeFinding
from eureka_kit.reward.smoke_batches import real_states
from eureka_kit.tasks.registry import get_task

CORPUS = Path(__file__).parent / "data" / "corpus" / "halfcheetah-small-model"
TASK = "HalfCheetah-Run-v1"
ARGS = "x_position, x_velocity, torso_height, torso_angle, torso_angular_velocity, joint_pos, joint_vel, action"


def corpus_answers() -> list[tuple[str, str]]:
    """(where, answer) for every answer of the corpus: first answers, repairs, and every exchange's response."""
    answers: list[tuple[str, str]] = []
    for line in (CORPUS / "candidates.jsonl").read_text().splitlines():
        d = json.loads(line)
        answers += [(f"{d['candidate']}/{k}", d[k]) for k in ("response", "response_repair_1") if k in d]
    for i, line in enumerate((CORPUS / "llm_exchanges.jsonl").read_text().splitlines()):
        answers.append((f"exchange {i}", json.loads(line)["response"]))
    return answers


@cache
def corpus_programs() -> tuple[tuple[str, str], ...]:
    """(where, program) for every distinct program extracted from the corpus' answers."""
    seen: dict[str, str] = {}
    for where, answer in corpus_answers():
        extraction = extract_program(answer)
        if extraction.status == "ok" and extraction.source is not None:
            seen.setdefault(extraction.source, where)
    return tuple((where, source) for source, where in seen.items())


def _finding(source: str) -> ShapeFinding | None:
    spec = get_task(TASK)
    return pinpoint(spec, source, load_program(source, spec, PROGRAM_FILENAME), real_states(spec, 8)).finding


def assert_advice_fits_shapes(f: ShapeFinding) -> None:
    """The fix never tells to reduce a tensor that has no dimension left but N, and names the traced line."""
    assert f"line {f.line}" in f.fix, f.fix
    if f.kind == "lost_batch_dim" and f.operand is not None and f.operand.ndim == 1:
        advice = re.sub(r"(remove|replace) `[^`]+`", "", f.fix)  # quoting the call to remove is no advice to add it
        assert "dim=" not in advice, f"advice to reduce an (N,) tensor: {f.fix}"
        assert any(w in f.fix for w in ("remove", "replace", "whole", "elementwise")), f.fix
    reduced = f.event.op in REDUCTIONS
    if reduced and f.kind == "lost_batch_dim" and f.operand is not None and f.operand.ndim == 2:
        assert "dim=-1" in f.fix, f.fix
    for named, _ in re.findall(r"`([^`]+)` (\(N,\))", f.message()):  # no (N,) operand is told to reduce
        assert f"`{named}.sum(dim" not in f.fix and f"`{named}.mean(dim" not in f.fix, f.fix


def test_the_corpus_is_in_the_repository_and_every_answer_extracts() -> None:
    assert (CORPUS.parent / "README.md").is_file()
    answers = corpus_answers()
    assert len(answers) == 46
    failed = [where for where, answer in answers if extract_program(answer).status != "ok"]
    assert not failed, f"answers the extractor could not read: {failed}"
    assert len(corpus_programs()) >= 12


def test_every_rejected_corpus_program_is_pinned_to_its_line() -> None:
    spec = get_task(TASK)
    rejected = 0
    for where, source in corpus_programs():
        report = check_program(spec, source)
        if report.ok:
            continue
        rejected += 1
        first = report.errors[0]
        assert first.line is not None, f"{where}: no line in {first.message}"
        lines = source.splitlines()
        assert f"line {first.line}: `" in first.message, f"{where}: {first.message}"
        expression = first.message.split("`")[1]
        assert expression in " ".join(lines[first.line - 1].split()), f"{where}: {expression!r} not on its line"
        assert re.search(r"\(\w+\)", first.message), f"{where}: no operation named: {first.message}"
        found = _finding(source)
        assert found is not None and first.message.startswith(found.message())
        assert f"[{found.kind}]" in first.message
        assert_advice_fits_shapes(found)
        for issue in report.issues:  # no message of the report tells to reduce where the trace shows (N,)
            if found.kind == "lost_batch_dim" and found.operand is not None and found.operand.ndim == 1:
                assert "without `dim=-1`" not in issue.message, issue.message
    assert rejected >= 12


def test_the_sum_dim_trap_of_the_corpus_gets_the_right_advice() -> None:
    """The issue's case: `.sum()` on an (N,) value; the old message said `dim=-1` and the model added it."""
    source = next(s for w, s in corpus_programs() if "forward_velocity.sum(dim=-1)" in s)
    found = _finding(source)
    assert found is not None and found.kind == "lost_batch_dim"
    assert "remove `.sum(dim=-1)`" in found.fix and "`forward_velocity` is (N,)" in found.fix


def _program(body: str) -> str:
    lines = "\n".join("    " + b for b in body.strip().splitlines())
    return f"import torch\nimport numpy as np\n\ndef compute_reward({ARGS}):\n{lines}\n"


@pytest.mark.parametrize(
    ("body", "kind", "line", "advice"),
    [
        ("t = action.pow(2).sum(dim=0)\nreturn t, {'t': t}", "lost_batch_dim", 5, "`action.pow(2).sum(dim=-1)`"),
        ("t = joint_vel[0]\nreturn t, {'t': t}", "lost_batch_dim", 5, "`joint_vel[:, 0]`"),
        ("t = x_velocity.unsqueeze(-1) + torso_angle\nreturn t, {'t': t}", "bad_broadcast", 5, ".squeeze(-1)"),
        ("t = x_velocity * action\nreturn t, {'t': t}", "bad_broadcast", 5, "`action.sum(dim=-1)`"),
        ("s = x_velocity.mean().item()\nreturn x_velocity, {'s': s}", "lost_batch_dim", 5, "remove `.mean()`"),
        ("s = torch.log(x_velocity - x_velocity)\nreturn s, {'s': s}", "non_finite_op", 5, "clamp_min"),
        (
            "t = torch.dot(x_velocity, torso_angle)\nreturn t, {'t': t}",
            "lost_batch_dim",
            5,
            "`x_velocity * torso_angle`",
        ),
    ],
    ids=["sum_dim0", "index_env", "pairwise", "n_with_n6", "item", "log0", "dot"],
)
def test_finding_kinds(body: str, kind: str, line: int, advice: str) -> None:
    found = _finding(_program(body))
    assert found is not None, body
    assert (found.kind, found.line) == (kind, line), found.message()
    assert advice in found.fix, found.fix
    assert_advice_fits_shapes(found)


def test_item_on_a_per_env_value_is_a_python_number() -> None:
    found = _finding(_program("s = torch.tensor(2.0).item()\nreturn x_velocity * s, {'s': s}"))
    assert found is not None and found.kind == "python_number" and "remove `.item()` on line 5" in found.fix


def test_a_correct_program_has_no_finding_and_a_full_trace() -> None:
    spec = get_task(TASK)
    source = (Path(__file__).resolve().parents[1] / "examples" / "halfcheetah_reward.py").read_text()
    report = check_program(spec, source)
    assert report.ok and _finding(source) is None
    assert any("`torch.square(action).sum(dim=-1)`" in t and "(N, 6) -> (N,)" in t for t in report.trace)


def test_the_trace_runs_in_the_sandboxed_check_child(tmp_path: Path) -> None:
    spec = get_task(TASK)
    source = next(s for _, s in corpus_programs() if "forward_velocity.sum(dim=-1)" in s)
    report = check_sandboxed(spec, source, tmp_path)
    first = report.errors[0]
    assert (first.code, first.line) == ("wrong_shape", 12), report.feedback()
    assert first.message.startswith("line 12: `forward_velocity.sum(dim=-1)` (sum) lost the batch dimension N")
    assert "tampering" not in report.codes
    assert any(t.startswith("line 12: `forward_velocity.sum(dim=-1)`") for t in report.trace)


def test_a_python_number_total_is_pointed_at_its_assignment() -> None:
    """gen_001/cand_03's shape: `total = 0.0` never becomes a tensor (no operation to trace)."""
    source = _program("total = 0.0\nm = x_velocity * 2.0\nreturn total, {'m': m}")
    report = check_program(get_task(TASK), source)
    first = report.errors[0]
    assert (first.code, first.line) == ("non_tensor", 5), report.feedback()
    assert first.message.startswith("line 5: `total = 0.0` makes `total` a Python number")
    assert "`total = torch.zeros_like(x_position)` on line 5" in first.message
