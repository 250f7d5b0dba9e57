"""Stopped-early and equivalent candidates reach the next generation's prompt as notes, not as failures."""

from __future__ import annotations

from pathlib import Path

from eureka_kit.loop.selection import next_messages
from eureka_kit.run.records import CandidateRecord
from eureka_kit.tasks.registry import get_task

PROGRAM = "import torch\n\n\ndef compute_reward(x_velocity, action):\n    return x_velocity, {'forward': x_velocity}\n"


def test_stopped_and_equivalent_candidates_are_noted_in_the_next_prompt(tmp_path: Path) -> None:
    spec = get_task("HalfCheetah-Run-v1")
    history = [
        CandidateRecord(0, 0, "ok", "", fitness=2.0),
        CandidateRecord(0, 1, "stopped_early", "stopped early at rung 1 of 3 (fitness 0.1 vs kept 1.2, ...)", 0.1),
        CandidateRecord(0, 2, "equivalent", "this reward equals candidate gen_000/cand_00 up to scale/shift/shaping"),
        CandidateRecord(0, 3, "train_error", "RuntimeError: boom"),
    ]
    for r, feedback in zip(history, ["elite feedback", "forward went 0.1 -> 0.3 along training", "", ""], strict=True):
        folder = tmp_path / r.name
        folder.mkdir(parents=True)
        (folder / "reward.py").write_text(PROGRAM)
        if feedback:
            (folder / "feedback.md").write_text(feedback)
    last = next_messages(spec, tmp_path, 1, history, ranked=False)[-1]
    assert last.role == "user"
    text = last.content
    assert "elite feedback" in text
    assert "- candidate 1: stopped early at rung 1 of 3 (fitness 0.1 vs kept 1.2" in text
    assert "forward went 0.1 -> 0.3 along training" in text  # the stopped candidate's reflection
    assert "- candidate 2: this reward equals candidate gen_000/cand_00 up to scale/shift/shaping" in text
    failures = text[text.index("failed; avoid these mistakes") :]
    assert "candidate 3 (train_error)" in failures
    assert "stopped_early)" not in text and "(equivalent)" not in text  # not listed as failures
