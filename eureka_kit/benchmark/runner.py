"""Running a benchmark: searches, retrainings of their best programs and cached baselines, resumable.

The benchmark folder::

    benchmark.json                 every number (written last, by eureka_kit.benchmark.results)
    trainings.jsonl                one line per search, retraining or baseline started, finished or reused
    baselines/<key>.json           a baseline's retraining (human or sparse reward, one seed): the cache
    baselines/<key>/               its training and evaluation files
    configs/<name>/options.json    the configuration's run options (a changed one is refused, not mixed)
    configs/<name>/<task>/seed<s>/run/<run-id>/      the search: an ordinary run folder
    configs/<name>/<task>/seed<s>/final/program_seed<k>.json (+ folder): the best program retrained
    configs/<name>/<task>/seed<s>/result.json         the unit, finished

Every file is written atomically and each ``.json`` marks finished work: a second invocation (after a
``kill -9`` too) reuses it, resumes an unfinished search from its last finished candidate and retrains only
what has no result. Baselines depend on (task, reward, backend, steps, envs, episodes, seed), not on the
configuration, so a second configuration on the same suite reuses them.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eureka_kit.benchmark.options import Configuration
from eureka_kit.benchmark.plan import BaselineKey, Plan, SearchUnit, options_digest
from eureka_kit.benchmark.progress import BenchProgress, RunProgress
from eureka_kit.benchmark.scoring import Trained
from eureka_kit.errors import UsageError
from eureka_kit.final_eval import RewardKind, TrainSettings, train_and_evaluate
from eureka_kit.run.layout import EVAL_FILE
from eureka_kit.run.store import append_jsonl, atomic_write_json, read_json
from eureka_kit.tasks.registry import get_task

TRAININGS_LOG = "trainings.jsonl"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class UnitResult:
    """A finished search unit: its run, its best program's retrainings and what it cost."""

    configuration: str
    task: str
    seed: int
    status: Literal["ok", "no_program"]
    run_dir: str
    """Relative to the benchmark folder."""
    search_fitness: float | None
    programs: tuple[Trained, ...]
    llm_tokens: int
    cost_usd: float | None
    env_steps: int
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "configuration": self.configuration,
            "task": self.task,
            "seed": self.seed,
            "status": self.status,
            "run_dir": self.run_dir,
            "search_fitness": self.search_fitness,
            "programs": [p.to_json() for p in self.programs],
            "llm_tokens": self.llm_tokens,
            "cost_usd": self.cost_usd,
            "env_steps": self.env_steps,
            "wall_s": self.wall_s,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> UnitResult:
        return cls(
            configuration=str(d["configuration"]),
            task=str(d["task"]),
            seed=int(d["seed"]),
            status="ok" if d["status"] == "ok" else "no_program",
            run_dir=str(d["run_dir"]),
            search_fitness=None if d.get("search_fitness") is None else float(d["search_fitness"]),
            programs=tuple(Trained.from_json(p) for p in d.get("programs", ())),
            llm_tokens=int(d.get("llm_tokens", 0)),
            cost_usd=None if d.get("cost_usd") is None else float(d["cost_usd"]),
            env_steps=int(d.get("env_steps", 0)),
            wall_s=float(d.get("wall_s", 0.0)),
        )


@dataclass(frozen=True)
class Outcome:
    """What one invocation produced: every unit's result, every baseline's, and how much was reused."""

    units: tuple[UnitResult, ...]
    baselines: tuple[tuple[BaselineKey, Trained], ...]
    baselines_trained: int
    baselines_reused: int


@contextmanager
def bench_lock(root: Path) -> Iterator[None]:
    """Hold the benchmark folder's lock: a second process on the same folder fails at once, naming it."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"benchmark folder {root} is in use by another eureka-kit process") from None
        yield


def check_configuration(root: Path, configuration: Configuration, resolved: dict[str, Any]) -> None:
    """Store a configuration's options on first use; refuse different options under the same name later."""
    path = root / "configs" / configuration.name / "options.json"
    digest = options_digest(resolved)
    if path.exists():
        stored = read_json(path)
        if stored.get("digest") != digest:
            raise UsageError(
                f"configuration {configuration.name!r} in {root} was run with other options "
                f"({stored.get('options')}); give this one another name (a file name, or --name) or another --dir"
            )
        return
    atomic_write_json(path, {**configuration.to_json(), "resolved": resolved, "digest": digest})


def _success_rate(out: Path) -> float | None:
    path = out / EVAL_FILE
    if not path.exists():
        return None
    episodes = read_json(path).get("episodes") or []
    if not episodes:
        return None
    return sum(1 for e in episodes if float(e.get("fitness", 0.0)) > 0.0) / len(episodes)


class Runner:
    """Runs a :class:`Plan` in a benchmark folder (see the module docstring)."""

    def __init__(self, plan: Plan, root: Path, emit: Callable[[str], None] = print) -> None:
        self.plan = plan
        self.root = root.absolute()
        self._log_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.trained = 0
        self.reused = 0
        total = sum(u.config.samples * u.config.generations + u.eval_seeds for u in plan.units)
        self.progress = BenchProgress(total + len(plan.baselines), plan.request.jobs, emit)

    def event(self, event: str, what: str, key: str) -> None:
        with self._log_lock:
            append_jsonl(self.root / TRAININGS_LOG, {"event": event, "what": what, "key": key, "time": time.time()})

    def retrain(
        self,
        what: str,
        key: str,
        task: str,
        kind: RewardKind,
        program: Path | None,
        seed: int,
        settings: TrainSettings,
        out: Path,
    ) -> tuple[Trained, bool]:
        """``(result, reused)``: the stored result of ``out`` if there is one, else a fresh training."""
        marker = out.with_suffix(".json")
        if marker.exists():
            self.event("reused", what, key)
            self.progress.add_done(cached=True)
            return Trained.from_json(read_json(marker)), True
        self.event("start", what, key)
        started = time.monotonic()
        r = train_and_evaluate(get_task(task), kind, program, seed, settings, out)
        wall = time.monotonic() - started
        trained = Trained(kind, seed, r.status, r.fitness, _success_rate(out), round(wall, 2), r.message)
        atomic_write_json(marker, trained.to_json())
        self.event("done", what, key)
        self.progress.add_done()
        fit = f"fitness {r.fitness:.4g}" if r.fitness is not None else f"{r.status}: {r.message[:100]}"
        self.progress.log(f"{key}: {fit} ({wall:.0f} s)")
        return trained, False

    def baseline(self, key: BaselineKey) -> Trained:
        out = self.root / "baselines" / key.label
        kind: RewardKind = "baseline" if key.kind == "baseline" else "sparse"
        trained, reused = self.retrain("baseline", key.label, key.task, kind, None, key.seed, key.settings, out)
        with self._count_lock:
            if reused:
                self.reused += 1
            else:
                self.trained += 1
        return trained

    def _search(self, unit: SearchUnit) -> Path:
        from eureka_kit.loop import resume_run, start_run

        folder = self.root / unit.folder
        done = folder / "search.json"
        if done.exists():
            self.event("reused", "search", unit.label)
            self.progress.add_done(unit.config.samples * unit.config.generations, cached=True)
            return self.root / str(read_json(done)["run_dir"])
        runs = folder / "run"
        existing = sorted(p for p in runs.iterdir() if (p / "config.json").is_file()) if runs.is_dir() else []
        progress = RunProgress(unit.label, unit.task, unit.config.generations, self.progress)
        self.event("start", "search", unit.label)
        if existing:
            progress.log(f"resuming {existing[-1].relative_to(self.root)}")
            result = resume_run(existing[-1], progress)
        else:
            result = start_run(unit.config, runs, progress)
        run_dir = result.run_dir.absolute()
        atomic_write_json(done, {"run_dir": str(run_dir.relative_to(self.root))})
        self.event("done", "search", unit.label)
        return run_dir

    def unit(self, unit: SearchUnit) -> UnitResult:
        folder = self.root / unit.folder
        if (folder / RESULT_FILE).exists():
            self.event("reused", "unit", unit.label)
            self.progress.add_done(unit.config.samples * unit.config.generations + unit.eval_seeds, cached=True)
            return UnitResult.from_json(read_json(folder / RESULT_FILE))
        run_dir = self._search(unit)
        summary = read_json(run_dir / "summary.json")
        best = summary.get("best")
        programs: list[Trained] = []
        if best is not None:
            program = run_dir / str(best["program"])
            for k in range(unit.eval_seeds):
                out = folder / "final" / f"program_seed{k}"
                key = f"{unit.label} best program, eval seed {k}"
                programs.append(self.retrain("program", key, unit.task, "program", program, k, unit.settings, out)[0])
        else:
            self.progress.add_done(unit.eval_seeds, cached=True)
            self.progress.log(f"{unit.label}: the search found no working program")
        llm = summary.get("llm") or {}
        result = UnitResult(
            configuration=unit.configuration,
            task=unit.task,
            seed=unit.seed,
            status="ok" if best is not None else "no_program",
            run_dir=str(run_dir.relative_to(self.root)),
            search_fitness=None if best is None else best.get("fitness"),
            programs=tuple(programs),
            llm_tokens=int(llm.get("prompt_tokens", 0)) + int(llm.get("completion_tokens", 0)),
            cost_usd=llm.get("cost_usd"),
            env_steps=int(summary.get("env_steps", 0)) + unit.settings.steps * len(programs),
            wall_s=round(float(summary.get("wall_time_s", 0.0)) + sum(p.wall_s for p in programs), 2),
        )
        atomic_write_json(folder / RESULT_FILE, result.to_json())
        return result

    def run(self) -> Outcome:
        """Every unit and baseline of the plan, ``jobs`` at a time; the first error is raised once all stopped."""
        plan = self.plan
        self.progress.log(
            f"benchmark {self.root}: {len(plan.request.tasks)} task(s) x {plan.request.seeds} seed(s) x "
            f"{len(plan.request.configurations)} configuration(s), {len(plan.baselines)} baseline retraining(s)"
        )
        with bench_lock(self.root), ThreadPoolExecutor(max_workers=plan.request.jobs) as pool:
            unit_futures = [pool.submit(self.unit, u) for u in plan.units]
            baseline_futures = [pool.submit(self.baseline, k) for k in plan.baselines]
            futures: list[Future[Any]] = [*unit_futures, *baseline_futures]
            errors = [e for f in futures if (e := f.exception()) is not None]
        if errors:
            for e in errors[1:]:
                self.progress.log(f"also failed: {e}")
            raise errors[0]
        return Outcome(
            units=tuple(f.result() for f in unit_futures),
            baselines=tuple((k, f.result()) for k, f in zip(plan.baselines, baseline_futures, strict=True)),
            baselines_trained=self.trained,
            baselines_reused=self.reused,
        )
