"""Executors: where a candidate's job (sandboxed training + trusted evaluation) runs.

``local`` runs it in this process's worker thread (the child process does the
heavy work); ``ray`` (:mod:`eureka_kit.executors.ray`, an optional extra) runs the same
:class:`~eureka_kit.executors.base.CandidateJob` as a Ray task on any node and brings the files
back (:mod:`eureka_kit.executors.shipping`). The loop only calls
:meth:`~eureka_kit.executors.base.Executor.run`.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from eureka_kit.executors.base import CandidateJob, CandidateOutcome, Executor, run_candidate_job
from eureka_kit.executors.local import LocalExecutor

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

EXECUTORS = ("local", "ray")


def make_executor(name: str, workers: int, ray: RayOptions | None = None) -> Executor:
    """The executor called ``name`` with room for ``workers`` candidates at once; unknown names list the valid ones.

    ``ray`` holds the Ray executor's options (address, resources per candidate, retries); Ray itself is
    imported only here, when ``name`` is ``ray`` (:class:`~eureka_kit.executors.ray.RayUnavailable` without it).
    """
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        from eureka_kit.executors.ray import RayExecutor

        return RayExecutor(workers, ray)
    close = difflib.get_close_matches(name, EXECUTORS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown executor {name!r}.{hint} Valid: {', '.join(EXECUTORS)}")
