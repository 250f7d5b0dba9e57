"""The analyzer's reward-hacking signs: the reward is collected in a way that does not solve the task.

From the reward program's scores on the evaluation episodes:
``component_shares`` (summary) and ``dominant_component``,
``return_fitness_mismatch`` (rank correlation of learned reward and
fitness), ``paid_while_failing`` (positive return while standing still or
falling), ``ending_pays`` (negative per-step reward with early termination).
From the training series of reward reflection: ``reward_up_fitness_down``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from eureka_kit.feedback.analysis_context import AnalysisContext, fmt, num, pct, signed, spearman
from eureka_kit.feedback.findings import Finding
from eureka_kit.tasks.spec import TaskSpec

DOMINANCE_SHARE = 0.9
"""A component above this share of the total reward magnitude dominates."""
RANK_CORRELATION_MIN = 0.3
"""Spearman correlation of learned reward with fitness below this: mismatch."""
MIN_EPISODES_FOR_RANKS = 4
MIN_STEPS_FOR_RANKS = 50
TREND_MIN = 0.5
"""Spearman correlation with time above which a training series rises."""
RISE_MIN = 0.1
"""Relative rise (of the series' scale) for the learned reward to count as rising."""
FLAT_MAX = 0.05
"""Relative change of fitness at most this: flat (below ``-FLAT_MAX``: falling)."""


def component_shares(ctx: AnalysisContext) -> list[Finding]:
    assert ctx.scores is not None
    names = list(ctx.scores[0].components)
    total_steps = sum(s.length for s in ctx.scores)
    step_mean = float(np.concatenate([s.total for s in ctx.scores]).mean())
    returns = np.array([s.episode_return for s in ctx.scores])
    evidence: dict[str, float | str] = {"mean_step_reward": num(step_mean), "mean_return": num(returns.mean())}
    if not names:
        msg = (
            f"The reward has no components; mean reward {signed(step_mean)} per step, "
            f"return {signed(returns.mean())} per episode."
        )
        return [Finding("component_shares", "info", msg, evidence)]
    mags = {k: sum(float(np.abs(s.components[k]).sum()) for s in ctx.scores) for k in names}
    means = {k: sum(float(s.components[k].sum()) for s in ctx.scores) / total_steps for k in names}
    whole = sum(mags.values())
    shares = {k: (mags[k] / whole if whole > 0 else 0.0) for k in names}
    order = sorted(names, key=lambda k: -shares[k])
    for k in order:
        evidence[f"share.{k}"] = num(shares[k])
        evidence[f"per_step.{k}"] = num(means[k])
    listed = ", ".join(f"'{k}' {pct(shares[k])} ({signed(means[k])} per step)" for k in order)
    msg = (
        f"Reward components, share of the total |reward| and mean per step: {listed}; total {signed(step_mean)} "
        f"per step, return {signed(returns.mean())} per episode."
    )
    out = [Finding("component_shares", "info", msg, evidence)]
    top = order[0]
    if len(names) >= 2 and shares[top] > DOMINANCE_SHARE:
        others = ", ".join(f"'{k}'" for k in order[1:])
        out.append(
            Finding(
                "dominant_component",
                "warning",
                f"Component '{top}' makes up {pct(shares[top])} of the reward magnitude (more than "
                f"{pct(DOMINANCE_SHARE)}): {others} barely influence the policy; rescale the components.",
                {"component": top, "share": num(shares[top]), "threshold": DOMINANCE_SHARE},
            )
        )
    return out


def rank_mismatch(ctx: AnalysisContext) -> list[Finding]:
    assert ctx.scores is not None
    evidence: dict[str, float | str] = {}
    parts: list[str] = []
    worst = math.inf
    if ctx.n >= MIN_EPISODES_FOR_RANKS:
        returns = [s.episode_return for s in ctx.scores]
        rho = spearman(returns, [t.fitness for t in ctx.trajectories])
        if rho is not None:
            evidence |= {"episode_spearman": num(rho), "episodes": float(ctx.n)}
            if rho < RANK_CORRELATION_MIN:
                worst = min(worst, rho)
                parts.append(
                    f"across the {ctx.n} episodes the learned return and the fitness rank with Spearman {fmt(rho)}"
                )
    if ctx.spec.fitness.aggregate in ("mean", "sum"):
        rewards = np.concatenate([s.total for s in ctx.scores])
        if len(rewards) >= MIN_STEPS_FOR_RANKS:
            steps = np.concatenate([t.fitness_steps for t in ctx.trajectories])
            rho = spearman(rewards, steps)
            if rho is not None:
                evidence |= {"step_spearman": num(rho), "steps": float(len(rewards))}
                if rho < RANK_CORRELATION_MIN:
                    worst = min(worst, rho)
                    parts.append(
                        f"over {len(rewards)} steps the per-step reward and the per-step "
                        f"{ctx.spec.fitness.name} rank with Spearman {fmt(rho)}"
                    )
    if not parts:
        return []
    evidence["threshold"] = RANK_CORRELATION_MIN
    msg = (
        "The learned reward does not track the task's fitness: "
        + "; ".join(parts)
        + f" (below {fmt(RANK_CORRELATION_MIN)}"
        + ("; negative: higher reward goes with lower fitness)." if worst < 0 else ").")
    )
    return [Finding("return_fitness_mismatch", "critical" if worst < 0 else "warning", msg, evidence)]


def paid_while_failing(ctx: AnalysisContext, labels: set[str]) -> list[Finding]:
    assert ctx.scores is not None
    step_mean = float(np.concatenate([s.total for s in ctx.scores]).mean())
    mean_return = float(np.mean([s.episode_return for s in ctx.scores]))
    names = list(ctx.scores[0].components)
    per_step = {k: float(np.concatenate([s.components[k] for s in ctx.scores]).mean()) for k in names}
    term = ctx.terminated
    falls = ctx.vars.termination == "failure" and len(term) / ctx.n >= 0.5
    evidence: dict[str, float | str] = {"mean_return": num(mean_return), "mean_step_reward": num(step_mean)}
    out: list[Finding] = []
    if step_mean > 0 and mean_return > 0 and (falls or "stands_still" in labels):
        if "stands_still" in labels and ctx.vars.forward_velocity:
            v = ctx.mean_of(ctx.vars.forward_velocity)
            why = f"stands still (mean {ctx.vars.forward_velocity} {fmt(v)})"
            evidence |= {"behaviour": "stands_still", "mean_forward_velocity": num(v)}
        else:
            step = float(np.mean([t.length for t in term]))
            why = f"falls at step {fmt(step)} on average"
            evidence |= {"behaviour": "falls_early", "mean_termination_step": num(step)}
        msg = (
            f"The reward pays for failing: the policy {why} yet collects {signed(mean_return)} per episode "
            f"({signed(step_mean)} per step)"
        )
        positive = [k for k in sorted(names, key=lambda k: -per_step[k]) if per_step[k] > 0]
        if positive:
            msg += f", mostly from '{positive[0]}' ({signed(per_step[positive[0]])} per step)"
            evidence |= {"top_component": positive[0], "top_component_per_step": num(per_step[positive[0]])}
        out.append(Finding("paid_while_failing", "critical", msg + ".", evidence))
    if ctx.vars.termination == "failure" and term and step_mean < 0:
        step = float(np.mean([t.length for t in term]))
        msg = (
            f"Ending the episode early pays: the reward is negative per step ({signed(step_mean)} on average), so "
            f"terminating early raises the return, and {len(term)} of {ctx.n} episodes terminate at step "
            f"{fmt(step)} on average. Keep the per-step reward of a healthy step positive."
        )
        evidence = {
            "mean_step_reward": num(step_mean),
            "terminated": float(len(term)),
            "mean_termination_step": num(step),
        }
        out.append(Finding("ending_pays", "critical", msg, evidence))
    return out


def _find_series(series: Mapping[str, Sequence[float]], prefix: str) -> tuple[str, np.ndarray] | None:
    for name, values in series.items():
        if name == prefix or name.startswith(prefix + " ("):
            arr = np.array([float(x) for x in values if x is not None and math.isfinite(float(x))])
            return name, arr
    return None


def _change(x: np.ndarray) -> tuple[float, float, float]:
    """(mean of the first third, mean of the last third, change relative to the series' scale)."""
    k = max(1, len(x) // 3)
    first, last = float(x[:k].mean()), float(x[-k:].mean())
    scale = max(abs(first), abs(last), float(x.max() - x.min()), 1e-8)
    return first, last, (last - first) / scale


def training_trend(spec: TaskSpec, series: Mapping[str, Sequence[float]]) -> list[Finding]:
    reward = _find_series(series, "total reward")
    fitness = _find_series(series, "fitness")
    if reward is None or fitness is None or len(reward[1]) < 3 or len(fitness[1]) < 3:
        return []
    (r_name, r), (_, f) = reward, fitness
    r_trend = spearman(np.arange(len(r)), r) or 0.0
    f_trend = spearman(np.arange(len(f)), f) or 0.0
    r_first, r_last, r_rel = _change(r)
    f_first, f_last, f_rel = _change(f)
    if not (r_trend >= TREND_MIN and r_rel >= RISE_MIN and f_rel <= FLAT_MAX):
        return []
    falling = f_rel < -FLAT_MAX
    msg = (
        f"The learned reward rises along training ({r_name} {fmt(r_first)} -> {fmt(r_last)}, "
        f"trend {fmt(r_trend)}) while the fitness {'falls' if falling else 'stays flat'} "
        f"({spec.fitness.name} {fmt(f_first)} -> {fmt(f_last)} {spec.fitness.unit}): the policy learns to collect "
        "reward in a way that does not solve the task."
    )
    evidence: dict[str, float | str] = {
        "reward_first": num(r_first),
        "reward_last": num(r_last),
        "reward_trend": num(r_trend),
        "fitness_first": num(f_first),
        "fitness_last": num(f_last),
        "fitness_trend": num(f_trend),
        "fitness_relative_change": num(f_rel),
        "points": float(len(r)),
    }
    return [Finding("reward_up_fitness_down", "critical" if falling else "warning", msg, evidence)]
