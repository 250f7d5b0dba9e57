"""Errors of the LLM client layer, and the redaction applied to every error text.

Everything the client raises on purpose is an :class:`LLMError`; its message
says what happened, how many attempts were made and what to do about it, and
never contains an API key (see :func:`redact`). Backends signal a failed HTTP
call with :class:`BackendError`, which the client's retry loop turns into
either a retry or an :class:`LLMCallError`.
"""

from __future__ import annotations

import os
import re

from eureka_kit.errors import UserError

_KEY_PATTERN = re.compile(r"\b(sk|key|api[-_]?key)-[A-Za-z0-9_\-*.]{6,}", re.IGNORECASE)
_BEARER_PATTERN = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


def redact(text: str) -> str:
    """Remove API keys from ``text``: the value of ``OPENAI_API_KEY`` and anything shaped like ``sk-...``.

    OpenAI's own 401 message quotes part of the key (``sk-abc***xyz``), so
    server messages go through this before they reach an exception or a log.
    """
    key = os.environ.get("OPENAI_API_KEY", "")
    if len(key) >= 4:
        text = text.replace(key, "***")
    text = _BEARER_PATTERN.sub(r"\1***", text)
    return _KEY_PATTERN.sub(lambda m: m.group(1) + "-***", text)


class LLMError(UserError, RuntimeError):
    """Base class of every error the LLM layer raises on purpose."""


class LLMConfigError(LLMError):
    """The client cannot be built as asked (missing key or base_url, bad price table, bad option)."""


class ReplayError(LLMError):
    """A replay file is malformed, or has no answer for a request."""


class BackendError(LLMError):
    """One failed call of a backend, before retries are decided.

    ``retryable`` is true for rate limits (429), server errors (5xx), timeouts,
    dropped connections and malformed responses; ``retry_after`` is the wait
    in seconds the server asked for (``Retry-After``), if any.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(redact(reason))
        self.reason = redact(reason)
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after


class LLMCallError(LLMError):
    """A request failed for good: rejected (not retryable) or still failing when the retry budget ran out."""

    def __init__(self, request_id: str, attempts: int, cause: BackendError, *, exhausted: bool, detail: str) -> None:
        plural = "attempt" if attempts == 1 else "attempts"
        if exhausted:
            msg = f"LLM request {request_id!r} failed after {attempts} {plural} ({detail}). Last error: {cause.reason}"
        else:
            msg = f"LLM request {request_id!r} was rejected after {attempts} {plural} (not retryable): {cause.reason}"
            hint = _status_hint(cause.status_code)
            if hint:
                msg += f" {hint}"
        super().__init__(redact(msg))
        self.request_id = request_id
        self.attempts = attempts
        self.status_code = cause.status_code
        self.exhausted = exhausted


def _status_hint(status: int | None) -> str:
    if status == 401:
        return "Check the OPENAI_API_KEY environment variable (or the key your server expects)."
    if status == 403:
        return "The key has no access to this model or endpoint."
    if status == 404:
        return "Check the model name and base_url (an OpenAI-compatible base_url usually ends in /v1)."
    if status in (400, 422):
        return (
            "The request itself was refused (e.g. prompt too long for the context, "
            "or a parameter the model does not support)."
        )
    return ""


class BudgetExceeded(LLMError):
    """Raised *before* a call when the run's spend would reach its budget cap; no call was made."""

    def __init__(self, request_id: str, message: str) -> None:
        super().__init__(f"LLM request {request_id!r} not sent: {message}")
        self.request_id = request_id
