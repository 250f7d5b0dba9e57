"""The Ray executor against the local one on one machine, and a generation's wall time vs K, budget and workers.

Usage: .venv/bin/python bench/executor_overhead.py [--candidates 4] [--steps 8192] [--workers 2] [--repeats 2]
       [--no-sweep] [--smoke]

A generation here is ``--candidates`` jobs of the fixed program ``examples/halfcheetah_reward.py`` (seeds 0..K-1,
the ``cpu`` backend), each a sandboxed training child plus the trusted evaluation, submitted at once to an
executor with ``--workers`` workers: exactly what the loop hands an executor (the LLM and the critic, identical
for both executors, are left out). One table from one run:

* the local executor vs Ray (a local instance with one CPU per candidate, started once before; its start and the
  executor's per-node sandbox probe are rows of their own), alternated ``--repeats`` times so that a change of
  the machine's load hits both; the first Ray generation (workers cold: process start, sandbox check) is its
  own row; the ratio is of the medians;
* unless ``--no-sweep``: Ray generation wall time at 2-3 points of K, of the budget (steps per candidate) and of
  workers, one changed at a time from the base point.

``--smoke`` runs every row at seconds-long sizes. Times depend on the machine and its load; ratios carry over
better.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "examples" / "halfcheetah_reward.py"
TASK = "HalfCheetah-Run-v1"
EVAL_SEED = 12_345


def generation(executor: object, candidates: int, steps: int, root: Path) -> float:
    """Wall seconds of ``candidates`` jobs run by ``executor`` (all submitted at once); raises if one failed."""
    from eureka_kit.executors.base import CandidateJob
    from eureka_kit.run.layout import REWARD_FILE
    from eureka_kit.sandbox.runner import Limits
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.job import TrainJob
    from eureka_kit.training.runner import default_timeout_s

    spec = get_task(TASK)
    shutil.rmtree(root, ignore_errors=True)
    jobs = []
    for i in range(candidates):
        out = root / f"cand_{i:02d}"
        out.mkdir(parents=True)
        (out / REWARD_FILE).write_text(PROGRAM.read_text())
        train = TrainJob(TASK, "program", out / REWARD_FILE, total_steps=steps, seed=i, backend="cpu")
        limits = Limits(wall_s=default_timeout_s(steps))
        jobs.append(CandidateJob(spec, train, out, limits, eval_episodes=2, eval_seed=EVAL_SEED))
    run: Callable[..., object] = executor.run  # type: ignore[attr-defined]
    start = time.perf_counter()
    with ThreadPoolExecutor(candidates) as pool:
        outcomes = list(pool.map(run, jobs))
    wall = time.perf_counter() - start
    failed = [o.train.message for o in outcomes if o.train.status != "ok" or o.evaluation is None]  # type: ignore[attr-defined]
    if failed:
        raise RuntimeError(f"{len(failed)} candidate(s) failed: {failed[0]}")
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8192)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="seconds-long sizes: every row runs, figures mean nothing")
    args = ap.parse_args()
    if args.smoke:
        args.candidates, args.steps, args.repeats = 2, 2048, 1

    from eureka_kit.executors import LocalExecutor
    from eureka_kit.executors.ray import RayExecutor, RayOptions, import_ray, init_ray
    from eureka_kit.loop import prepare_sandbox

    prepare_sandbox(None, lambda s: print(s, file=sys.stderr))
    ray = import_ray()
    work = Path(tempfile.mkdtemp(prefix="executor-bench-"))
    rows: list[tuple[str, str]] = []
    k, steps, workers = args.candidates, args.steps, args.workers
    cpus = os.cpu_count() or 1

    t = time.perf_counter()
    init_ray(None, num_cpus=cpus, object_store_memory=200 * 2**20)
    rows.append((f"ray start: local instance, {cpus} CPUs (once per session)", f"{time.perf_counter() - t:.1f} s"))
    t = time.perf_counter()
    ray_exec = RayExecutor(workers, RayOptions(cpus_per_candidate=1))
    rows.append(("ray executor start: sandbox probe on every node (once per run)", f"{time.perf_counter() - t:.1f} s"))
    local_exec = LocalExecutor(workers)

    base = f"K={k}, {steps:,} steps, {workers} workers"
    cold = generation(ray_exec, k, steps, work / "ray_cold")
    rows.append((f"ray, first generation (cold workers): {base}", f"{cold:.1f} s"))
    local_walls, ray_walls = [], []
    for r in range(args.repeats):
        local_walls.append(generation(local_exec, k, steps, work / f"local_{r}"))
        ray_walls.append(generation(ray_exec, k, steps, work / f"ray_{r}"))
    local_m, ray_m = statistics.median(local_walls), statistics.median(ray_walls)
    fmt = ", ".join
    rows.append((f"local executor: {base}", f"{local_m:.1f} s (runs: {fmt(f'{w:.1f}' for w in local_walls)})"))
    rows.append((f"ray executor: {base}", f"{ray_m:.1f} s (runs: {fmt(f'{w:.1f}' for w in ray_walls)})"))
    rows.append(("ray / local (medians; target <= 1.10)", f"{ray_m / local_m:.3f}x"))

    if not args.no_sweep:
        ks = (2, 4) if args.smoke else (2, 4, 8)
        for kk in ks:
            if kk != k:
                rows.append(
                    (
                        f"ray: K={kk}, {steps:,} steps, {workers} workers",
                        f"{generation(ray_exec, kk, steps, work / 'k'):.1f} s",
                    )
                )
        rows.append((f"ray: K={k}, {steps:,} steps, {workers} workers (above)", f"{ray_m:.1f} s"))
        for mult in (2,) if args.smoke else (2, 4):
            s = steps * mult
            rows.append(
                (f"ray: K={k}, {s:,} steps, {workers} workers", f"{generation(ray_exec, k, s, work / 's'):.1f} s")
            )
        for w in (1,) if args.smoke else (1, 4):
            if w != workers:
                ex = RayExecutor(w, RayOptions(cpus_per_candidate=1), log=lambda s: print(s, file=sys.stderr))
                rows.append(
                    (f"ray: K={k}, {steps:,} steps, {w} workers", f"{generation(ex, k, steps, work / 'w'):.1f} s")
                )
    ray_exec.close()
    ray.shutdown()
    shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()
    print(f"\nexecutor overhead ({TASK}, cpu backend, {cpus} cores; load average at the end {load[0]:.1f})")
    width = max(len(a) for a, _ in rows)
    for a, b in rows:
        print(f"  {a:<{width}}  {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
