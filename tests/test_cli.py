"""The command line: tasks table, check exit codes, clear errors, eval and report on a tiny run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.cli import main
from eureka_kit.tasks.registry import list_tasks

ROOT = Path(__file__).resolve().parent.parent


def test_tasks_lists_every_registered_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    tasks = list_tasks()
    assert len(tasks) >= 7
    for t in tasks:
        assert t.id in out


def test_check_accepts_good_and_rejects_bad(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "HalfCheetah-Run-v1", str(ROOT / "examples" / "halfcheetah_reward.py")]) == 0
    assert "OK" in capsys.readouterr().out
    messages = set()
    for bad in sorted((ROOT / "examples" / "bad").glob("*.py")):
        assert main(["check", "HalfCheetah-Run-v1", str(bad)]) == 1, bad.name
        out = capsys.readouterr().out
        assert "REJECTED" in out
        assert f"[{bad.stem}]" in out, f"{bad.name} was rejected for another reason:\n{out}"
        messages.add(out.split("\n", 1)[1])
    assert len(messages) == len(list((ROOT / "examples" / "bad").glob("*.py"))), "each bad program has its own message"


def test_check_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "HalfCheetah-Run-v1", str(ROOT / "examples" / "bad" / "wrong_shape.py")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert any(i["code"] == "wrong_shape" for i in report["issues"])


def test_unknown_task_lists_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "HalfCheetah-Run", str(ROOT / "examples" / "halfcheetah_reward.py")]) == 2
    err = capsys.readouterr().err
    assert "HalfCheetah-Run-v1" in err and "Valid tasks" in err


def test_replay_without_file_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "MountainCar-Flag-v1", "--llm", "replay", "--runs-dir", str(tmp_path)]) == 2
    assert "replay_path" in capsys.readouterr().err


def test_openai_without_key_or_url_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["run", "MountainCar-Flag-v1", "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and "base-url" in err.replace("_", "-")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    program = (ROOT / "examples" / "halfcheetah_reward.py").read_text()
    replay = write_replay(tmp / "replay.jsonl", [("*", f"```python\n{program}\n```")])
    run = run_tiny(tmp / "runs", replay, samples=1, generations=1, analyzer=False, trajectory_check=False)
    return run.run_dir


def test_eval_retrains_best_human_and_sparse(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tiny_run), "--seeds", "2", "--steps", "256", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "human-normalized score" in out
    final = json.loads((tiny_run / "final_eval.json").read_text())
    assert len(final["results"]) == 6
    assert all(r["status"] == "ok" for r in final["results"]), final["results"]
    assert set(final["summary"]) == {"eureka (best)", "human", "sparse"}
    assert "human_normalized_score" in final


def test_report_writes_html(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tiny_run)]) == 0
    html = (tiny_run / "report.html").read_text()
    assert "<svg" in html and "compute_reward" in html
