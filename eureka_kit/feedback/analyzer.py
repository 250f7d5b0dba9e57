"""Trajectory analyzer (Auto MC-Reward): what the trained policy does, and signs of reward hacking.

:func:`analyze` reads the trusted evaluation rollouts of one policy
(:class:`~eureka_kit.feedback.trajectory.Trajectory`), optionally the reward program's
per-step scores on them (:class:`~eureka_kit.feedback.score_child.ProgramScores`, run
sandboxed) and the training series of reward reflection, and returns typed
:class:`Finding` records ordered by importance. :func:`render_critique` turns
them into the short critique that goes into the next prompt;
:func:`llm_summary` optionally asks the LLM to summarize them.

Findings
    Summaries (``info``): ``episode_end`` (termination vs truncation, step of
    termination, state at the end), ``fitness`` (per episode, spread),
    ``component_shares`` (share of the total reward magnitude),
    ``actions`` (magnitude, saturation), ``state`` (task-relevant variables).
    Behaviour labels: ``falls_early``, ``moves_backwards``, ``stands_still``,
    ``spins_or_flips``, ``jitters``, ``reaches_then_leaves``.
    Reward-hacking signs (:data:`HACKING_SIGNS`): ``reward_up_fitness_down``
    (training series), ``return_fitness_mismatch`` (rank correlation between
    learned reward and fitness), ``dominant_component`` (> 90% of the
    magnitude), ``paid_while_failing`` (positive return while standing still
    or falling), ``ending_pays`` (negative per-step reward with early
    termination: dying early raises the return).

Which state variables mean what (forward velocity, height, ...) is declared
per task in :attr:`TaskSpec.analysis`; tasks not listed get a guess from their
variable names (:func:`analysis_vars`). Every threshold is a module constant.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal, Protocol, get_args

import numpy as np

from eureka_kit.feedback.score_child import ProgramScores, TrajectoryScores
from eureka_kit.feedback.trajectory import MAX_STEPS_PER_TRAJECTORY, Trajectory
from eureka_kit.prompting import render
from eureka_kit.tasks.spec import AnalysisVars, TaskSpec

Severity = Literal["critical", "warning", "info"]

FindingKind = Literal[
    # reward-hacking signs
    "reward_up_fitness_down",
    "paid_while_failing",
    "ending_pays",
    "return_fitness_mismatch",
    "dominant_component",
    # behaviour
    "falls_early",
    "moves_backwards",
    "stands_still",
    "spins_or_flips",
    "reaches_then_leaves",
    "jitters",
    # summaries
    "scoring_failed",
    "episode_end",
    "fitness",
    "component_shares",
    "actions",
    "state",
]
KIND_ORDER: tuple[str, ...] = get_args(FindingKind)
"""Importance order among findings of the same severity."""

HACKING_SIGNS = frozenset(
    {"reward_up_fitness_down", "paid_while_failing", "ending_pays", "return_fitness_mismatch", "dominant_component"}
)
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

# ----- thresholds ------------------------------------------------------------------------------------

DOMINANCE_SHARE = 0.9
"""A component above this share of the total reward magnitude dominates."""
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
LEAVE_FRACTION = 0.5
"""Reaches then leaves: gave back more than this fraction of the progress made towards the goal."""
MAX_MESSAGE_CHARS = 500


# ----- per-task variables ----------------------------------------------------------------------------


def analysis_vars(spec: TaskSpec) -> AnalysisVars:
    """The task's own :attr:`TaskSpec.analysis`, or a guess from its state variable names."""
    if spec.analysis is not None:
        return spec.analysis
    names = set(spec.state_names)
    scalar = {v.name for v in spec.state if v.shape == ()}

    def pick(*candidates: str, vector_ok: bool = False) -> str | None:
        for c in candidates:
            if c in names and (vector_ok or c in scalar):
                return c
        return None

    distance = next((v for v in sorted(scalar) if v.endswith("goal_distance")), None)
    return AnalysisVars(
        forward_velocity=pick("x_velocity", "forward_velocity"),
        height=pick("torso_height", "height"),
        pitch=pick("torso_angle", "pitch"),
        upright=pick("upright"),
        spin_rate=pick("torso_angular_velocity", vector_ok=True),
        distance=distance,
        termination="success" if "goal_reached" in names else "failure",
    )


@lru_cache(maxsize=32)
def _env_action_bound(task_id: str) -> float:
    from eureka_kit.tasks.registry import get_task

    try:
        env = get_task(task_id).make_env()
    except Exception:
        return 1.0
    try:
        high = np.asarray(getattr(env.action_space, "high", 1.0), dtype=np.float64)
        return float(np.max(np.abs(high))) if high.size and np.isfinite(high).all() else 1.0
    finally:
        env.close()


# ----- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One observation about the policy's episodes; ``evidence`` holds the numbers behind ``message``."""

    kind: FindingKind
    severity: Severity
    message: str
    evidence: Mapping[str, float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KIND_ORDER:
            raise ValueError(f"unknown finding kind {self.kind!r}")
        if self.severity not in _SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}")
        msg = self.message if len(self.message) <= MAX_MESSAGE_CHARS else self.message[: MAX_MESSAGE_CHARS - 4] + " ..."
        object.__setattr__(self, "message", msg)
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))

    @property
    def is_hacking_sign(self) -> bool:
        return self.kind in HACKING_SIGNS

    def sort_key(self) -> tuple[int, int]:
        return _SEVERITY_RANK[self.severity], KIND_ORDER.index(self.kind)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "message": self.message, "evidence": dict(self.evidence)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Finding:
        evidence = {str(k): v if isinstance(v, str) else float(v) for k, v in dict(d.get("evidence", {})).items()}
        return cls(kind=d["kind"], severity=d["severity"], message=str(d["message"]), evidence=evidence)


@dataclass(frozen=True)
class Analysis:
    """All findings about one policy's evaluation episodes, most important first."""

    task_id: str
    episodes: int
    findings: tuple[Finding, ...]

    @property
    def hacking_signs(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_hacking_sign)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(f.kind for f in self.findings)

    def get(self, kind: FindingKind) -> Finding | None:
        """The finding of this kind, if any (each kind appears at most once)."""
        return next((f for f in self.findings if f.kind == kind), None)

    def to_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "episodes": self.episodes, "findings": [f.to_json() for f in self.findings]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Analysis:
        return cls(
            task_id=str(d["task_id"]),
            episodes=int(d["episodes"]),
            findings=tuple(Finding.from_json(f) for f in d.get("findings", ())),
        )


# ----- numbers ---------------------------------------------------------------------------------------


def _num(x: float) -> float:
    """An evidence number: 4 significant digits."""
    x = float(x)
    return float(f"{x:.4g}") if math.isfinite(x) else x


def _f(x: float) -> str:
    """A number in a message: 3 significant digits."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    return f"{x:.3g}" if abs(x) >= 1e-3 else f"{x:.2e}"


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + _f(x)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of ``x``, ties sharing their average rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=r)
    return (sums / counts)[inverse]


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Spearman rank correlation (ties averaged); ``None`` with fewer than 3 points or a constant input."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    b = np.asarray(y, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"spearman needs equal lengths, got {a.shape} and {b.shape}")
    if len(a) < 3:
        return None
    ra, rb = ranks(a) - (len(a) - 1) / 2, ranks(b) - (len(b) - 1) / 2
    den = math.sqrt(float((ra**2).sum() * (rb**2).sum()))
    if den <= 1e-12:
        return None
    return float((ra * rb).sum() / den)


def _series(tr: Trajectory, name: str) -> np.ndarray:
    """A variable as a (T,) series: scalars as they are, vectors as their Euclidean norm."""
    a = np.asarray(tr.states[name], dtype=np.float64)
    return a if a.ndim == 1 else np.linalg.norm(a.reshape(a.shape[0], -1), axis=1)


def _unit(spec: TaskSpec, name: str) -> str:
    try:
        return spec.var(name).unit
    except KeyError:
        return ""


def _with_unit(x: float, unit: str) -> str:
    return f"{_f(x)} {unit}".strip() if unit and " " not in unit else _f(x)


# ----- analysis --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    spec: TaskSpec
    vars: AnalysisVars
    trajectories: tuple[Trajectory, ...]
    scores: tuple[TrajectoryScores, ...] | None

    def has(self, name: str | None) -> bool:
        return name is not None and all(name in t.states for t in self.trajectories)

    @property
    def n(self) -> int:
        return len(self.trajectories)

    @property
    def terminated(self) -> list[Trajectory]:
        return [t for t in self.trajectories if t.terminated]

    def mean_of(self, name: str) -> float:
        """Mean over episodes of the per-episode mean (each episode counts once)."""
        return float(np.mean([_series(t, name).mean() for t in self.trajectories]))


def analyze(
    spec: TaskSpec,
    trajectories: Sequence[Trajectory],
    scores: ProgramScores | Sequence[TrajectoryScores] | None = None,
    series: Mapping[str, Sequence[float]] | None = None,
    *,
    variables: AnalysisVars | None = None,
) -> Analysis:
    """Findings about one policy from its evaluation ``trajectories``.

    ``scores``: the reward program's per-step values on the same trajectories
    (same order and lengths; from :func:`~eureka_kit.feedback.score_child.score_trajectories`);
    a non-``ok`` :class:`ProgramScores` adds a ``scoring_failed`` finding.
    ``series``: the training series of reward reflection (``"total reward"``,
    ``"fitness"``, ...). ``variables`` overrides :func:`analysis_vars`.
    """
    trs = tuple(trajectories)
    if not trs:
        raise ValueError("analyze needs at least one trajectory")
    findings: list[Finding] = []
    per_traj: tuple[TrajectoryScores, ...] | None = None
    if isinstance(scores, ProgramScores):
        if scores.ok:
            per_traj = scores.trajectories
        else:
            findings.append(
                Finding(
                    "scoring_failed",
                    "warning",
                    f"The reward program could not score the evaluation episodes ({scores.status}): {scores.message}",
                    {"status": scores.status},
                )
            )
    elif scores is not None:
        per_traj = tuple(scores)
    if per_traj is not None:
        if len(per_traj) != len(trs) or any(
            s.length != min(t.length, MAX_STEPS_PER_TRAJECTORY) for s, t in zip(per_traj, trs, strict=False)
        ):
            raise ValueError("scores must have one entry per trajectory, with the same number of steps")
        # scores may cover only the first MAX_STEPS_PER_TRAJECTORY steps
        trs = tuple(t.clip(s.length) for s, t in zip(per_traj, trs, strict=True))
    v = variables or analysis_vars(spec)
    if v.action_bound is None:
        v = replace(v, action_bound=_env_action_bound(spec.id))
    ctx = _Context(spec, v, trs, per_traj)

    for check in (_fitness, _episode_end, _state, _actions, _falls_early, _forward, _spins, _jitters, _reaches):
        findings.extend(check(ctx))
    labels: set[str] = {f.kind for f in findings}
    if per_traj is not None:
        findings.extend(_component_shares(ctx))
        findings.extend(_rank_mismatch(ctx))
        findings.extend(_paid_while_failing(ctx, labels))
    if series:
        findings.extend(_training_trend(spec, series))
    findings.sort(key=Finding.sort_key)
    return Analysis(task_id=spec.id, episodes=len(trs), findings=tuple(findings))


def _fitness(ctx: _Context) -> list[Finding]:
    fit = np.array([t.fitness for t in ctx.trajectories])
    f = ctx.spec.fitness
    shown = ", ".join(_f(x) for x in fit[:10]) + (", ..." if len(fit) > 10 else "")
    msg = f"Fitness ({f.name}, {f.unit}) per episode: {shown}; mean {_f(fit.mean())}"
    if len(fit) > 1:
        msg += f", std {_f(fit.std())} (min {_f(fit.min())}, max {_f(fit.max())})"
    evidence = {"episodes": float(len(fit)), "mean": _num(fit.mean()), "std": _num(fit.std())}
    evidence |= {"min": _num(fit.min()), "max": _num(fit.max())}
    return [Finding("fitness", "info", msg + ".", evidence)]


def _end_state(ctx: _Context, trs: Sequence[Trajectory]) -> tuple[str, dict[str, float | str]]:
    parts: list[str] = []
    evidence: dict[str, float | str] = {}
    for name in ctx.vars.relevant():
        if not ctx.has(name):
            continue
        value = float(np.mean([_series(t, name)[-1] for t in trs]))
        evidence[f"end.{name}"] = _num(value)
        parts.append(f"{name} {_with_unit(value, _unit(ctx.spec, name))}")
    return ", ".join(parts), evidence


def _episode_end(ctx: _Context) -> list[Finding]:
    term = ctx.terminated
    limit = ctx.spec.max_episode_steps
    lengths = np.array([t.length for t in ctx.trajectories])
    meaning = "goal reached" if ctx.vars.termination == "success" else "a failure, e.g. a fall"
    evidence: dict[str, float | str] = {
        "episodes": float(ctx.n),
        "terminated": float(len(term)),
        "truncated": float(sum(t.truncated for t in ctx.trajectories)),
        "mean_length": _num(lengths.mean()),
        "max_episode_steps": float(limit),
    }
    if term:
        steps = np.array([t.length for t in term])
        evidence["mean_termination_step"] = _num(steps.mean())
        msg = (
            f"{len(term)} of {ctx.n} episodes were terminated by the env ({meaning}) "
            f"at step {_f(steps.mean())} on average "
            f"(min {steps.min()}, max {steps.max()}, time limit {limit})"
        )
        rest = ctx.n - len(term)
        if rest:
            rest_len = float(np.mean([t.length for t in ctx.trajectories if not t.terminated]))
            msg += f"; {rest} ran until truncated (mean length {_f(rest_len)})"
    else:
        which = "The episode" if ctx.n == 1 else f"All {ctx.n} episodes"
        msg = f"{which} ran until truncated (mean length {_f(lengths.mean())} steps, time limit {limit})"
    end_text, end_evidence = _end_state(ctx, ctx.trajectories)
    evidence |= end_evidence
    if end_text:
        msg += f". State at the last step (mean over episodes): {end_text}"
    return [Finding("episode_end", "info", msg + ".", evidence)]


def _state(ctx: _Context) -> list[Finding]:
    parts: list[str] = []
    evidence: dict[str, float | str] = {}
    for name in ctx.vars.relevant():
        if not ctx.has(name):
            continue
        allv = np.concatenate([_series(t, name) for t in ctx.trajectories])
        mean = ctx.mean_of(name)
        evidence |= {f"{name}.mean": _num(mean), f"{name}.min": _num(allv.min()), f"{name}.max": _num(allv.max())}
        norm = " (norm)" if np.asarray(ctx.trajectories[0].states[name]).ndim > 1 else ""
        unit = _unit(ctx.spec, name)
        stats = f"mean {_f(mean)} (min {_f(allv.min())}, max {_f(allv.max())})"
        parts.append(f"{name}{norm} {stats}{' ' + unit if unit else ''}")
    if not parts:
        return []
    return [Finding("state", "info", "State over the episodes: " + "; ".join(parts) + ".", evidence)]


def _actions_all(ctx: _Context) -> list[np.ndarray]:
    out = []
    for t in ctx.trajectories:
        a = np.asarray(t.states["action"], dtype=np.float64)
        out.append(a.reshape(a.shape[0], -1))
    return out


def _actions(ctx: _Context) -> list[Finding]:
    if not ctx.has("action"):
        return []
    bound = float(ctx.vars.action_bound or 1.0)
    a = np.abs(np.concatenate(_actions_all(ctx))) / bound
    mean_abs, saturated = float(a.mean()), float((a > SATURATION_LEVEL).mean())
    evidence = {"mean_abs_action": _num(mean_abs), "saturated_fraction": _num(saturated), "bound": _num(bound)}
    if saturated > SATURATED_FRACTION:
        msg = (
            f"Actions are saturated (bang-bang): {_pct(saturated)} of action values are beyond "
            f"{_pct(SATURATION_LEVEL)} of the bound {_f(bound)}; mean |action| is {_f(mean_abs)} of the bound."
        )
        return [Finding("actions", "warning", msg, evidence)]
    msg = (
        f"Actions: mean |action| {_f(mean_abs)} of the bound {_f(bound)}; {_pct(saturated)} of values saturated "
        f"(beyond {_pct(SATURATION_LEVEL)} of the bound)."
    )
    return [Finding("actions", "info", msg, evidence)]


def _falls_early(ctx: _Context) -> list[Finding]:
    term = ctx.terminated
    if ctx.vars.termination != "failure" or not term:
        return []
    steps = np.array([t.length for t in term])
    frac = len(term) / ctx.n
    end_text, end_evidence = _end_state(ctx, term)
    evidence: dict[str, float | str] = {
        "terminated_fraction": _num(frac),
        "mean_termination_step": _num(steps.mean()),
        "min_termination_step": float(steps.min()),
        "max_episode_steps": float(ctx.spec.max_episode_steps),
    }
    evidence |= end_evidence
    msg = (
        f"The policy falls early: {len(term)} of {ctx.n} episodes terminate at step {_f(steps.mean())} on average "
        f"(earliest {steps.min()}) of {ctx.spec.max_episode_steps}"
    )
    if end_text:
        msg += f"; at the end: {end_text}"
    return [Finding("falls_early", "critical" if frac >= 0.5 else "warning", msg + ".", evidence)]


def _forward(ctx: _Context) -> list[Finding]:
    name = ctx.vars.forward_velocity
    if name is None or not ctx.has(name):
        return []
    mean = ctx.mean_of(name)
    unit = _unit(ctx.spec, name)
    allv = np.concatenate([_series(t, name) for t in ctx.trajectories])
    still = ctx.vars.still_speed
    evidence: dict[str, float | str] = {
        "variable": name,
        "mean_forward_velocity": _num(mean),
        "still_speed": _num(still),
        "backward_step_fraction": _num(float((allv < 0).mean())),
    }
    if mean < -still:
        msg = (
            f"The robot moves backwards: mean {name} is {_with_unit(mean, unit)} and {_pct((allv < 0).mean())} of "
            "steps go backwards (forward is positive)."
        )
        return [Finding("moves_backwards", "critical", msg, evidence)]
    if abs(mean) < still:
        msg = (
            f"The robot stands still: mean {name} is {_with_unit(mean, unit)} (|{name}| below {_f(still)} "
            "counts as standing still)."
        )
        return [Finding("stands_still", "warning", msg, evidence)]
    return []


def _spins(ctx: _Context) -> list[Finding]:
    v = ctx.vars
    evidence: dict[str, float | str] = {}
    parts: list[str] = []
    flagged = False
    if v.pitch is not None and ctx.has(v.pitch):
        pitch = [_series(t, v.pitch) for t in ctx.trajectories]
        wrapped = np.concatenate([np.angle(np.exp(1j * p)) for p in pitch])
        flipped = float((np.abs(wrapped) > math.pi / 2).mean())
        rotations = float(np.mean([abs(p[-1] - p[0]) / (2 * math.pi) for p in pitch]))
        evidence |= {"flipped_fraction": _num(flipped), "rotations_per_episode": _num(rotations)}
        flagged |= flipped > FLIPPED_FRACTION or rotations >= FULL_ROTATIONS
        parts.append(
            f"upside down (|{v.pitch}| > 90 degrees) on {_pct(flipped)} of steps, "
            f"{_f(rotations)} full rotations per episode"
        )
    if v.upright is not None and ctx.has(v.upright):
        flipped = float(np.mean(np.concatenate([_series(t, v.upright) for t in ctx.trajectories]) < 0))
        evidence["upside_down_fraction"] = _num(flipped)
        flagged |= flipped > FLIPPED_FRACTION
        parts.append(f"upside down ({v.upright} < 0) on {_pct(flipped)} of steps")
    if not flagged:
        return []
    if v.spin_rate is not None and ctx.has(v.spin_rate):
        rate = float(np.mean(np.concatenate([np.abs(_series(t, v.spin_rate)) for t in ctx.trajectories])))
        evidence["mean_abs_spin_rate"] = _num(rate)
        parts.append(f"mean |{v.spin_rate}| {_with_unit(rate, _unit(ctx.spec, v.spin_rate))}")
    return [Finding("spins_or_flips", "warning", "The robot flips or spins: " + "; ".join(parts) + ".", evidence)]


def _jitters(ctx: _Context) -> list[Finding]:
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
        f"Actions jitter: an action dimension reverses its sign on {_pct(rate)} of steps (above {_pct(JITTER_RATE)}), "
        f"changing by {_f(change)} of the bound per step on average."
    )
    evidence = {"sign_change_rate": _num(rate), "threshold": JITTER_RATE, "mean_abs_action_change": _num(change)}
    return [Finding("jitters", "warning", msg, evidence)]


def _reaches(ctx: _Context) -> list[Finding]:
    name = ctx.vars.distance
    if name is not None and ctx.has(name):
        dists = [_series(t, name) for t in ctx.trajectories]
        label, unit = name, _unit(ctx.spec, name)
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
        f"{_with_unit(closest, unit)} (at step {_f(step)} on average) but ends at {_with_unit(final, unit)}."
    )
    evidence: dict[str, float | str] = {
        "variable": label,
        "episodes_affected": float(len(hits)),
        "mean_closest": _num(closest),
        "mean_final": _num(final),
        "mean_step_of_closest": _num(step),
    }
    return [Finding("reaches_then_leaves", "warning", msg, evidence)]


def _component_shares(ctx: _Context) -> list[Finding]:
    assert ctx.scores is not None
    names = list(ctx.scores[0].components)
    total_steps = sum(s.length for s in ctx.scores)
    step_mean = float(np.concatenate([s.total for s in ctx.scores]).mean())
    returns = np.array([s.episode_return for s in ctx.scores])
    evidence: dict[str, float | str] = {"mean_step_reward": _num(step_mean), "mean_return": _num(returns.mean())}
    if not names:
        msg = (
            f"The reward has no components; mean reward {_signed(step_mean)} per step, "
            f"return {_signed(returns.mean())} per episode."
        )
        return [Finding("component_shares", "info", msg, evidence)]
    mags = {k: sum(float(np.abs(s.components[k]).sum()) for s in ctx.scores) for k in names}
    means = {k: sum(float(s.components[k].sum()) for s in ctx.scores) / total_steps for k in names}
    whole = sum(mags.values())
    shares = {k: (mags[k] / whole if whole > 0 else 0.0) for k in names}
    order = sorted(names, key=lambda k: -shares[k])
    for k in order:
        evidence[f"share.{k}"] = _num(shares[k])
        evidence[f"per_step.{k}"] = _num(means[k])
    listed = ", ".join(f"'{k}' {_pct(shares[k])} ({_signed(means[k])} per step)" for k in order)
    msg = (
        f"Reward components, share of the total |reward| and mean per step: {listed}; total {_signed(step_mean)} "
        f"per step, return {_signed(returns.mean())} per episode."
    )
    out = [Finding("component_shares", "info", msg, evidence)]
    top = order[0]
    if len(names) >= 2 and shares[top] > DOMINANCE_SHARE:
        others = ", ".join(f"'{k}'" for k in order[1:])
        out.append(
            Finding(
                "dominant_component",
                "warning",
                f"Component '{top}' makes up {_pct(shares[top])} of the reward magnitude (more than "
                f"{_pct(DOMINANCE_SHARE)}): {others} barely influence the policy; rescale the components.",
                {"component": top, "share": _num(shares[top]), "threshold": DOMINANCE_SHARE},
            )
        )
    return out


def _rank_mismatch(ctx: _Context) -> list[Finding]:
    assert ctx.scores is not None
    evidence: dict[str, float | str] = {}
    parts: list[str] = []
    worst = math.inf
    if ctx.n >= MIN_EPISODES_FOR_RANKS:
        returns = [s.episode_return for s in ctx.scores]
        rho = spearman(returns, [t.fitness for t in ctx.trajectories])
        if rho is not None:
            evidence |= {"episode_spearman": _num(rho), "episodes": float(ctx.n)}
            if rho < RANK_CORRELATION_MIN:
                worst = min(worst, rho)
                parts.append(
                    f"across the {ctx.n} episodes the learned return and the fitness rank with Spearman {_f(rho)}"
                )
    if ctx.spec.fitness.aggregate in ("mean", "sum"):
        rewards = np.concatenate([s.total for s in ctx.scores])
        if len(rewards) >= MIN_STEPS_FOR_RANKS:
            steps = np.concatenate([t.fitness_steps for t in ctx.trajectories])
            rho = spearman(rewards, steps)
            if rho is not None:
                evidence |= {"step_spearman": _num(rho), "steps": float(len(rewards))}
                if rho < RANK_CORRELATION_MIN:
                    worst = min(worst, rho)
                    parts.append(
                        f"over {len(rewards)} steps the per-step reward and the per-step "
                        f"{ctx.spec.fitness.name} rank with Spearman {_f(rho)}"
                    )
    if not parts:
        return []
    evidence["threshold"] = RANK_CORRELATION_MIN
    msg = (
        "The learned reward does not track the task's fitness: "
        + "; ".join(parts)
        + f" (below {_f(RANK_CORRELATION_MIN)}"
        + ("; negative: higher reward goes with lower fitness)." if worst < 0 else ").")
    )
    return [Finding("return_fitness_mismatch", "critical" if worst < 0 else "warning", msg, evidence)]


def _paid_while_failing(ctx: _Context, labels: set[str]) -> list[Finding]:
    assert ctx.scores is not None
    step_mean = float(np.concatenate([s.total for s in ctx.scores]).mean())
    mean_return = float(np.mean([s.episode_return for s in ctx.scores]))
    names = list(ctx.scores[0].components)
    per_step = {k: float(np.concatenate([s.components[k] for s in ctx.scores]).mean()) for k in names}
    term = ctx.terminated
    falls = ctx.vars.termination == "failure" and len(term) / ctx.n >= 0.5
    evidence: dict[str, float | str] = {"mean_return": _num(mean_return), "mean_step_reward": _num(step_mean)}
    out: list[Finding] = []
    if step_mean > 0 and mean_return > 0 and (falls or "stands_still" in labels):
        if "stands_still" in labels and ctx.vars.forward_velocity:
            v = ctx.mean_of(ctx.vars.forward_velocity)
            why = f"stands still (mean {ctx.vars.forward_velocity} {_f(v)})"
            evidence |= {"behaviour": "stands_still", "mean_forward_velocity": _num(v)}
        else:
            step = float(np.mean([t.length for t in term]))
            why = f"falls at step {_f(step)} on average"
            evidence |= {"behaviour": "falls_early", "mean_termination_step": _num(step)}
        msg = (
            f"The reward pays for failing: the policy {why} yet collects {_signed(mean_return)} per episode "
            f"({_signed(step_mean)} per step)"
        )
        positive = [k for k in sorted(names, key=lambda k: -per_step[k]) if per_step[k] > 0]
        if positive:
            msg += f", mostly from '{positive[0]}' ({_signed(per_step[positive[0]])} per step)"
            evidence |= {"top_component": positive[0], "top_component_per_step": _num(per_step[positive[0]])}
        out.append(Finding("paid_while_failing", "critical", msg + ".", evidence))
    if ctx.vars.termination == "failure" and term and step_mean < 0:
        step = float(np.mean([t.length for t in term]))
        msg = (
            f"Ending the episode early pays: the reward is negative per step ({_signed(step_mean)} on average), so "
            f"terminating early raises the return, and {len(term)} of {ctx.n} episodes terminate at step "
            f"{_f(step)} on average. Keep the per-step reward of a healthy step positive."
        )
        evidence = {
            "mean_step_reward": _num(step_mean),
            "terminated": float(len(term)),
            "mean_termination_step": _num(step),
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


def _training_trend(spec: TaskSpec, series: Mapping[str, Sequence[float]]) -> list[Finding]:
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
        f"The learned reward rises along training ({r_name} {_f(r_first)} -> {_f(r_last)}, "
        f"trend {_f(r_trend)}) while the fitness {'falls' if falling else 'stays flat'} "
        f"({spec.fitness.name} {_f(f_first)} -> {_f(f_last)} {spec.fitness.unit}): the policy learns to collect "
        "reward in a way that does not solve the task."
    )
    evidence: dict[str, float | str] = {
        "reward_first": _num(r_first),
        "reward_last": _num(r_last),
        "reward_trend": _num(r_trend),
        "fitness_first": _num(f_first),
        "fitness_last": _num(f_last),
        "fitness_trend": _num(f_trend),
        "fitness_relative_change": _num(f_rel),
        "points": float(len(r)),
    }
    return [Finding("reward_up_fitness_down", "critical" if falling else "warning", msg, evidence)]


# ----- critique and LLM summary ------------------------------------------------------------------------


def render_critique(analysis: Analysis, max_findings: int = 6) -> str:
    """The critique for the next prompt: the ``max_findings`` most important findings, numbers included."""
    shown = analysis.findings[: max(0, max_findings)]
    rows = [
        {"label": f.severity + (", reward hacking sign" if f.is_hacking_sign else ""), "message": f.message}
        for f in shown
    ]
    return render(
        "critique",
        task_id=analysis.task_id,
        episodes=analysis.episodes,
        findings=rows,
        omitted=len(analysis.findings) - len(shown),
    )


class SupportsSample(Protocol):
    """What :func:`llm_summary` needs of an LLM client (:class:`eureka_kit.llm.LLMClient` has it)."""

    def sample(
        self, messages: Sequence[Any], *, request_id: str, n: int = 1, params: Any | None = None
    ) -> list[Any]: ...


SUMMARY_MAX_CHARS = 2000


def summary_prompt(analysis: Analysis, spec: TaskSpec) -> str:
    """The user message of :func:`llm_summary` (``prompts/analyzer_summary.j2``)."""
    rows = [
        {
            "severity": f.severity,
            "kind": f.kind,
            "hacking": f.is_hacking_sign,
            "message": f.message,
            "evidence": json.dumps(dict(f.evidence), sort_keys=True),
        }
        for f in analysis.findings
    ]
    return render("analyzer_summary", task=spec, episodes=analysis.episodes, findings=rows)


def llm_summary(client: SupportsSample, analysis: Analysis, spec: TaskSpec, request_id: str, params: Any = None) -> str:
    """Ask the LLM for a short diagnosis of the findings (the ``--llm-analyzer`` option); returns its text, bounded.

    ``params`` are :class:`eureka_kit.llm.SamplingParams` (default: temperature
    0.2, at most 600 tokens). Errors of the client (budget, failed call)
    propagate: the caller decides to fall back to :func:`render_critique`.
    """
    from eureka_kit.llm import Message, SamplingParams

    if params is None:
        params = SamplingParams(temperature=0.2, max_tokens=600)
    (completion,) = client.sample(
        [Message("user", summary_prompt(analysis, spec))], request_id=request_id, n=1, params=params
    )
    text = str(completion.text).strip()
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 6] + " [...]"
