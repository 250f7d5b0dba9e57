"""The real ``openai`` client against a local stub server: retries, cache, usage, cost, budget, secrecy."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_stub_server import COMPLETION_TOKENS, PROMPT_TOKENS, Fault, StubServer

from eureka_kit.llm import (
    BudgetExceeded,
    CallRecord,
    LLMCallError,
    LLMClient,
    LLMConfigError,
    Message,
    OpenAIBackend,
    PriceTable,
    RetryPolicy,
    SamplingParams,
    make_client,
)

SECRET = "sk-" + "test-SECRETKEY0123456789"  # a fake key, split so it is not mistaken for a real one
FAST = RetryPolicy(max_attempts=4, initial_delay_s=0.001, max_delay_s=0.01, max_total_wait_s=100.0)
MINI = PriceTable.default().prices["gpt-4o-mini"]


def msgs(text: str = "write a reward") -> list[Message]:
    return [Message("system", "You write reward functions."), Message("user", text)]


@pytest.fixture
def env_key(monkeypatch: pytest.MonkeyPatch) -> str:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return SECRET


@pytest.fixture
def server(env_key: str) -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


def client_for(server: StubServer, tmp_path: Path, sleeps: list[float] | None = None, **kwargs: Any) -> LLMClient:
    options: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "base_url": server.base_url,
        "cache_dir": tmp_path / "cache",
        "timeout_s": 5.0,
        "retry": FAST,
        "sleep": (sleeps if sleeps is not None else []).append,
    }
    options.update(kwargs)
    return make_client("openai", **options)


def test_n_mode_one_request_k_completions_with_usage_and_cost(server: StubServer, tmp_path: Path) -> None:
    client = client_for(server, tmp_path)
    out = client.sample(msgs(), n=3, request_id="gen_000/initial", params=SamplingParams(temperature=0.7))
    assert server.count == 1
    body = server.requests[0].body
    assert body["n"] == 3 and body["temperature"] == 0.7 and body["max_tokens"] == 4096
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert [c.sample_index for c in out] == [0, 1, 2]
    assert [c.text for c in out] == [f"answer 0.{i} to: write a reward" for i in range(3)]
    assert all(c.model == "gpt-4o-mini" and c.finish_reason == "stop" and not c.cached for c in out)
    assert sum(c.prompt_tokens for c in out) == PROMPT_TOKENS
    assert sum(c.completion_tokens for c in out) == 3 * COMPLETION_TOKENS
    expected_cost = MINI.cost(PROMPT_TOKENS, 3 * COMPLETION_TOKENS)
    assert sum(c.cost_usd or 0.0 for c in out) == pytest.approx(expected_cost)
    usage = client.totals()
    assert (usage.requests, usage.completions, usage.cached_completions) == (1, 3, 0)
    assert (usage.prompt_tokens, usage.completion_tokens) == (PROMPT_TOKENS, 3 * COMPLETION_TOKENS)
    assert usage.cost_usd == pytest.approx(expected_cost) and usage.cost_complete
    (record,) = client.records
    assert record.status == "ok" and record.attempts == 1 and record.sample_indices == (0, 1, 2)
    assert record.cost_usd == pytest.approx(expected_cost)


def test_concurrent_mode_k_requests_k_completions(server: StubServer, tmp_path: Path) -> None:
    client = client_for(server, tmp_path, batch_mode="concurrent", max_concurrency=3)
    out = client.sample(msgs(), n=3, request_id="gen_000/initial")
    assert server.count == 3
    assert all("n" not in r.body for r in server.requests)
    assert [c.sample_index for c in out] == [0, 1, 2]
    assert len({c.text for c in out}) == 3
    usage = client.totals()
    assert (usage.requests, usage.completions) == (3, 3)
    assert (usage.prompt_tokens, usage.completion_tokens) == (3 * PROMPT_TOKENS, 3 * COMPLETION_TOKENS)
    assert usage.cost_usd == pytest.approx(MINI.cost(3 * PROMPT_TOKENS, 3 * COMPLETION_TOKENS))


def test_server_that_ignores_n_is_asked_again_for_the_rest(env_key: str, tmp_path: Path) -> None:
    with StubServer(ignore_n=True) as server:
        client = client_for(server, tmp_path)
        out = client.sample(msgs(), n=3, request_id="gen_000/initial")
        assert len(out) == 3 and len({c.text for c in out}) == 3
        assert server.count == 3
        assert [r.body.get("n") for r in server.requests] == [3, 2, None]


def test_cache_hit_makes_no_request_and_k_plus_one_fetches_only_the_missing(server: StubServer, tmp_path: Path) -> None:
    first = client_for(server, tmp_path).sample(msgs(), n=2, request_id="gen_000/initial")
    assert server.count == 1
    resumed = client_for(server, tmp_path)  # a fresh client on the same cache dir, as after a restart
    again = resumed.sample(msgs(), n=2, request_id="gen_000/initial")
    assert server.count == 1
    assert [c.text for c in again] == [c.text for c in first]
    assert all(c.cached and c.cost_usd == 0.0 for c in again)
    assert [r.status for r in resumed.records] == ["cached"]
    assert resumed.totals().cost_usd == 0.0 and resumed.totals().cached_completions == 2

    three = resumed.sample(msgs(), n=3, request_id="gen_000/initial")
    assert server.count == 2 and "n" not in server.requests[1].body
    assert [c.cached for c in three] == [True, True, False]
    assert [c.text for c in three[:2]] == [c.text for c in first]

    other = resumed.sample(msgs(), n=1, request_id="gen_000/initial", params=SamplingParams(temperature=0.2))
    assert server.count == 3 and not other[0].cached  # other sampling params: another answer


def test_429_retry_after_is_honoured_then_500_backs_off(server: StubServer, tmp_path: Path) -> None:
    sleeps: list[float] = []
    server.faults.extend([Fault("status", status=429, retry_after="2"), Fault("status", status=500)])
    client = client_for(server, tmp_path, sleeps)
    out = client.sample(msgs(), n=2, request_id="gen_000/initial")
    assert len(out) == 2 and server.count == 3
    assert sleeps[0] == 2.0
    assert len(sleeps) == 2 and 0.0 <= sleeps[1] <= FAST.initial_delay_s * 2
    assert client.records[-1].attempts == 3


def test_real_sleep_waits_for_retry_after(server: StubServer, tmp_path: Path) -> None:
    server.faults.append(Fault("status", status=429, retry_after="0.3"))
    client = client_for(server, tmp_path, sleep=time.sleep)
    start = time.monotonic()
    client.sample(msgs(), request_id="gen_000/initial")
    assert time.monotonic() - start >= 0.3
    assert client.records[-1].latency_s >= 0.3


def test_timeout_dropped_connection_and_malformed_body_are_retried(server: StubServer, tmp_path: Path) -> None:
    server.faults.extend([Fault("slow", delay_s=1.0), Fault("drop"), Fault("malformed")])
    client = client_for(server, tmp_path, timeout_s=0.3)
    out = client.sample(msgs(), request_id="gen_000/initial")
    assert out[0].text.startswith("answer 3.0")
    assert server.count == 4
    assert client.records[-1].attempts == 4 and client.records[-1].status == "ok"


def test_retry_budget_exhausted_gives_clean_error(server: StubServer, tmp_path: Path) -> None:
    server.faults.extend([Fault("status", status=500)] * 3 + [Fault("malformed")])
    client = client_for(server, tmp_path)
    with pytest.raises(LLMCallError) as info:
        client.sample(msgs(), request_id="gen_001/initial")
    err = info.value
    assert err.attempts == 4 and err.exhausted and server.count == 4
    assert "'gen_001/initial' failed after 4 attempts" in str(err)
    assert "retries exhausted" in str(err) and "malformed response" in str(err)
    assert client.records[-1].status == "error" and client.records[-1].attempts == 4
    assert not list((tmp_path / "cache").iterdir())  # nothing cached


def test_retry_after_beyond_wait_budget_gives_up_without_waiting(server: StubServer, tmp_path: Path) -> None:
    sleeps: list[float] = []
    server.faults.append(Fault("status", status=429, retry_after="600"))
    policy = RetryPolicy(max_attempts=5, initial_delay_s=0.001, max_total_wait_s=30.0)
    client = client_for(server, tmp_path, sleeps, retry=policy)
    with pytest.raises(LLMCallError, match=r"after 1 attempt .*server asked to wait 600.0s.*HTTP 429"):
        client.sample(msgs(), request_id="gen_000/initial")
    assert sleeps == [] and server.count == 1


def test_non_retryable_401_ends_at_once_without_leaking_the_key(server: StubServer, tmp_path: Path) -> None:
    server.faults.append(Fault("status", status=401, message=f"Incorrect API key provided: {SECRET}"))
    client = client_for(server, tmp_path)
    with pytest.raises(LLMCallError) as info:
        client.sample(msgs(), request_id="gen_000/initial")
    text = str(info.value)
    assert server.count == 1 and info.value.attempts == 1 and info.value.status_code == 401
    assert "not retryable" in text and "HTTP 401" in text and "OPENAI_API_KEY" in text
    assert SECRET not in text and "SECRETKEY" not in text
    assert SECRET not in json.dumps([r.to_json() for r in client.records])


def test_429_insufficient_quota_is_not_retried(server: StubServer, tmp_path: Path) -> None:
    server.faults.append(Fault("status", status=429, retry_after="1", code="insufficient_quota"))
    sleeps: list[float] = []
    with pytest.raises(LLMCallError, match=r"rejected after 1 attempt .*HTTP 429 \(quota exhausted\).*billing"):
        client_for(server, tmp_path, sleeps).sample(msgs(), request_id="gen_000/initial")
    assert server.count == 1 and sleeps == []


def test_404_hints_at_model_and_base_url(server: StubServer, tmp_path: Path) -> None:
    server.faults.append(Fault("status", status=404, message="The model `gpt-9` does not exist"))
    with pytest.raises(LLMCallError, match=r"HTTP 404.*gpt-9.*Check the model name and base_url"):
        client_for(server, tmp_path).sample(msgs(), request_id="gen_000/initial")


def test_budget_usd_stops_before_the_call(server: StubServer, tmp_path: Path) -> None:
    first_cost = MINI.cost(PROMPT_TOKENS, 2 * COMPLETION_TOKENS)
    client = client_for(server, tmp_path, budget_usd=first_cost * 1.5)
    client.sample(msgs(), n=2, request_id="gen_000/initial")
    client.sample(msgs("second"), n=1, request_id="gen_000/cand_00/repair_1")
    assert server.count == 2 and client.totals().priced_cost_usd >= first_cost * 1.5
    with pytest.raises(
        BudgetExceeded, match=r"'gen_001/initial' not sent: the LLM budget of \$0\.000112 would be reached"
    ):
        client.sample(msgs("third"), n=2, request_id="gen_001/initial")
    assert server.count == 2
    assert client.records[-1].status == "budget_exceeded" and client.records[-1].attempts == 0
    # answers already paid for stay available
    assert len(client.sample(msgs(), n=2, request_id="gen_000/initial")) == 2
    assert server.count == 2


def test_budget_counts_the_spend_already_in_the_call_log(server: StubServer, tmp_path: Path) -> None:
    """A resumed run (or one whose fitness judge asked first) makes a new client on the same call log: one budget."""
    log = tmp_path / "llm_calls.jsonl"
    first_cost = MINI.cost(PROMPT_TOKENS, 2 * COMPLETION_TOKENS)
    first = client_for(server, tmp_path, budget_usd=first_cost, calls_log=log)
    first.sample(msgs(), n=2, request_id="gen_000/initial")
    with log.open("a") as f:
        f.write('{"cut by a crash": \n')  # a damaged line is skipped, not fatal
    again = client_for(server, tmp_path, budget_usd=first_cost, calls_log=log)
    assert again.totals().priced_cost_usd == pytest.approx(first_cost)
    with pytest.raises(BudgetExceeded, match="budget"):
        again.sample(msgs("second"), n=2, request_id="gen_001/initial")
    assert server.count == 1
    fresh = client_for(server, tmp_path, budget_usd=first_cost, calls_log=tmp_path / "other.jsonl")
    assert fresh.totals().priced_cost_usd == 0.0


def test_budget_tokens_stops_before_the_call(server: StubServer, tmp_path: Path) -> None:
    client = client_for(server, tmp_path, budget_tokens=PROMPT_TOKENS + COMPLETION_TOKENS + 5)
    client.sample(msgs(), request_id="gen_000/initial")
    with pytest.raises(BudgetExceeded, match="tokens would be reached"):
        client.sample(msgs("again"), request_id="gen_000/reflection")
    assert server.count == 1


def test_api_key_never_written_to_cache_logs_or_config(server: StubServer, tmp_path: Path) -> None:
    log_path = tmp_path / "calls.jsonl"

    def write(record: CallRecord) -> None:
        with log_path.open("a") as f:
            f.write(json.dumps(record.to_json()) + "\n")

    server.faults.extend([Fault("status", status=429, retry_after="0"), Fault("status", status=400)])
    client = client_for(server, tmp_path, on_call=write, batch_mode="concurrent")
    with pytest.raises(LLMCallError):
        client.sample(msgs(), n=2, request_id="gen_000/initial")
    client.sample(msgs(), n=3, request_id="gen_000/initial")
    (tmp_path / "config.json").write_text(json.dumps(client.describe()))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len([p for p in files if p.parent.name == "cache"]) == 3
    assert log_path.read_text().count("\n") == len(client.records) >= 3
    for p in files:
        assert "SECRETKEY" not in p.read_text(), p
    assert "SECRETKEY" not in repr(client) + repr(client.backend)
    cached = json.loads(next((tmp_path / "cache").glob("*.json")).read_text())
    assert cached["request"]["backend"] == {"kind": "openai", "model": "gpt-4o-mini", "extra_body": {}}


def test_unknown_model_counts_tokens_without_cost_and_price_file_adds_it(server: StubServer, tmp_path: Path) -> None:
    client = client_for(server, tmp_path, model="my-llama")
    out = client.sample(msgs(), request_id="gen_000/initial")
    assert out[0].cost_usd is None and out[0].model == "my-llama"
    usage = client.totals()
    assert usage.cost_usd is None and usage.priced_cost_usd == 0.0 and not usage.cost_complete
    assert usage.unpriced_tokens == PROMPT_TOKENS + COMPLETION_TOKENS

    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"_note": "test", "my-llama": {"input_per_1m": 1.0, "output_per_1m": 2.0}}))
    priced = client_for(server, tmp_path, model="my-llama", cache_dir=None, price_table=prices)
    out = priced.sample(msgs(), request_id="gen_000/initial")
    assert out[0].cost_usd == pytest.approx((PROMPT_TOKENS * 1.0 + COMPLETION_TOKENS * 2.0) / 1e6)
    assert priced.prices.lookup("gpt-4o") is not None  # merged over the default table


def test_missing_key_and_base_url_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMConfigError, match=r"OPENAI_API_KEY.*base_url.*replay"):
        make_client("openai", model="gpt-4o-mini")


def test_local_server_without_key_sends_a_dummy_key(
    server: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    client_for(server, tmp_path).sample(msgs(), request_id="gen_000/initial")
    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_openai_base_url_env_var_is_honoured(server: StubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    client = make_client("openai", model="llama", retry=FAST)
    assert client.describe()["base_url"] == server.base_url
    client.sample(msgs(), request_id="gen_000/initial")
    assert server.count == 1 and server.requests[0].body["max_tokens"] == 4096


def test_openai_gets_max_completion_tokens_and_compatible_servers_max_tokens(env_key: str) -> None:
    params = SamplingParams(temperature=None, max_tokens=100, seed=3, stop=("```",))
    official = OpenAIBackend("gpt-4o-mini")._request_kwargs(msgs(), params, 1)
    local = OpenAIBackend("llama", base_url="http://127.0.0.1:1/v1")._request_kwargs(msgs(), params, 2)
    assert official["max_completion_tokens"] == 100 and "max_tokens" not in official
    assert "temperature" not in official and "n" not in official and official["seed"] == 3
    assert local["max_tokens"] == 100 and local["n"] == 2 and local["stop"] == ["```"]
