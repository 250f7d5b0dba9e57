"""Shared helpers of the loop tests: tiny run configs and replay files of stubbed LLM responses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from eureka_kit.config import RunConfig
from eureka_kit.loop import RunResult, start_run
from eureka_kit.run.progress import Progress

TINY: dict[str, object] = {
    "task": "HalfCheetah-Run-v1",
    "samples": 3,
    "generations": 2,
    "steps": 256,
    "n_envs": 1,
    "workers": 2,
    "repair_rounds": 0,
    "eval_episodes": 1,
    "llm": "replay",
    "videos": False,
    "backend": "sb3",
    "prune_equivalent": False,
}
"""Tiny budgets: 256 training steps, 1 evaluation episode, no videos, no equivalent-reward pruning (the loop tests
replay the same programs in several generations; tests switch on what they exercise).

The loop tests train with ``sb3``: the loop's logic is the same on every backend, and a batched child's start
(rsl-rl's imports) costs seconds per candidate; tests/test_batched_backend.py covers the batched backends."""


def write_replay(path: Path, responses: Iterable[tuple[str, str]]) -> Path:
    """A replay JSONL file of ``(key, text)`` records (see eureka_kit/llm/replay.py for how keys match)."""
    path.write_text("".join(json.dumps({"key": key, "text": text}) + "\n" for key, text in responses))
    return path


def tiny_config(replay: Path, **overrides: object) -> RunConfig:
    return RunConfig(**{**TINY, "replay_path": str(replay), **overrides})  # type: ignore[arg-type]


def run_tiny(runs_dir: Path, replay: Path, **overrides: object) -> RunResult:
    """Start a tiny run with plain (non-live) progress output."""
    config = tiny_config(replay, **overrides)
    return start_run(config, runs_dir, progress=Progress(config.task, config.generations, live=False))
