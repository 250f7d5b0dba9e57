"""The record of one reward-program candidate and its typed outcome."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

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
    "executor_error",
]
STATUSES: tuple[str, ...] = get_args(CandidateStatus)

MAX_MESSAGE_CHARS = 2000


def short(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Bound a message for records and prompts, keeping its end (tracebacks end with the cause)."""
    message = message.strip()
    if len(message) <= limit:
        return message
    return "[...]\n" + message[-(limit - 6) :]


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

    @property
    def name(self) -> str:
        return f"gen_{self.generation:03d}/cand_{self.index:02d}"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CandidateRecord:
        data = dict(data)
        if data.get("status") not in STATUSES:
            raise ValueError(f"unknown candidate status {data.get('status')!r}")
        data["components"] = tuple(data.get("components", ()))
        return cls(**data)
