"""LLMClient logic with an in-process fake backend: retry policy, cache files, partial failures, logs, prices."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from eureka_kit.llm import (
    Backend,
    BackendError,
    BatchMode,
    CallRecord,
    Completion,
    LLMCallError,
    LLMClient,
    LLMConfigError,
    Message,
    PriceTable,
    ReplayBackend,
    ResponseCache,
    RetryPolicy,
    SamplingParams,
    call_with_retry,
    make_client,
    redact,
)
from eureka_kit.llm.base import split_by_weight, split_evenly

MSGS = [Message("user", "hello")]
FAST = RetryPolicy(max_attempts=3, initial_delay_s=0.001, max_delay_s=0.001)


class FakeBackend:
    """Answers ``"<request_id>#<index>"``; ``fail[index]`` lists errors to raise first for that sample."""

    kind = "fake"
    model = "gpt-4o-mini"

    def __init__(self, batch_mode: BatchMode = "n", fail: Mapping[int, list[Exception]] | None = None) -> None:
        self.batch_mode: BatchMode = batch_mode
        self.fail = {i: list(errs) for i, errs in (fail or {}).items()}
        self.calls: list[tuple[int, ...]] = []
        self._lock = threading.Lock()

    def cache_identity(self, request_id: str) -> Mapping[str, Any]:
        return {"kind": self.kind, "model": self.model}

    def describe(self) -> Mapping[str, Any]:
        return {"llm": self.kind, "model": self.model}

    def complete(
        self, messages: Sequence[Message], params: SamplingParams, sample_indices: Sequence[int], request_id: str
    ) -> list[Completion]:
        with self._lock:
            self.calls.append(tuple(sample_indices))
            for i in sample_indices:
                if self.fail.get(i):
                    raise self.fail[i].pop(0)
        return [
            Completion(f"{request_id}#{i}", self.model, 10, 5, sample_index=i, finish_reason="stop")
            for i in sample_indices
        ]


def test_fake_and_shipped_backends_satisfy_the_protocol(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "*", "text": "x"}\n')
    assert isinstance(FakeBackend(), Backend)
    assert isinstance(ReplayBackend(path), Backend)


def test_full_jitter_backoff_stays_in_its_bounds() -> None:
    policy = RetryPolicy(initial_delay_s=1.0, max_delay_s=5.0)
    rng = random.Random(0)
    for failures, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        waits = [policy.backoff(failures, rng) for _ in range(200)]
        assert 0.0 <= min(waits) and max(waits) <= cap
        assert max(waits) > cap / 2  # jitter spans the range


def test_retry_after_above_max_delay_is_honoured_and_bugs_are_not_retried() -> None:
    sleeps: list[float] = []
    errors = [BackendError("HTTP 429", retryable=True, status_code=429, retry_after=45.0)]

    def flaky() -> str:
        if errors:
            raise errors.pop()
        return "ok"

    result, info = call_with_retry(flaky, policy=RetryPolicy(max_delay_s=1.0), request_id="r", sleep=sleeps.append)
    assert (result, info.attempts, sleeps) == ("ok", 2, [45.0])

    calls = []

    def buggy() -> str:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retry(buggy, policy=FAST, request_id="r", sleep=sleeps.append)
    assert len(calls) == 1


def test_concurrent_partial_failure_keeps_the_good_samples(tmp_path: Path) -> None:
    backend = FakeBackend("concurrent", fail={1: [BackendError("HTTP 400: bad", retryable=False, status_code=400)]})
    client = LLMClient(backend, cache=ResponseCache(tmp_path), retry=FAST, sleep=lambda s: None)
    with pytest.raises(LLMCallError, match=r"'gen_000/initial' was rejected after 1 attempt .*HTTP 400"):
        client.sample(MSGS, n=3, request_id="gen_000/initial")
    assert sorted(backend.calls) == [(0,), (1,), (2,)]
    out = client.sample(MSGS, n=3, request_id="gen_000/initial")
    assert backend.calls[3:] == [(1,)]  # only the failed sample is asked again
    assert [c.text for c in out] == [f"gen_000/initial#{i}" for i in range(3)]
    assert [c.cached for c in out] == [True, False, True]
    assert [r.status for r in client.records].count("error") == 1


def test_transient_errors_in_n_mode_retry_the_whole_request() -> None:
    backend = FakeBackend("n", fail={0: [BackendError("HTTP 503", retryable=True, status_code=503)]})
    sleeps: list[float] = []
    client = LLMClient(backend, retry=FAST, sleep=sleeps.append)
    out = client.sample(MSGS, n=2, request_id="gen_000/initial")
    assert len(out) == 2 and backend.calls == [(0, 1), (0, 1)] and len(sleeps) == 1
    assert client.records[-1].attempts == 2


def test_totals_per_generation_and_calls_log(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "*", "text": "some answer"}\n')
    log = tmp_path / "run" / "llm_calls.jsonl"
    seen: list[CallRecord] = []
    client = make_client("replay", replay_path=path, cache_dir=tmp_path / "cache", calls_log=log, on_call=seen.append)
    client.sample(MSGS, n=2, request_id="gen_000/initial")
    client.sample(MSGS, n=1, request_id="gen_000/cand_01/repair_1")
    client.sample(MSGS, n=3, request_id="gen_001/reflection")
    client.sample(MSGS, n=3, request_id="gen_001/reflection")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["request_id"], r["status"], r["cached"]) for r in lines] == [
        ("gen_000/initial", "ok", False),
        ("gen_000/cand_01/repair_1", "ok", False),
        ("gen_001/reflection", "ok", False),
        ("gen_001/reflection", "cached", True),
    ]
    assert set(lines[0]) >= {"request_id", "model", "prompt_tokens", "completion_tokens", "cost_usd", "latency_s"}
    assert len(seen) == 4
    gen0, gen1, total = client.totals("gen_000/"), client.totals("gen_001/"), client.totals()
    assert (gen0.requests, gen0.completions, gen0.cache_hits) == (2, 3, 0)
    assert (gen1.requests, gen1.completions, gen1.cached_completions, gen1.calls, gen1.cached_calls) == (1, 3, 3, 2, 1)
    assert total.total_tokens == gen0.total_tokens + gen1.total_tokens
    assert json.dumps(total.to_json()) and json.dumps(client.describe())


def test_cache_files_are_atomic_and_a_corrupt_file_is_a_miss(tmp_path: Path) -> None:
    backend = FakeBackend()
    client = LLMClient(backend, cache=ResponseCache(tmp_path))
    client.sample(MSGS, n=2, request_id="a")
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2 and all(p.suffix == ".json" and len(p.stem) == 64 for p in files)
    files[0].write_text('{"completion": {"text": "trunc')
    out = client.sample(MSGS, n=2, request_id="a")
    assert backend.calls == [(0, 1), (0,)] or backend.calls == [(0, 1), (1,)]
    assert not any(c.text.startswith("{") for c in out)
    assert json.loads(files[0].read_text())["completion"]["text"].startswith("a#")
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_cache_key_covers_messages_params_and_index(tmp_path: Path) -> None:
    backend = FakeBackend()
    client = LLMClient(backend, cache=ResponseCache(tmp_path))
    client.sample(MSGS, request_id="a")
    client.sample(MSGS, request_id="b")  # request id is not part of an HTTP backend's key: a hit
    client.sample([Message("user", "hello!")], request_id="a")
    client.sample(MSGS, request_id="a", params=SamplingParams(max_tokens=10))
    assert len(backend.calls) == 3 and len(list(tmp_path.iterdir())) == 3


def test_price_table_lookup_and_errors(tmp_path: Path) -> None:
    table = PriceTable.default()
    mini = table.lookup("gpt-4o-mini")
    assert mini is not None and table.lookup("gpt-4o-mini-2024-07-18") == mini
    assert table.lookup("gpt-4o-mini-fast") is None and table.cost("llama3", 10, 10) is None
    assert table.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)
    shipped = PriceTable.load(Path(__file__).resolve().parents[1] / "examples" / "prices.json")
    assert shipped.lookup("gpt-4o") == table.lookup("gpt-4o") and "_note" not in shipped.prices
    with pytest.raises(LLMConfigError, match=r"entry 'm' must be an object with exactly"):
        PriceTable.from_dict({"m": {"input": 1}})
    with pytest.raises(LLMConfigError, match=r"entry 'm': input_per_1m must be a finite number >= 0"):
        PriceTable.from_dict({"m": {"input_per_1m": -1, "output_per_1m": 1}})
    bad = tmp_path / "p.json"
    bad.write_text("{oops")
    with pytest.raises(LLMConfigError, match=r"p.json is not valid JSON"):
        PriceTable.load(bad)


def test_redact_removes_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "custom-secret-value")
    text = redact("key custom-secret-value, Incorrect API key provided: sk-proj-abc***xyz9, Bearer tok123")
    assert "custom-secret-value" not in text and "abc" not in text and "tok123" not in text


def test_splits_keep_sums() -> None:
    assert split_evenly(10, 3) == [4, 3, 3]
    assert sum(split_by_weight(101, [5, 0, 13])) == 101 and split_by_weight(7, [0, 0]) == [4, 3]


def test_records_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="role"):
        Message("robot", "hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(temperature=3.0)
    with pytest.raises(ValueError, match="request_id"):
        LLMClient(FakeBackend()).sample(MSGS, request_id="")


def test_paid_answer_is_logged_before_it_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed right after an answer arrived: the call is in llm_calls.jsonl as paid, never only as cached."""
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "*", "text": "some answer"}\n')
    log = tmp_path / "run" / "llm_calls.jsonl"
    client = make_client("replay", replay_path=path, cache_dir=tmp_path / "cache", calls_log=log)

    def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed while caching")

    monkeypatch.setattr(ResponseCache, "put", killed)
    with pytest.raises(SystemExit):
        client.sample(MSGS, n=2, request_id="gen_000/initial")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["request_id"], r["status"]) for r in lines] == [("gen_000/initial", "ok")]
    monkeypatch.undo()
    resumed = make_client("replay", replay_path=path, cache_dir=tmp_path / "cache", calls_log=log)
    resumed.sample(MSGS, n=2, request_id="gen_000/initial")  # nothing was cached: asked (and logged) again
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["status"] for r in lines] == ["ok", "ok"]
