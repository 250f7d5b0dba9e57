"""What the loop needs from the schedule, built from the run's config: the halving plan and the pruner."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eureka_kit.config import RunConfig
from eureka_kit.errors import UsageError
from eureka_kit.feedback.card_check import TrajectoryStore
from eureka_kit.files import atomic_write_json
from eureka_kit.run.layout import REWARD_FILE, gen_name
from eureka_kit.run.records import PREPARED_FILE, CandidateRecord
from eureka_kit.schedule.halving import HalvingPlan, make_plan
from eureka_kit.schedule.pruning import EQUIVALENCE_FILE, EquivalencePruner
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.backends import backend_names, get_backend

__all__ = ["PREPARED_FILE", "equivalent_record", "halving_plan", "make_pruner"]


def halving_plan(config: RunConfig, backend: str, total_steps: int) -> HalvingPlan | None:
    """The run's rung budgets under ``--schedule halving`` (``None`` for ``full``); a backend that cannot resume
    from a checkpoint is a clear error naming the ones that can."""
    if config.schedule != "halving":
        return None
    if not get_backend(backend).resumable:
        able = [b for b in backend_names() if get_backend(b).resumable]
        raise UsageError(
            f"--schedule halving needs a training backend that resumes from checkpoints; {backend!r} does not. "
            f"Valid: {', '.join(able)}"
        )
    return make_plan(total_steps, config.rungs, config.reduction_factor, config.grace_steps)


def make_pruner(
    config: RunConfig,
    spec: TaskSpec,
    run_root: Path,
    generation: int,
    store: TrajectoryStore,
    history: Sequence[CandidateRecord],
) -> EquivalencePruner:
    """The pruner of a generation: the stored trajectories and the programs trained in earlier generations."""
    earlier = [(r, (run_root / r.name / REWARD_FILE).read_text()) for r in history if r.status == "ok"]
    return EquivalencePruner(
        spec,
        [s.trajectory for s in store.items],
        earlier,
        run_root / gen_name(generation) / "equivalence",
        threshold=config.equivalence_threshold,
    )


def equivalent_record(
    pruner: EquivalencePruner | None,
    source: str,
    cand: Path,
    generation: int,
    index: int,
    components: tuple[str, ...],
    repairs: int,
) -> CandidateRecord | None:
    """The record of a program equivalent to an earlier trained one (``equivalence.json`` written), else ``None``."""
    if pruner is None:
        return None
    match = pruner.match(source, cand / "equivalence")
    atomic_write_json(cand / EQUIVALENCE_FILE, match.to_json())
    if match.status != "equivalent":
        return None
    return CandidateRecord(
        generation, index, "equivalent", match.message, fitness=match.fitness, fitness_std=match.fitness_std,
        components=components, repairs=repairs, env_steps=0, equivalent_to=match.equivalent_to,
    )  # fmt: skip
