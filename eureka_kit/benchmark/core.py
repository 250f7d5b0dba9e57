"""Run a benchmark end to end: plan, work (resumable), ``benchmark.json``, the console table, the page.

::

    from eureka_kit.benchmark.core import run_benchmark
    from eureka_kit.benchmark.options import Configuration
    from eureka_kit.benchmark.page import write_page
from eureka_kit.benchmark.plan import Request
    from eureka_kit.benchmark.suites import get_budget, get_suite

    suite = get_suite("smoke")
    request = Request(suite.tasks, get_budget("smoke"), seeds=1, configurations=(Configuration("default"),),
                      suite=suite.name)
    data = run_benchmark(request, Path("benchmarks/smoke"))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eureka_kit.benchmark.page import write_page
from eureka_kit.benchmark.plan import Request, make_plan
from eureka_kit.benchmark.results import bench_file, build
from eureka_kit.benchmark.runner import Runner, check_configuration
from eureka_kit.run.store import atomic_write_json


def run_benchmark(request: Request, root: Path, emit: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or finish) the benchmark in ``root``; write and return ``benchmark.json``'s content."""
    started = time.monotonic()
    plan = make_plan(request)  # every run's config checked before any work
    root = root.absolute()
    for c in request.configurations:
        first = next(u for u in plan.units if u.configuration == c.name).config
        resolved = {k: v for k, v in first.to_json().items() if k not in ("task", "seed", "steps", "replay_path")}
        check_configuration(root, c, resolved)
    outcome = Runner(plan, root, emit).run()
    data = build(plan, outcome, time.monotonic() - started)
    atomic_write_json(bench_file(root), data)
    write_page(root)
    return data
