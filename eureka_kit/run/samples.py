"""Which LLM requests a generation's candidates came from: ``gen_XXX/samples.json``.

A generation starts with one request of K samples (``initial``: ``gen_XXX/initial`` or ``gen_XXX/reflection``);
under ``--min-valid`` it may draw fresh samples (``topup_<r>``: ``gen_XXX/topup_<r>``), whose candidates take the
next indices. Each draw is a :class:`SampleRound`, written once its answers arrived; ``closed`` says the
generation's candidate set is final. Resume reads the file to ask the same requests again (the LLM cache answers
them) and to rebuild the same candidates; a generation written before this file existed has its K candidates only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eureka_kit.files import UntrustedFileError, read_bounded_json
from eureka_kit.run.layout import gen_name
from eureka_kit.run.records import PREPARED_FILE, CandidateRecord
from eureka_kit.run.store import atomic_write_json

SAMPLES_FILE = "samples.json"
MAX_SAMPLES_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class SampleRound:
    """One LLM request of a generation and the candidates its samples became (``first`` .. ``first + n - 1``)."""

    origin: str
    """``initial`` or ``topup_<r>`` (r from 1)."""
    request_id: str
    first: int
    n: int

    @property
    def indices(self) -> range:
        return range(self.first, self.first + self.n)

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "request_id": self.request_id, "first": self.first, "n": self.n}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SampleRound:
        return cls(str(data["origin"]), str(data["request_id"]), int(data["first"]), int(data["n"]))


@dataclass(frozen=True)
class GenerationSamples:
    """The requests a generation drew so far, and whether its candidate set is final."""

    rounds: tuple[SampleRound, ...]
    closed: bool = False

    @property
    def total(self) -> int:
        """Samples drawn in all (every candidate index below it exists)."""
        return sum(r.n for r in self.rounds)

    @property
    def topups(self) -> int:
        return sum(1 for r in self.rounds if r.origin != "initial")

    def origin_of(self, index: int) -> str:
        """The origin of candidate ``index`` (``initial`` when no round holds it)."""
        return next((r.origin for r in self.rounds if index in r.indices), "initial")

    def with_round(self, round_: SampleRound) -> GenerationSamples:
        return GenerationSamples((*self.rounds, round_), self.closed)

    def to_json(self) -> dict[str, Any]:
        return {"rounds": [r.to_json() for r in self.rounds], "closed": self.closed, "samples": self.total}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenerationSamples:
        return cls(tuple(SampleRound.from_json(r) for r in data["rounds"]), bool(data.get("closed", False)))


def read_samples(gen_dir: Path) -> GenerationSamples | None:
    """The generation's ``samples.json``; ``None`` when absent or unreadable (the candidates are then K)."""
    path = gen_dir / SAMPLES_FILE
    if not path.is_file():
        return None
    try:
        return GenerationSamples.from_json(read_bounded_json(path, MAX_SAMPLES_FILE_BYTES))
    except (UntrustedFileError, KeyError, TypeError, ValueError):
        return None


def write_samples(gen_dir: Path, samples: GenerationSamples) -> None:
    gen_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(gen_dir / SAMPLES_FILE, samples.to_json())


def passed_critic(cand_dir: Path) -> bool:
    """Whether a candidate's program passed the checks and went to training (its ``prepared.json``)."""
    return (cand_dir / PREPARED_FILE).is_file()


def samples_summary(run_root: Path, generation: int, records: list[CandidateRecord]) -> dict[str, int]:
    """``summary.json``'s sample counts of a generation: samples drawn, top-up requests, programs that trained."""
    stored = read_samples(run_root / gen_name(generation))
    drawn = stored.total if stored is not None else len(records)
    return {
        "samples_drawn": max(drawn, len(records)),
        "topups": stored.topups if stored is not None else 0,
        "passed": sum(1 for r in records if passed_critic(run_root / r.name)),
    }
