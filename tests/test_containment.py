"""Nothing one candidate does can stop a run: containment of internal errors, and a concurrency stress run.

The stress run replays many tiny candidates through 4 worker threads with a tiny thread switch interval, so that
extraction, static checks, sandboxed critic checks, repairs, training, trusted evaluation and feedback overlap;
with ``EUREKA_KIT_RAISE_INTERNAL_ERRORS=1`` (tests/conftest.py) any internal error fails it. The injection run
makes one of three candidates raise inside the loop and checks that the run finishes, types that candidate
``internal_error`` with its traceback, and that ``resume`` runs it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_runs import tiny_config, write_replay

import eureka_kit.loop.core as loop_module
from eureka_kit.loop import resume_run, start_run
from eureka_kit.loop.callbacks import GenerationContext, LoopCallback
from eureka_kit.run.containment import INTERNAL_ERROR_FILE, RAISE_ENV
from eureka_kit.run.progress import Progress


def _good(speed: float, ctrl: float) -> str:
    return (
        "```python\nimport torch\n\n\ndef compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):\n"
        f"    forward = {speed} * x_velocity\n    ctrl = -{ctrl} * (action**2).sum(dim=-1)\n"
        '    return forward + ctrl, {"forward": forward, "ctrl": ctrl}\n```\n'
    )


BAD_ARG = (
    "```python\nimport torch\n\n\ndef compute_reward(cheetah_speed: torch.Tensor, action: torch.Tensor):\n"
    '    return cheetah_speed, {"speed": cheetah_speed}\n```\n'
)
PROSE = "I would reward forward velocity and penalize large actions."
TRUNCATED = "```python\nimport torch\n\n\ndef compute_reward(x_velocity: torch.Tensor):\n    return (x_velocity,"


def _records(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text())
        for p in sorted(run_dir.glob("gen_*/cand_*/candidate.json"))
    }


def test_stress_many_concurrent_candidates(tmp_path: Path, fast_switching: None) -> None:
    responses = [("gen_000/initial", _good(1.0 + i / 10, 0.1)) for i in range(5)]
    responses += [("gen_000/initial", BAD_ARG), ("gen_000/initial", PROSE), ("gen_000/initial", TRUNCATED)]
    responses += [("gen_000/cand_05/repair_1", _good(3.0, 0.2))]  # the repair round fixes the unknown argument
    replay = write_replay(tmp_path / "replay.jsonl", responses)
    config = tiny_config(replay, samples=8, generations=1, workers=4, repair_rounds=1, analyzer=True)
    result = start_run(config, tmp_path / "runs", progress=Progress(config.task, 1, live=False))
    statuses = {name: r["status"] for name, r in _records(result.run_dir).items()}
    assert len(statuses) == 8
    assert [statuses[f"gen_000/cand_{i:02d}"] for i in range(8)] == ["ok"] * 6 + ["extract_error"] * 2
    assert json.loads((result.run_dir / "gen_000" / "cand_05" / "candidate.json").read_text())["repairs"] == 1
    assert all((result.run_dir / "gen_000" / f"cand_{i:02d}" / "feedback.md").is_file() for i in range(6))
    assert result.summary["status_counts"] == {"ok": 6, "extract_error": 2}


class _BrokenGenerationEnd(LoopCallback):
    def on_generation_end(self, gen: GenerationContext) -> None:
        raise RuntimeError("a callback bug at the end of a generation")


def test_one_candidates_internal_error_does_not_stop_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(RAISE_ENV)
    original = loop_module.check_with_repairs

    def injected(*args: Any, **kwargs: Any) -> Any:
        if kwargs["name"].endswith("cand_01"):
            raise KeyError("injected fault in the checking stage")
        return original(*args, **kwargs)

    monkeypatch.setattr(loop_module, "check_with_repairs", injected)
    replay = write_replay(tmp_path / "replay.jsonl", [("gen_000/initial", _good(1.0 + i, 0.1)) for i in range(3)])
    config = tiny_config(replay, generations=1, workers=3)
    progress = Progress(config.task, 1, live=False)
    result = start_run(config, tmp_path / "runs", progress=progress, callbacks=[_BrokenGenerationEnd()])
    run = result.run_dir

    records = _records(run)
    assert [records[f"gen_000/cand_{i:02d}"]["status"] for i in range(3)] == ["ok", "internal_error", "ok"]
    message = records["gen_000/cand_01"]["message"]
    assert "internal error while checking" in message and "KeyError" in message
    assert f"gen_000/cand_01/{INTERNAL_ERROR_FILE}" in message
    traceback_text = (run / "gen_000" / "cand_01" / INTERNAL_ERROR_FILE).read_text()
    assert "Traceback" in traceback_text and "injected fault in the checking stage" in traceback_text
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status_counts"] == {"ok": 2, "internal_error": 1}
    callback_file = run / "gen_000" / "internal_error__BrokenGenerationEnd.txt"
    assert "a callback bug at the end of a generation" in callback_file.read_text()
    out = capsys.readouterr().out
    assert "gen_000/cand_01: internal_error" in out
    assert "1 candidate(s) ended with internal_error" in out and f"eureka-kit resume {run}" in out
    assert "internal error in _BrokenGenerationEnd at generation end (the run goes on)" in out

    # resume: the fault is gone; only the internal_error candidate runs again
    monkeypatch.setattr(loop_module, "check_with_repairs", original)
    kept = {i: (run / "gen_000" / f"cand_{i:02d}" / "candidate.json").stat().st_mtime_ns for i in (0, 2)}
    resumed = resume_run(run, progress=Progress(config.task, 1, live=False))
    records = _records(resumed.run_dir)
    assert [records[f"gen_000/cand_{i:02d}"]["status"] for i in range(3)] == ["ok", "ok", "ok"]
    assert not (run / "gen_000" / "cand_01" / INTERNAL_ERROR_FILE).exists()
    assert {i: (run / "gen_000" / f"cand_{i:02d}" / "candidate.json").stat().st_mtime_ns for i in (0, 2)} == kept
    assert resumed.summary["status_counts"] == {"ok": 3}


def test_a_hook_contains_failures_but_lets_the_budget_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eureka_kit.llm import BudgetExceeded
    from eureka_kit.run.containment import contain_hook

    monkeypatch.delenv(RAISE_ENV)
    lines: list[str] = []

    def over_budget() -> None:
        raise BudgetExceeded("gen_001/vlm_rank", "spend would reach the cap")

    def broken() -> None:
        raise RuntimeError("a bug in a callback")

    with pytest.raises(BudgetExceeded):  # generation end: the run stops cleanly on the budget
        contain_hook(lines.append, tmp_path, "Ranker", "generation end", over_budget, (BudgetExceeded,))
    contain_hook(lines.append, tmp_path, "Ranker", "generation end", broken, (BudgetExceeded,))
    contain_hook(lines.append, tmp_path, "Report", "run end", over_budget)  # run end: contained like the rest
    assert "a bug in a callback" in (tmp_path / "internal_error_Ranker.txt").read_text()
    assert "BudgetExceeded" in (tmp_path / "internal_error_Report.txt").read_text()
    assert any("internal error in Ranker at generation end (the run goes on)" in line for line in lines)
