"""Preference rankings of a generation's candidates (ICPL) and the rankers that make them.

After a generation is evaluated, a :class:`Ranker` orders its successful
candidates best first from their videos (a person) or their fitness (a
synthetic stand-in); the best and worst programs, with the person's comments,
go into the next prompt (``prompts/preference_feedback.j2``, variables from
:func:`preference_vars`). Rankers are strategy objects, like imitation's
preference gatherers: the loop calls ``ranker.rank(generation, items)`` and
does not care who answers.

- :class:`FitnessRanker`: by fitness, no noise (the fallback when no person answers).
- :class:`SyntheticRanker`: by fitness with Boltzmann-rational noise and random mistakes,
  deterministic for a seed (a simulated person for experiments and tests).
- ``HumanRanker`` (in :mod:`eureka_kit.web.rank_server`): a local web page with the videos.
- ``VLMRanker`` (in :mod:`eureka_kit.preferences.vlm`): a vision-language model shown frames of the videos.

Each ranking is stored as ``gen_XXX/ranking.json`` (:func:`save_ranking`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol, get_args

import numpy as np

from eureka_kit.errors import UserError
from eureka_kit.files import UntrustedFileError, atomic_write_json, read_bounded_json
from eureka_kit.run.layout import CANDIDATE_FILE, REWARD_FILE, gen_name
from eureka_kit.run.records import CandidateRecord

RankedBy = Literal["human", "synthetic", "fitness", "vlm"]
"""Who made a stored :class:`Ranking` (``fitness``: ordered by fitness, e.g. when no person answered in time)."""
RANKED_BY: tuple[str, ...] = get_args(RankedBy)

MAX_COMMENT_BYTES = 10_000
"""Longest comment (UTF-8 bytes), per candidate and for the whole generation."""
MAX_NOTE_CHARS = 2_000
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
"""Candidate names: a folder name such as ``cand_03``, no path separators."""

RANKING_FILE = "ranking.json"
MAX_RANKING_BYTES = 4_000_000
"""Largest ``ranking.json`` read (comments of up to :data:`MAX_COMMENT_BYTES` per candidate)."""
MAX_RECORD_BYTES = 1_000_000
"""Largest ``candidate.json`` read."""
VIDEO_FILE = "rollout.mp4"


class RankingError(UserError, ValueError):
    """A ranking is malformed or does not match the generation's candidates; the message says how."""


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RankItem:
    """One candidate shown to a ranker.

    ``name`` is its folder name (``cand_03``), ``video`` its rollout video or
    ``None``, ``fitness`` its fitness or ``None`` (free-form tasks have none),
    ``source`` the reward program.
    """

    name: str
    video: Path | None
    fitness: float | None
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise RankingError(f"invalid candidate name {self.name!r}: use letters, digits, '_', '-', '.' (max 64)")


def _check_comment(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise RankingError(f"{what} must be a string, got {type(text).__name__}")
    size = len(text.encode("utf-8"))
    if size > MAX_COMMENT_BYTES:
        raise RankingError(f"{what} is {size} bytes long; the limit is {MAX_COMMENT_BYTES} bytes")
    return text


@dataclass(frozen=True)
class Ranking:
    """A generation's candidates ordered best first, with the best, the worst and comments.

    ``order`` holds every ranked candidate once; ``best`` and ``worst`` are in
    it, distinct (unless only one was ranked) and ``best`` comes before
    ``worst``. ``comments`` maps candidate names to the ranker's remarks;
    ``note`` says how the ranking was made (e.g. a timeout fallback).
    Invalid values raise :class:`RankingError`.
    """

    generation: int
    who: RankedBy
    order: tuple[str, ...]
    best: str
    worst: str
    comments: Mapping[str, str] = field(default_factory=dict)
    generation_comment: str = ""
    created: str = field(default_factory=now_iso)
    note: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.generation, bool) or not isinstance(self.generation, int) or self.generation < 0:
            raise RankingError(f"generation must be a non-negative integer, got {self.generation!r}")
        if self.who not in RANKED_BY:
            raise RankingError(f"who must be one of {', '.join(RANKED_BY)}, got {self.who!r}")
        if not isinstance(self.order, (tuple, list)) or not self.order:
            raise RankingError("order must be a non-empty list of candidate names")
        object.__setattr__(self, "order", tuple(self.order))
        for name in self.order:
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise RankingError(f"invalid candidate name {name!r} in order")
        dups = sorted({n for n in self.order if self.order.count(n) > 1})
        if dups:
            raise RankingError(f"order names a candidate more than once: {', '.join(dups)}")
        for role in ("best", "worst"):
            value = getattr(self, role)
            if not isinstance(value, str) or value not in self.order:
                raise RankingError(
                    f"{role} must be one of the ranked candidates ({', '.join(self.order)}), got {value!r}"
                )
        if len(self.order) > 1:
            if self.best == self.worst:
                raise RankingError(f"best and worst must be different candidates, both are {self.best!r}")
            if self.order.index(self.best) > self.order.index(self.worst):
                raise RankingError(f"best ({self.best}) is ranked below worst ({self.worst})")
        if not isinstance(self.comments, Mapping):
            raise RankingError("comments must map candidate names to strings")
        comments = {}
        for name, text in self.comments.items():
            if name not in self.order:
                raise RankingError(f"comment for {name!r}, which is not a ranked candidate ({', '.join(self.order)})")
            comments[name] = _check_comment(text, f"comment on {name}")
        object.__setattr__(self, "comments", MappingProxyType(comments))
        _check_comment(self.generation_comment, "generation comment")
        if not isinstance(self.created, str) or not self.created:
            raise RankingError("created must be an ISO time string")
        if not isinstance(self.note, str) or len(self.note) > MAX_NOTE_CHARS:
            raise RankingError(f"note must be a string of at most {MAX_NOTE_CHARS} characters")

    def comment(self, name: str) -> str:
        """The comment on candidate ``name`` ("" when none)."""
        return self.comments.get(name, "")

    def check_candidates(self, names: Sequence[str]) -> None:
        """Raise :class:`RankingError` unless ``order`` is exactly ``names`` in some order."""
        unknown = [n for n in self.order if n not in names]
        missing = [n for n in names if n not in self.order]
        if unknown:
            raise RankingError(f"unknown candidates {', '.join(unknown)}; this generation has {', '.join(names)}")
        if missing:
            raise RankingError(f"the ranking leaves out {', '.join(missing)}; rank every candidate")

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "who": self.who,
            "order": list(self.order),
            "best": self.best,
            "worst": self.worst,
            "comments": dict(self.comments),
            "generation_comment": self.generation_comment,
            "created": self.created,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Any) -> Ranking:
        """Parse and validate a stored ranking; raises :class:`RankingError` naming the problem."""
        if not isinstance(data, Mapping):
            raise RankingError("a ranking must be a JSON object")
        required = {"generation", "who", "order", "best", "worst"}
        optional = {"comments", "generation_comment", "created", "note"}
        missing = sorted(required - data.keys())
        extra = sorted(set(data) - required - optional)
        if missing:
            raise RankingError(f"ranking lacks {', '.join(missing)}")
        if extra:
            raise RankingError(f"unknown ranking fields {', '.join(map(str, extra))}")
        if not isinstance(data["order"], list):
            raise RankingError("order must be a list of candidate names")
        if "comments" in data and not isinstance(data["comments"], Mapping):
            raise RankingError("comments must be an object mapping candidate names to strings")
        return cls(**{**data, "order": tuple(data["order"])})


def ranking_path(run_dir: Path, generation: int) -> Path:
    """``<run_dir>/gen_XXX/ranking.json``."""
    return Path(run_dir) / gen_name(generation) / RANKING_FILE


def save_ranking(run_dir: Path, ranking: Ranking) -> Path:
    """Write ``gen_XXX/ranking.json`` atomically; returns its path."""
    path = ranking_path(run_dir, ranking.generation)
    atomic_write_json(path, ranking.to_json())
    return path


def load_ranking(run_dir: Path, generation: int) -> Ranking | None:
    """The stored ranking of a generation, or ``None`` when there is none; a malformed file raises."""
    path = ranking_path(run_dir, generation)
    if not path.is_file():
        return None
    try:
        data = read_bounded_json(path, MAX_RANKING_BYTES)
    except UntrustedFileError as e:
        raise RankingError(str(e)) from None
    try:
        return Ranking.from_json(data)
    except RankingError as e:
        raise RankingError(f"{path}: {e}") from None


def load_items(run_dir: Path, generation: int, *, video_name: str = VIDEO_FILE) -> list[RankItem]:
    """The generation's successful candidates (``status == "ok"``) as rank items, by index.

    Reads ``candidate.json`` and ``reward.py`` of each ``gen_XXX/cand_YY``;
    the video is ``video_name`` in the candidate's folder when it exists.
    """
    gen_dir = Path(run_dir) / gen_name(generation)
    items = []
    for cand in sorted(gen_dir.glob("cand_*")):
        record_path, program = cand / CANDIDATE_FILE, cand / REWARD_FILE
        if not record_path.is_file() or not program.is_file():
            continue
        record = CandidateRecord.from_json(read_bounded_json(record_path, MAX_RECORD_BYTES))
        if record.status != "ok":
            continue
        video = cand / video_name
        items.append(
            RankItem(
                name=cand.name,
                video=video if video.is_file() else None,
                fitness=record.fitness,
                source=program.read_text(encoding="utf-8"),
            )
        )
    return items


class Ranker(Protocol):
    """Orders a generation's candidates best first."""

    def rank(self, generation: int, items: Sequence[RankItem]) -> Ranking: ...


def _check_items(items: Sequence[RankItem]) -> list[str]:
    names = [it.name for it in items]
    if not names:
        raise RankingError("nothing to rank: the generation has no successful candidate")
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise RankingError(f"two items share the name {', '.join(dups)}")
    return names


def _fitness(item: RankItem) -> float:
    """The item's fitness; a missing or non-finite fitness ranks last."""
    f = item.fitness
    return float(f) if f is not None and math.isfinite(f) else -math.inf


def _by_fitness(items: Sequence[RankItem]) -> tuple[str, ...]:
    return tuple(it.name for it in sorted(items, key=lambda it: (-_fitness(it), it.name)))


class FitnessRanker:
    """Orders by fitness, best first (ties by name); no noise. Items without fitness come last."""

    def __init__(self, note: str = "") -> None:
        self.note = note

    def rank(self, generation: int, items: Sequence[RankItem]) -> Ranking:
        _check_items(items)
        order = _by_fitness(items)
        return Ranking(generation, "fitness", order, order[0], order[-1], note=self.note or "ordered by fitness")


class SyntheticRanker:
    """A simulated person: orders by fitness with Boltzmann-rational noise and occasional mistakes.

    With ``beta=None`` the order is exactly by fitness. With a ``beta``, an
    order is sampled from the Plackett-Luce model with weights
    ``exp(beta * fitness)`` (the best is drawn with probability proportional
    to its weight, then the best of the rest, ...), so any pair is ordered
    correctly with probability ``sigmoid(beta * (f_a - f_b))``: the
    Boltzmann-rational model of imitation's ``SyntheticGatherer``. Then each
    adjacent pair, from the top, is swapped with probability
    ``mistake_rate``. Items without fitness always come last. The draw
    depends only on ``(seed, generation)``: the same call gives the same
    ranking.
    """

    def __init__(self, beta: float | None = None, mistake_rate: float = 0.0, seed: int = 0) -> None:
        if beta is not None and (not math.isfinite(beta) or beta < 0):
            raise ValueError(f"beta must be a finite number >= 0 or None, got {beta}")
        if not 0.0 <= mistake_rate <= 1.0:
            raise ValueError(f"mistake_rate must be in [0, 1], got {mistake_rate}")
        self.beta = beta
        self.mistake_rate = mistake_rate
        self.seed = seed

    def rank(self, generation: int, items: Sequence[RankItem]) -> Ranking:
        _check_items(items)
        rng = np.random.default_rng([self.seed, generation])
        if self.beta is None:
            order = list(_by_fitness(items))
        else:
            # Gumbel-max trick: sorting beta * f + Gumbel noise samples a Plackett-Luce order.
            keys = [self.beta * _fitness(it) + rng.gumbel() if _fitness(it) > -math.inf else -math.inf for it in items]
            ranked = sorted(zip(keys, items, strict=True), key=lambda p: (-p[0], p[1].name))
            order = [it.name for _, it in ranked]
        n_scored = sum(1 for it in items if _fitness(it) > -math.inf)
        for i in range(max(0, n_scored - 1)):
            if rng.random() < self.mistake_rate:
                order[i], order[i + 1] = order[i + 1], order[i]
        note = f"synthetic ranking by fitness (beta={self.beta}, mistake_rate={self.mistake_rate}, seed={self.seed})"
        return Ranking(generation, "synthetic", tuple(order), order[0], order[-1], note=note)


_RANKER_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "human": "person",
        "synthetic": "simulated person (ranking by the task's fitness, with noise)",
        "fitness": "automatic ranker (by the task's fitness; no person ranked this generation)",
        "vlm": "vision-language model (judging still frames of each policy: its judgement, not a measurement)",
    }
)


def preference_vars(ranking: Ranking, items: Sequence[RankItem]) -> dict[str, Any]:
    """Variables of ``prompts/preference_feedback.j2``: ranker, generation, best/worst (source, comment), comment."""
    by_name = {it.name: it for it in items}
    ranking.check_candidates(list(by_name))

    def part(name: str) -> dict[str, str]:
        return {"name": name, "source": by_name[name].source, "comment": ranking.comment(name)}

    return {
        "ranker": _RANKER_WORDS[ranking.who],
        "generation": ranking.generation,
        "best": part(ranking.best),
        "worst": part(ranking.worst),
        "comment": ranking.generation_comment,
    }
