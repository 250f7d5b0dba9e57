"""Loop callbacks, Stable-Baselines3-style: what runs around the evolutionary loop's stages.

The loop calls, in order: :meth:`LoopCallback.on_run_start` once;
:meth:`LoopCallback.on_candidate_evaluated` for each candidate whose policy the
trusted evaluator scored (in the candidate's worker thread, before its record
is final: the feedback written here goes into the next prompt);
:meth:`LoopCallback.on_generation_end` after every candidate of a generation
has finished; :meth:`LoopCallback.on_run_end` once with the summary.

The shipped callbacks are the method's own steps: :class:`FeedbackCallback`
(reward reflection and the trajectory analyzer's critique -> ``feedback.md``),
:class:`VideoCallback` (an mp4 per successful policy), :class:`RankingCallback`
(a person on the ranking page or a synthetic ranker) and :class:`ReportCallback`
(``report.html``). :func:`default_callbacks` builds them from a
:class:`~eureka_kit.config.RunConfig`; a user adds their own with
``start_run(config, callbacks=[...])``::

    class PrintBest(LoopCallback):
        def on_generation_end(self, gen: GenerationContext) -> None:
            best = max((r for r in gen.records if r.fitness is not None), key=lambda r: r.fitness, default=None)
            print(gen.generation, best and best.name)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eureka_kit.choices import RankerKind
from eureka_kit.config import RunConfig
from eureka_kit.evaluation.evaluator import Evaluation
from eureka_kit.feedback.compose import candidate_feedback
from eureka_kit.files import atomic_write_text
from eureka_kit.llm import LLMClient
from eureka_kit.preferences.ranking import VIDEO_FILE, Ranker, SyntheticRanker
from eureka_kit.preferences.steer import rank_generation, record_candidate_video, record_videos
from eureka_kit.run.layout import FEEDBACK_FILE
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.store import RunStore
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.runner import TrainResult
from eureka_kit.web.rank_server import HumanRanker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """What every callback may read: the run's config, task, store, LLM client and a log function."""

    config: RunConfig
    spec: TaskSpec
    store: RunStore
    client: LLMClient
    log: Callable[[str], None]
    steps: int
    """Training env-steps per candidate."""
    backend: str = "sb3"
    """The training backend candidates train on (the trusted side loads their policies with it)."""


@dataclass(frozen=True)
class CandidateContext:
    """A candidate right after its trusted evaluation succeeded."""

    run: RunContext
    record_name: str
    cand_dir: Path
    source: str
    train: TrainResult
    evaluation: Evaluation


@dataclass(frozen=True)
class GenerationContext:
    """A finished generation: every candidate's final record."""

    run: RunContext
    generation: int
    records: tuple[CandidateRecord, ...]


class LoopCallback:
    """Base class: override the hooks you need (each default does nothing)."""

    def on_run_start(self, run: RunContext) -> None:
        """Once, before the first generation (also on resume)."""

    def on_candidate_evaluated(self, cand: CandidateContext) -> None:
        """After the trusted evaluation of a trained candidate, in its worker thread (must be thread-safe)."""

    def on_generation_end(self, gen: GenerationContext) -> None:
        """After every candidate of the generation finished (also for a generation finished before a resume)."""

    def on_run_end(self, run: RunContext, summary: dict[str, Any]) -> None:
        """Once, after the last generation or a clean stop."""


class CallbackList(LoopCallback):
    """Calls each callback's hook in order."""

    def __init__(self, callbacks: Sequence[LoopCallback]) -> None:
        self.callbacks = list(callbacks)

    def on_run_start(self, run: RunContext) -> None:
        for c in self.callbacks:
            c.on_run_start(run)

    def on_candidate_evaluated(self, cand: CandidateContext) -> None:
        for c in self.callbacks:
            c.on_candidate_evaluated(cand)

    def on_generation_end(self, gen: GenerationContext) -> None:
        for c in self.callbacks:
            c.on_generation_end(gen)

    def on_run_end(self, run: RunContext, summary: dict[str, Any]) -> None:
        for c in self.callbacks:
            c.on_run_end(run, summary)


class FeedbackCallback(LoopCallback):
    """Reward reflection (Eureka) and, with ``analyzer``, the trajectory analyzer's critique -> ``feedback.md``."""

    def __init__(self, analyzer: bool, llm_analyzer: bool) -> None:
        self.analyzer = analyzer
        self.llm_analyzer = llm_analyzer

    def on_candidate_evaluated(self, cand: CandidateContext) -> None:
        run = cand.run
        text = candidate_feedback(
            run.spec,
            cand.cand_dir,
            cand.source,
            cand.evaluation,
            cand.train.series,
            steps=run.steps,
            analyzer=self.analyzer,
            client=run.client if self.llm_analyzer else None,
            request_id=f"{cand.record_name}/analyzer",
        )
        atomic_write_text(cand.cand_dir / FEEDBACK_FILE, text)


class VideoCallback(LoopCallback):
    """An mp4 of each successful candidate's policy (ICPL shows them to a person).

    Each video is recorded in the candidate's worker thread right after its
    evaluation, so it overlaps the other candidates' training; one at a time
    (offscreen GL contexts are not shared between threads). At the end of a
    generation the ones still missing (a resumed run) are recorded.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def on_candidate_evaluated(self, cand: CandidateContext) -> None:
        with self._lock:
            record_candidate_video(cand.run.spec, cand.cand_dir, cand.run.backend)

    def on_generation_end(self, gen: GenerationContext) -> None:
        ok = [r for r in gen.records if r.status == "ok"]
        if not ok:
            gen.run.log(f"  gen {gen.generation}: no successful candidate, no videos")
            return
        with self._lock:
            made = record_videos(gen.run.spec, gen.run.store.root, gen.records)
        have = sum(1 for r in ok if (gen.run.store.root / r.name / VIDEO_FILE).exists())
        extra = f" ({len(made)} recorded now)" if made else ""
        gen.run.log(f"  gen {gen.generation}: {have} of {len(ok)} policy videos{extra}")


class RankingCallback(LoopCallback):
    """Ranks each generation's successful candidates (a person on the local page, or a synthetic ranker)."""

    def __init__(self, ranker: Ranker) -> None:
        self.ranker = ranker

    def on_generation_end(self, gen: GenerationContext) -> None:
        started = time.monotonic()
        ranking = rank_generation(self.ranker, gen.run.store.root, gen.generation)
        if ranking is not None:
            gen.run.log(
                f"  gen {gen.generation}: ranked by {ranking.who} in {time.monotonic() - started:.1f} s: "
                f"best {ranking.best}, worst {ranking.worst}"
            )


class ReportCallback(LoopCallback):
    """Writes the run's self-contained ``report.html`` at the end (a failure is logged, never fatal)."""

    def on_run_end(self, run: RunContext, summary: dict[str, Any]) -> None:
        from eureka_kit.web.report import write_report

        try:
            path = write_report(run.store.root)
        except Exception as e:  # a report is a convenience: the run's files are complete without it
            log.warning("report.html not written: %s", e)
            run.log(f"report.html not written: {type(e).__name__}: {e}")
            return
        run.log(f"report: {path}")


def make_ranker(
    kind: RankerKind,
    run_dir: Path,
    *,
    rank_timeout_s: float | None = None,
    beta: float | None = None,
    mistake_rate: float = 0.0,
    seed: int = 0,
    announce: Callable[[str], None] = print,
) -> Ranker | None:
    """The ranker of a run: ``none`` (fitness-driven, Eureka), ``human`` (local page) or ``synthetic``.

    ``vlm`` needs the run's config and task: build it with :func:`ranker_for`.
    """
    if kind == "vlm":
        raise ValueError("ranker 'vlm' is built by ranker_for(config, spec, store)")
    if kind == "none":
        return None
    if kind == "synthetic":
        return SyntheticRanker(beta=beta, mistake_rate=mistake_rate, seed=seed)
    return HumanRanker(run_dir, timeout_s=rank_timeout_s, announce=announce)


def ranker_for(
    config: RunConfig, spec: TaskSpec, store: RunStore, announce: Callable[[str], None] = print
) -> Ranker | None:
    """The ranker ``config`` asks for; ``vlm`` gets its own client (the run's cache and call log, one budget)."""
    if config.ranker != "vlm":
        return make_ranker(
            config.ranker,
            store.root,
            rank_timeout_s=config.rank_timeout_s,
            beta=config.ranker_beta,
            mistake_rate=config.ranker_mistake_rate,
            seed=config.seed,
            announce=announce,
        )
    from eureka_kit.llm import make_client
    from eureka_kit.preferences.vlm import VLMRanker

    own_server = config.vlm_base_url is not None
    client = make_client(
        "openai" if own_server else config.llm,
        model=config.vlm_model or config.model,
        base_url=config.vlm_base_url if own_server else config.base_url,
        replay_path=None if own_server else config.resolved_replay_path(),
        cache_dir=store.llm_cache_dir,
        budget_usd=config.budget_usd,
        calls_log=store.llm_calls_path,
    )
    return VLMRanker(
        client, spec.description, frames=config.vlm_frames, max_images=config.vlm_max_images, announce=announce
    )


def default_callbacks(config: RunConfig, ranker: Ranker | None) -> list[LoopCallback]:
    """The method's own steps as callbacks, as ``config`` asks for them."""
    callbacks: list[LoopCallback] = [FeedbackCallback(config.analyzer, config.llm_analyzer)]
    if config.videos:
        callbacks.append(VideoCallback())
    if ranker is not None:
        callbacks.append(RankingCallback(ranker))
    callbacks.append(ReportCallback())
    return callbacks
