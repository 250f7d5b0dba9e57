"""Retries with exponential backoff and full jitter, honouring ``Retry-After``.

A failed attempt whose :class:`~eureka_kit.llm.errors.BackendError` is
retryable (429, 5xx, timeout, dropped connection, malformed response) is
tried again after a wait:

- the server's ``Retry-After`` seconds when it sent one (even above
  ``max_delay_s``: asking again sooner would only be refused again);
- otherwise a random wait in ``[0, min(max_delay_s, initial_delay_s * 2**k))``
  after the k-th failure ("full jitter", so parallel workers spread out).

It gives up with :class:`~eureka_kit.llm.errors.LLMCallError` after
``max_attempts`` attempts, or when the next wait would take the total waiting
past ``max_total_wait_s``; a non-retryable error (400, 401, 404, ...) ends at
once. The sleep function and random generator are injectable, so tests run
with tiny or recorded waits.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from eureka_kit.llm.errors import BackendError, LLMCallError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry one request."""

    max_attempts: int = 6
    """Attempts in all, the first included."""
    initial_delay_s: float = 1.0
    """Upper bound of the first backoff wait (doubles after each failure)."""
    max_delay_s: float = 30.0
    """Cap of one backoff wait (a server's ``Retry-After`` may exceed it)."""
    max_total_wait_s: float = 180.0
    """Give up rather than wait more than this in total for one request."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if min(self.initial_delay_s, self.max_delay_s, self.max_total_wait_s) < 0:
            raise ValueError("retry delays must be >= 0")

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Full-jitter wait after the ``failures``-th failure (1-based)."""
        cap = min(self.max_delay_s, self.initial_delay_s * 2 ** (failures - 1))
        return rng.uniform(0.0, cap)


@dataclass(frozen=True)
class Attempted:
    """A successful result and how many attempts it took."""

    attempts: int
    waited_s: float


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    request_id: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> tuple[T, Attempted]:
    """Call ``fn`` until it succeeds, retrying :class:`BackendError` s that are retryable.

    Returns ``(result, Attempted)``. Raises :class:`LLMCallError` when the error
    is not retryable or the policy's budget is spent; other exceptions (bugs)
    propagate unchanged.
    """
    rng = rng or random.Random()
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn(), Attempted(attempt, waited)
        except BackendError as err:
            if not err.retryable:
                raise LLMCallError(request_id, attempt, err, exhausted=False, detail="") from None
            if attempt >= policy.max_attempts:
                detail = f"retries exhausted: max_attempts={policy.max_attempts}, waited {waited:.1f}s"
                raise LLMCallError(request_id, attempt, err, exhausted=True, detail=detail) from None
            delay = err.retry_after if err.retry_after is not None else policy.backoff(attempt, rng)
            delay = max(0.0, delay)
            if waited + delay > policy.max_total_wait_s:
                asked = (
                    f"server asked to wait {delay:.1f}s" if err.retry_after is not None else f"next wait {delay:.1f}s"
                )
                detail = (
                    f"retry wait budget exhausted: {asked}, already waited {waited:.1f}s "
                    f"of max_total_wait_s={policy.max_total_wait_s:g}"
                )
                raise LLMCallError(request_id, attempt, err, exhausted=True, detail=detail) from None
            sleep(delay)
            waited += delay
