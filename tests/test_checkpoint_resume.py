"""The cpu backend's checkpoint: a rung's child writes it, the next child continues from it (optimizer included).

The two-children test is marked ``expensive`` (45 s measured under load: two batched children, rsl-rl's imports);
run it with ``pytest -m expensive tests/test_checkpoint_resume.py``. The default suite's real halving run
(tests/test_halving_run.py) resumes sb3 checkpoints; the round trip below runs by default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eureka_kit.sandbox.runner import Limits
from eureka_kit.schedule.halving import checkpoint_dir
from eureka_kit.training.checkpoint import CheckpointError, load_state, save_state
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import train_candidate

LIMITS = Limits(wall_s=300.0, address_space_mb=4096)


def _adam_steps(folder: Path) -> float:
    _, state = load_state(folder, "cpu")
    moments = state["alg"]["optimizer_state_dict"]["state"]
    return float(next(iter(moments.values()))["step"])


@pytest.mark.expensive
def test_cpu_backend_continues_from_its_checkpoint(tmp_path: Path) -> None:
    def job(total: int, rung: int) -> TrainJob:
        return TrainJob(
            task_id="HalfCheetah-Run-v1", reward_kind="baseline", total_steps=total, n_envs=16, backend="cpu",
            resume_from=checkpoint_dir(rung - 1) if rung else None, checkpoint_to=checkpoint_dir(rung),
        )  # fmt: skip

    first = train_candidate(job(512, 0), tmp_path, LIMITS)
    assert first.status == "ok", first.message
    second = train_candidate(job(1024, 1), tmp_path, LIMITS)
    assert second.status == "ok", second.message
    assert first.stats is not None and second.stats is not None
    assert (first.stats.total_steps, second.stats.total_steps) == (512, 1024)
    steps = [s.step for s in second.stats.samples]
    assert steps == sorted(steps) and min(steps) <= 512 < max(steps)  # rung 0's samples kept, the counter went on
    # the optimizer went on too: as many Adam steps again, not a fresh optimizer
    assert _adam_steps(tmp_path / checkpoint_dir(1)) == 2 * _adam_steps(tmp_path / checkpoint_dir(0)) > 0


def test_checkpoint_round_trip_and_refusals(tmp_path: Path) -> None:
    import torch

    state = {"w": torch.arange(3.0), "nested": {0: (1, 2.5, None), "s": "x"}, "rng": torch.get_rng_state()}
    save_state(tmp_path / "ck", "cpu", 77, state)
    steps, back = load_state(tmp_path / "ck", "cpu")
    assert steps == 77 and torch.equal(back["w"], state["w"]) and back["nested"] == {0: (1, 2.5, None), "s": "x"}
    with pytest.raises(CheckpointError, match="backend 'cpu'; this child reads format 1 of backend 'gpu'"):
        load_state(tmp_path / "ck", "gpu")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_state(tmp_path / "missing", "cpu")
    with pytest.raises(ValueError, match="resume_from must be a folder inside the job's folder"):
        TrainJob(task_id="HalfCheetah-Run-v1", reward_kind="baseline", resume_from=Path("../elsewhere"))
