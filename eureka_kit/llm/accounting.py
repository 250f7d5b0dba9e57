"""LLM accounting records: the budget cap, one record per call, and running usage totals; the JSONL call log.

:class:`CallRecord` is one line of ``llm_calls.jsonl`` (a backend request, a
group of cache hits, or a refused/failed request); :class:`Usage` adds them up
(tokens and cost count new completions only); :class:`Budget` is the cap the
client checks before each backend request.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eureka_kit.llm.errors import LLMConfigError
from eureka_kit.run.store import read_jsonl

CallStatus = Literal["ok", "cached", "error", "budget_exceeded"]


@dataclass(frozen=True)
class Budget:
    """Optional caps on the new spend of one client (``None``: no cap)."""

    max_usd: float | None = None
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.max_usd is not None and self.max_usd < 0:
            raise LLMConfigError(f"budget_usd must be >= 0, got {self.max_usd}")
        if self.max_tokens is not None and self.max_tokens < 0:
            raise LLMConfigError(f"budget_tokens must be >= 0, got {self.max_tokens}")

    @property
    def enabled(self) -> bool:
        return self.max_usd is not None or self.max_tokens is not None


@dataclass(frozen=True)
class CallRecord:
    """One line of the call log: a backend request, a group of cache hits, or a refused/failed request.

    Tokens are those of the completions involved (for ``"cached"``: their
    original counts, which cost nothing new); ``cost_usd`` is the new spend
    (0.0 for cached, ``None`` when the model has no price). ``latency_s``
    includes retry waits; ``attempts`` is 0 when nothing was sent.
    ``images``/``image_bytes`` count the PNG image parts of the request (their
    tokens are inside ``prompt_tokens``, as the server reports them).
    """

    request_id: str
    model: str
    sample_indices: tuple[int, ...]
    status: CallStatus
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    attempts: int = 0
    error: str | None = None
    time_unix: float = field(default_factory=time.time)
    images: int = 0
    image_bytes: int = 0

    @property
    def cached(self) -> bool:
        return self.status == "cached"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (one JSONL line of the run's call log)."""
        d = dataclasses.asdict(self)
        d["sample_indices"] = list(self.sample_indices)
        d["cached"] = self.cached
        return d


@dataclass(frozen=True)
class Usage:
    """Totals over call records. Tokens and cost count *new* completions only; cached ones are counted apart."""

    requests: int = 0
    """Backend requests that returned answers."""
    failed_requests: int = 0
    cache_hits: int = 0
    """``sample()`` calls answered (wholly or partly) from the cache."""
    completions: int = 0
    """New completions received."""
    cached_completions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    priced_cost_usd: float = 0.0
    """USD of the new tokens that have a price."""
    unpriced_tokens: int = 0
    """New tokens of models without a price (not in ``priced_cost_usd``)."""

    @property
    def calls(self) -> int:
        """Backend requests plus cache hits."""
        return self.requests + self.cache_hits

    @property
    def cached_calls(self) -> int:
        return self.cache_hits

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_complete(self) -> bool:
        """True when every new token was priced, so ``priced_cost_usd`` is the whole cost."""
        return self.unpriced_tokens == 0

    @property
    def cost_usd(self) -> float | None:
        """The new spend in USD; ``None`` when some tokens have no price (e.g. replay, a local model)."""
        return self.priced_cost_usd if self.cost_complete else None

    def add(self, record: CallRecord) -> Usage:
        if record.status == "cached":
            return dataclasses.replace(
                self,
                cache_hits=self.cache_hits + 1,
                cached_completions=self.cached_completions + len(record.sample_indices),
            )
        if record.status == "error":
            return dataclasses.replace(self, failed_requests=self.failed_requests + 1)
        if record.status != "ok":
            return self
        tokens = record.prompt_tokens + record.completion_tokens
        return dataclasses.replace(
            self,
            requests=self.requests + 1,
            completions=self.completions + len(record.sample_indices),
            prompt_tokens=self.prompt_tokens + record.prompt_tokens,
            completion_tokens=self.completion_tokens + record.completion_tokens,
            priced_cost_usd=self.priced_cost_usd + (record.cost_usd or 0.0),
            unpriced_tokens=self.unpriced_tokens + (tokens if record.cost_usd is None else 0),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "calls": self.calls,
            "cached_calls": self.cached_calls,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "cost_complete": self.cost_complete,
        }


_APPEND_LOCK = threading.Lock()
"""Held while a line is appended to any call log: lines from several threads (or clients) never interleave."""


def append_jsonl(path: str | Path) -> Callable[[CallRecord], None]:
    """A call hook appending each record as one JSON line to ``path`` (created with its folder if needed).

    Safe to call from several threads, and from several hooks on the same file: each line is written whole
    under a process-wide lock, in one ``O_APPEND`` write where the system allows (a crash leaves no half record).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(record: CallRecord) -> None:
        line = (json.dumps(record.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
        with _APPEND_LOCK:
            fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(line)
                while view:  # a short write (a signal, a pipe) goes on where it stopped
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)

    return write


MAX_LOG_BYTES = 64 * 1024 * 1024
"""A call log larger than this is not read back for the budget (it would be a damaged or foreign file)."""


def usage_from_log(path: str | Path) -> Usage:
    """The totals of an existing call log (written by :func:`append_jsonl`): the spend earlier clients of a run made.

    A missing file is no spend; lines that are not call records (a line cut by a crash) are skipped.
    """
    target = Path(path)
    if not target.is_file() or target.stat().st_size > MAX_LOG_BYTES:
        return Usage()
    usage = Usage()
    for d in read_jsonl(target):
        try:
            cost = d.get("cost_usd")
            record = CallRecord(
                request_id=str(d["request_id"]),
                model=str(d["model"]),
                sample_indices=tuple(int(i) for i in d["sample_indices"]),
                status=d["status"],
                prompt_tokens=int(d.get("prompt_tokens", 0)),
                completion_tokens=int(d.get("completion_tokens", 0)),
                cost_usd=None if cost is None else float(cost),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        usage = usage.add(record)
    return usage
