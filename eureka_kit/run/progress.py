"""Live progress of a run: generation, candidates by stage, best fitness, tokens and cost.

On a terminal a ``rich`` live panel is redrawn in place; otherwise (CI, logs)
one plain line is printed per event. The loop only calls :meth:`Progress.update`
and :meth:`Progress.log`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Stage = Literal["queued", "checking", "training", "evaluating", "done"]


@dataclass
class _State:
    generation: int = 0
    generations: int = 0
    stages: dict[str, Stage] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    best_fitness: float | None = None
    best_name: str | None = None
    tokens: int = 0
    cost_usd: float | None = None
    started: float = field(default_factory=time.monotonic)


class Progress:
    """Thread-safe progress display; use as a context manager.

    Candidate threads call every method at once: the state is changed and read (to draw the panel) under one
    lock, so a panel never iterates a dict another thread is growing, and each printed line is written whole
    under a second lock, so two threads' lines never interleave.
    """

    def __init__(self, task: str, generations: int, live: bool | None = None) -> None:
        self._lock = threading.Lock()
        self._print_lock = threading.Lock()
        self._s = _State(generations=generations)
        self._task = task
        self._live_enabled = sys.stdout.isatty() if live is None else live
        self._live: Any = None

    def __enter__(self) -> Progress:
        if self._live_enabled:
            from rich.live import Live

            with self._lock:
                panel = self._render()
            self._live = Live(panel, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            with self._lock:
                panel = self._render()
            self._live.update(panel)
            self._live.__exit__(*exc)
            self._live = None

    def log(self, message: str) -> None:
        if self._live is not None:
            self._live.console.print(message)  # rich's console serializes its own output
        else:
            with self._print_lock:
                sys.stdout.write(message + "\n")
                sys.stdout.flush()

    def generation(self, generation: int) -> None:
        with self._lock:
            self._s.generation = generation
            self._s.stages = {}
        self.log(f"[gen {generation}: {generation + 1} of {self._s.generations}] sampling reward programs")
        self._refresh()

    def stage(self, name: str, stage: Stage, detail: str = "") -> None:
        with self._lock:
            self._s.stages[name] = stage
        if self._live is None and stage != "queued":
            self.log(f"  {name}: {stage}{' - ' + detail if detail else ''}")
        self._refresh()

    def stage_of(self, name: str) -> Stage | None:
        """The last stage reported for candidate ``name`` in this generation (``None``: none yet)."""
        with self._lock:
            return self._s.stages.get(name)

    def finished(self, name: str, status: str, fitness: float | None, message: str = "") -> None:
        with self._lock:
            self._s.stages[name] = "done"
            self._s.statuses[status] += 1
            if fitness is not None and (self._s.best_fitness is None or fitness > self._s.best_fitness):
                self._s.best_fitness = fitness
                self._s.best_name = name
        fit = f" fitness={fitness:.4g}" if fitness is not None else ""
        first_line = message.strip().splitlines()[0][:160] if status != "ok" and message.strip() else ""
        self.log(f"  {name}: {status}{fit}{' - ' + first_line if first_line else ''}")
        self._refresh()

    def usage(self, tokens: int, cost_usd: float | None) -> None:
        with self._lock:
            self._s.tokens = tokens
            self._s.cost_usd = cost_usd
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            with self._lock:  # the panel is a snapshot: drawn while no thread changes the state
                panel = self._render()
            self._live.update(panel)

    def _render(self) -> Any:
        """The panel (a ``rich`` table) of the current state; call with ``self._lock`` held."""
        from rich.table import Table

        s = self._s
        counts = Counter(s.stages.values())
        t = Table(title=f"eureka-kit run: {self._task}", show_header=False, expand=False)
        t.add_row("generation", f"gen {s.generation} ({s.generation + 1} of {s.generations})")
        t.add_row(
            "candidates",
            " ".join(f"{k}={counts.get(k, 0)}" for k in ("queued", "checking", "training", "evaluating", "done")),
        )
        t.add_row("outcomes", " ".join(f"{k}={v}" for k, v in sorted(s.statuses.items())) or "-")
        best = f"{s.best_fitness:.4g} ({s.best_name})" if s.best_fitness is not None else "-"
        t.add_row("best fitness", best)
        cost = f"${s.cost_usd:.4f}" if s.cost_usd is not None else "n/a"
        t.add_row("LLM", f"{s.tokens} tokens, cost {cost}")
        t.add_row("elapsed", f"{time.monotonic() - s.started:.0f} s")
        return t
