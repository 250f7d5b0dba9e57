"""The ``local`` executor: candidate jobs on this machine, at most ``workers`` at a time."""

from __future__ import annotations

import threading

from eureka_kit.executors.base import CandidateJob, CandidateOutcome, run_candidate_job


class LocalExecutor:
    """Runs each job in the calling thread, at most ``workers`` at once (a semaphore); the child does the work."""

    name = "local"

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._slots = threading.BoundedSemaphore(workers)

    def run(self, job: CandidateJob) -> CandidateOutcome:
        with self._slots:
            return run_candidate_job(job)

    def close(self) -> None:
        pass
