"""Executors: where a candidate's job (sandboxed training + trusted evaluation) runs.

``local`` runs it in this process's worker thread (the child process does the
heavy work); ``ray`` (:mod:`eureka_kit.executors.ray`, an optional extra) runs the same
:class:`~eureka_kit.executors.base.CandidateJob` as a Ray task on any node and brings the files
back (:mod:`eureka_kit.executors.shipping`). The loop only calls
:meth:`~eureka_kit.executors.base.Executor.run`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from eureka_kit.executors.base import CandidateJob, CandidateOutcome, Executor, run_candidate_job
from eureka_kit.executors.local import LocalExecutor
from eureka_kit.registry import Registry

if TYPE_CHECKING:
    from eureka_kit.executors.ray import RayOptions

__all__ = [
    "EXECUTORS",
    "CandidateJob",
    "CandidateOutcome",
    "Executor",
    "LocalExecutor",
    "make_executor",
    "run_candidate_job",
]

ExecutorFactory = Callable[[int, "RayOptions | None"], Executor]
"""``factory(workers, ray_options)`` -> an executor with room for ``workers`` candidates at once."""


def _ray(workers: int, ray: RayOptions | None) -> Executor:
    from eureka_kit.executors.ray import RayExecutor  # Ray itself is imported only when it is asked for

    return RayExecutor(workers, ray)


FACTORIES: Registry[ExecutorFactory] = Registry("executor", error=ValueError)
FACTORIES.register("local", lambda workers, ray: LocalExecutor(workers))
FACTORIES.register("ray", _ray)
EXECUTORS: tuple[str, ...] = tuple(FACTORIES.names())


def make_executor(name: str, workers: int, ray: RayOptions | None = None) -> Executor:
    """The executor called ``name`` with room for ``workers`` candidates at once; unknown names list the valid ones.

    ``ray`` holds the Ray executor's options (address, resources per candidate, retries); Ray itself is
    imported only here, when ``name`` is ``ray`` (:class:`~eureka_kit.executors.ray.RayUnavailable` without it).
    """
    return FACTORIES.get(name)(workers, ray)
