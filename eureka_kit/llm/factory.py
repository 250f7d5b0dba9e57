"""Build an :class:`~eureka_kit.llm.client.LLMClient` for a backend by name, with its cache, prices and call log."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from eureka_kit.llm.accounting import Budget, CallRecord, append_jsonl, usage_from_log
from eureka_kit.llm.base import Backend, BatchMode
from eureka_kit.llm.cache import ResponseCache
from eureka_kit.llm.client import DEFAULT_MODEL, LLMClient
from eureka_kit.llm.errors import LLMConfigError
from eureka_kit.llm.openai_backend import MaxTokensParam, OpenAIBackend
from eureka_kit.llm.pricing import PriceTable
from eureka_kit.llm.replay import ReplayBackend
from eureka_kit.llm.retry import RetryPolicy


def make_client(
    llm: Literal["openai", "replay"] = "openai",
    *,
    model: str | None = None,
    base_url: str | None = None,
    replay_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    price_table: PriceTable | str | Path | None = None,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    timeout_s: float = 300.0,
    batch_mode: BatchMode = "n",
    max_concurrency: int = 8,
    max_tokens_param: MaxTokensParam = "auto",
    retry: RetryPolicy | None = None,
    calls_log: str | Path | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LLMClient:
    """Build an :class:`LLMClient` for the ``openai`` (or compatible) backend or the ``replay`` backend.

    - ``model``: for ``openai``, defaults to :data:`DEFAULT_MODEL`; ignored by replay.
    - ``base_url``: an OpenAI-compatible server (``http://localhost:8000/v1``); ``None`` is api.openai.com,
      which needs ``OPENAI_API_KEY`` in the environment (the only place a key is read from).
    - ``replay_path``: the JSONL file of the ``replay`` backend (required there).
    - ``cache_dir``: folder of the response cache; ``None`` disables caching.
    - ``price_table``: a :class:`PriceTable`, or a JSON file merged over the default table; ``None``: default.
    - ``budget_usd`` / ``budget_tokens``: caps on new spend (see :class:`LLMClient`).
    - ``batch_mode``: ``"n"`` (one request with ``n``) or ``"concurrent"`` (K parallel requests,
      at most ``max_concurrency`` at once) for servers that ignore ``n``.
    - ``calls_log``: a JSONL file to which every :class:`CallRecord` is appended (``CallRecord.to_json``);
      ``on_call``: a callback receiving every record (both may be given). What an existing ``calls_log``
      already records counts against the budget, so a resumed run (or a run whose fitness judge asked first)
      keeps one budget.
    """
    backend: Backend
    if llm == "openai":
        backend = OpenAIBackend(
            model or DEFAULT_MODEL,
            base_url=base_url,
            timeout_s=timeout_s,
            batch_mode=batch_mode,
            max_tokens_param=max_tokens_param,
        )
    elif llm == "replay":
        if replay_path is None:
            raise LLMConfigError('llm=\'replay\' needs replay_path: a JSONL file of {"key": ..., "text": ...} lines')
        backend = ReplayBackend(replay_path)
    else:
        raise LLMConfigError(f"unknown llm backend {llm!r}; valid: 'openai', 'replay'")

    if price_table is None or isinstance(price_table, PriceTable):
        prices = price_table or PriceTable.default()
    else:
        prices = PriceTable.default().merged(PriceTable.load(price_table))
    return LLMClient(
        backend,
        cache=ResponseCache(cache_dir) if cache_dir is not None else None,
        prices=prices,
        budget=Budget(max_usd=budget_usd, max_tokens=budget_tokens),
        retry=retry,
        max_concurrency=max_concurrency,
        on_call=_hooks(calls_log, on_call),
        sleep=sleep,
        spent=usage_from_log(calls_log) if calls_log is not None else None,
    )


def _hooks(
    calls_log: str | Path | None, on_call: Callable[[CallRecord], None] | None
) -> Callable[[CallRecord], None] | None:
    hooks = [h for h in (append_jsonl(calls_log) if calls_log is not None else None, on_call) if h is not None]
    if not hooks:
        return None

    def call_all(record: CallRecord) -> None:
        for hook in hooks:
            hook(record)

    return call_all
