"""The analyzer's game findings: how the agent dies, loops in place, stays in its start room, what it achieves.

They read the game roles of :class:`~eureka_kit.tasks.spec.AnalysisVars`
(``deaths``, ``cell``, ``left_start``, ``achievements``) and apply to any task
that declares them. For tasks with discrete actions, :func:`checks_for`
replaces the continuous-action checks (saturation, jitter) by a histogram of
the actions taken.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from eureka_kit.feedback.analysis_context import AnalysisContext, fmt, num, pct
from eureka_kit.feedback.behaviour import BEHAVIOUR_CHECKS
from eureka_kit.feedback.findings import Finding
from eureka_kit.tasks.kinds import get_kind

Check = Callable[[AnalysisContext], list[Finding]]

LOOP_MIN_STEPS = 20
"""Only episodes at least this long can loop in place."""
LOOP_MAX_CELLS = 4
"""A failed episode that visits at most this many distinct cells loops in place."""
ONE_ACTION_FRACTION = 0.8
"""One action taken on more than this fraction of steps is a warning."""
MAX_ACHIEVEMENTS_SHOWN = 12


def _first_step(series: np.ndarray) -> int | None:
    hits = np.flatnonzero(np.asarray(series) > 0.5)
    return int(hits[0]) + 1 if len(hits) else None


def _dies(ctx: AnalysisContext) -> list[Finding]:
    parts: list[str] = []
    evidence: dict[str, float | str] = {}
    for name, meaning in ctx.vars.deaths:
        if not ctx.has(name):
            continue
        hits = [(t, s) for t in ctx.trajectories if (s := _first_step(t.states[name])) is not None]
        if not hits:
            continue
        steps = [s for _, s in hits]
        text = f"{meaning} in {len(steps)} of {ctx.n} episodes (first at step {fmt(float(np.mean(steps)))})"
        cause = ctx.vars.death_cause
        if cause is not None:
            causes = Counter(cause({k: np.asarray(v)[s - 1] for k, v in t.states.items()}) for t, s in hits)
            text += ": " + ", ".join(f"{c} {n}" for c, n in causes.most_common())
            evidence |= {f"{name}.{c}": float(n) for c, n in causes.items()}
        parts.append(text)
        evidence[f"{name}.episodes"] = float(len(steps))
        evidence[f"{name}.mean_step"] = num(float(np.mean(steps)))
    if not parts:
        return []
    return [Finding("dies", "warning", "The agent fails: " + "; ".join(parts) + ".", evidence)]


def _loops(ctx: AnalysisContext) -> list[Finding]:
    name = ctx.vars.cell
    if name is None or not ctx.has(name):
        return []
    loops = []
    for t in ctx.trajectories:
        if t.fitness > 0 or t.length < LOOP_MIN_STEPS:
            continue
        distinct = len({tuple(c) for c in np.asarray(t.states[name]).round().astype(int).tolist()})
        if distinct <= LOOP_MAX_CELLS:
            loops.append((distinct, t.length))
    if not loops:
        return []
    cells = float(np.mean([c for c, _ in loops]))
    steps = float(np.mean([n for _, n in loops]))
    msg = (
        f"The agent loops in place: in {len(loops)} of {ctx.n} episodes it fails while visiting only "
        f"{fmt(cells)} distinct cells over {fmt(steps)} steps (turning or bumping into walls)."
    )
    return [Finding("loops_in_place", "warning", msg, {"episodes": float(len(loops)), "mean_cells": num(cells)})]


def _never_leaves(ctx: AnalysisContext) -> list[Finding]:
    name = ctx.vars.left_start
    if name is None or not ctx.has(name):
        return []
    stayed = sum(1 for t in ctx.trajectories if not (np.asarray(t.states[name]) > 0.5).any())
    if stayed == 0:
        return []
    msg = f"The agent never leaves its start room in {stayed} of {ctx.n} episodes."
    return [Finding("never_leaves_start", "warning", msg, {"episodes": float(stayed), "of": float(ctx.n)})]


def _achievements(ctx: AnalysisContext) -> list[Finding]:
    name = ctx.vars.achievements
    if name is None or not ctx.has(name):
        return []
    labels = ctx.vars.achievement_names
    got: list[tuple[str, int, float]] = []
    for j, label in enumerate(labels):
        steps = [s for t in ctx.trajectories if (s := _first_step(np.asarray(t.states[name])[:, j])) is not None]
        if steps:
            got.append((label, len(steps), float(np.mean(steps))))
    evidence: dict[str, float | str] = {f"{label}.episodes": float(n) for label, n, _ in got}
    if not got:
        return [Finding("achievements", "info", "The agent unlocked no achievement in any episode.", evidence)]
    got.sort(key=lambda g: g[2])
    shown = ", ".join(f"{label} ({n}/{ctx.n} episodes, step {fmt(step)})" for label, n, step in got)
    more = " ..." if len(got) > MAX_ACHIEVEMENTS_SHOWN else ""
    return [Finding("achievements", "info", f"Achievements, in the order unlocked: {shown}{more}.", evidence)]


def _action_histogram(ctx: AnalysisContext) -> list[Finding]:
    if not ctx.has("action"):
        return []
    actions = np.concatenate([np.asarray(t.states["action"]).reshape(-1) for t in ctx.trajectories])
    ids, counts = np.unique(actions.round().astype(int), return_counts=True)
    share = counts / counts.sum()
    shown = ", ".join(f"{i}: {pct(s)}" for i, s in sorted(zip(ids.tolist(), share.tolist(), strict=True)))
    evidence: dict[str, float | str] = {
        f"action_{i}": num(s) for i, s in zip(ids.tolist(), share.tolist(), strict=True)
    }
    top = int(np.argmax(share))
    if share[top] > ONE_ACTION_FRACTION:
        msg = f"The agent repeats one action: action {ids[top]} on {pct(share[top])} of steps (all: {shown})."
        return [Finding("actions", "warning", msg, evidence)]
    return [Finding("actions", "info", f"Actions taken (id: share of steps): {shown}.", evidence)]


GAME_CHECKS: tuple[Check, ...] = (_dies, _loops, _never_leaves, _achievements)
"""The game checks; each applies only to tasks that declare its roles."""

_CONTINUOUS_ONLY = frozenset({"_actions", "_jitters"})


def checks_for(kind_name: str) -> tuple[Check, ...]:
    """The analyzer's checks for a task of this environment kind, in order."""
    if get_kind(kind_name).actions == "box":
        return (*BEHAVIOUR_CHECKS, *GAME_CHECKS)
    kept = tuple(c for c in BEHAVIOUR_CHECKS if c.__name__ not in _CONTINUOUS_ONLY)
    return (*kept, _action_histogram, *GAME_CHECKS)
