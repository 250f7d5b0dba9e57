"""Backend for OpenAI and any OpenAI-compatible server (vLLM, Ollama, LM Studio, llama.cpp, gateways).

Uses the official ``openai`` package's chat completions. The API key is read
from the ``OPENAI_API_KEY`` environment variable when the backend is built
and handed to the ``openai`` client only; it is never stored by this module,
logged, put in an error message or written to disk. For a ``base_url`` with
no key set, a dummy key is sent (local servers ignore it). Without a
``base_url``, ``OPENAI_BASE_URL`` is used if set, as the ``openai`` package does.

The ``openai`` client's own retries are off (``max_retries=0``): the
:class:`~eureka_kit.llm.client.LLMClient` retries, the same way for every
backend. Errors are translated into
:class:`~eureka_kit.llm.errors.BackendError` (retryable or not).
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from eureka_kit.llm.base import (
    BatchMode,
    Completion,
    Message,
    SamplingParams,
    estimate_prompt_tokens,
    estimate_tokens,
    split_by_weight,
    split_evenly,
)
from eureka_kit.llm.errors import BackendError, LLMConfigError

if TYPE_CHECKING:
    import openai  # imported lazily below: ~0.4 s that replay-only runs do not need

MaxTokensParam = Literal["auto", "max_tokens", "max_completion_tokens"]
DUMMY_KEY = "not-needed"
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})

MISSING_KEY_MESSAGE = (
    "The OpenAI backend needs either the OPENAI_API_KEY environment variable (to use api.openai.com) "
    "or a base_url (to use an OpenAI-compatible server such as vLLM, Ollama or LM Studio, "
    "e.g. http://localhost:8000/v1; no key is needed there). "
    "For an offline run, use the replay backend with a file of recorded responses."
)


class OpenAIBackend:
    """Chat completions from OpenAI or an OpenAI-compatible ``base_url``.

    ``batch_mode="n"`` asks for K samples in one request with the ``n``
    parameter (cheapest: the prompt is billed once); ``"concurrent"`` sends K
    requests of one sample each, in parallel, for servers that ignore ``n``.
    ``max_tokens_param="auto"`` sends ``max_completion_tokens`` to OpenAI
    (required by its reasoning models) and ``max_tokens`` to other servers.
    ``extra_body`` adds server-specific fields (e.g. ``{"reasoning_effort": "low"}``);
    it is part of the cache key.
    """

    kind = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        timeout_s: float = 300.0,
        batch_mode: BatchMode = "n",
        max_tokens_param: MaxTokensParam = "auto",
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if not model:
            raise LLMConfigError("the OpenAI backend needs a model name, e.g. 'gpt-4o-mini'")
        if batch_mode not in ("n", "concurrent"):
            raise LLMConfigError(f"batch_mode must be 'n' or 'concurrent', got {batch_mode!r}")
        if timeout_s <= 0:
            raise LLMConfigError(f"timeout_s must be > 0, got {timeout_s}")
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None  # the openai package's own convention
        has_key = bool(os.environ.get("OPENAI_API_KEY"))
        if not has_key and base_url is None:
            raise LLMConfigError(MISSING_KEY_MESSAGE)
        self._model = model
        self.base_url = base_url
        self.timeout_s = float(timeout_s)
        self._batch_mode: BatchMode = batch_mode
        if max_tokens_param == "auto":
            max_tokens_param = "max_completion_tokens" if base_url is None else "max_tokens"
        self.max_tokens_param: MaxTokensParam = max_tokens_param
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        import openai

        # The key goes straight from the environment into the openai client, never into an attribute of ours.
        self._client = openai.OpenAI(
            api_key=os.environ.get("OPENAI_API_KEY") or DUMMY_KEY,
            base_url=base_url,
            timeout=self.timeout_s,
            max_retries=0,
        )

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self._model!r}, base_url={self.base_url!r}, batch_mode={self._batch_mode!r})"

    @property
    def model(self) -> str:
        return self._model

    @property
    def batch_mode(self) -> BatchMode:
        return self._batch_mode

    @property
    def _where(self) -> str:
        return self.base_url or "api.openai.com"

    def cache_identity(self, request_id: str) -> Mapping[str, Any]:
        return {"kind": self.kind, "model": self._model, "extra_body": self.extra_body}

    def describe(self) -> Mapping[str, Any]:
        return {
            "llm": self.kind,
            "model": self._model,
            "base_url": self.base_url,
            "batch_mode": self._batch_mode,
            "timeout_s": self.timeout_s,
            "max_tokens_param": self.max_tokens_param,
            "extra_body": self.extra_body,
        }

    def _request_kwargs(self, messages: Sequence[Message], params: SamplingParams, n: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self._model, "messages": [m.to_api() for m in messages]}
        if n > 1:
            kwargs["n"] = n
        if params.temperature is not None:
            kwargs["temperature"] = params.temperature
        if params.top_p is not None:
            kwargs["top_p"] = params.top_p
        if params.max_tokens is not None:
            kwargs[self.max_tokens_param] = params.max_tokens
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if self.extra_body:
            kwargs["extra_body"] = dict(self.extra_body)
        return kwargs

    def complete(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        sample_indices: Sequence[int],
        request_id: str,
    ) -> list[Completion]:
        import openai

        n = len(sample_indices)
        try:
            response = self._client.chat.completions.create(**self._request_kwargs(messages, params, n))
        except openai.APIStatusError as e:
            raise self._status_error(e) from None
        except openai.APITimeoutError:
            raise BackendError(
                f"no response from {self._where} within the timeout of {self.timeout_s:g}s", retryable=True
            ) from None
        except openai.APIConnectionError as e:
            cause = e.__cause__ or e.__context__
            detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
            raise BackendError(f"connection to {self._where} failed{detail}", retryable=True) from None
        except (openai.APIResponseValidationError, ValueError) as e:
            raise BackendError(f"malformed response from {self._where}: {e}", retryable=True) from None
        return self._parse(response, messages, sample_indices)

    def _status_error(self, e: openai.APIStatusError) -> BackendError:
        status = e.status_code
        message = _server_message(e)
        retryable = status in _RETRYABLE_STATUS or status >= 500
        label = "rate limited" if status == 429 else "error"
        if _error_code(e) == "insufficient_quota":  # a 429 that waiting does not fix
            retryable = False
            label = "quota exhausted"
            message += " (the account has no credit or quota left; check billing, retrying will not help)"
        retry_after = parse_retry_after(e.response.headers) if retryable else None
        return BackendError(
            f"HTTP {status} ({label}) from {self._where}: {message}",
            retryable=retryable,
            status_code=status,
            retry_after=retry_after,
        )

    def _parse(self, response: Any, messages: Sequence[Message], sample_indices: Sequence[int]) -> list[Completion]:
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise BackendError(
                f"malformed response from {self._where}: no choices in {_short(response)}", retryable=True
            )
        choices = sorted(choices, key=lambda c: getattr(c, "index", 0) or 0)[: len(sample_indices)]
        texts: list[str] = []
        for choice in choices:
            message = getattr(choice, "message", None)
            content = getattr(message, "content", None)
            if content is not None and not isinstance(content, str):
                raise BackendError(f"malformed response from {self._where}: content is not text", retryable=True)
            texts.append(content or "")
        usage = getattr(response, "usage", None)
        prompt_total = getattr(usage, "prompt_tokens", None)
        completion_total = getattr(usage, "completion_tokens", None)
        estimated = not (isinstance(prompt_total, int) and isinstance(completion_total, int))
        if estimated:
            prompt_total = estimate_prompt_tokens(messages)
            completion_total = sum(estimate_tokens(t) for t in texts)
        assert isinstance(prompt_total, int) and isinstance(completion_total, int)
        prompt_parts = split_evenly(prompt_total, len(texts))
        completion_parts = split_by_weight(completion_total, [len(t) for t in texts])
        model = getattr(response, "model", None)
        model = model if isinstance(model, str) and model else self._model
        return [
            Completion(
                text=text,
                model=model,
                prompt_tokens=p,
                completion_tokens=c,
                finish_reason=getattr(choice, "finish_reason", None),
                sample_index=index,
                usage_estimated=estimated,
            )
            for text, p, c, choice, index in zip(
                texts, prompt_parts, completion_parts, choices, sample_indices, strict=False
            )
        ]


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); ``None`` if absent."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_code(e: openai.APIStatusError) -> str | None:
    body = e.body
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping) and isinstance(err.get("code"), str):
            return str(err["code"])
    return None


def _server_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping) and isinstance(err.get("message"), str):
            return _shorten(err["message"])
        if isinstance(err, str):
            return _shorten(err)
    try:
        text = e.response.text
    except Exception:
        text = ""
    return _shorten(text or e.message)


def _short(obj: Any) -> str:
    try:
        return _shorten(json.dumps(obj.model_dump()) if hasattr(obj, "model_dump") else repr(obj))
    except Exception:
        return _shorten(repr(obj))


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
