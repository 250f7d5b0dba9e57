"""LLM client layer: one backend protocol (OpenAI-compatible HTTP, replay) with retries, cache, cost and budget.

Start with :func:`make_client` and :meth:`LLMClient.sample`; see
:mod:`eureka_kit.llm.client` for an example.
"""

from eureka_kit.llm.accounting import Budget, CallRecord, CallStatus, Usage, append_jsonl
from eureka_kit.llm.base import Backend, BatchMode, Completion, ImagePart, Message, Role, SamplingParams, TextPart
from eureka_kit.llm.cache import ResponseCache, cache_key
from eureka_kit.llm.client import DEFAULT_MODEL, LLMClient
from eureka_kit.llm.errors import (
    BackendError,
    BudgetExceeded,
    LLMCallError,
    LLMConfigError,
    LLMError,
    ReplayError,
    redact,
)
from eureka_kit.llm.factory import make_client
from eureka_kit.llm.openai_backend import OpenAIBackend
from eureka_kit.llm.pricing import DEFAULT_PRICES, ModelPrice, PriceTable
from eureka_kit.llm.replay import ReplayBackend, request_kind
from eureka_kit.llm.retry import RetryPolicy, call_with_retry

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "Backend",
    "BackendError",
    "BatchMode",
    "Budget",
    "BudgetExceeded",
    "CallRecord",
    "CallStatus",
    "Completion",
    "ImagePart",
    "LLMCallError",
    "LLMClient",
    "LLMConfigError",
    "LLMError",
    "Message",
    "ModelPrice",
    "OpenAIBackend",
    "PriceTable",
    "ReplayBackend",
    "ReplayError",
    "ResponseCache",
    "RetryPolicy",
    "Role",
    "SamplingParams",
    "TextPart",
    "Usage",
    "append_jsonl",
    "cache_key",
    "call_with_retry",
    "make_client",
    "redact",
    "request_kind",
]
