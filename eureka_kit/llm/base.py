"""Records and the backend protocol of the LLM client layer.

A backend answers one request: a list of :class:`Message`, the
:class:`SamplingParams` and the sample indices wanted, and returns one
:class:`Completion` per index. Everything around it (retries, cache, cost,
budget, call log) is done once, by :class:`eureka_kit.llm.client.LLMClient`,
for every backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from eureka_kit.errors import UsageError

Role = Literal["system", "user", "assistant"]
BatchMode = Literal["n", "concurrent"]
"""How K samples are fetched: one request with the ``n`` parameter, or K concurrent requests of one sample each."""

_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise UsageError(f"message role must be one of {', '.join(_ROLES)}, got {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError(f"message content must be a str, got {type(self.content).__name__}")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class SamplingParams:
    """Sampling parameters of a request; ``None`` leaves a parameter to the server's default.

    ``max_tokens`` caps the length of each completion (sent as
    ``max_completion_tokens`` to api.openai.com and as ``max_tokens`` to
    compatible servers). ``seed`` is best effort: few servers honour it.
    """

    temperature: float | None = 1.0
    max_tokens: int | None = 4096
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.temperature is not None and not (0.0 <= self.temperature <= 2.0):
            raise UsageError(f"temperature must be in [0, 2], got {self.temperature}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise UsageError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.top_p is not None and not (0.0 < self.top_p <= 1.0):
            raise UsageError(f"top_p must be in (0, 1], got {self.top_p}")
        object.__setattr__(self, "stop", tuple(self.stop))

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready form (part of the cache key)."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class Completion:
    """One sampled answer.

    ``prompt_tokens``/``completion_tokens`` are the server's counts (an
    estimate of chars/4 when ``usage_estimated``; when one request returned
    several samples the request's counts are split among them, sums kept).
    ``cost_usd`` is the *new* spend of this completion: 0.0 when it came from
    the cache (``cached``), ``None`` when the model has no price in the table.
    ``finish_reason`` is the server's (``"stop"``, ``"length"`` when cut at
    ``max_tokens``, ...), ``None`` if it gave none.
    """

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None = None
    cached: bool = False
    finish_reason: str | None = None
    sample_index: int = 0
    usage_estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@runtime_checkable
class Backend(Protocol):
    """What the client needs from a backend (OpenAI-compatible HTTP, replay, or your own).

    ``complete`` is called with the sample indices still missing for one
    request and returns completions for a prefix of them, in order (at least
    one; fewer than asked is allowed, e.g. a server that ignores ``n``, and the
    client asks again for the rest). It raises
    :class:`~eureka_kit.llm.errors.BackendError` for a failed call; it never
    retries by itself. In ``"concurrent"`` batch mode it is called with one
    index at a time, from worker threads.
    """

    @property
    def kind(self) -> str:
        """Backend name, e.g. ``"openai"`` or ``"replay"``."""
        ...

    @property
    def model(self) -> str:
        """The model requested (used for prices when a completion reports none)."""
        ...

    @property
    def batch_mode(self) -> BatchMode: ...

    def cache_identity(self, request_id: str) -> Mapping[str, Any]:
        """What besides messages, params and sample index decides the answer (part of the cache key; no secrets)."""
        ...

    def describe(self) -> Mapping[str, Any]:
        """JSON-ready settings for a run's config.json (no secrets)."""
        ...

    def complete(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        sample_indices: Sequence[int],
        request_id: str,
    ) -> list[Completion]: ...


def estimate_tokens(text: str) -> int:
    """A rough token count (chars / 4, rounded up), for servers without ``usage`` and for budget checks."""
    return math.ceil(len(text) / 4)


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    """Rough prompt size: the messages' text plus a few tokens of chat framing each."""
    return sum(estimate_tokens(m.content) + 4 for m in messages)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers that sum to it (the remainder goes to the first ones)."""
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def split_by_weight(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (even split if all are 0); the parts sum to ``total``."""
    if sum(weights) <= 0:
        return split_evenly(total, len(weights))
    raw = [total * w / sum(weights) for w in weights]
    parts = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts
