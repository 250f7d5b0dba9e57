"""The analyzer's behaviour findings: what the policy does in its evaluation episodes.

Summaries (``info``): ``fitness``, ``episode_end``, ``state``, ``actions``;
labels: ``falls_early``, ``moves_backwards``, ``stands_still``,
``spins_or_flips``, ``jitters``, ``reaches_then_leaves``. Each check reads an
:class:`~eureka_kit.feedback.analysis_context.AnalysisContext` and returns
its findings (none when it does not apply); :data:`BEHAVIOUR_CHECKS` lists
them in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from eureka_kit.feedback.analysis_context import AnalysisContext, fmt, num, pct, series_of, unit_of, with_unit
from eureka_kit.feedback.findings import Finding
from eureka_kit.feedback.trajectory import Trajectory

SATURATION_LEVEL = 0.95
"""An action value with ``|a| > SATURATION_LEVEL * bound`` is saturated."""
SATURATED_FRACTION = 0.5
"""More saturated action values than this: bang-bang control (warning)."""
JITTER_RATE = 0.3
"""Fraction of steps on which an action dimension reverses its sign, above which actions jitter."""
JITTER_DEADBAND = 0.1
"""Sign reversals count only when both values exceed this fraction of the bound."""
FLIPPED_FRACTION = 0.25
"""Upside down on more than this fraction of steps: flips."""
FULL_ROTATIONS = 1.0
"""At least this many full pitch rotations per episode: spins."""
LEAVE_FRACTION = 0.5
"""Reaches then leaves: gave back more than this fraction of the progress made towards the goal."""


def _fitness(ctx: AnalysisContext) -> list[Finding]:
    fit = np.array([t.fitness for t in ctx.trajectories])
    f = ctx.spec.fitness
    shown = ", ".join(fmt(x) for x in fit[:10]) + (", ..." if len(fit) > 10 else "")
    msg = f"Fitness ({f.name}, {f.unit}) per episode: {shown}; mean {fmt(fit.mean())}"
    if len(fit) > 1:
        msg += f", std {fmt(fit.std())} (min {fmt(fit.min())}, max {fmt(fit.max())})"
    evidence = {"episodes": float(len(fit)), "mean": num(fit.mean()), "std": num(fit.std())}
    evidence |= {"min": num(fit.min()), "max": num(fit.max())}
    return [Finding("fitness", "info", msg + ".", evidence)]


def _end_state(ctx: AnalysisContext, trs: Sequence[Trajectory]) -> tuple[str, dict[str, float | str]]:
    parts: list[str] = []
    evidence: dict[str, float | str] = {}
    for name in ctx.vars.relevant():
        if not ctx.has(name):
            continue
        value = float(np.mean([series_of(t, name)[-1] for t in trs]))
        evidence[f"end.{name}"] = num(value)
        parts.append(f"{name} {with_unit(value, unit_of(ctx.spec, name))}")
    return ", ".join(parts), evidence


def _episode_end(ctx: AnalysisContext) -> list[Finding]:
    term = ctx.terminated
    limit = ctx.spec.max_episode_steps
    lengths = np.array([t.length for t in ctx.trajectories])
    meaning = {
        "success": "goal reached",
        "failure": "a failure, e.g. a fall",
        "either": "the goal reached or a failure",
    }[ctx.vars.termination]
    evidence: dict[str, float | str] = {
        "episodes": float(ctx.n),
        "terminated": float(len(term)),
        "truncated": float(sum(t.truncated for t in ctx.trajectories)),
        "mean_length": num(lengths.mean()),
        "max_episode_steps": float(limit),
    }
    if term:
        steps = np.array([t.length for t in term])
        evidence["mean_termination_step"] = num(steps.mean())
        msg = (
            f"{len(term)} of {ctx.n} episodes were terminated by the env ({meaning}) "
            f"at step {fmt(steps.mean())} on average "
            f"(min {steps.min()}, max {steps.max()}, time limit {limit})"
        )
        rest = ctx.n - len(term)
        if rest:
            rest_len = float(np.mean([t.length for t in ctx.trajectories if not t.terminated]))
            msg += f"; {rest} ran until truncated (mean length {fmt(rest_len)})"
    else:
        which = "The episode" if ctx.n == 1 else f"All {ctx.n} episodes"
        msg = f"{which} ran until truncated (mean length {fmt(lengths.mean())} steps, time limit {limit})"
    end_text, end_evidence = _end_state(ctx, ctx.trajectories)
    evidence |= end_evidence
    if end_text:
        msg += f". State at the last step (mean over episodes): {end_text}"
    return [Finding("episode_end", "info", msg + ".", evidence)]


def _state(ctx: AnalysisContext) -> list[Finding]:
    parts: list[str] = []
    evidence: dict[str, float | str] = {}
    for name in ctx.vars.relevant():
        if not ctx.has(name):
            continue
        allv = np.concatenate([series_of(t, name) for t in ctx.trajectories])
        mean = ctx.mean_of(name)
        evidence |= {f"{name}.mean": num(mean), f"{name}.min": num(allv.min()), f"{name}.max": num(allv.max())}
        norm = " (norm)" if np.asarray(ctx.trajectories[0].states[name]).ndim > 1 else ""
        unit = unit_of(ctx.spec, name)
        stats = f"mean {fmt(mean)} (min {fmt(allv.min())}, max {fmt(allv.max())})"
        parts.append(f"{name}{norm} {stats}{' ' + unit if unit else ''}")
    if not parts:
        return []
    return [Finding("state", "info", "State over the episodes: " + "; ".join(parts) + ".", evidence)]


def _actions_all(ctx: AnalysisContext) -> list[np.ndarray]:
    out = []
    for t in ctx.trajectories:
        a = np.asarray(t.states["action"], dtype=np.float64)
        out.append(a.reshape(a.shape[0], -1))
    return out


def _actions(ctx: AnalysisContext) -> list[Finding]:
    if not ctx.has("action"):
        return []
    bound = float(ctx.vars.action_bound or 1.0)
    a = np.abs(np.concatenate(_actions_all(ctx))) / bound
    mean_abs, saturated = float(a.mean()), float((a > SATURATION_LEVEL).mean())
    evidence = {"mean_abs_action": num(mean_abs), "saturated_fraction": num(saturated), "bound": num(bound)}
    if saturated > SATURATED_FRACTION:
        msg = (
            f"Actions are saturated (bang-bang): {pct(saturated)} of action values are beyond "
            f"{pct(SATURATION_LEVEL)} of the bound {fmt(bound)}; mean |action| is {fmt(mean_abs)} of the bound."
        )
        return [Finding("actions", "warning", msg, evidence)]
    msg = (
        f"Actions: mean |action| {fmt(mean_abs)} of the bound {fmt(bound)}; {pct(saturated)} of values saturated "
        f"(beyond {pct(SATURATION_LEVEL)} of the bound)."
    )
    return [Finding("actions", "info", msg, evidence)]


def _falls_early(ctx: AnalysisContext) -> list[Finding]:
    term = ctx.terminated
    if ctx.vars.termination != "failure" or not term:
        return []
    steps = np.array([t.length for t in term])
    frac = len(term) / ctx.n
    end_text, end_evidence = _end_state(ctx, term)
    evidence: dict[str, float | str] = {
        "terminated_fraction": num(frac),
        "mean_termination_step": num(steps.mean()),
        "min_termination_step": float(steps.min()),
        "max_episode_steps": float(ctx.spec.max_episode_steps),
    }
    evidence |= end_evidence
    msg = (
        f"The policy falls early: {len(term)} of {ctx.n} episodes terminate at step {fmt(steps.mean())} on average "
        f"(earliest {steps.min()}) of {ctx.spec.max_episode_steps}"
    )
    if end_text:
        msg += f"; at the end: {end_text}"
    return [Finding("falls_early", "critical" if frac >= 0.5 else "warning", msg + ".", evidence)]


def _forward(ctx: AnalysisContext) -> list[Finding]:
    name = ctx.vars.forward_velocity
    if name is None or not ctx.has(name):
        return []
    mean = ctx.mean_of(name)
    unit = unit_of(ctx.spec, name)
    allv = np.concatenate([series_of(t, name) for t in ctx.trajectories])
    still = ctx.vars.still_speed
    evidence: dict[str, float | str] = {
        "variable": name,
        "mean_forward_velocity": num(mean),
        "still_speed": num(still),
        "backward_step_fraction": num(float((allv < 0).mean())),
    }
    if mean < -still:
        msg = (
            f"The robot moves backwards: mean {name} is {with_unit(mean, unit)} and {pct((allv < 0).mean())} of "
            "steps go backwards (forward is positive)."
        )
        return [Finding("moves_backwards", "critical", msg, evidence)]
    if abs(mean) < still:
        msg = (
            f"The robot stands still: mean {name} is {with_unit(mean, unit)} (|{name}| below {fmt(still)} "
            "counts as standing still)."
        )
        return [Finding("stands_still", "warning", msg, evidence)]
    return []


def _spins(ctx: AnalysisContext) -> list[Finding]:
    v = ctx.vars
    evidence: dict[str, float | str] = {}
    parts: list[str] = []
    flagged = False
    if v.pitch is not None and ctx.has(v.pitch):
        pitch = [series_of(t, v.pitch) for t in ctx.trajectories]
        wrapped = np.concatenate([np.angle(np.exp(1j * p)) for p in pitch])
        flipped = float((np.abs(wrapped) > math.pi / 2).mean())
        rotations = float(np.mean([abs(p[-1] - p[0]) / (2 * math.pi) for p in pitch]))
        evidence |= {"flipped_fraction": num(flipped), "rotations_per_episode": num(rotations)}
        flagged |= flipped > FLIPPED_FRACTION or rotations >= FULL_ROTATIONS
        parts.append(
            f"upside down (|{v.pitch}| > 90 degrees) on {pct(flipped)} of steps, "
            f"{fmt(rotations)} full rotations per episode"
        )
    if v.upright is not None and ctx.has(v.upright):
        flipped = float(np.mean(np.concatenate([series_of(t, v.upright) for t in ctx.trajectories]) < 0))
        evidence["upside_down_fraction"] = num(flipped)
        flagged |= flipped > FLIPPED_FRACTION
        parts.append(f"upside down ({v.upright} < 0) on {pct(flipped)} of steps")
    if not flagged:
        return []
    if v.spin_rate is not None and ctx.has(v.spin_rate):
        rate = float(np.mean(np.concatenate([np.abs(series_of(t, v.spin_rate)) for t in ctx.trajectories])))
        evidence["mean_abs_spin_rate"] = num(rate)
        parts.append(f"mean |{v.spin_rate}| {with_unit(rate, unit_of(ctx.spec, v.spin_rate))}")
    return [Finding("spins_or_flips", "warning", "The robot flips or spins: " + "; ".join(parts) + ".", evidence)]


def _jitters(ctx: AnalysisContext) -> list[Finding]:
    if not ctx.has("action"):
        return []
    bound = float(ctx.vars.action_bound or 1.0)
    flips = pairs = 0.0
    changes: list[float] = []
    for a in _actions_all(ctx):
        if len(a) < 2:
            continue
        x = a / bound
        live = (np.abs(x[:-1]) > JITTER_DEADBAND) & (np.abs(x[1:]) > JITTER_DEADBAND)
        flips += float(((x[:-1] * x[1:] < 0) & live).sum())
        pairs += float(x[:-1].size)
        changes.append(float(np.abs(np.diff(x, axis=0)).mean()))
    if pairs == 0:
        return []
    rate = flips / pairs
    if rate <= JITTER_RATE:
        return []
    change = float(np.mean(changes))
    msg = (
        f"Actions jitter: an action dimension reverses its sign on {pct(rate)} of steps (above {pct(JITTER_RATE)}), "
        f"changing by {fmt(change)} of the bound per step on average."
    )
    evidence = {"sign_change_rate": num(rate), "threshold": JITTER_RATE, "mean_abs_action_change": num(change)}
    return [Finding("jitters", "warning", msg, evidence)]


def _reaches(ctx: AnalysisContext) -> list[Finding]:
    name = ctx.vars.distance
    if name is not None and ctx.has(name):
        dists = [series_of(t, name) for t in ctx.trajectories]
        label, unit = name, unit_of(ctx.spec, name)
    elif ctx.spec.fitness.aggregate == "last":
        dists = [-t.fitness_steps for t in ctx.trajectories]
        label, unit = f"minus the per-step {ctx.spec.fitness.name}", ctx.spec.fitness.unit
    else:
        return []
    hits: list[tuple[float, float, int]] = []
    for d in dists:
        best = int(np.argmin(d))
        progress, lost = float(d[0] - d[best]), float(d[-1] - d[best])
        if progress > 0.1 * abs(float(d[0])) + 1e-9 and lost > LEAVE_FRACTION * progress:
            hits.append((float(d[best]), float(d[-1]), best))
    if not hits:
        return []
    closest, final, step = (float(np.mean([h[i] for h in hits])) for i in range(3))
    msg = (
        f"The policy reaches the goal and leaves it: in {len(hits)} of {ctx.n} episodes {label} falls to "
        f"{with_unit(closest, unit)} (at step {fmt(step)} on average) but ends at {with_unit(final, unit)}."
    )
    evidence: dict[str, float | str] = {
        "variable": label,
        "episodes_affected": float(len(hits)),
        "mean_closest": num(closest),
        "mean_final": num(final),
        "mean_step_of_closest": num(step),
    }
    return [Finding("reaches_then_leaves", "warning", msg, evidence)]


BEHAVIOUR_CHECKS: tuple[Callable[[AnalysisContext], list[Finding]], ...] = (
    _fitness,
    _episode_end,
    _state,
    _actions,
    _falls_early,
    _forward,
    _spins,
    _jitters,
    _reaches,
)
"""Every behaviour check, in the order of the findings before sorting."""
