"""What a benchmark runs: tasks x search seeds x configurations, and the retraining settings of each task.

Nothing here trains; :func:`make_plan` checks every run's config before any work starts (an unknown task,
option or replay file fails at once), so a benchmark never stops half-way on a typo.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from eureka_kit.benchmark.options import Configuration
from eureka_kit.benchmark.suites import Budget
from eureka_kit.config import RunConfig
from eureka_kit.errors import UsageError
from eureka_kit.final_eval import TrainSettings
from eureka_kit.training.backends import get_backend, resolve_training

SMOKE_REPLAY_DIR = "benchmark_smoke"
"""Folder of ``eureka_kit.examples.responses`` with the smoke suite's hand-written answers, one file per task."""


def smoke_replay_dir() -> Path:
    import eureka_kit.examples

    return Path(eureka_kit.examples.__file__).resolve().parent / "responses" / SMOKE_REPLAY_DIR


@dataclass(frozen=True)
class Request:
    """What the user asked for: tasks, budget, seeds and the configurations (one, or two to compare)."""

    tasks: tuple[str, ...]
    budget: Budget
    seeds: int
    configurations: tuple[Configuration, ...]
    suite: str | None = None
    eval_seeds: int | None = None
    """Retrainings per reward in the final evaluation (default: the budget's)."""
    base_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Run options of every configuration (a configuration's own options win)."""
    jobs: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    """Searches and retrainings running at once."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_options", MappingProxyType(dict(self.base_options)))
        if self.seeds < 1 or self.jobs < 1 or (self.eval_seeds is not None and self.eval_seeds < 1):
            raise UsageError("--seeds, --eval-seeds and --jobs must be >= 1")
        if not self.tasks:
            raise UsageError("a benchmark needs at least one task")
        if len(set(self.tasks)) != len(self.tasks):
            raise UsageError(f"a task is named twice: {', '.join(self.tasks)}")
        names = [c.name for c in self.configurations]
        if not names or len(set(names)) != len(names):
            raise UsageError(f"configurations need distinct names, got {names}")

    @property
    def n_eval_seeds(self) -> int:
        return self.eval_seeds if self.eval_seeds is not None else self.budget.eval_seeds


@dataclass(frozen=True)
class BaselineKey:
    """What a cached baseline depends on: task, reward (human or sparse), retraining settings and seed."""

    task: str
    kind: str
    settings: TrainSettings
    seed: int

    @property
    def label(self) -> str:
        s = self.settings
        extra = f"__fit{hashlib.sha256(s.fitness.encode()).hexdigest()[:8]}" if s.fitness else ""
        budget = f"{s.backend}__{s.steps}steps__{s.n_envs}envs__{s.episodes}ep{extra}"
        return f"{self.task}__{self.kind}__{budget}__seed{self.seed}"

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "kind": self.kind,
            "seed": self.seed,
            "settings": {k: getattr(self.settings, k) for k in ("steps", "n_envs", "episodes", "backend", "fitness")},
        }


@dataclass(frozen=True)
class SearchUnit:
    """One search (a normal run) of a configuration on a task with a seed, then its best program's retrainings."""

    configuration: str
    task: str
    seed: int
    config: RunConfig
    settings: TrainSettings
    eval_seeds: int
    success_rates: bool

    @property
    def folder(self) -> Path:
        return Path("configs") / self.configuration / self.task / f"seed{self.seed}"

    @property
    def label(self) -> str:
        return f"{self.configuration}/{self.task}/s{self.seed}"

    def baselines(self) -> list[BaselineKey]:
        return [
            BaselineKey(self.task, k, self.settings, s) for k in ("baseline", "sparse") for s in range(self.eval_seeds)
        ]


@dataclass(frozen=True)
class Plan:
    request: Request
    units: tuple[SearchUnit, ...]
    baselines: tuple[BaselineKey, ...]

    def units_of(self, configuration: str) -> list[SearchUnit]:
        return [u for u in self.units if u.configuration == configuration]


def _default_llm(options: dict[str, Any], tasks: tuple[str, ...]) -> dict[str, Any]:
    """The LLM as ``eureka-kit run`` picks it; without a model, the smoke suite replays its hand-written answers."""
    if "llm" in options:
        return options
    if os.environ.get("OPENAI_API_KEY") or options.get("base_url"):
        return {**options, "llm": "openai"}
    if options.get("replay_path"):
        return {**options, "llm": "replay"}
    if all((smoke_replay_dir() / f"{t}.jsonl").is_file() for t in tasks):
        return {**options, "llm": "replay", "replay_path": str(smoke_replay_dir())}
    return {**options, "llm": "openai"}  # the run's own error names the missing key


def _replay_for(options: dict[str, Any], task: str) -> dict[str, Any]:
    """A replay folder holds one answer file per task, ``<task>.jsonl``; a file is used for every task."""
    path = options.get("replay_path")
    if options.get("llm") != "replay" or not path or not Path(path).is_dir():
        return options
    file = Path(path) / f"{task}.jsonl"
    if not file.is_file():
        raise FileNotFoundError(f"replay folder {path} has no answers for task {task} ({file.name})")
    return {**options, "replay_path": str(file.absolute())}


def run_config(request: Request, configuration: Configuration, task: str, seed: int) -> tuple[RunConfig, TrainSettings]:
    """The run config of one search and the settings its best program and the baselines are retrained with."""
    options = {**request.budget.run_options(), **request.base_options, **configuration.options}
    options = _replay_for(_default_llm(options, request.tasks), task)
    probe = RunConfig(task=task, **{k: v for k, v in options.items() if k != "steps"})
    spec = probe.task_spec()
    backend, device = resolve_training(probe.backend, spec, probe.device)
    default = get_backend(backend).budget(spec)
    steps = options.get("steps") or request.budget.task_steps(default.total_steps)
    config = RunConfig(task=task, seed=seed, **{**options, "steps": steps})
    settings = TrainSettings(
        steps, config.n_envs or default.n_envs, config.eval_episodes, backend, device, config.fitness
    )
    return config, settings


def make_plan(request: Request) -> Plan:
    units: list[SearchUnit] = []
    for configuration in request.configurations:
        for task in request.tasks:
            for seed in range(request.seeds):
                config, settings = run_config(request, configuration, task, seed)
                spec = config.task_spec()
                success = spec.fitness.aggregate == "any"
                units.append(
                    SearchUnit(configuration.name, task, seed, config, settings, request.n_eval_seeds, success)
                )
    baselines: dict[str, BaselineKey] = {}
    for u in units:
        for key in u.baselines():
            baselines.setdefault(key.label, key)
    return Plan(request, tuple(units), tuple(baselines.values()))


def options_digest(options: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(options), sort_keys=True, default=str).encode()).hexdigest()[:16]
