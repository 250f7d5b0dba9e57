"""``--ranker vlm``: frame grids, image content parts through the real ``openai`` client, answers, fallbacks, a run.

The vision model is the local stub server (tests/llm_stub_server.py): it decodes the image parts of each request
and answers with scripted rankings.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llm_stub_server import StubServer, image_parts, text_of
from PIL import Image
from tiny_runs import run_tiny, write_replay

from eureka_kit.llm import ImagePart, LLMClient, Message, RetryPolicy, make_client
from eureka_kit.preferences.frames import MAX_SIDE, frame_grid, pick_indices
from eureka_kit.preferences.ranking import Ranking, RankItem
from eureka_kit.preferences.video import _write_mp4
from eureka_kit.preferences.vlm import VLMRanker, parse_answer
from eureka_kit.run.store import read_json

FAST = RetryPolicy(max_attempts=2, initial_delay_s=0.001, max_delay_s=0.01, max_total_wait_s=10.0)
NAMES = ["cand_00", "cand_01", "cand_02"]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with StubServer() as s:
        yield s


def client_for(server: StubServer, tmp_path: Path) -> LLMClient:
    return make_client(
        "openai",
        model="stub-vision",
        base_url=server.base_url,
        cache_dir=tmp_path / "cache",
        timeout_s=5.0,
        retry=FAST,
        calls_log=tmp_path / "calls.jsonl",
    )


def png(width: int = 32, height: int = 16, value: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def video(path: Path, value: int, frames: int = 31) -> Path:
    """A short mp4 whose frames brighten from ``value`` (one per step)."""
    _write_mp4(path, (np.full((240, 320, 3), (value + i) % 256, dtype=np.uint8) for i in range(frames)), 30)
    return path


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> list[RankItem]:
    folder = tmp_path_factory.mktemp("videos")
    return [
        RankItem(name, video(folder / f"{name}.mp4", 40 * i), fitness=float(i), source=f"# program {name}\n")
        for i, name in enumerate(NAMES)
    ]


def answer(order: list[str], **extra: Any) -> str:
    data = {"order": order, "best": order[0], "worst": order[-1], "comments": {n: f"{n} hops" for n in order}}
    return "Here is my ranking.\n```json\n" + json.dumps({**data, **extra}) + "\n```"


def shown_names(body: dict[str, Any]) -> list[str]:
    return re.findall(r"^Candidate (cand_\d+):$", text_of(body), flags=re.MULTILINE)


# -- the LLM layer ------------------------------------------------------------------------------------------


def test_image_parts_go_as_data_urls_and_are_cached_by_hash(server: StubServer, tmp_path: Path) -> None:
    client = client_for(server, tmp_path)
    image = png()
    msgs = [Message("user", "what do you see?", (ImagePart(image),))]
    first = client.sample(msgs, request_id="gen_000/vlm_rank")[0]
    again = client.sample(msgs, request_id="gen_000/vlm_rank")[0]
    assert server.count == 1 and again.cached and again.text == first.text
    assert image_parts(server.requests[0].body) == [image]
    request = json.dumps(json.loads(next((tmp_path / "cache").glob("*.json")).read_text())["request"])
    assert ImagePart(image).sha256 in request and "base64" not in request
    other = [Message("user", "what do you see?", (ImagePart(png(value=200)),))]
    client.sample(other, request_id="gen_000/vlm_rank")
    assert server.count == 2, "another image is another request (the cache key holds the image's hash)"
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [(c["status"], c["images"], c["image_bytes"]) for c in calls] == [
        ("ok", 1, len(image)),
        ("cached", 1, len(image)),
        ("ok", 1, len(png(value=200))),
    ]


def test_a_text_message_keeps_its_plain_form() -> None:
    assert Message("user", "hi").to_dict() == {"role": "user", "content": "hi"}
    with pytest.raises(ValueError, match="PNG"):
        ImagePart(b"GIF89a not a png at all")


# -- frames -------------------------------------------------------------------------------------------------


def test_frame_grid_is_a_capped_png_of_evenly_spaced_frames(items: list[RankItem]) -> None:
    grid = frame_grid(items[0].video, frames=6)
    assert grid.status == "ok" and grid.frames == 6
    with Image.open(io.BytesIO(grid.png)) as img:
        assert img.format == "PNG" and img.size == grid.size and max(img.size) <= MAX_SIDE
    assert grid.times_s[0] == 0.0 and grid.times_s[-1] == pytest.approx(1.0)
    assert pick_indices(31, 6) == [0, 6, 12, 18, 24, 30]
    assert frame_grid(None).status == "no_video"
    small = frame_grid(items[0].video, frames=4, max_side=100, max_bytes=2_000)
    assert max(small.size) <= 100 and len(small.png) <= 2_000


# -- answers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("The first one runs best.", "no JSON object"),
        (answer(["cand_00", "cand_01"]), "leaves out cand_02"),
        (answer(["cand_00", "cand_01", "cand_01"]), "more than once"),
        (answer(["cand_00", "cand_01", "cand_09"]), "unknown candidates cand_09"),
        (answer(NAMES, best="cand_02", worst="cand_00"), "must be ranked above"),
        (answer(NAMES, comments=["nice"]), '"comments" must be an object'),
    ],
)
def test_invalid_answers_say_what_is_wrong(text: str, error: str) -> None:
    parsed = parse_answer(text, NAMES)
    assert parsed.status == "invalid" and error in parsed.error


def test_a_valid_answer_parses() -> None:
    parsed = parse_answer(answer(["cand_02", "cand_00", "cand_01"], summary="all hop"), NAMES)
    assert parsed.status == "ok" and parsed.order == ("cand_02", "cand_00", "cand_01")
    assert (parsed.best, parsed.worst, parsed.summary) == ("cand_02", "cand_01", "all hop")
    assert parsed.comments["cand_00"] == "cand_00 hops"


# -- the ranker ---------------------------------------------------------------------------------------------


def test_ranking_from_the_images(server: StubServer, tmp_path: Path, items: list[RankItem]) -> None:
    server.script.append(answer(["cand_01", "cand_00", "cand_02"], summary="none runs"))
    ranking = VLMRanker(client_for(server, tmp_path), "run forward", frames=4, announce=print).rank(0, items)
    assert ranking.who == "vlm" and ranking.order == ("cand_01", "cand_00", "cand_02")
    assert ranking.comment("cand_02") == "cand_02 hops" and ranking.generation_comment == "none runs"
    body = server.requests[0].body
    images = image_parts(body)
    assert len(images) == 3 and shown_names(body) == NAMES
    for data in images:
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "PNG" and max(img.size) <= MAX_SIDE
    assert "run forward" in text_of(body) and "stub-vision" in ranking.note


def test_an_invalid_answer_is_asked_again_with_the_error(
    server: StubServer, tmp_path: Path, items: list[RankItem]
) -> None:
    server.script.extend([answer(["cand_00", "cand_00", "cand_01"]), answer(["cand_02", "cand_01", "cand_00"])])
    ranking = VLMRanker(client_for(server, tmp_path), "run forward", frames=2).rank(3, items)
    assert ranking.who == "vlm" and ranking.best == "cand_02"
    assert server.count == 2
    retry = server.requests[1].body["messages"]
    assert [m["role"] for m in retry] == ["user", "assistant", "user"]
    assert "more than once" in retry[-1]["content"] and "cand_00, cand_01, cand_02" in retry[-1]["content"]


def test_two_invalid_answers_fall_back_to_fitness(server: StubServer, tmp_path: Path, items: list[RankItem]) -> None:
    server.script.extend(["I like the second one.", answer(["cand_00"])])
    warnings: list[str] = []
    ranking = VLMRanker(client_for(server, tmp_path), "run forward", frames=2, announce=warnings.append).rank(0, items)
    assert ranking.who == "fitness" and ranking.order == ("cand_02", "cand_01", "cand_00")
    assert server.count == 2 and "invalid answer twice" in ranking.note
    assert len(warnings) == 1 and "ordered by fitness" in warnings[0]


def test_an_unreachable_model_falls_back_to_fitness(tmp_path: Path, items: list[RankItem]) -> None:
    client = make_client("openai", model="m", base_url="http://127.0.0.1:9/v1", timeout_s=1.0, retry=FAST)
    ranking = VLMRanker(client, "run forward", frames=2, announce=lambda _: None).rank(0, items)
    assert ranking.who == "fitness" and "LLMCallError" in ranking.note


def test_the_image_budget_shows_the_fittest(server: StubServer, tmp_path: Path, items: list[RankItem]) -> None:
    server.script.append(answer(["cand_01", "cand_02"]))
    ranking = VLMRanker(client_for(server, tmp_path), "run forward", frames=2, max_images=2).rank(0, items)
    assert len(image_parts(server.requests[0].body)) == 2 and shown_names(server.requests[0].body) == NAMES[1:]
    assert ranking.order == ("cand_01", "cand_02", "cand_00") and ranking.worst == "cand_02"
    assert "image budget of 2" in ranking.comment("cand_00")


# -- a run --------------------------------------------------------------------------------------------------

PROGRAM = """```python
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    forward = {w} * x_velocity
    ctrl = -0.1 * (action**2).sum(dim=-1)
    return forward + ctrl, {{"forward": forward, "ctrl": ctrl}}
```
"""


def rank_reversed(body: dict[str, Any]) -> str:
    """The stub's vision model: ranks the candidates it is shown in reverse name order, with a comment each."""
    images = image_parts(body)
    names = shown_names(body)
    assert len(images) == len(names) >= 2
    for data in images:
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "PNG" and max(img.size) <= MAX_SIDE
    order = sorted(names, reverse=True)
    return answer(order, comments={n: f"VLM-SAYS {n} drifts backwards" for n in order}, summary="VLM-SUMMARY")


def test_a_run_ranked_by_the_vision_model(server: StubServer, tmp_path: Path) -> None:
    replay = write_replay(
        tmp_path / "replay.jsonl",
        [("initial", PROGRAM.format(w=1.0)), ("initial", PROGRAM.format(w=2.0)), ("reflection", PROGRAM.format(w=3.0))],
    )
    server.script.extend([rank_reversed, rank_reversed])
    result = run_tiny(
        tmp_path / "runs",
        replay,
        samples=2,
        generations=2,
        analyzer=False,
        trajectory_check=False,
        videos=True,
        ranker="vlm",
        vlm_base_url=server.base_url,
        vlm_model="stub-vision",
        vlm_frames=4,
    )
    assert server.count == 2, "one vision request per generation"
    for generation in (0, 1):
        ranking = Ranking.from_json(read_json(result.run_dir / f"gen_{generation:03d}" / "ranking.json"))
        assert ranking.who == "vlm" and ranking.order == ("cand_01", "cand_00")
        assert ranking.comment("cand_00") == "VLM-SAYS cand_00 drifts backwards"
    prompt = read_json(result.run_dir / "gen_001" / "prompt.json")[-1]["content"]
    assert "vision-language model" in prompt and "VLM-SAYS cand_01" in prompt and "VLM-SUMMARY" in prompt
    assert "forward = 2.0 * x_velocity" in prompt, "the best-ranked program (cand_01) is in the next prompt"
    calls = [json.loads(line) for line in (result.run_dir / "llm_calls.jsonl").read_text().splitlines()]
    vision = [c for c in calls if c["request_id"].endswith("vlm_rank")]
    assert [c["images"] for c in vision] == [2, 2] and all(c["model"] == "stub-vision" for c in vision)
