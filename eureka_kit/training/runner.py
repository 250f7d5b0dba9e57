"""Train one candidate in a sandboxed child: the parent-side API the loop (through an executor) calls.

::

    job = TrainJob(task_id=spec.id, reward_kind="program", reward_path=cand / REWARD_FILE,
                   total_steps=20_000, seed=0)
    result = train_candidate(job, cand, DEFAULT_LIMITS)
    if result.status == "ok":
        evaluation = evaluate_policy(spec, cand, episodes=5, seed=1_000_000)   # trusted, from weights only

The child (``python -P -m eureka_kit.training.child job.json``, run by
:func:`eureka_kit.sandbox.runner.run_child` in ``out_dir``) trains with the
job's backend and writes ``policy.safetensors``, ``obs_norm.safetensors``
(when the backend normalizes observations), ``stats.json`` and ``train.log``;
on a failure it writes ``error.json`` (:mod:`eureka_kit.sandbox.protocol`).
Everything the child writes is untrusted: statistics are parsed here as
bounded, type-checked JSON and used only as feedback text; fitness is never
taken from the child.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eureka_kit.files import atomic_write_text
from eureka_kit.games.numba_cache import CACHE_FOLDER as NUMBA_CACHE_FOLDER
from eureka_kit.games.numba_cache import SEED_FOLDER as NUMBA_SEED_FOLDER
from eureka_kit.run.layout import REWARD_FILE
from eureka_kit.sandbox.protocol import bounded, child_argv, read_error
from eureka_kit.sandbox.runner import Limits, run_child
from eureka_kit.training.job import (
    DEFAULT_LIMITS,
    ERROR_FILE,
    HEARTBEAT_FILE,
    JOB_FILE,
    LOG_FILE,
    OBS_NORM_FILE,
    OUTPUTS,
    POLICY_FILE,
    STATS_FILE,
    StatsFormatError,
    TrainJob,
    TrainStats,
    TrainStatus,
    read_stats,
)

CHILD_SCRATCH = (".cache", "tmp")
"""Folders a training child leaves in its folder (``HOME`` is the folder) that the next child there must not inherit."""


def default_timeout_s(steps: int) -> float:
    """Wall-clock limit of one candidate's training of ``steps`` env-steps: generous for a busy 2-core machine."""
    return 120.0 + steps / 100.0


@dataclass(frozen=True)
class TrainResult:
    """How a candidate's training ended. ``message`` is short and fit for the next LLM prompt."""

    status: TrainStatus
    message: str
    wall_s: float
    out_dir: Path
    env_steps_per_s: float | None = None
    stats: TrainStats | None = None
    policy_path: Path | None = None
    obs_norm_path: Path | None = None
    log_path: Path | None = None

    @property
    def series(self) -> dict[str, list[float]]:
        """Reward-reflection curves (see :meth:`TrainStats.series`); empty without stats."""
        return self.stats.series() if self.stats is not None else {}


def _tidy(out_dir: Path) -> None:
    """Remove the child's working leftovers (heartbeat, an empty tmp/) so the folder holds results only."""
    (out_dir / HEARTBEAT_FILE).unlink(missing_ok=True)
    for name in (NUMBA_CACHE_FOLDER, NUMBA_SEED_FOLDER):  # copies of the parent's compiled noise (Crafter)
        shutil.rmtree(out_dir / name, ignore_errors=True)
    try:
        (out_dir / "tmp").rmdir()  # only when empty: anything the child left there stays for inspection
    except OSError:
        pass


def _child_caches(job: TrainJob, out_dir: Path) -> dict[str, str]:
    """What the task's registration prepares for its child (``TaskSpec.prepare_child``, e.g. Crafter's compiled
    world noise copied into ``out_dir``): the environment variables the child needs."""
    from eureka_kit.tasks.registry import get_task

    try:
        spec = get_task(job.task_id)
    except KeyError:
        return {}  # the child reports the unknown task itself
    return dict(spec.prepare_child(out_dir)) if spec.prepare_child is not None else {}


def _share(folder: Path) -> None:
    """Let the next child read a checkpoint an earlier child wrote (each child runs as a uid of its own).

    Only plain files and folders are touched (symlinks are skipped, never followed); nothing is read here.
    """
    if not folder.is_dir() or folder.is_symlink():
        return
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        try:
            os.chmod(path, 0o755 if path.is_dir() else 0o644, follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass


def train_candidate(job: TrainJob, out_dir: Path, limits: Limits = DEFAULT_LIMITS) -> TrainResult:
    """Train ``job`` in a sandboxed child working in ``out_dir``; always returns a typed result.

    The reward program is copied to ``out_dir/reward.py`` (the child reads
    only its own folder). Outputs of an earlier attempt in ``out_dir`` are
    removed first. A job on a CUDA device gets the GPU in its sandbox
    (``Limits.gpu``) and no address-space limit (CUDA reserves far more virtual
    memory than it uses); ``docs/sandbox.md`` says what that opens.
    """
    if job.device.startswith("cuda") and not limits.gpu:
        limits = replace(limits, gpu=True, address_space_mb=None)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)
    for name in CHILD_SCRATCH:  # an earlier child's caches (a rung's child reuses the folder): numba cannot reuse them
        if (out_dir / name).is_dir() and not (out_dir / name).is_symlink():
            shutil.rmtree(out_dir / name, ignore_errors=True)
    if job.resume_from is not None:
        _share(out_dir / job.resume_from)
    child_job = job.to_json()
    if job.reward_kind == "program":
        assert job.reward_path is not None
        src = Path(job.reward_path).resolve()
        dst = out_dir / REWARD_FILE
        if not src.is_file():
            return TrainResult("train_error", f"reward program {src} does not exist", 0.0, out_dir)
        if src != dst:
            shutil.copyfile(src, dst)
        child_job["reward_path"] = REWARD_FILE
    atomic_write_text(out_dir / JOB_FILE, json.dumps(child_job, indent=1))

    log_path = out_dir / LOG_FILE
    outcome = run_child(
        child_argv("eureka_kit.training.child", str(out_dir / JOB_FILE)),
        out_dir,
        limits,
        log_path,
        heartbeat_path=out_dir / HEARTBEAT_FILE,
        extra_env=_child_caches(job, out_dir),
    )
    _tidy(out_dir)
    error = read_error(out_dir / ERROR_FILE) if outcome.status != "ok" else None
    common: dict[str, Any] = {"wall_s": outcome.wall_s, "out_dir": out_dir, "log_path": log_path}

    if outcome.status == "ok":
        policy = out_dir / POLICY_FILE
        if not policy.is_file():
            return TrainResult("train_error", "training ended without writing policy weights", **common)
        stats: TrainStats | None
        note = ""
        try:
            stats = read_stats(out_dir / STATS_FILE)
        except (OSError, StatsFormatError) as e:
            stats, note = None, f"training statistics unavailable: {e}"
        obs_norm = out_dir / OBS_NORM_FILE
        rate = stats.env_steps_per_s if stats is not None else None
        return TrainResult(
            "ok",
            bounded(note),
            env_steps_per_s=rate,
            stats=stats,
            policy_path=policy,
            obs_norm_path=obs_norm if obs_norm.is_file() else None,
            **common,
        )
    if outcome.status == "out_of_memory" or (error is not None and error.kind == "memory_error"):
        msg = error.message if error is not None else outcome.message
        return TrainResult("out_of_memory", bounded(f"training ran out of memory: {msg}"), **common)
    if outcome.status == "error":
        if error is not None:
            return TrainResult("train_error", error.message, **common)
        return TrainResult("train_error", bounded(f"training failed: {outcome.message}"), **common)
    if outcome.status == "timeout":
        return TrainResult("timeout", bounded(f"training did not finish: {outcome.message}"), **common)
    return TrainResult("killed", bounded(f"training was killed: {outcome.message}"), **common)
