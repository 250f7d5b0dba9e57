"""Equivalent-reward pruning in a tiny real run: a scaled and shifted copy of a trained program is not trained, its
record points at the original, and the next prompt says so.

Marked ``expensive`` (three generations with training, analyzer and sandboxed scoring: 66 s measured under load);
run with ``pytest -m expensive tests/test_pruning_run.py``. The default suite covers the pruner through the
sandboxed scorer in tests/test_equivalence.py and the prompt note in tests/test_schedule_prompt.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_runs import run_tiny, write_replay

ORIGINAL = """```python
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    ctrl = -0.1 * (action**2).sum(dim=-1)
    return x_velocity + ctrl, {"forward": x_velocity, "ctrl": ctrl}
```
"""

COPY = ORIGINAL.replace("return x_velocity + ctrl,", "return 5.0 * (x_velocity + ctrl) - 1.0,")


@pytest.mark.expensive
def test_an_equivalent_program_reuses_the_trained_result(tmp_path: Path) -> None:
    replay = write_replay(
        tmp_path / "replay.jsonl",
        [("gen_000/initial", ORIGINAL), ("gen_001/reflection", COPY), ("gen_002/reflection", "no program")],
    )
    result = run_tiny(
        tmp_path / "runs", replay, samples=1, generations=3, trajectory_check=False, analyzer=True,
        prune_equivalent=True, eval_episodes=1, workers=1,
    )  # fmt: skip
    run = result.run_dir
    original = json.loads((run / "gen_000/cand_00/candidate.json").read_text())
    copy = json.loads((run / "gen_001/cand_00/candidate.json").read_text())
    assert original["status"] == "ok"
    assert copy["status"] == "equivalent" and copy["equivalent_to"] == "gen_000/cand_00"
    assert copy["fitness"] == original["fitness"] and copy["env_steps"] == 0
    assert not (run / "gen_001/cand_00/policy.safetensors").exists()  # never trained
    match = json.loads((run / "gen_001/cand_00/equivalence.json").read_text())
    assert match["status"] == "equivalent" and match["distance"] <= 0.002
    prompt = json.loads((run / "gen_002/prompt.json").read_text())[-1]["content"]
    assert "candidate 0: this reward equals candidate gen_000/cand_00 up to scale/shift/shaping" in prompt
    assert result.summary["fitness_per_generation"][1]["env_steps"] == 0
