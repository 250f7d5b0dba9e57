"""Repair as a conversation: corpus answers (tests/data/corpus/) with scripted repairs. Each repair prompt shows
the model its own last program and the critic's findings; the same program again stops the repair; every round
is written to the candidate folder and counted; safe normalizations are applied, recorded and told."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.llm import Message
from eureka_kit.loop.repair import check_with_repairs, same_program
from eureka_kit.reward.check_report import CheckReport
from eureka_kit.reward.critic import check_program
from eureka_kit.reward.extract import extract_program
from eureka_kit.reward.normalize import normalize
from eureka_kit.tasks.registry import get_task

CORPUS = Path(__file__).parent / "data" / "corpus" / "halfcheetah-small-model" / "candidates.jsonl"
TASK = "HalfCheetah-Run-v1"
GOOD = (
    "```python\nimport torch\n\ndef compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):\n"
    "    forward = x_velocity\n    ctrl = -0.1 * (action ** 2).sum(dim=-1)\n"
    "    return forward + ctrl, {'forward': forward, 'ctrl': ctrl}\n```\n"
)


def corpus(candidate: str) -> dict[str, str]:
    for line in CORPUS.read_text().splitlines():
        d = json.loads(line)
        if d["candidate"] == candidate:
            return d  # type: ignore[no-any-return]
    raise KeyError(candidate)


def _check(source: str) -> CheckReport:
    return check_program(get_task(TASK), source)


def _run(first: str, answers: list[str], folder: Path, rounds: int = 3):  # type: ignore[no-untyped-def]
    asked: list[tuple[list[Message], str]] = []

    def ask(conversation: list[Message], request_id: str) -> str:
        asked.append((conversation, request_id))
        return answers[len(asked) - 1]

    messages = [Message("system", "sys"), Message("user", "write a reward")]
    outcome = check_with_repairs(
        get_task(TASK), first, messages, check=_check, ask=ask, rounds=rounds, folder=folder, name="gen_000/cand_00"
    )
    return outcome, asked


def test_each_repair_prompt_shows_the_last_program_and_its_findings(tmp_path: Path) -> None:
    """The corpus' trap: `.sum()` on an (N,) value; its real repair added `dim=-1`; the scripted 2nd repair fixes it."""
    c = corpus("gen_000/cand_00")
    outcome, asked = _run(c["response"], [c["response_repair_1"], GOOD], tmp_path)
    assert outcome.stop == "passed" and outcome.repairs == 2
    assert [r.status for r in outcome.rounds] == ["rejected", "rejected", "passed"]
    assert [rid for _, rid in asked] == ["gen_000/cand_00/repair_1", "gen_000/cand_00/repair_2"]
    first, second = ((tmp_path / f"repair_{k}_prompt.md").read_text() for k in (1, 2))
    assert "total += forward_velocity.sum()\n" in first and "remove `.sum()` on line 12" in first
    assert "total += forward_velocity.sum(dim=-1)\n" in second and "remove `.sum(dim=-1)` on line 12" in second
    assert "repair round 2 of 3" in second
    answers = (c["response"], c["response_repair_1"])
    for (conversation, _), prompt, answer in zip(asked, (first, second), answers, strict=True):
        assert [m.role for m in conversation] == ["system", "user", "assistant", "user"]
        assert (
            conversation[-2].content == answer and conversation[-1].content == prompt
        )  # its own last answer, then ours
    assert (tmp_path / "response_repair_2.md").read_text() == GOOD
    summary = json.loads((tmp_path / "repairs.json").read_text())
    assert summary["stop"] == "passed" and summary["repairs"] == 2 and len(summary["rounds"]) == 3
    assert summary["rounds"][0]["line"] == 12 and "wrong_shape" in summary["rounds"][0]["errors"]


def test_the_same_program_again_stops_the_repair(tmp_path: Path) -> None:
    c = corpus("gen_001/cand_00")
    same_but_reformatted = c["response"].replace("    # Mean forward velocity over all environments\n", "")
    outcome, asked = _run(c["response"], [same_but_reformatted, GOOD], tmp_path)
    assert outcome.stop == "same_program" and outcome.repairs == 1 and len(asked) == 1
    assert "same program again" in outcome.message and "line 12" in outcome.message


def test_rounds_run_out(tmp_path: Path) -> None:
    c = corpus("gen_002/cand_02")
    outcome, _ = _run(c["response"], [c["response_repair_1"]], tmp_path, rounds=1)
    assert outcome.stop == "rounds_exhausted" and outcome.repairs == 1 and not outcome.ok
    assert json.loads((tmp_path / "repairs.json").read_text())["stop"] == "rounds_exhausted"


def test_same_program_ignores_comments_and_formatting() -> None:
    assert same_program("x = 1  # one\n", "\n\nx = (1)\n")
    assert not same_program("x = 1\n", "x = 2\n")


SINGLE = "import torch\n\ndef compute_reward(x_velocity):\n    r = 2.0 * x_velocity\n    return r\n"
CONSTANT = (
    "import torch\n\ndef compute_reward(x_velocity):\n    r = x_velocity + 1.0\n"
    "    return r, {'forward': x_velocity, 'alive': 1.0}\n"
)
REDUCED = "import torch\n\ndef compute_reward(x_velocity):\n    r = x_velocity.mean()\n    return r, {'f': r}\n"
FROM_ITEM = (
    "import torch\n\ndef compute_reward(x_velocity):\n    m = x_velocity.mean().item()\n"
    "    return x_velocity, {'forward': x_velocity, 'mean': m}\n"
)


@pytest.mark.parametrize(
    ("source", "kind", "expected"),
    [
        (SINGLE, "components_from_total", 'return r, {"total": r}'),
        (CONSTANT, "constant_component", "'alive': torch.full_like(r, 1.0)"),
    ],
)
def test_safe_normalizations_make_the_program_pass(source: str, kind: str, expected: str, tmp_path: Path) -> None:
    spec = get_task(TASK)
    report = _check(source)
    assert not report.ok
    fixed, notes = normalize(spec, source, report)
    assert fixed is not None and expected in fixed and [n.kind for n in notes] == [kind]
    assert _check(fixed).ok
    fenced = f"```python\n{source}```\n"
    outcome, asked = _run(fenced, [], tmp_path)
    assert outcome.stop == "normalized" and outcome.repairs == 0 and not asked
    assert expected in (tmp_path / "reward.py").read_text()
    assert (tmp_path / "reward_as_written_0.py").read_text() == source
    assert json.loads((tmp_path / "repairs.json").read_text())["normalizations"][0]["kind"] == kind


@pytest.mark.parametrize("source", [REDUCED, FROM_ITEM], ids=["batch_mean", "item"])
def test_a_batch_reduction_is_never_normalized(source: str) -> None:
    report = _check(source)
    assert not report.ok
    assert normalize(get_task(TASK), source, report) == (None, ())


def test_a_normalization_is_told_in_the_next_repair_prompt(tmp_path: Path) -> None:
    still_wrong = SINGLE.replace("r = 2.0 * x_velocity", "r = torch.log(x_velocity - x_velocity)")
    outcome, _ = _run(f"```python\n{still_wrong}```\n", [GOOD], tmp_path)
    assert outcome.stop == "passed" and outcome.repairs == 1
    prompt = (tmp_path / "repair_1_prompt.md").read_text()
    assert 'return r, {"total": r}' in prompt and "the checker made it return" in prompt
    assert "line 4: `torch.log(x_velocity - x_velocity)` (log) produced NaN or inf" in prompt


def test_replay_run_records_the_conversation(tmp_path: Path) -> None:
    """Through the loop: two corpus answers, scripted repairs that repeat a program: nothing trains, all is kept."""
    a, b = corpus("gen_000/cand_00"), corpus("gen_002/cand_02")
    replay = write_replay(
        tmp_path / "replay.jsonl",
        [
            ("gen_000/initial", a["response"]),
            ("gen_000/initial", b["response"]),
            ("gen_000/cand_00/repair_1", a["response_repair_1"]),
            ("gen_000/cand_00/repair_2", a["response_repair_1"]),  # the same program again: stop
            ("gen_000/cand_01/repair_1", b["response_repair_1"]),
            ("gen_000/cand_01/repair_2", b["response_repair_1"]),
        ],
    )
    run = run_tiny(tmp_path / "runs", replay, samples=2, generations=1, repair_rounds=3, analyzer=False)
    for index, answers in ((0, a), (1, b)):
        cand = run.run_dir / "gen_000" / f"cand_{index:02d}"
        record = json.loads((cand / "candidate.json").read_text())
        assert record["status"] == "check_error" and record["repairs"] == 2, record
        prompts = [(cand / f"repair_{k}_prompt.md").read_text() for k in (1, 2)]
        for prompt, answer in zip(prompts, (answers["response"], answers["response_repair_1"]), strict=True):
            program = extract_program(answer).source
            assert (
                program is not None and f"This is the program you sent:\n\n```python\n{program.strip()}\n```" in prompt
            )
            assert re.search(r"line \d+: `[^`]+` \(\w+\) lost the batch dimension N: .* Fix: ", prompt), prompt
        assert "same program again" in record["message"]
        calls = [json.loads(x) for x in (run.run_dir / "llm_calls.jsonl").read_text().splitlines() if x]
        assert sum(c["request_id"].startswith(f"gen_000/cand_{index:02d}/repair_") for c in calls) == 2
