"""The LLM client: retries, cache, cost, budget and a call log around any backend.

::

    from eureka_kit.llm import Message, SamplingParams, make_client

    client = make_client("openai", model="gpt-4o-mini", cache_dir="runs/x/llm_cache", budget_usd=2.0)
    answers = client.sample(
        [Message("system", "You write reward functions."), Message("user", prompt)],
        n=4,
        request_id="gen_001/initial",
        params=SamplingParams(temperature=1.0),
    )
    client.totals()                     # run totals; client.totals("gen_001/") for one generation

One :meth:`LLMClient.sample` call asks for K samples of one request. For each
sample index the cache is looked up first; only the missing samples go to the
backend, either in one request with ``n`` or as concurrent single-sample
requests (the backend's ``batch_mode``). Every backend request is retried by
:func:`~eureka_kit.llm.retry.call_with_retry`, priced with the
:class:`~eureka_kit.llm.pricing.PriceTable`, cached, and logged as a
:class:`CallRecord` (kept on the client and passed to the ``on_call`` hook).

Budget: before each backend request, if the new spend so far plus the
estimated prompt of the request would reach the cap (USD and/or tokens),
:class:`~eureka_kit.llm.errors.BudgetExceeded` is raised and nothing is sent.
A completion's length is unknown in advance, so the spend can pass the cap by
the output of the last request (or batch of concurrent requests). Cached
answers are free and never blocked.

One client serves every candidate thread of a run: its records and totals
change under one lock (the ``on_call`` hooks run under it too, so call-log
lines keep the order of the records); the cache is files written atomically;
the replay backend keeps no cursor (an answer depends on the request id only).
Requests from several threads that pass the budget check together can each
pass the cap by their output.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eureka_kit.llm.accounting import Budget, CallRecord, Usage
from eureka_kit.llm.base import Backend, Completion, Message, SamplingParams, estimate_prompt_tokens
from eureka_kit.llm.cache import ResponseCache, cache_key
from eureka_kit.llm.errors import BackendError, BudgetExceeded, LLMCallError, LLMConfigError, LLMError
from eureka_kit.llm.pricing import PriceTable
from eureka_kit.llm.retry import Attempted, RetryPolicy, call_with_retry

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"


class LLMClient:
    """Samples completions from a backend with retries, a response cache, cost accounting and a budget cap.

    ``sleep`` and ``rng`` drive the retry waits (inject them in tests).
    ``on_call`` receives every :class:`CallRecord` as it happens (calls are
    serialized, possibly from worker threads); :attr:`records` keeps them all.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        cache: ResponseCache | None = None,
        prices: PriceTable | None = None,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        on_call: Callable[[CallRecord], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        spent: Usage | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise LLMConfigError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self.backend = backend
        self.cache = cache
        self.prices = prices if prices is not None else PriceTable.default()
        self.budget = budget or Budget()
        self.retry = retry or RetryPolicy()
        self.max_concurrency = max_concurrency
        self.on_call = on_call
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []
        self._usage = spent or Usage()
        self._warned_short_n = False
        if self.budget.max_usd is not None and self.prices.lookup(backend.model) is None:
            raise LLMConfigError(
                f"budget_usd={self.budget.max_usd} was given but model {backend.model!r} has no price in the price "
                f"table, so its cost cannot be counted. Add the model to the price table (USD per 1M input/output "
                f"tokens) or cap tokens with budget_tokens instead."
            )

    def __repr__(self) -> str:
        return f"LLMClient({self.backend!r}, cache={self.cache.directory if self.cache else None})"

    # -- public API ---------------------------------------------------------------------------------

    def sample(
        self,
        messages: Sequence[Message],
        *,
        request_id: str,
        n: int = 1,
        params: SamplingParams | None = None,
    ) -> list[Completion]:
        """``n`` completions of one request, in sample order (``result[i].sample_index == i``).

        ``request_id`` names the request in logs and errors (``"gen_001/initial"``,
        ``"gen_000/cand_02/repair_1"``); the replay backend answers by it.
        Raises :class:`BudgetExceeded` before a call that would reach the
        budget, :class:`LLMCallError` when a request fails for good (samples
        already received stay cached, so asking again only fetches the rest),
        :class:`~eureka_kit.llm.errors.ReplayError` when a replay file has no answer.
        """
        msgs = tuple(messages)
        if not msgs:
            raise ValueError("sample() needs at least one message")
        if not all(isinstance(m, Message) for m in msgs):
            raise TypeError("messages must be eureka_kit.llm.Message records")
        if not request_id:
            raise ValueError("request_id must be a non-empty string such as 'gen_001/initial'")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        params = params or SamplingParams()
        identity = dict(self.backend.cache_identity(request_id))
        materials = [self._material(identity, msgs, params, i) for i in range(n)]
        keys = [cache_key(m) for m in materials]

        results: dict[int, Completion] = {}
        if self.cache is not None:
            for i, key in enumerate(keys):
                hit = self.cache.get(key)
                if hit is not None:
                    results[i] = dataclasses.replace(hit, cached=True, cost_usd=0.0, sample_index=i)
        if results:
            hits = [results[i] for i in sorted(results)]
            self._record(
                CallRecord(
                    request_id=request_id,
                    model=hits[0].model,
                    sample_indices=tuple(sorted(results)),
                    status="cached",
                    prompt_tokens=sum(c.prompt_tokens for c in hits),
                    completion_tokens=sum(c.completion_tokens for c in hits),
                    cost_usd=0.0,
                    images=_images(msgs),
                    image_bytes=_image_bytes(msgs),
                )
            )

        missing = [i for i in range(n) if i not in results]
        if missing and self.backend.batch_mode == "concurrent":
            self._fetch_concurrent(msgs, params, missing, request_id, keys, materials, results)
        elif missing:
            self._fetch_batched(msgs, params, missing, request_id, keys, materials, results)
        return [results[i] for i in range(n)]

    @property
    def records(self) -> tuple[CallRecord, ...]:
        """Every call record so far, in order."""
        with self._lock:
            return tuple(self._records)

    @property
    def model(self) -> str:
        """The backend's model name."""
        return self.backend.model

    def totals(self, prefix: str | None = None) -> Usage:
        """Totals of all calls, or of the calls whose request id starts with ``prefix`` (e.g. ``"gen_001/"``)."""
        with self._lock:
            if prefix is None:
                return self._usage
            records = [r for r in self._records if r.request_id.startswith(prefix)]
        total = Usage()
        for r in records:
            total = total.add(r)
        return total

    def describe(self) -> dict[str, Any]:
        """JSON-ready settings for a run's config.json (no secrets)."""
        return {
            **self.backend.describe(),
            "cache_dir": str(self.cache.directory) if self.cache else None,
            "budget_usd": self.budget.max_usd,
            "budget_tokens": self.budget.max_tokens,
            "retry": dataclasses.asdict(self.retry),
            "max_concurrency": self.max_concurrency,
        }

    # -- internals ----------------------------------------------------------------------------------

    @staticmethod
    def _material(
        identity: Mapping[str, Any], msgs: Sequence[Message], params: SamplingParams, index: int
    ) -> dict[str, Any]:
        return {
            "backend": dict(identity),
            "messages": [m.to_dict() for m in msgs],
            "params": params.to_dict(),
            "sample_index": index,
        }

    def _fetch_batched(
        self,
        msgs: Sequence[Message],
        params: SamplingParams,
        missing: list[int],
        request_id: str,
        keys: list[str],
        materials: list[dict[str, Any]],
        results: dict[int, Completion],
    ) -> None:
        remaining = missing
        while remaining:
            self._check_budget(request_id, msgs, remaining, requests=1)
            got = self._request(msgs, params, remaining, request_id, keys, materials)
            if len(got) < len(remaining) and self._first_short_n():
                log.warning(
                    "%r returned %d of %d samples asked with n; it probably ignores 'n'. Asking again for the rest; "
                    "batch_mode='concurrent' avoids the extra round trips.",
                    self.backend,
                    len(got),
                    len(remaining),
                )
            for c in got:
                results[c.sample_index] = c
            remaining = remaining[len(got) :]

    def _fetch_concurrent(
        self,
        msgs: Sequence[Message],
        params: SamplingParams,
        missing: list[int],
        request_id: str,
        keys: list[str],
        materials: list[dict[str, Any]],
        results: dict[int, Completion],
    ) -> None:
        self._check_budget(request_id, msgs, missing, requests=len(missing))
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(missing))) as pool:
            futures = [pool.submit(self._request, msgs, params, [i], request_id, keys, materials) for i in missing]
            errors: list[LLMError] = []
            for future in futures:
                try:
                    for c in future.result():
                        results[c.sample_index] = c
                except LLMError as e:
                    errors.append(e)
        if errors:
            raise errors[0]

    def _request(
        self,
        msgs: Sequence[Message],
        params: SamplingParams,
        indices: list[int],
        request_id: str,
        keys: list[str],
        materials: list[dict[str, Any]],
    ) -> list[Completion]:
        """One backend request (with retries) for ``indices``; returns priced completions, cached and logged."""

        def attempt() -> list[Completion]:
            got = self.backend.complete(msgs, params, indices, request_id)
            if not got:
                raise BackendError(f"{self.backend!r} returned no completions", retryable=True)
            return got[: len(indices)]

        start = time.monotonic()
        try:
            got, info = call_with_retry(
                attempt, policy=self.retry, request_id=request_id, sleep=self._sleep, rng=self._rng
            )
        except LLMCallError as e:
            self._record(
                CallRecord(
                    request_id=request_id,
                    model=self.backend.model,
                    sample_indices=tuple(indices),
                    status="error",
                    latency_s=time.monotonic() - start,
                    attempts=e.attempts,
                    error=str(e),
                    images=_images(msgs),
                    image_bytes=_image_bytes(msgs),
                )
            )
            raise
        latency = time.monotonic() - start
        priced = [self._priced(c, i) for c, i in zip(got, indices, strict=False)]
        # the paid call is logged before its answers are cached: a process killed in between loses no accounting
        # (the answers are fetched, and logged, again after a resume) and never leaves a cached answer unpaid
        self._record(
            dataclasses.replace(
                self._ok_record(request_id, priced, latency, info), images=_images(msgs), image_bytes=_image_bytes(msgs)
            )
        )
        if self.cache is not None:
            for c in priced:
                self.cache.put(keys[c.sample_index], materials[c.sample_index], dataclasses.replace(c, cost_usd=None))
        return priced

    def _priced(self, c: Completion, index: int) -> Completion:
        price = self.prices.lookup(c.model, self.backend.model)
        cost = None if price is None else price.cost(c.prompt_tokens, c.completion_tokens)
        return dataclasses.replace(c, cost_usd=cost, cached=False, sample_index=index)

    def _ok_record(self, request_id: str, got: list[Completion], latency: float, info: Attempted) -> CallRecord:
        costs = [c.cost_usd for c in got]
        return CallRecord(
            request_id=request_id,
            model=got[0].model,
            sample_indices=tuple(c.sample_index for c in got),
            status="ok",
            prompt_tokens=sum(c.prompt_tokens for c in got),
            completion_tokens=sum(c.completion_tokens for c in got),
            cost_usd=None if any(x is None for x in costs) else sum(x for x in costs if x is not None),
            latency_s=latency,
            attempts=info.attempts,
        )

    def _first_short_n(self) -> bool:
        """True the first time a backend returned fewer samples than asked (warned once, whatever the thread)."""
        with self._lock:
            first, self._warned_short_n = not self._warned_short_n, True
        return first

    def _check_budget(self, request_id: str, msgs: Sequence[Message], indices: list[int], *, requests: int) -> None:
        if not self.budget.enabled:
            return
        with self._lock:
            spent = self._usage
        est_tokens = estimate_prompt_tokens(msgs) * requests
        price = self.prices.lookup(self.backend.model)
        est_usd = price.cost(est_tokens, 0) if price is not None else 0.0
        reason = None
        if self.budget.max_usd is not None and spent.priced_cost_usd + est_usd >= self.budget.max_usd:
            reason = (
                f"the LLM budget of {_usd(self.budget.max_usd)} would be reached "
                f"(spent {_usd(spent.priced_cost_usd)}, this request's prompt alone is about {_usd(est_usd)})"
            )
        elif self.budget.max_tokens is not None and spent.total_tokens + est_tokens >= self.budget.max_tokens:
            reason = (
                f"the LLM budget of {self.budget.max_tokens} tokens would be reached "
                f"(spent {spent.total_tokens}, this request's prompt alone is about {est_tokens})"
            )
        if reason is None:
            return
        message = f"{reason}. Cached answers are still free; raise the budget to continue."
        self._record(
            CallRecord(
                request_id=request_id,
                model=self.backend.model,
                sample_indices=tuple(indices),
                status="budget_exceeded",
                error=message,
            )
        )
        raise BudgetExceeded(request_id, message)

    def _record(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._usage = self._usage.add(record)
            if self.on_call is not None:
                self.on_call(record)


def _images(msgs: Sequence[Message]) -> int:
    """The number of a request's image parts (for its call records)."""
    return sum(len(m.images) for m in msgs)


def _image_bytes(msgs: Sequence[Message]) -> int:
    """The total PNG size of a request's image parts."""
    return sum(len(p.png) for m in msgs for p in m.images)


def _usd(x: float) -> str:
    return f"${x:.2f}" if x >= 0.01 else f"${x:.6f}"
