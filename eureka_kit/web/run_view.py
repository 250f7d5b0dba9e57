"""A run folder as the report and the dashboard see it: candidates, generations, rankings, summary.

:func:`load_run` reads ``summary.json`` (if written), every
``gen_XXX/cand_YY`` (``candidate.json``, ``reward.py``, ``feedback.md``,
``rollout.mp4``) and every ``gen_XXX/ranking.json`` into a :class:`RunView`.
Missing or malformed files become notes, never errors: the report and the
dashboard show a run in any state, even one still being written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eureka_kit.files import read_bounded_json
from eureka_kit.preferences.ranking import VIDEO_FILE, Ranking, RankingError, load_ranking
from eureka_kit.run.layout import CANDIDATE_FILE, FEEDBACK_FILE, REWARD_FILE, cand_name
from eureka_kit.run.records import CandidateRecord

MAX_TEXT_CHARS = 100_000
"""Longest program or feedback text read from a candidate folder (the rest is cut)."""
MAX_JSON_BYTES = 10_000_000
"""Largest ``summary.json`` or ``candidate.json`` read."""
_GEN = re.compile(r"^gen_(\d{3,})$")
_CAND = re.compile(r"^cand_(\d{2,})$")


@dataclass(frozen=True)
class CandidateView:
    """What the run folder says about one candidate. ``status`` is ``"pending"`` before ``candidate.json`` exists.

    ``video`` is the rollout video's path relative to the run folder (POSIX), or ``None``.
    """

    generation: int
    index: int
    status: str
    fitness: float | None
    fitness_std: float | None
    message: str
    program: str | None
    feedback: str | None
    video: str | None
    origin: str = "initial"
    """The request its program came from: ``initial`` or ``topup_<r>`` (a fresh sample under ``--min-valid``)."""

    @property
    def name(self) -> str:
        return cand_name(self.index)

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "index": self.index,
            "name": self.name,
            "status": self.status,
            "fitness": self.fitness,
            "fitness_std": self.fitness_std,
            "message": self.message,
            "program": self.program,
            "feedback": self.feedback,
            "video": self.video,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class GenerationView:
    """One generation's candidates and its ranking (``ranking_error`` says why a stored one was unreadable)."""

    generation: int
    candidates: tuple[CandidateView, ...]
    ranking: Ranking | None
    ranking_error: str = ""

    @property
    def fitnesses(self) -> list[float]:
        return [c.fitness for c in self.candidates if c.fitness is not None and math.isfinite(c.fitness)]

    def to_summary(self) -> dict[str, Any]:
        """The generation in ``summary.json``'s ``fitness_per_generation`` format."""
        fits = self.fitnesses
        return {
            "generation": self.generation,
            "best_fitness": max(fits) if fits else None,
            "mean_fitness": sum(fits) / len(fits) if fits else None,
            "candidates": [
                {"index": c.index, "status": c.status, "fitness": c.fitness, "origin": c.origin}
                for c in self.candidates
            ],
        }


@dataclass(frozen=True)
class RunView:
    """A run folder as read from disk: its summary (if written) and every generation found."""

    root: Path
    summary: Mapping[str, Any] | None
    generations: tuple[GenerationView, ...]
    notes: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def task(self) -> str | None:
        if self.summary and isinstance(self.summary.get("task"), str):
            return str(self.summary["task"])
        return None

    def fitness_per_generation(self) -> list[Mapping[str, Any]]:
        """From ``summary.json`` when it has them, else rebuilt from the candidate folders."""
        if self.summary and isinstance(self.summary.get("fitness_per_generation"), list):
            return [g for g in self.summary["fitness_per_generation"] if isinstance(g, Mapping)]
        return [g.to_summary() for g in self.generations]


def _read_text(path: Path) -> str | None:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            text = f.read(MAX_TEXT_CHARS + 1)
    except OSError:
        return None
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "\n[... cut]"


def _candidate(run_dir: Path, generation: int, index: int, folder: Path, notes: list[str]) -> CandidateView:
    status, fitness, std, message, origin = "pending", None, None, "", "initial"
    record_path = folder / CANDIDATE_FILE
    if record_path.is_file():
        try:
            record = CandidateRecord.from_json(read_bounded_json(record_path, MAX_JSON_BYTES))
            status, fitness, std, message = record.status, record.fitness, record.fitness_std, record.message
            origin = record.origin
        except (ValueError, TypeError) as e:
            status, message = "unreadable", f"candidate.json: {e}"
            notes.append(f"{folder.relative_to(run_dir)}/candidate.json is unreadable: {e}")
    video = folder / VIDEO_FILE
    return CandidateView(
        generation=generation,
        index=index,
        status=status,
        fitness=fitness,
        fitness_std=std,
        message=message,
        program=_read_text(folder / REWARD_FILE),
        feedback=_read_text(folder / FEEDBACK_FILE),
        video=video.relative_to(run_dir).as_posix() if video.is_file() else None,
        origin=origin,
    )


def load_run(run_dir: Path) -> RunView:
    """Read a run folder: ``summary.json`` if present, every ``gen_XXX/cand_YY`` and ranking."""
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no run folder at {root}")
    notes: list[str] = []
    summary = None
    summary_path = root / "summary.json"
    if summary_path.is_file():
        try:
            data = read_bounded_json(summary_path, MAX_JSON_BYTES)
            summary = data if isinstance(data, Mapping) else None
        except ValueError as e:
            notes.append(f"summary.json is unreadable: {e}")
    generations = []
    for gen_dir in sorted(p for p in root.iterdir() if p.is_dir() and _GEN.match(p.name)):
        g = int(gen_dir.name[4:])
        cands = []
        folders = [p for p in gen_dir.iterdir() if p.is_dir() and _CAND.match(p.name)]
        for folder in sorted(folders, key=lambda p: int(p.name[5:])):  # top-ups may pass cand_99
            cands.append(_candidate(root, g, int(folder.name[5:]), folder, notes))
        ranking, error = None, ""
        try:
            ranking = load_ranking(root, g)
        except RankingError as e:
            error = str(e)
            notes.append(error)
        generations.append(GenerationView(g, tuple(cands), ranking, error))
    return RunView(root, summary, tuple(generations), tuple(notes))


def load_component_series(cand_dir: Path) -> dict[str, list[float]]:
    """Reward-component curves of a candidate from its ``stats.json``; ``{}`` when missing or unreadable."""
    path = Path(cand_dir) / "stats.json"
    if not path.is_file():
        return {}
    try:
        from eureka_kit.training.job import read_stats

        return {k: [float(v) for v in vals] for k, vals in read_stats(path).series().items()}
    except Exception:
        return {}
