"""The record of one reward-program candidate and its typed outcome."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from eureka_kit.run.layout import candidate_name

CandidateStatus = Literal[
    "ok",
    "extract_error",
    "check_error",
    "train_error",
    "timeout",
    "out_of_memory",
    "killed",
    "eval_error",
    "trajectory_rejected",
    "stopped_early",
    "equivalent",
    "executor_error",
    "internal_error",
]
STATUSES: tuple[str, ...] = get_args(CandidateStatus)
RETRIED_ON_RESUME: tuple[CandidateStatus, ...] = ("internal_error",)
"""Statuses that say eureka-kit failed, not the program: ``eureka-kit resume`` runs these candidates again."""

MAX_MESSAGE_CHARS = 2000
PREPARED_FILE = "prepared.json"
"""Written in a candidate's folder when its program passed the checks and goes to training (a *valid* program)."""


def short(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Bound a message for records and prompts, keeping its end (tracebacks end with the cause)."""
    message = message.strip()
    if len(message) <= limit:
        return message
    return "[...]\n" + message[-(limit - 6) :]


@dataclass(frozen=True)
class PreparedCandidate:
    """A candidate whose program passed the checks and is ready to train (``prepared.json`` in its folder)."""

    generation: int
    index: int
    components: tuple[str, ...]
    repairs: int
    note: str
    """The critic's note (normalizations applied), kept as the record's message when it trains fine."""

    @property
    def name(self) -> str:
        return candidate_name(self.generation, self.index)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PreparedCandidate:
        return cls(
            generation=int(data["generation"]),
            index=int(data["index"]),
            components=tuple(str(c) for c in data.get("components", ())),
            repairs=int(data.get("repairs", 0)),
            note=str(data.get("note", "")),
        )


@dataclass(frozen=True)
class CandidateRecord:
    """One candidate's final outcome; ``candidate.json`` in its folder."""

    generation: int
    index: int
    status: CandidateStatus
    message: str
    fitness: float | None = None
    fitness_std: float | None = None
    components: tuple[str, ...] = ()
    repairs: int = 0
    train_wall_s: float | None = None
    env_steps_per_s: float | None = None
    backend: str | None = None
    """The training backend that trained it (``sb3``, ``cpu``, ``gpu``); ``None`` when it was never trained."""
    env_steps: int | None = None
    """Env-steps its training used in all (every rung of successive halving; 0 when it was not trained)."""
    rungs: int | None = None
    """Rungs of successive halving it finished (``--schedule halving``); ``None`` under the full schedule."""
    equivalent_to: str | None = None
    """Status ``equivalent``: the earlier candidate (``gen_001/cand_03``) whose trained result it reuses."""
    origin: str = "initial"
    """The request its program came from: ``initial`` (the generation's first K samples) or ``topup_<r>`` (the
    r-th draw of fresh samples under ``--min-valid``)."""
    repair_stop: str | None = None
    """How its repair conversation ended (``passed``, ``normalized``, ``same_program``, ``rounds_exhausted``,
    ``extract_error``); ``None`` when it never reached the critic."""

    @property
    def name(self) -> str:
        return candidate_name(self.generation, self.index)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CandidateRecord:
        data = dict(data)
        if data.get("status") not in STATUSES:
            raise ValueError(f"unknown candidate status {data.get('status')!r}")
        data["components"] = tuple(data.get("components", ()))
        return cls(**data)
