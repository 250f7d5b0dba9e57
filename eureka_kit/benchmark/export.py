"""``eureka-kit export RUN_OR_BENCHMARK DIR``: best programs as an example library that ``--examples DIR`` accepts.

Each best program becomes ``DIR/<task>__<origin>.py``: a comment saying where it comes from and how it scored,
the program as the search wrote it, then the library's metadata (``TASK``, ``FAMILY``, ``ABOUT``; at the end,
so a program's own docstring and ``from __future__`` imports stay first). ``DIR/index.json`` lists every file
with its task, origin and scores. Every written file is loaded back the way ``--examples`` loads it (static
checks of the critic included), so the library is known to be accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eureka_kit.errors import UsageError
from eureka_kit.files import atomic_write_json, atomic_write_text, read_bounded_json

MAX_JSON_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Exported:
    """One exported program: its file name, task, where it comes from and its scores."""

    file: str
    task: str
    origin: str
    search_fitness: float | None
    hns: float | None


def _best_of_run(run: Path) -> Mapping[str, Any] | None:
    path = run / "summary.json"
    if not path.is_file():
        return None
    best = read_bounded_json(path, MAX_JSON_BYTES).get("best")
    return best if isinstance(best, Mapping) and isinstance(best.get("source"), str) else None


def _sources(src: Path) -> list[tuple[str, str, Path, float | None]]:
    """``(task, origin, run folder, HNS)`` of every search under ``src`` (a run or a benchmark folder)."""
    if (src / "benchmark.json").is_file():
        data = read_bounded_json(src / "benchmark.json", MAX_JSON_BYTES)
        out = []
        for c in data["configurations"]:
            hns = {(s["seed"], t["task"]): s.get("hns") for t in c["tasks"] for s in t.get("seeds", ())}
            for u in c["units"]:
                origin = f"{c['name']}__s{u['seed']}"
                out.append((str(u["task"]), origin, src / str(u["run_dir"]), hns.get((u["seed"], u["task"]))))
        return out
    if (src / "config.json").is_file():
        summary = read_bounded_json(src / "summary.json", MAX_JSON_BYTES) if (src / "summary.json").is_file() else {}
        return [(str(summary.get("task", "")), src.name, src, None)]
    raise FileNotFoundError(f"{src} is neither a run folder (config.json) nor a benchmark folder (benchmark.json)")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:80]


def _file_text(task: str, origin: str, best: Mapping[str, Any], hns: float | None, family: str | None) -> str:
    from eureka_kit.tasks.registry import get_task

    goal = get_task(task).goal
    fitness = best.get("fitness")
    scores = f"search fitness {fitness:.4g}" if isinstance(fitness, (int, float)) else "search fitness n/a"
    if hns is not None:
        scores += f", human-normalized score {hns:.3g}"
    about = f"{goal} (exported from {origin}: {scores})"
    meta = [f"TASK = {task!r}", f"ABOUT = {about!r}"] + ([f"FAMILY = {family!r}"] if family else [])
    header = f"# Best program for {task}, exported by eureka-kit from {origin}: {scores}.\n"
    return header + str(best["source"]).rstrip() + "\n\n\n" + "\n".join(meta) + "\n"


def export_library(src: Path, out: Path) -> list[Exported]:
    """Write the best programs of ``src`` (a run or a benchmark folder) into ``out``; see the module docstring."""
    from eureka_kit.loop.few_shot import load_example, task_family
    from eureka_kit.tasks.registry import get_task

    out.mkdir(parents=True, exist_ok=True)
    done: list[Exported] = []
    for task, origin, run, hns in _sources(src):
        best = _best_of_run(run)
        if best is None:
            continue
        spec = get_task(task)
        name = f"{_slug(task)}__{_slug(origin)}.py"
        path = out / name
        atomic_write_text(path, _file_text(task, origin, best, hns, task_family(spec)))
        load_example(path, "user", spec)  # ExampleError naming the file if --examples would refuse it
        fitness = best.get("fitness")
        done.append(Exported(name, task, origin, float(fitness) if isinstance(fitness, (int, float)) else None, hns))
    if not done:
        raise UsageError(f"{src} has no best program to export (no search found a working one)")
    atomic_write_json(out / "index.json", {"source": str(src), "programs": [asdict(e) for e in done]})
    return done
