"""The run store: everything a run produces lands in ``runs/<run-id>/``.

Layout (docs/architecture.md, "Run folder")::

    config.json              resolved config, package versions, task id, LLM model
    llm_cache/               content-addressed LLM responses (resume makes no new calls)
    llm_calls.jsonl          one line per LLM call: request id, tokens, cost, cached
    gen_000/prompt.json      the messages sent for this generation
    gen_000/cand_03/         response.md, reward.py, check.json, train.log, stats.json,
                             eval.json, policy.safetensors, feedback.md, candidate.json
    summary.json             best program, fitness per generation, status counts, tokens, cost

Every file is written atomically (write a temporary file, fsync, rename), so a
``kill -9`` at any moment leaves either the old or the new file, never half
of one. ``candidate.json`` is written last: its presence marks a finished
candidate, which ``resume`` never redoes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eureka_kit.files import StoreError, atomic_write_bytes, atomic_write_json, atomic_write_text
from eureka_kit.run.layout import cand_name, gen_name

__all__ = [
    "RunStore",
    "StoreError",
    "append_jsonl",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "read_json",
    "read_jsonl",
]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def append_jsonl(path: Path, obj: Any) -> None:
    """Append one JSON line (a torn last line after a crash is skipped by :func:`read_jsonl`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(obj, allow_nan=False) + "\n")


def read_jsonl(path: Path) -> list[Any]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class RunStore:
    """Paths and atomic I/O of one run folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()  # children run in other folders: every path we hand out is absolute

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.json"

    @property
    def llm_cache_dir(self) -> Path:
        return self.root / "llm_cache"

    @property
    def llm_calls_path(self) -> Path:
        return self.root / "llm_calls.jsonl"

    def gen_dir(self, generation: int) -> Path:
        return self.root / gen_name(generation)

    def cand_dir(self, generation: int, index: int) -> Path:
        return self.gen_dir(generation) / cand_name(index)

    def exists(self) -> bool:
        return self.config_path.is_file()
