"""Resume after SIGKILL in the middle of a generation: nothing finished is redone, no LLM request repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from eureka_kit.loop import resume_run
from eureka_kit.run.progress import Progress
from eureka_kit.run.store import read_jsonl

REPLAY = Path(__file__).parent / "data" / "halfcheetah_loop.jsonl"


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_resume_after_sigkill(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "eureka_kit.cli",
        "run",
        "HalfCheetah-Run-v1",
        "--runs-dir",
        str(runs),
        "--llm",
        "replay",
        "--replay-path",
        str(REPLAY),
        "--samples",
        "2",
        "--generations",
        "2",
        "--steps",
        "2000",
        "--n-envs",
        "1",
        "--workers",
        "1",
        "--repair-rounds",
        "0",
        "--eval-episodes",
        "1",
        "--no-videos",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # kill -9 once the first candidate of generation 0 has finished and another one is in flight
        assert _wait_for(lambda: len(list(runs.glob("*/gen_000/cand_*/candidate.json"))) >= 1, 180)
        assert _wait_for(lambda: len(list(runs.glob("*/gen_000/cand_*"))) >= 2, 60)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for child in children:  # the training child of the killed run dies with its parent
            try:
                child.wait(timeout=30)
            except psutil.NoSuchProcess:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
    (run_dir,) = list(runs.iterdir())
    finished = {p: p.stat().st_mtime_ns for p in run_dir.glob("gen_*/cand_*/candidate.json")}
    assert finished, "no candidate finished before the kill"
    calls_before = read_jsonl(run_dir / "llm_calls.jsonl")
    answered = {c["request_id"] for c in calls_before}

    result = resume_run(run_dir, progress=Progress("HalfCheetah-Run-v1", 2, live=False))

    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was redone after resume"
    calls_after = read_jsonl(run_dir / "llm_calls.jsonl")[len(calls_before) :]
    repeated = [c for c in calls_after if c["request_id"] in answered and not c["cached"]]
    assert not repeated, f"LLM requests repeated after resume: {repeated}"
    assert len(list(run_dir.glob("gen_*/cand_*/candidate.json"))) == 4
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["finished_generations"] == 2
    # the LLM accounting covers the calls made before the kill too
    assert summary["llm"]["calls"] == sum(1 for c in calls_before + calls_after if c["status"] == "ok")
    assert summary["llm"]["calls"] >= sum(1 for c in calls_before if c["status"] == "ok") > 0
    assert result.best is not None
    assert os.path.exists(run_dir / result.best.name / "reward.py")
