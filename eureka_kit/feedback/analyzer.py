"""Trajectory analyzer (Auto MC-Reward): what the trained policy does, and signs of reward hacking.

:func:`analyze` reads the trusted evaluation rollouts of one policy
(:class:`~eureka_kit.feedback.trajectory.Trajectory`), optionally the reward program's
per-step scores on them (:class:`~eureka_kit.feedback.score_child.ProgramScores`, run
sandboxed) and the training series of reward reflection, and returns an
:class:`~eureka_kit.feedback.findings.Analysis`: typed
:class:`~eureka_kit.feedback.findings.Finding` records ordered by importance.

The parts, one module each:

- :mod:`eureka_kit.feedback.findings`: the records and the kinds of finding;
- :mod:`eureka_kit.feedback.behaviour`: what the policy does (``falls_early``,
  ``moves_backwards``, ``stands_still``, ``spins_or_flips``, ``jitters``,
  ``reaches_then_leaves``) and the summaries (fitness, episode ends, state, actions);
- :mod:`eureka_kit.feedback.game_checks`: games (``dies``, ``loops_in_place``,
  ``never_leaves_start``, ``achievements``; discrete actions as a histogram);
- :mod:`eureka_kit.feedback.hacking_signs`: reward-hacking signs
  (``reward_up_fitness_down``, ``return_fitness_mismatch``,
  ``dominant_component``, ``paid_while_failing``, ``ending_pays``);
- :mod:`eureka_kit.feedback.survival`: episodes that end early by termination while no
  component pays for staying healthy or penalizes the end (``no_alive_term``);
- :mod:`eureka_kit.feedback.critique`: the critique for the next prompt
  (:func:`~eureka_kit.feedback.critique.render_critique`) and the optional
  LLM summary (:func:`~eureka_kit.feedback.critique.llm_summary`).

Which state variables mean what (forward velocity, height, ...) is declared
per task in :attr:`TaskSpec.analysis`; tasks not listed get a guess from their
variable names (:func:`analysis_vars`). Every threshold is a module constant
of the module that uses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache

import numpy as np

from eureka_kit.feedback.analysis_context import AnalysisContext
from eureka_kit.feedback.findings import Analysis, Finding
from eureka_kit.feedback.game_checks import checks_for
from eureka_kit.feedback.hacking_signs import component_shares, paid_while_failing, rank_mismatch, training_trend
from eureka_kit.feedback.score_child import ProgramScores, TrajectoryScores
from eureka_kit.feedback.survival import no_alive_term
from eureka_kit.feedback.trajectory import MAX_STEPS_PER_TRAJECTORY, Trajectory
from eureka_kit.tasks.spec import AnalysisVars, TaskSpec


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
    ctx = AnalysisContext(spec, v, trs, per_traj)

    for check in checks_for(spec.kind):
        findings.extend(check(ctx))
    labels: set[str] = {f.kind for f in findings}
    if per_traj is not None:
        findings.extend(component_shares(ctx))
        findings.extend(rank_mismatch(ctx))
        findings.extend(paid_while_failing(ctx, labels))
        findings.extend(no_alive_term(ctx))
    if series:
        findings.extend(training_trend(spec, series))
    findings.sort(key=Finding.sort_key)
    return Analysis(task_id=spec.id, episodes=len(trs), findings=tuple(findings))
