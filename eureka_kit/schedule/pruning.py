"""Equivalent-reward pruning: before training a program, compare it with the run's trained programs.

Every program is run **only in the sandbox** (the scoring child of
:mod:`eureka_kit.feedback.score_child`) on the same stored evaluation
trajectories of earlier candidates; the per-step totals it returns become
rewards on the trajectories' transitions, and
:mod:`eureka_kit.schedule.equivalence` measures the STARC-style distance
between the new program and each earlier one. At or under the threshold the
new program is *equivalent*: it is not trained, its record says which earlier
candidate it equals, and it reuses that candidate's trusted fitness.

Earlier programs are scored once per generation (lazily, by the first
candidate that needs them) and compared best first; at most
:data:`MAX_COMPARED` of them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from eureka_kit.feedback.score_child import score_trajectories
from eureka_kit.feedback.trajectory import Trajectory
from eureka_kit.run.records import CandidateRecord
from eureka_kit.schedule.equivalence import (
    Canonicalizer,
    canonical_distance,
    rewards_of,
    state_features,
    transitions_of,
)
from eureka_kit.tasks.spec import TaskSpec

MatchStatus = Literal["equivalent", "different", "skipped", "error"]

MAX_COMPARED = 8
"""Earlier programs compared with each new one (the best by fitness)."""

DEFAULT_GAMMA = 0.99
"""Discount of the shaping term ``gamma * Phi(s') - Phi(s)``: the PPO default of every shipped backend."""

MIN_TRANSITIONS = 64
"""Fewer stored transitions than this: the comparison is skipped (too little evidence)."""

EQUIVALENCE_FILE = "equivalence.json"


@dataclass(frozen=True)
class EquivalenceMatch:
    """The comparison of one new program with the earlier ones (``equivalence.json``)."""

    status: MatchStatus
    message: str
    equivalent_to: str | None = None
    distance: float | None = None
    fitness: float | None = None
    fitness_std: float | None = None
    distances: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "equivalent_to": self.equivalent_to,
            "distance": self.distance,
            "fitness": self.fitness,
            "fitness_std": self.fitness_std,
            "distances": dict(self.distances),
        }


class EquivalencePruner:
    """Compares new programs with ``earlier`` (record, source) pairs on ``trajectories``; see the module docstring."""

    def __init__(
        self,
        spec: TaskSpec,
        trajectories: Sequence[Trajectory],
        earlier: Sequence[tuple[CandidateRecord, str]],
        workdir: Path,
        *,
        threshold: float,
        gamma: float = DEFAULT_GAMMA,
    ) -> None:
        self.spec = spec
        self.threshold = threshold
        self.trajectories = [t.clip() for t in trajectories]
        usable = [(r, s) for r, s in earlier if r.fitness is not None and math.isfinite(r.fitness)]
        usable.sort(key=lambda rs: (-(rs[0].fitness or 0.0), rs[0].generation, rs[0].index))
        self.earlier = usable[:MAX_COMPARED]
        self.workdir = Path(workdir)
        self.canon: Canonicalizer | None = None
        self.count = 0
        if self.trajectories:
            features = [state_features(t.states) for t in self.trajectories]
            transitions = transitions_of(features, [t.terminated for t in self.trajectories])
            self.count = transitions.count
            if transitions.count >= MIN_TRANSITIONS:
                self.canon = Canonicalizer(transitions, gamma)
        self._lock = threading.Lock()
        self._earlier_forms: dict[str, np.ndarray] | None = None

    def canonical(self, source: str, workdir: Path) -> np.ndarray | str:
        """The canonical form of ``source`` on the stored transitions (scored in the sandbox), or why not."""
        assert self.canon is not None
        scores = score_trajectories(self.spec, source, self.trajectories, workdir)
        if not scores.ok:
            return scores.message
        return self.canon(rewards_of([s.total for s in scores.trajectories]))

    def _forms(self) -> dict[str, np.ndarray]:
        with self._lock:
            if self._earlier_forms is None:
                forms: dict[str, np.ndarray] = {}
                for record, source in self.earlier:
                    form = self.canonical(source, self.workdir / record.name.replace("/", "_"))
                    if not isinstance(form, str):
                        forms[record.name] = form
                self._earlier_forms = forms
            return self._earlier_forms

    def match(self, source: str, workdir: Path) -> EquivalenceMatch:
        """Is ``source`` equivalent to an earlier program? Never raises for a bad program."""
        if self.canon is None or not self.earlier:
            why = "no earlier trained program" if not self.earlier else f"{self.count} stored transitions"
            return EquivalenceMatch("skipped", f"equivalence check skipped: {why} (need {MIN_TRANSITIONS}+)")
        form = self.canonical(source, workdir)
        if isinstance(form, str):
            return EquivalenceMatch("error", f"equivalence check: the program could not be scored: {form}")
        distances = {name: round(canonical_distance(form, other), 6) for name, other in self._forms().items()}
        if not distances:
            return EquivalenceMatch("error", "equivalence check: no earlier program could be scored")
        name = min(distances, key=lambda n: distances[n])
        d = distances[name]
        if d > self.threshold:
            return EquivalenceMatch(
                "different",
                f"different from every earlier program (closest {name}: STARC distance {d:.3g} > {self.threshold})",
                distance=d,
                distances=MappingProxyType(distances),
            )
        record = next(r for r, _ in self.earlier if r.name == name)
        return EquivalenceMatch(
            "equivalent",
            f"this reward equals candidate {name} up to scale/shift/shaping (STARC distance {d:.3g} <= "
            f"{self.threshold} on {self.count} stored transitions); not trained, it reuses {name}'s result",
            equivalent_to=name,
            distance=d,
            fitness=record.fitness,
            fitness_std=record.fitness_std,
            distances=MappingProxyType(distances),
        )
