"""The analyzer's ``no_alive_term`` finding: episodes end early by termination and nothing in the reward minds.

Tasks whose env terminates on failure (Hopper, Walker2d, Ant, Humanoid: the
``is_healthy`` signal) need a reward that pays for staying healthy or penalizes
the termination; a program that computes such a term and forgets to add it (the
critic's ``unused_term``) trains a policy that falls. :func:`no_alive_term` reads
the reward program's per-step component values on the evaluation episodes: a
component *minds* the termination when its value on the terminating step is
below its value on the episode's other steps in most terminated episodes
(:data:`SYSTEMATIC_SHARE`) and by a margin that matters (:data:`DROP_SHARE` of
the mean per-step reward's magnitude), as ``1.0 * is_healthy`` or
``-10 * (1 - is_healthy)`` are. When at least :data:`TERMINATED_SHARE` of the
episodes terminate and no component minds it, the finding says so, with the mean
episode length against the time limit and each component's value on healthy
steps and on the terminating step.
"""

from __future__ import annotations

import numpy as np

from eureka_kit.feedback.analysis_context import AnalysisContext, fmt, num, signed
from eureka_kit.feedback.findings import Finding, Severity

TERMINATED_SHARE = 0.5
"""At least this share of the episodes must end by termination for the finding."""
DROP_SHARE = 0.05
"""A component minds the termination when it drops on the terminating step by at least this share of the mean
per-step |reward| on healthy steps (a tilt penalty that grows a little as the robot falls does not count)."""
SYSTEMATIC_SHARE = 0.75
"""... and drops in at least this share of the terminated episodes (not by chance in a few)."""
SHOWN_COMPONENTS = 4
"""Components listed in the message at most."""
HEALTHY_VARIABLE = "is_healthy"


def no_alive_term(ctx: AnalysisContext) -> list[Finding]:
    """``no_alive_term`` when most episodes terminate early and no component rewards health or penalizes the end."""
    if ctx.scores is None or ctx.vars.termination != "failure":
        return []
    pairs = [(t, s) for t, s in zip(ctx.trajectories, ctx.scores, strict=True) if t.terminated and s.length >= 2]
    if not pairs or len(pairs) / ctx.n < TERMINATED_SHARE:
        return []
    everyone = zip(ctx.trajectories, ctx.scores, strict=True)
    healthy_total = np.concatenate([s.total[:-1] if t.terminated else s.total for t, s in everyone])
    scale = float(np.abs(healthy_total).mean()) if healthy_total.size else 0.0
    names = list(ctx.scores[0].components)
    rows: list[tuple[str, float, float]] = []
    for k in names or ["total"]:
        per_episode = [(s.components[k] if names else s.total) for _, s in pairs]
        healthy = np.array([float(np.mean(v[:-1])) for v in per_episode])
        end = np.array([float(v[-1]) for v in per_episode])
        drop = healthy - end
        systematic = float(np.mean(drop > 0)) >= SYSTEMATIC_SHARE
        if systematic and float(drop.mean()) >= max(DROP_SHARE * scale, 1e-6):
            return []
        rows.append((k, float(healthy.mean()), float(end.mean())))
    lengths = np.array([t.length for t in ctx.trajectories])
    limit = ctx.spec.max_episode_steps
    n_term = sum(t.terminated for t in ctx.trajectories)
    shown = ", ".join(f"'{k}' {signed(h)} -> {signed(e)}" for k, h, e in rows[:SHOWN_COMPONENTS])
    more = f" and {len(rows) - SHOWN_COMPONENTS} more" if len(rows) > SHOWN_COMPONENTS else ""
    example = f" (e.g. `alive = 1.0 * {HEALTHY_VARIABLE}`)" if HEALTHY_VARIABLE in ctx.spec.state_names else ""
    msg = (
        f"Episodes end early by termination ({n_term} of {ctx.n}; mean episode length {fmt(lengths.mean())} of "
        f"{limit} steps) and no component of the reward pays for staying healthy or penalizes the termination: add "
        f"a term that pays for every healthy step{example} to the total and the components. Per step, healthy -> "
        f"terminating step: {shown}{more}."
    )
    evidence: dict[str, float | str] = {
        "terminated": float(n_term),
        "episodes": float(ctx.n),
        "mean_length": num(lengths.mean()),
        "max_episode_steps": float(limit),
        "mean_step_reward_magnitude": num(scale),
    }
    for k, h, e in rows:
        evidence[f"{k}.healthy"] = num(h)
        evidence[f"{k}.terminating"] = num(e)
    severity: Severity = "critical" if lengths.mean() < limit / 2 else "warning"
    return [Finding("no_alive_term", severity, msg, evidence)]
