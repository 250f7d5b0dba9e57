"""A real tiny run under successive halving (sb3, replayed answers): rung 0 for all, the worse one stops, the kept
ones continue from their checkpoints (not from scratch), the stop reaches the next prompt, and resume retrains nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.loop import resume_run
from eureka_kit.run.progress import Progress
from eureka_kit.schedule.halving import checkpoint_dir, read_rung

PROGRAMS = [
    "forward = x_velocity\n    return forward, {'forward': forward}",
    "back = -x_velocity\n    return back, {'back': back}",
]


def _answer(body: str) -> str:
    signature = "def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):"
    return f"```python\nimport torch\n\n\n{signature}\n    {body}\n```\n"


def test_halving_run_continues_kept_candidates_and_notes_the_stopped_one(tmp_path: Path) -> None:
    replay = write_replay(
        tmp_path / "replay.jsonl",
        [("initial", _answer(b)) for b in PROGRAMS] + [("reflection", "no program this time")] * 2,
    )
    result = run_tiny(
        tmp_path / "runs", replay, samples=2, schedule="halving", rungs=2, reduction_factor=2,
        trajectory_check=False, analyzer=False, prune_equivalent=False,
    )  # fmt: skip
    run = result.run_dir
    recs = [json.loads((run / f"gen_000/cand_{i:02d}/candidate.json").read_text()) for i in range(2)]
    statuses = sorted(r["status"] for r in recs)
    assert statuses == ["ok", "stopped_early"]
    stopped = next(r for r in recs if r["status"] == "stopped_early")
    kept = [r for r in recs if r["status"] == "ok"]
    cand = run / f"gen_000/cand_{stopped['index']:02d}"
    rung0 = read_rung(cand, 0)
    assert rung0 is not None and stopped["fitness"] == rung0.fitness and stopped["rungs"] == 1
    assert stopped["message"].startswith("stopped early at rung 1 of 2 (fitness")
    assert (cand / "feedback.md").is_file()  # its reflection was written, like any evaluated candidate's
    for r in kept:
        folder = run / f"gen_000/cand_{r['index']:02d}"
        first, last = read_rung(folder, 0), read_rung(folder, 1)
        assert first is not None and last is not None and r["rungs"] == 2
        assert (folder / checkpoint_dir(0) / "sb3_model.zip").is_file()
        stats = json.loads((folder / "stats.json").read_text())
        steps = [s["step"] for s in stats["samples"]]
        # continued, not restarted: the step counter goes on past rung 0's budget and the samples of rung 0 are kept
        assert stats["total_steps"] == last.env_steps == r["env_steps"] > first.env_steps
        assert min(steps) <= first.env_steps < max(steps) and steps == sorted(steps)
    summary = json.loads((run / "summary.json").read_text())
    gen0 = summary["fitness_per_generation"][0]
    assert gen0["env_steps"] == sum(r["env_steps"] for r in recs) < 2 * 256
    prompt = json.loads((run / "gen_001/prompt.json").read_text())[-1]["content"]
    assert f"candidate {stopped['index']}: stopped early at rung 1 of 2" in prompt
    assert "Its feedback when it stopped:" in prompt

    # a crash after the rungs but before the records: resume finishes from the rung files, trains nothing again
    logs = {r["index"]: (run / f"gen_000/cand_{r['index']:02d}/train.log").stat().st_mtime_ns for r in recs}
    for r in kept:
        (run / f"gen_000/cand_{r['index']:02d}/candidate.json").unlink()
    (run / "summary.json").unlink()
    resumed = resume_run(run, progress=Progress("HalfCheetah-Run-v1", 2, live=False))
    again = [json.loads((run / f"gen_000/cand_{i:02d}/candidate.json").read_text()) for i in range(2)]
    assert [a["status"] for a in again] == [r["status"] for r in recs]
    assert [a["fitness"] for a in again] == [r["fitness"] for r in recs]
    assert {i: (run / f"gen_000/cand_{i:02d}/train.log").stat().st_mtime_ns for i in logs} == logs
    assert resumed.summary["fitness_per_generation"][0]["env_steps"] == gen0["env_steps"]


@pytest.mark.expensive
def test_halving_runs_through_the_ray_executor(tmp_path: Path) -> None:
    """Rung jobs are plain data: the Ray executor ships each one (checkpoint included) and the kept one continues.

    ``expensive`` (a local Ray instance; 40 s measured under load): ``pytest -m expensive tests/test_halving_run.py``.
    """
    pytest.importorskip("ray")
    replay = write_replay(tmp_path / "replay.jsonl", [("initial", _answer(b)) for b in PROGRAMS])
    result = run_tiny(
        tmp_path / "runs", replay, samples=2, generations=1, schedule="halving", rungs=2, reduction_factor=2,
        trajectory_check=False, analyzer=False, executor="ray",
    )  # fmt: skip
    recs = [json.loads((result.run_dir / f"gen_000/cand_{i:02d}/candidate.json").read_text()) for i in range(2)]
    assert sorted(r["status"] for r in recs) == ["ok", "stopped_early"]
    kept = next(r for r in recs if r["status"] == "ok")
    folder = result.run_dir / f"gen_000/cand_{kept['index']:02d}"
    first = read_rung(folder, 0)
    stats = json.loads((folder / "stats.json").read_text())
    assert first is not None and stats["total_steps"] == kept["env_steps"] > first.env_steps
    assert min(s["step"] for s in stats["samples"]) <= first.env_steps  # rung 0's samples came back with the checkpoint
