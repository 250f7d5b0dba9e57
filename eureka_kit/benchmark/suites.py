"""The benchmark's suites (which tasks) and budgets (how much search and training per task).

A suite is one registered entry, looked up by name (an unknown name lists the valid ones); a budget is a
named set of run options plus how the final evaluation retrains (evaluation seeds and episodes)::

    suite = get_suite("smoke")            # Suite(name="smoke", tasks=("HalfCheetah-Run-v1", ...))
    budget = get_budget("small")
    options = budget.run_options(total_steps=200_000)   # the task's default steps on its backend, divided
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from eureka_kit.errors import UsageError
from eureka_kit.registry import Registry

BudgetName = Literal["smoke", "small", "full"]


@dataclass(frozen=True)
class Suite:
    """A named list of registered task ids, benchmarked together."""

    name: str
    description: str
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class Budget:
    """Search and final-evaluation budget of every task of a benchmark.

    ``steps``: training env-steps of a candidate and of every final retraining; ``None`` takes the task's
    default on its backend divided by ``steps_divisor``. ``eval_seeds``: retrainings of the best program, the
    human reward and the sparse reward, each with its own seed. ``options``: further run options (every one
    can be overridden on the command line)."""

    name: BudgetName
    samples: int
    generations: int
    eval_seeds: int
    eval_episodes: int
    steps: int | None = None
    steps_divisor: int = 1
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def task_steps(self, default_steps: int) -> int:
        """Env-steps per training for a task whose default (on its backend) is ``default_steps``."""
        return self.steps if self.steps is not None else max(1, default_steps // self.steps_divisor)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "samples": self.samples,
            "generations": self.generations,
            "eval_seeds": self.eval_seeds,
            "eval_episodes": self.eval_episodes,
            "steps": self.steps,
            "steps_divisor": self.steps_divisor,
            "options": dict(self.options),
        }

    def run_options(self) -> dict[str, Any]:
        """The run options this budget sets (steps are set per task, see :meth:`task_steps`)."""
        return {
            "samples": self.samples,
            "generations": self.generations,
            "eval_episodes": self.eval_episodes,
            **self.options,
        }


_QUIET = {"videos": False}
"""No videos in a benchmark: nobody watches them, and they cost a rendering per candidate."""

BUDGETS: dict[str, Budget] = {
    "smoke": Budget(
        "smoke",
        samples=1,
        generations=1,
        eval_seeds=1,
        eval_episodes=1,
        steps=256,
        options={
            **_QUIET,
            "n_envs": 1,
            "workers": 1,
            "repair_rounds": 0,
            "backend": "sb3",
            "analyzer": False,
            "trajectory_check": False,
            "prune_equivalent": False,
        },
    ),
    "small": Budget("small", samples=4, generations=2, eval_seeds=2, eval_episodes=3, steps_divisor=10, options=_QUIET),
    "full": Budget("full", samples=16, generations=5, eval_seeds=5, eval_episodes=5, options=_QUIET),
}
"""``smoke``: one program, 256 env-steps (what CI runs); ``small``: a tenth of each task's training budget;
``full``: Eureka's protocol (16 samples, 5 generations, 5 evaluation seeds) at the task's own budget."""

SUITES: Registry[Suite] = Registry("benchmark suite", error=UsageError)
_BUDGETS: Registry[Budget] = Registry("benchmark budget", error=UsageError)
for _budget in BUDGETS.values():
    _BUDGETS.register(_budget.name, _budget)


def register_suite(suite: Suite) -> Suite:
    """Add a suite; a different suite under a taken name is an error."""
    if not suite.tasks:
        raise UsageError(f"benchmark suite {suite.name!r} has no tasks")
    return SUITES.register(suite.name, suite)


register_suite(
    Suite(
        "locomotion",
        "the MuJoCo runners: forward progress (m/s or m) of five bodies",
        ("HalfCheetah-Run-v1", "Hopper-Hop-v1", "Walker2d-Walk-v1", "Ant-Run-v1", "Humanoid-Run-v1"),
    )
)
register_suite(
    Suite(
        "games",
        "grid worlds and Crafter: success rates of sparse-goal games",
        (
            "DoorKey-Grid-v1",
            "LavaCrossing-Grid-v1",
            "UnlockPickup-Grid-v1",
            "Crafter-Wood-v1",
            "Crafter-EatCow-v1",
            "Crafter-WoodPickaxe-v1",
        ),
    )
)
register_suite(
    Suite(
        "smoke",
        "two fast tasks (a runner and a grid game) at tiny budgets: what CI runs with replayed answers",
        ("HalfCheetah-Run-v1", "LavaCrossing-Grid-v1"),
    )
)


def suite_names() -> list[str]:
    return SUITES.names()


def get_suite(name: str) -> Suite:
    """The registered suite ``name``; a ``ValueError`` listing the valid names otherwise."""
    return SUITES.get(name)


def get_budget(name: str) -> Budget:
    """The budget ``name`` (smoke, small, full); a ``ValueError`` listing the valid names otherwise."""
    return _BUDGETS.get(name)
