"""Executors: where a candidate's job (sandboxed training + trusted evaluation) runs.

``local`` runs it in this process's worker thread (the child process does the
heavy work); a cluster executor (Ray) runs the same :class:`~eureka_kit.executors.base.CandidateJob`
on another node and brings the files back. The loop only calls
:meth:`~eureka_kit.executors.base.Executor.run`.
"""

from __future__ import annotations

import difflib

from eureka_kit.executors.base import CandidateJob, CandidateOutcome, Executor, run_candidate_job
from eureka_kit.executors.local import LocalExecutor

__all__ = [
    "EXECUTORS",
    "CandidateJob",
    "CandidateOutcome",
    "Executor",
    "LocalExecutor",
    "make_executor",
    "run_candidate_job",
]

EXECUTORS = ("local",)


def make_executor(name: str, workers: int) -> Executor:
    """The executor called ``name`` with room for ``workers`` candidates at once; unknown names list the valid ones."""
    if name == "local":
        return LocalExecutor(workers)
    close = difflib.get_close_matches(name, EXECUTORS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown executor {name!r}.{hint} Valid: {', '.join(EXECUTORS)}")
