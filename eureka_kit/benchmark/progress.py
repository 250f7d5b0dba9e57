"""Progress over a whole benchmark: one plain line per event, each with trainings done and an ETA.

Work is counted in trainings (a search candidate, a retraining of a best program, a baseline); the ETA is the
remaining trainings times the measured seconds per training of this invocation (cached work counts as done
and costs nothing), divided by the trainings running at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from eureka_kit.run.progress import Progress


def _duration(s: float) -> str:
    s = max(0.0, s)
    if s < 90:
        return f"{s:.0f}s"
    if s < 5400:
        return f"{s / 60:.0f}m{s % 60:02.0f}s"
    return f"{s / 3600:.1f}h"


class BenchProgress:
    """Thread-safe counter of trainings with an ETA; ``emit`` prints a line (default ``print``)."""

    def __init__(self, total: int, jobs: int, emit: Callable[[str], None] = print) -> None:
        self._lock = threading.Lock()
        self._total = max(1, total)
        self._jobs = max(1, jobs)
        self._done = 0
        self._measured = 0
        self._started = time.monotonic()
        self._emit = emit

    def head(self) -> str:
        with self._lock:
            done, measured, total = self._done, self._measured, self._total
            elapsed = time.monotonic() - self._started
        eta = "?"
        if measured:
            eta = _duration((total - done) * elapsed / measured)
        return f"[{done}/{total} trainings, {_duration(elapsed)} elapsed, ETA {eta}]"

    def log(self, message: str) -> None:
        self._emit(f"{self.head()} {message}")

    def add_done(self, n: int = 1, *, cached: bool = False) -> None:
        with self._lock:
            self._done = min(self._total, self._done + n)
            if not cached:
                self._measured += n


class RunProgress(Progress):
    """A search's progress as plain lines prefixed with its configuration, task and seed, counted in ``bench``."""

    def __init__(self, label: str, task: str, generations: int, bench: BenchProgress) -> None:
        super().__init__(task, generations, live=False)
        self._label = label
        self._bench = bench

    def log(self, message: str) -> None:
        for line in message.splitlines() or [""]:
            self._bench.log(f"{self._label} {line.strip()}")

    def finished(self, name: str, status: str, fitness: float | None, message: str = "") -> None:
        self._bench.add_done()
        super().finished(name, status, fitness, message)
