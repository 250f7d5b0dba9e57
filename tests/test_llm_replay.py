"""Replay backend: key / kind / '*' resolution, determinism, and clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eureka_kit.llm import (
    LLMConfigError,
    Message,
    PriceTable,
    ReplayBackend,
    ReplayError,
    SamplingParams,
    make_client,
    request_kind,
)

MSGS = [Message("system", "You write reward functions."), Message("user", "Task: run forward.")]
RECORDS = [
    ("gen_001/initial", "exact A"),
    ("gen_001/initial", "exact B"),
    ("initial", "initial 1"),
    ("initial", "initial 2"),
    ("initial", "initial 3"),
    ("reflection", "reflect"),
    ("repair", "repaired"),
    ("*", "anything"),
]


def write_jsonl(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"key": k, "text": t}) + "\n" for k, t in records))
    return path


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "responses.jsonl", RECORDS)


@pytest.mark.parametrize(
    ("request_id", "kind"),
    [
        ("gen_001/initial", "initial"),
        ("gen_001/reflection", "reflection"),
        ("gen_000/cand_02/repair_1", "repair"),
        ("gen_000/cand_02/repair_12", "repair"),
        ("initial", "initial"),
        ("gen_000/cand_03", "cand"),
    ],
)
def test_request_kind(request_id: str, kind: str) -> None:
    assert request_kind(request_id) == kind


@pytest.mark.parametrize(
    ("request_id", "texts"),
    [
        ("gen_001/initial", ["exact A", "exact B", "exact A", "exact B"]),
        ("gen_002/initial", ["initial 1", "initial 2", "initial 3", "initial 1"]),
        ("gen_002/reflection", ["reflect"] * 4),
        ("gen_000/cand_02/repair_1", ["repaired"] * 4),
        ("gen_000/summary", ["anything"] * 4),
    ],
)
def test_resolution_by_request_id_then_kind_then_star(replay_file: Path, request_id: str, texts: list[str]) -> None:
    client = make_client("replay", replay_path=replay_file)
    out = client.sample(MSGS, n=4, request_id=request_id)
    assert [c.text for c in out] == texts
    assert [c.sample_index for c in out] == [0, 1, 2, 3]
    assert all(c.model == "replay" and c.usage_estimated and c.cost_usd is None for c in out)


def test_replay_is_deterministic_and_a_resumed_run_gets_the_same_answers(replay_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = make_client("replay", replay_path=replay_file, cache_dir=cache)
    a = first.sample(MSGS, n=3, request_id="gen_002/initial")
    assert [c.text for c in a] == ["initial 1", "initial 2", "initial 3"]
    # another client without a cache, another sampling temperature: same answers
    fresh = make_client("replay", replay_path=replay_file).sample(
        MSGS, n=3, request_id="gen_002/initial", params=SamplingParams(temperature=0.1)
    )
    assert [c.text for c in fresh] == [c.text for c in a]
    # a resumed run asks for more samples: the old ones come from the cache, sample 3 is record 3 % 3 = 0
    resumed = make_client("replay", replay_path=replay_file, cache_dir=cache)
    b = resumed.sample(MSGS, n=4, request_id="gen_002/initial")
    assert [c.text for c in b] == ["initial 1", "initial 2", "initial 3", "initial 1"]
    assert [c.cached for c in b] == [True, True, True, False]
    # same messages, other request id: the answer depends on the id, so the cache must not mix them
    other = resumed.sample(MSGS, n=1, request_id="gen_002/reflection")
    assert other[0].text == "reflect" and not other[0].cached


def test_replay_cache_follows_the_file(replay_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = make_client("replay", replay_path=replay_file, cache_dir=cache).sample(MSGS, request_id="x/reflection")
    assert before[0].text == "reflect"
    write_jsonl(replay_file, [("reflection", "new reflection")])
    out = make_client("replay", replay_path=replay_file, cache_dir=cache).sample(MSGS, request_id="x/reflection")
    assert out[0].text == "new reflection" and not out[0].cached


def test_replay_usage_is_estimated_from_characters(replay_file: Path) -> None:
    client = make_client("replay", replay_path=replay_file)
    (c,) = client.sample(MSGS, request_id="gen_000/cand_00/repair_1")
    assert c.completion_tokens == 2  # "repaired": 8 chars / 4
    assert c.prompt_tokens == sum(-(-len(m.content) // 4) + 4 for m in MSGS)
    totals = client.totals()
    assert totals.calls == 1 and totals.total_tokens == c.total_tokens and totals.cost_usd is None


def test_missing_key_names_the_request_and_the_keys_available(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [("initial", "a"), ("reflection", "b")])
    client = make_client("replay", replay_path=path)
    with pytest.raises(ReplayError) as info:
        client.sample(MSGS, request_id="gen_000/cand_01/repair_1")
    text = str(info.value)
    assert "'gen_000/cand_01/repair_1'" in text
    assert "tried keys 'gen_000/cand_01/repair_1', 'repair', '*'" in text
    assert "Keys available: 'initial', 'reflection'" in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"key": "initial", "text": "unterminated', r"line 3: not valid JSON"),
        ('["initial", "text"]', r"line 3: expected a JSON object"),
        ('{"key": "initial", "txt": "typo"}', r"line 3: missing 'text'"),
        ('{"key": "initial", "text": 42}', r"line 3: 'text' must be a string, got int"),
        ('{"key": "", "text": "x"}', r"line 3: 'key' is empty"),
    ],
)
def test_malformed_line_is_reported_with_its_number(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"key": "initial", "text": "ok"}) + "\n\n" + line + "\n")
    with pytest.raises(ReplayError, match=expected) as info:
        ReplayBackend(path)
    assert str(path) in str(info.value)


def test_empty_or_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    with pytest.raises(ReplayError, match="has no records"):
        ReplayBackend(empty)
    with pytest.raises(ReplayError, match="cannot read replay file"):
        ReplayBackend(tmp_path / "nope.jsonl")


def test_replay_config_errors(replay_file: Path) -> None:
    with pytest.raises(LLMConfigError, match="needs replay_path"):
        make_client("replay")
    with pytest.raises(LLMConfigError, match=r"model 'replay' has no price.*budget_tokens"):
        make_client("replay", replay_path=replay_file, budget_usd=1.0)
    free = PriceTable.from_dict({"replay": {"input_per_1m": 0, "output_per_1m": 0}})
    client = make_client("replay", replay_path=replay_file, budget_usd=1.0, price_table=free)
    assert client.sample(MSGS, request_id="gen_000/initial")[0].cost_usd == 0.0


def test_shipped_demo_responses_parse() -> None:
    demo = Path(__file__).resolve().parents[1] / "examples" / "responses" / "halfcheetah_demo.jsonl"
    if not demo.exists():
        pytest.skip("no demo responses shipped")
    backend = ReplayBackend(demo)
    assert backend.resolve("gen_000/initial")[1]
