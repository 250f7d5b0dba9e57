"""Feedback on one trained candidate: reward reflection plus the trajectory analyzer's critique.

Called by the loop after the trusted evaluation. The rollouts saved by the
evaluator become :class:`~eureka_kit.feedback.trajectory.Trajectory` records; the
reward program scores them in a sandboxed child (its numbers are untrusted
and only used as feedback text); :func:`eureka_kit.feedback.analyzer.analyze` turns
everything into findings, rendered as a short critique. ``feedback.md`` holds
the reflection, the critic's warnings on the program (``check.json``: terms
computed and dropped, a total that is not the sum of the components, ...; they
did not stop training, so the next generation hears of them here) and the
critique; ``analysis.json`` the typed findings.

Also builds CARD's trajectory store from earlier generations' rollouts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from eureka_kit.evaluation.evaluator import Evaluation, load_rollouts
from eureka_kit.feedback.analyzer import analyze
from eureka_kit.feedback.card_check import TrajectoryStore
from eureka_kit.feedback.critique import llm_summary, render_critique
from eureka_kit.feedback.reflection import render_reflection
from eureka_kit.feedback.score_child import score_trajectories
from eureka_kit.feedback.trajectory import Trajectory, from_rollout
from eureka_kit.files import UntrustedFileError, read_bounded_json
from eureka_kit.llm import LLMClient, LLMError
from eureka_kit.reward.check_report import CheckReport
from eureka_kit.reward.check_runner import MAX_ISSUES, MAX_REPORT_BYTES
from eureka_kit.run.layout import CHECK_FILE, EVAL_FILE
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.store import atomic_write_json
from eureka_kit.tasks.spec import TaskSpec

log = logging.getLogger(__name__)

ROLLOUTS_FILE = "rollouts.npz"
NOT_ABOUT_THE_PROGRAM = frozenset({"real_states_unavailable"})
"""Critic warnings about the checker's own situation, not the program: left out of the feedback."""


def critic_warnings(cand: Path) -> str:
    """The critic's warnings on the candidate's trained program (its ``check.json``) as text; ``""`` when none."""
    path = cand / CHECK_FILE
    if not path.is_file():
        return ""
    try:
        report = CheckReport.from_dict(read_bounded_json(path, MAX_REPORT_BYTES))
    except (UntrustedFileError, OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning("unreadable %s: %s", path, e)
        return ""
    warnings = [w for w in report.warnings[:MAX_ISSUES] if w.code not in NOT_ABOUT_THE_PROGRAM]
    if not warnings:
        return ""
    lines = ["The reward checker's warnings on this program (it trained anyway; fix them in the next program):"]
    return "\n".join([*lines, *(f"- [{w.code}] {w.message}" for w in warnings)])


def candidate_trajectories(spec: TaskSpec, cand: Path, evaluation: Evaluation) -> list[Trajectory]:
    """The evaluation episodes of a candidate as trajectories (empty when no rollouts were saved)."""
    path = cand / ROLLOUTS_FILE
    if not path.exists():
        return []
    rollouts = load_rollouts(path)
    return [from_rollout(spec, r, e.fitness) for r, e in zip(rollouts, evaluation.episodes, strict=False)]


def candidate_feedback(
    spec: TaskSpec,
    cand: Path,
    source: str,
    evaluation: Evaluation,
    series: Mapping[str, Sequence[float]],
    *,
    steps: int,
    analyzer: bool = True,
    client: LLMClient | None = None,
    request_id: str = "",
) -> str:
    """Reflection, critic warnings (+ critique when ``analyzer``) for one evaluated candidate; writes ``analysis.json``.

    With ``client`` (the ``--llm-analyzer`` option) the LLM also writes a
    failure summary from the findings; a failed call falls back to the
    rendered critique alone.
    """
    lengths = [e.length for e in evaluation.episodes]
    text = render_reflection(
        spec,
        series,
        steps=steps,
        fitness=evaluation.fitness,
        fitness_std=evaluation.fitness_std,
        episodes=len(evaluation.episodes),
        episode_length=sum(lengths) / len(lengths) if lengths else None,
    )
    warnings = critic_warnings(cand)
    if warnings:
        text = text.rstrip() + "\n\n" + warnings
    if not analyzer:
        return text
    trajectories = candidate_trajectories(spec, cand, evaluation)
    if not trajectories:
        return text
    scores = score_trajectories(spec, source, trajectories, cand / "scoring")
    analysis = analyze(spec, trajectories, scores, series=series)
    atomic_write_json(cand / "analysis.json", analysis.to_json())
    critique = render_critique(analysis)
    if client is not None:
        try:
            critique += "\n\nDiagnosis:\n" + llm_summary(client, analysis, spec, request_id=request_id)
        except LLMError as e:
            log.warning("LLM analyzer failed, using the rendered critique only: %s", e)
    return text.rstrip() + "\n\n" + critique


def trajectory_store(spec: TaskSpec, run_root: Path, records: Iterable[CandidateRecord]) -> TrajectoryStore:
    """CARD's store: evaluation trajectories of the given (earlier) candidates, labelled by fitness."""
    from eureka_kit.run.store import read_json

    store = TrajectoryStore(spec)
    for r in records:
        if r.status != "ok":
            continue
        cand = run_root / r.name
        eval_path = cand / EVAL_FILE
        if not eval_path.exists():
            continue
        evaluation = Evaluation.from_json(read_json(eval_path))
        try:
            store.add(r.name, candidate_trajectories(spec, cand, evaluation))
        except (OSError, ValueError) as e:  # a damaged rollout file only loses its trajectories
            log.warning("skipping trajectories of %s: %s", r.name, e)
    return store
