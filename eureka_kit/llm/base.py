"""Records and the backend protocol of the LLM client layer.

A backend answers one request: a list of :class:`Message`, the
:class:`SamplingParams` and the sample indices wanted, and returns one
:class:`Completion` per index. Everything around it (retries, cache, cost,
budget, call log) is done once, by :class:`eureka_kit.llm.client.LLMClient`,
for every backend.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from eureka_kit.errors import UsageError

Role = Literal["system", "user", "assistant"]
BatchMode = Literal["n", "concurrent"]
"""How K samples are fetched: one request with the ``n`` parameter, or K concurrent requests of one sample each."""

_ROLES = ("system", "user", "assistant")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImagePart:
    """A PNG image in a message, sent as an OpenAI-compatible ``image_url`` content part (a base64 data URL).

    In the response cache and the logs an image is its sha256 and size
    (:meth:`to_dict`), never its base64 text; only the request sent to the
    server carries the bytes (:meth:`to_api`).
    """

    png: bytes
    detail: Literal["auto", "low", "high"] = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.png, bytes) or not self.png.startswith(PNG_SIGNATURE) or len(self.png) < 24:
            raise ValueError("an image part must be the bytes of a PNG file")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, from the PNG header."""
        width, height = struct.unpack(">II", self.png[16:24])
        return int(width), int(height)

    def to_dict(self) -> dict[str, Any]:
        """The logged and cache-key form: hash, size and detail (no image data)."""
        width, height = self.size
        return {"type": "image", "sha256": self.sha256, "bytes": len(self.png), "width": width, "height": height}

    def to_api(self) -> dict[str, Any]:
        """The content part sent to an OpenAI-compatible server."""
        url = "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")
        return {"type": "image_url", "image_url": {"url": url, "detail": self.detail}}


@dataclass(frozen=True)
class TextPart:
    """Text between images in a message with :attr:`Message.parts`."""

    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}

    to_api = to_dict


Part = TextPart | ImagePart


@dataclass(frozen=True)
class Message:
    """One chat message: ``content`` text, then optional ``parts`` (text and images, in order).

    A message without parts is sent as plain text, as before; one with parts
    is sent as a list of content parts (``content`` first, as a text part).
    """

    role: Role
    content: str
    parts: tuple[Part, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise UsageError(f"message role must be one of {', '.join(_ROLES)}, got {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError(f"message content must be a str, got {type(self.content).__name__}")
        object.__setattr__(self, "parts", tuple(self.parts))
        for part in self.parts:
            if not isinstance(part, (TextPart, ImagePart)):
                raise TypeError(f"message parts must be TextPart or ImagePart, got {type(part).__name__}")

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ImagePart))

    def to_dict(self) -> dict[str, Any]:
        """The logged and cache-key form (images by hash)."""
        if not self.parts:
            return {"role": self.role, "content": self.content}
        parts = [TextPart(self.content), *self.parts] if self.content else list(self.parts)
        return {"role": self.role, "content": [p.to_dict() for p in parts]}

    def to_api(self) -> dict[str, Any]:
        """The form sent to an OpenAI-compatible server (images as base64 data URLs)."""
        if not self.parts:
            return {"role": self.role, "content": self.content}
        parts = [TextPart(self.content), *self.parts] if self.content else list(self.parts)
        return {"role": self.role, "content": [p.to_api() for p in parts]}


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


def estimate_image_tokens(width: int, height: int) -> int:
    """OpenAI's published count for a high-detail image: 85 + 170 per 512-px tile after scaling
    (to fit 2048 x 2048, then the short side to at most 768). Other servers count differently."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def estimate_prompt_tokens(messages: Sequence[Message]) -> int:
    """Rough prompt size: the messages' text and images plus a few tokens of chat framing each."""
    total = 0
    for m in messages:
        total += estimate_tokens(m.content) + 4
        for p in m.parts:
            total += estimate_tokens(p.text) if isinstance(p, TextPart) else estimate_image_tokens(*p.size)
    return total


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
