"""Preferences in the loop (ICPL): videos of each generation's policies, a ranker, and the ranking record.

After a generation's evaluation the loop calls :func:`record_videos` (one mp4
per successful candidate, trusted policy, fixed seed) and, when a ranker is
configured, :func:`rank_generation`, which stores ``gen_XXX/ranking.json``.
The next prompt then carries the best and the worst programs with the
comments (:func:`preference_messages`), not fitness values.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from eureka_kit.evaluation.evaluator import load_actor
from eureka_kit.preferences.ranking import (
    VIDEO_FILE,
    Ranker,
    Ranking,
    load_items,
    load_ranking,
    preference_vars,
    save_ranking,
)
from eureka_kit.preferences.video import RenderError, VideoResult, record_video
from eureka_kit.prompting import render
from eureka_kit.run.records import CandidateRecord
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.job import TrainJob

log = logging.getLogger(__name__)

VIDEO_SEED = 123
VIDEO_STEPS = 200


def record_candidate_video(spec: TaskSpec, cand: Path, backend: str) -> VideoResult | None:
    """An mp4 of one trained candidate's policy in ``cand`` (``None`` when it exists already or cannot be made)."""
    out = cand / VIDEO_FILE
    if out.exists():
        return None
    try:
        act = load_actor(spec, cand, TrainJob(task_id=spec.id, reward_kind="baseline", backend=backend))
        result = record_video(spec, act, out, seed=VIDEO_SEED, max_steps=VIDEO_STEPS)
    except (RenderError, ValueError, OSError) as e:
        log.warning("no video for %s: %s", cand.name, e)
        return None
    if result.status != "ok":
        log.warning("no video for %s: %s", cand.name, result.message)
    return result


def record_videos(spec: TaskSpec, run_dir: Path, records: Sequence[CandidateRecord]) -> list[VideoResult]:
    """An mp4 of each successful candidate's policy (skips existing videos, e.g. after resume)."""
    results = []
    for r in records:
        if r.status != "ok":
            continue
        result = record_candidate_video(spec, run_dir / r.name, r.backend or "sb3")
        if result is not None:
            results.append(result)
    return results


def rank_generation(ranker: Ranker, run_dir: Path, generation: int) -> Ranking | None:
    """Rank the generation's successful candidates (or load the stored ranking on resume)."""
    existing = load_ranking(run_dir, generation)
    if existing is not None:
        return existing
    items = load_items(run_dir, generation)
    if len(items) < 2:
        log.info("generation %d has %d successful candidate(s): nothing to rank", generation, len(items))
        return None
    ranking = ranker.rank(generation, items)
    save_ranking(run_dir, ranking)
    return ranking


def preference_prompt(run_dir: Path, ranking: Ranking) -> str:
    """The user message that carries the ranking: best and worst programs, labelled, with comments."""
    items = load_items(run_dir, ranking.generation)
    return render("preference_feedback", **preference_vars(ranking, items))
