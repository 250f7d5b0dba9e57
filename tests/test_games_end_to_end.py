"""One replay run on a grid-world task, end to end: critic, sandboxed training, trusted evaluation, analyzer, video.

One generation of one program, 512 training steps, one evaluation episode; the answer is replayed. The game's
rules reach the prompt through the task description.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.loop import RunResult

ROOT = Path(__file__).resolve().parent.parent


def _answer(path: Path) -> str:
    return f"Here is a shaped reward.\n\n```python\n{path.read_text().strip()}\n```\n"


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    tmp = tmp_path_factory.mktemp("grid_e2e")
    program = _answer(ROOT / "examples" / "lavacrossing_reward.py")
    replay = write_replay(tmp / "replay.jsonl", [("gen_000/initial", program)])
    return run_tiny(
        tmp / "runs",
        replay,
        task="LavaCrossing-Grid-v1",
        samples=1,
        generations=1,
        steps=512,
        n_envs=2,
        workers=1,
        analyzer=True,
        videos=True,
    )


def test_grid_task_runs_end_to_end(grid_run: RunResult) -> None:
    assert grid_run.stopped is None and grid_run.best is not None
    for cand in [grid_run.run_dir / "gen_000" / "cand_00"]:
        record = _json(cand / "candidate.json")
        assert record["status"] == "ok", record
        evaluation = _json(cand / "eval.json")
        assert evaluation["status"] == "ok" and evaluation["fitness"] in (0.0, 1.0)
        assert evaluation["fitness_name"] == "success"
        kinds = {f["kind"] for f in _json(cand / "analysis.json")["findings"]}
        assert {"fitness", "actions", "episode_end"} <= kinds
        assert "jitters" not in kinds
    prompt = json.dumps(_json(grid_run.run_dir / "gen_000" / "prompt.json"))
    assert "Rules of the game (MiniGrid LavaCrossingS9N1)" in prompt and "in_lava" in prompt
    videos = list(grid_run.run_dir.glob("gen_*/cand_*/rollout.mp4"))
    assert videos and all(v.stat().st_size > 1000 for v in videos)


def test_crafter_task_runs_end_to_end(tmp_path: Path) -> None:
    """The same on Crafter-Wood-v1 (on the batched Crafter engine; the children adopt the parent's compiled noise)."""
    program = _answer(ROOT / "examples" / "crafter_wood_reward.py")
    replay = write_replay(tmp_path / "replay.jsonl", [("gen_000/initial", program)])
    run = run_tiny(
        tmp_path / "runs",
        replay,
        task="Crafter-Wood-v1",
        samples=1,
        generations=1,
        steps=512,
        n_envs=2,
        workers=1,
        analyzer=True,
        videos=True,
    )
    cand = run.run_dir / "gen_000" / "cand_00"
    assert _json(cand / "candidate.json")["status"] == "ok"
    evaluation = _json(cand / "eval.json")
    assert evaluation["status"] == "ok" and evaluation["fitness_name"] == "collect_wood"
    kinds = {f["kind"] for f in _json(cand / "analysis.json")["findings"]}
    assert {"fitness", "actions", "achievements"} <= kinds
    assert "tech tree" in json.dumps(_json(run.run_dir / "gen_000" / "prompt.json"))
    assert (cand / "rollout.mp4").stat().st_size > 1000
