"""A candidate that hangs forever or allocates without bound ends as timeout / out_of_memory; the run goes on."""

from __future__ import annotations

import json
from pathlib import Path

from tiny_runs import run_tiny, write_replay

HANG = """```python
import torch

_calls = [0]


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    _calls[0] += 1
    if _calls[0] > 60:
        while True:  # hangs forever (no sleep: reward programs may not import time)
            _calls[0] += 1
    return x_velocity, {"forward": x_velocity}
```
"""

HOG = """```python
import torch

_calls = [0]
_hoard = []


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    _calls[0] += 1
    if _calls[0] > 60:
        while True:
            _hoard.append(torch.ones(64 * 1024 * 1024))
    return x_velocity, {"forward": x_velocity}
```
"""

GOOD = """```python
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    ctrl = -0.1 * (action**2).sum(dim=-1)
    return x_velocity + ctrl, {"forward": x_velocity, "ctrl": ctrl}
```
"""

TIMEOUT_S = 25.0


def test_hang_and_memory_hog_fail_typed_and_run_goes_on(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", [("initial", t) for t in (HANG, HOG, GOOD)])
    result = run_tiny(
        tmp_path / "runs", replay, generations=1, candidate_timeout_s=TIMEOUT_S, memory_mb=3072, trajectory_check=False
    )
    recs = [json.loads((result.run_dir / f"gen_000/cand_{i:02d}/candidate.json").read_text()) for i in range(3)]
    assert [r["status"] for r in recs] == ["timeout", "out_of_memory", "ok"]
    assert recs[0]["train_wall_s"] is not None and recs[0]["train_wall_s"] <= 2 * TIMEOUT_S
    assert recs[1]["train_wall_s"] is not None and recs[1]["train_wall_s"] <= 2 * TIMEOUT_S
    assert "memory" in recs[1]["message"].lower()
    assert result.best is not None and result.best.name == "gen_000/cand_02"
