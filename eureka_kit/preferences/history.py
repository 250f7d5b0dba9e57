"""ICPL's history in ranking mode: how the chosen reward program changed across generations, and its statistics.

When rankings steer a run, the next prompt carries, besides the best and worst
programs of the last ranking (:func:`eureka_kit.preferences.steer.preference_prompt`),
what ICPL's prompt carries too:

- the history of the chosen programs: for each ranked generation (the last
  :data:`MAX_GENERATIONS`), the chosen (best-ranked) candidate, the ranker's
  comment on it and how it changed from the previous chosen program: reward
  components added and removed, and the changed lines (at most
  :data:`MAX_DIFF_LINES` per generation);
- the reward reflection of the last chosen program: each reward component, the
  total and the episode length along training. The fitness curve is left out:
  in ranking mode the LLM sees rankings, not fitness values.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from eureka_kit.feedback.reflection import Series, make_series
from eureka_kit.files import UntrustedFileError, read_bounded_json
from eureka_kit.preferences.ranking import Ranking, load_ranking
from eureka_kit.prompting import render
from eureka_kit.run.layout import CANDIDATE_FILE, REWARD_FILE, gen_name
from eureka_kit.training.job import STATS_FILE, StatsFormatError, read_stats

MAX_GENERATIONS = 5
MAX_DIFF_LINES = 14
MAX_RECORD_BYTES = 1_000_000
HIDDEN_SERIES = ("fitness",)
"""Curves the history does not show: rankings steer, not fitness."""


@dataclass(frozen=True)
class ChosenChange:
    """One ranked generation's chosen program and how it differs from the previous chosen one."""

    generation: int
    name: str
    """``cand_02``: the chosen candidate's folder in its generation."""
    comment: str
    summary: str
    diff: tuple[str, ...]
    """Changed lines (``-old`` / ``+new``), bounded; empty for the first chosen program."""


def _components(cand: Path) -> tuple[str, ...]:
    try:
        data = read_bounded_json(cand / CANDIDATE_FILE, MAX_RECORD_BYTES)
    except UntrustedFileError:
        return ()
    return tuple(str(c) for c in data.get("components", ()))


def _diff(old: str, new: str) -> tuple[str, ...]:
    lines = [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    if len(lines) > MAX_DIFF_LINES:
        more = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"... ({more} more changed lines)"]
    return tuple(lines)


def _summary(previous: tuple[str, ...] | None, current: tuple[str, ...], diff: tuple[str, ...]) -> str:
    if previous is None:
        return f"first chosen program; components: {', '.join(current) or 'none'}"
    added = [c for c in current if c not in previous]
    removed = [c for c in previous if c not in current]
    parts = [f"added {', '.join(added)}" if added else "", f"removed {', '.join(removed)}" if removed else ""]
    if not diff:
        return "the same program as the previous chosen one"
    changed = sum(1 for line in diff if line[:1] in "+-")
    parts.append(f"{changed} changed line(s)" + ("" if added or removed else ", same components"))
    return "; ".join(p for p in parts if p)


def chosen_history(run_dir: Path, last_generation: int) -> tuple[list[ChosenChange], Ranking | None]:
    """The chosen programs of generations ``0..last_generation`` that were ranked, and the last ranking."""
    changes: list[ChosenChange] = []
    previous: tuple[str, tuple[str, ...]] | None = None
    last: Ranking | None = None
    for g in range(last_generation + 1):
        ranking = load_ranking(run_dir, g)
        cand = Path(run_dir) / gen_name(g) / (ranking.best if ranking else "")
        if ranking is None or not (cand / REWARD_FILE).is_file():
            continue
        source, components = (cand / REWARD_FILE).read_text(encoding="utf-8"), _components(cand)
        diff = _diff(previous[0], source) if previous is not None else ()
        summary = _summary(previous[1] if previous is not None else None, components, diff)
        changes.append(ChosenChange(g, ranking.best, ranking.comment(ranking.best), summary, diff))
        previous, last = (source, components), ranking
    return changes, last


def chosen_reflection(run_dir: Path, ranking: Ranking) -> tuple[list[Series], int]:
    """The chosen program's training curves (components, total, episode length; no fitness) and its steps."""
    path = Path(run_dir) / gen_name(ranking.generation) / ranking.best / STATS_FILE
    try:
        stats = read_stats(path)
    except (OSError, StatsFormatError):
        return [], 0
    rows = [
        s for name, values in stats.series().items() if name not in HIDDEN_SERIES and (s := make_series(name, values))
    ]
    return rows, stats.total_steps


def history_prompt(run_dir: Path, last_generation: int) -> str:
    """``prompts/preference_history.j2`` for the generations up to ``last_generation`` ("" before any ranking)."""
    changes, last = chosen_history(run_dir, last_generation)
    if last is None:
        return ""
    reflection, steps = chosen_reflection(run_dir, last)
    shown = changes[-MAX_GENERATIONS:]
    return render(
        "preference_history",
        history=shown,
        omitted=len(changes) - len(shown),
        reflection=reflection,
        steps=steps,
        n_points=max((len(s.values) for s in reflection), default=0),
        chosen=last,
    )
