"""The analyzer's records: a :class:`Finding` about a policy's episodes and the :class:`Analysis` that holds them.

Kinds (:data:`FindingKind`) are ordered by importance (:data:`KIND_ORDER`);
those in :data:`HACKING_SIGNS` are signs of reward hacking. Findings come
from :mod:`eureka_kit.feedback.behaviour` (what the policy does) and
:mod:`eureka_kit.feedback.hacking_signs` (how the reward is exploited), put
together by :func:`eureka_kit.feedback.analyzer.analyze`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

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
    "no_alive_term",
    "moves_backwards",
    "stands_still",
    "spins_or_flips",
    "reaches_then_leaves",
    "jitters",
    # games
    "dies",
    "loops_in_place",
    "never_leaves_start",
    # summaries
    "scoring_failed",
    "episode_end",
    "fitness",
    "component_shares",
    "achievements",
    "actions",
    "state",
]
KIND_ORDER: tuple[str, ...] = get_args(FindingKind)
"""Importance order among findings of the same severity."""

HACKING_SIGNS = frozenset(
    {"reward_up_fitness_down", "paid_while_failing", "ending_pays", "return_fitness_mismatch", "dominant_component"}
)
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

MAX_MESSAGE_CHARS = 500


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
