"""The Ray executor on a local Ray instance (2 CPUs, started once for this module; eureka_kit/executors/ray.py).

- the same candidate job on the local executor and on Ray: the same files in the candidate folder, the same
  trusted fitness (training is deterministic for a seed), with the reward program named outside the folder;
- a tiny generation through the loop with replayed answers, where the Ray worker running one candidate (whose
  training hangs) is killed with SIGKILL: that candidate ends ``killed`` naming the Ray task, the other finishes;
- an API key in the driver's environment does not reach the local instance's workers;
- without Ray, ``--executor ray`` says how to install it; a CUDA run without GPUs per candidate is refused.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.config import RunConfig
from eureka_kit.executors import CandidateJob, LocalExecutor, make_executor
from eureka_kit.executors.node import node_name
from eureka_kit.executors.ray import (
    INSTALL_HINT,
    ExecutorConfigError,
    RayExecutor,
    RayOptions,
    RayUnavailable,
    init_ray,
)
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.registry import get_task
from eureka_kit.training.job import TrainJob

GOOD = """```python
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    ctrl = -0.1 * (action**2).sum(dim=-1)
    return x_velocity + ctrl, {"forward": x_velocity, "ctrl": ctrl}
```
"""

HANG = """```python
import torch

_calls = [0]


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    _calls[0] += 1
    if _calls[0] > 60:
        while True:  # training hangs here (after the critic's smoke test passed) until the worker is killed
            _calls[0] += 1
    return x_velocity, {"forward": x_velocity}
```
"""

SECRET = "test-canary-0000-not-a-real-key"


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    """One local Ray instance for the module, started the way the executor starts one, with a key in the env."""
    ray = pytest.importorskip("ray")
    saved = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = SECRET
    try:
        init_ray(None, num_cpus=2, object_store_memory=200 * 2**20)
    finally:
        if saved is None:
            os.environ.pop("OPENAI_API_KEY")
        else:
            os.environ["OPENAI_API_KEY"] = saved
    yield ray
    ray.shutdown()


def _job(cand: Path, program: Path) -> CandidateJob:
    cand.mkdir(parents=True)
    return CandidateJob(
        spec=get_task("HalfCheetah-Run-v1"),
        train=TrainJob(task_id="HalfCheetah-Run-v1", reward_path=program, total_steps=256, n_envs=1, seed=3),
        out_dir=cand,
        limits=Limits(wall_s=120.0),
        eval_episodes=1,
        eval_seed=11,
        rollouts_path=cand / "rollouts.npz",
    )


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.ray
def test_same_job_same_files_and_fitness_as_local(ray_instance: Any, tmp_path: Path) -> None:
    program = tmp_path / "programs" / "forward.py"  # outside the candidate folders: shipped to the node as bytes
    program.parent.mkdir()
    program.write_text(GOOD.split("```python\n")[1].split("```")[0])
    local_job, ray_job = _job(tmp_path / "local" / "cand", program), _job(tmp_path / "ray" / "cand", program)
    ray_exec = RayExecutor(1)
    assert [n.sandbox_ok for n in ray_exec.nodes] == [True]
    assert ray_exec.nodes[0].secrets == ()  # the driver's OPENAI_API_KEY never reached the instance's workers
    with ThreadPoolExecutor(2) as pool:
        local_f = pool.submit(LocalExecutor(1).run, local_job)
        ray_f = pool.submit(ray_exec.run, ray_job)
        local, remote = local_f.result(), ray_f.result()
    ray_exec.close()

    assert local.train.status == remote.train.status == "ok", (local.train.message, remote.train.message)
    assert local.evaluation is not None and remote.evaluation is not None
    assert math.isclose(remote.evaluation.fitness or 0.0, local.evaluation.fitness or 1.0, rel_tol=1e-6)
    assert _files(ray_job.out_dir) == _files(local_job.out_dir)
    assert {"policy.safetensors", "stats.json", "train.log", "job.json", "reward.py", "rollouts.npz"} <= set(
        _files(ray_job.out_dir)
    )
    # paths in the outcome name the driver's candidate folder, not the node's temporary one
    assert (
        remote.train.out_dir == ray_job.out_dir and remote.train.policy_path == ray_job.out_dir / "policy.safetensors"
    )
    assert remote.evaluation.rollouts_file == str(ray_job.out_dir / "rollouts.npz")
    assert (ray_job.out_dir / "reward.py").read_text() == program.read_text()


def _kill_hanging_worker(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the Ray worker running cand_00's task (its process title names the candidate) once it trains."""
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            title = " ".join(proc.info["cmdline"] or [])
            if title.startswith("ray::eureka-kit gen_000/cand_00") and proc.children():  # its training child runs
                os.kill(proc.info["pid"], signal.SIGKILL)
                killed.append(proc.info["pid"])
                return
        time.sleep(0.2)


@pytest.mark.ray
def test_killed_worker_is_reported_typed_and_the_run_goes_on(ray_instance: Any, tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", [("initial", HANG), ("initial", GOOD)])
    runs = tmp_path / "runs"
    killed: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_kill_hanging_worker, args=(killed, stop), daemon=True)
    watcher.start()
    try:
        result = run_tiny(
            runs,
            replay,
            generations=1,
            samples=2,
            executor="ray",
            ray_retries=0,
            candidate_timeout_s=90.0,
            trajectory_check=False,
            analyzer=False,
        )
    finally:
        stop.set()
    assert len(killed) == 1
    recs = [json.loads((result.run_dir / f"gen_000/cand_{i:02d}/candidate.json").read_text()) for i in range(2)]
    assert recs[0]["status"] == "killed", recs[0]
    message = recs[0]["message"]
    assert "Ray task" in message and "gen_000/cand_00" in message and "worker process died" in message, message
    assert f"node {node_name()}" in message, message  # the only node (no dashboard: the executor's own probe)
    assert recs[1]["status"] == "ok" and recs[1]["fitness"] is not None, recs[1]
    good = result.run_dir / "gen_000" / "cand_01"
    assert {"policy.safetensors", "eval.json", "stats.json", "train.log", "feedback.md"} <= set(_files(good))
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["status_counts"] == {"killed": 1, "ok": 1}


def test_without_ray_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(RayUnavailable, match=r"pip install 'eureka-kit\[ray\]'"):
        make_executor("ray", 2, RayOptions())
    assert INSTALL_HINT == "pip install 'eureka-kit[ray]'"
    with pytest.raises(ValueError, match="Valid: local, ray"):
        make_executor("rey", 2)


class _StubRay:
    """Just enough of the ``ray`` module for the executor's runtime-env check."""

    def __init__(self, env_vars: dict[str, str]) -> None:
        self.env_vars = env_vars

    def get_runtime_context(self) -> Any:
        runtime_env = {"env_vars": self.env_vars}
        return type("Context", (), {"runtime_env": runtime_env})()


def test_a_runtime_env_carrying_a_key_is_refused() -> None:
    executor = RayExecutor.__new__(RayExecutor)  # only the check, without a Ray instance
    executor.ray = _StubRay({"OPENAI_API_KEY": "canary-x", "OMP_NUM_THREADS": "1"})
    with pytest.raises(ExecutorConfigError, match="runtime_env sets OPENAI_API_KEY"):
        executor._check_runtime_env()
    executor.ray = _StubRay({"OMP_NUM_THREADS": "1"})
    executor._check_runtime_env()  # no secret: accepted


def test_a_cuda_run_needs_gpus_per_candidate(tmp_path: Path) -> None:
    common: dict[str, Any] = {"task": "HalfCheetah-Run-v1", "executor": "ray", "llm": "replay", "replay_path": "r"}
    with pytest.raises(ValueError, match="gpus-per-candidate"):
        RunConfig(**common, backend="gpu")
    assert RunConfig(**common, backend="gpu", gpus_per_candidate=1).ray_options().gpus_per_candidate == 1


def _ray_tasks(title: str) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["pid", "cmdline"])
        if " ".join(p.info["cmdline"] or []).startswith(f"ray::eureka-kit {title}")
    ]


def _orphan_agents() -> list[psutil.Process]:
    titles = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")
    return [
        p
        for p in psutil.process_iter(["pid", "ppid", "cmdline"])
        if p.info["ppid"] == 1 and " ".join(p.info["cmdline"] or []).startswith(titles)
    ]


@pytest.mark.expensive
@pytest.mark.ray
def test_a_lost_worker_is_retried(ray_instance: Any, tmp_path: Path) -> None:
    """With ray_retries=1, the worker of cand_01 killed once mid-training: Ray runs the task again and it ends ok."""
    replay = write_replay(tmp_path / "replay.jsonl", [("initial", GOOD)])
    killed: list[int] = []
    stop = threading.Event()

    def kill_once() -> None:
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            for proc in _ray_tasks("gen_000/cand_01"):
                if proc.children():
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)
                    return
            time.sleep(0.2)

    threading.Thread(target=kill_once, daemon=True).start()
    try:
        result = run_tiny(
            tmp_path / "runs", replay, generations=1, samples=2, executor="ray", ray_retries=1, analyzer=False
        )
    finally:
        stop.set()
    assert len(killed) == 1
    recs = [json.loads((result.run_dir / f"gen_000/cand_{i:02d}/candidate.json").read_text()) for i in range(2)]
    assert [r["status"] for r in recs] == ["ok", "ok"], recs


DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from tiny_runs import run_tiny
run_tiny(Path({runs!r}), Path({replay!r}), generations=1, samples=2, workers=1, executor="ray", analyzer=False)
"""


@pytest.mark.expensive
@pytest.mark.ray
def test_resume_after_the_driver_dies(ray_instance: Any, tmp_path: Path) -> None:
    """The driver (its own local Ray instance) is SIGKILLed while cand_01 trains: its task dies with it, and
    ``resume`` (here on this module's instance) keeps cand_00 as it was and runs cand_01 again."""
    import subprocess

    from eureka_kit.loop import resume_run
    from eureka_kit.run.progress import Progress

    replay = write_replay(tmp_path / "replay.jsonl", [("initial", GOOD)])
    runs = tmp_path / "runs"
    agents_before = {p.pid for p in _orphan_agents()}
    code = DRIVER.format(tests=str(Path(__file__).parent), runs=str(runs), replay=str(replay))
    driver = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not any(p.children() for p in _ray_tasks("gen_000/cand_01")):
            assert driver.poll() is None and time.monotonic() < deadline, "cand_01 never started training"
            time.sleep(0.2)
    finally:
        driver.kill()
        driver.wait()
    run_dir = next(runs.iterdir())
    first = run_dir / "gen_000/cand_00/candidate.json"
    kept = first.stat().st_mtime_ns
    assert not (run_dir / "gen_000/cand_01/candidate.json").exists()
    deadline = time.monotonic() + 60
    while _ray_tasks("gen_000/cand_01"):  # the dead driver's task does not go on training
        assert time.monotonic() < deadline, "the dead driver's Ray task is still running"
        time.sleep(0.5)

    result = resume_run(run_dir, progress=Progress("HalfCheetah-Run-v1", 1, live=False))
    recs = [json.loads((run_dir / f"gen_000/cand_{i:02d}/candidate.json").read_text()) for i in range(2)]
    assert [r["status"] for r in recs] == ["ok", "ok"], recs
    assert first.stat().st_mtime_ns == kept  # the finished candidate was not run again
    assert result.summary["status_counts"] == {"ok": 2}
    for proc in _orphan_agents():  # a SIGKILLed driver's local instance leaves its two agents behind (Ray's own)
        if proc.pid not in agents_before:
            proc.kill()
