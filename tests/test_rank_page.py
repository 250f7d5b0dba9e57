"""The ranking page and dashboard in a real browser (Debian's Chromium, headless), and the server's refusals.

The browser tests are skipped when /usr/bin/chromium is missing (scripts/setup_system.sh installs it).
Screenshots go to a temporary folder; to refresh the committed ones::

    EUREKA_KIT_SCREENSHOTS=docs/images .venv/bin/python -m pytest tests/test_rank_page.py
"""

from __future__ import annotations

import io
import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eureka_kit.preferences.ranking import Ranking, RankItem, load_items, ranking_path, save_ranking
from eureka_kit.preferences.video import record_video
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.store import atomic_write_json
from eureka_kit.tasks.registry import get_task
from eureka_kit.web.chromium import HEADLESS_CHROMIUM, HEADLESS_CHROMIUM_ARGS
from eureka_kit.web.dashboard import NotARunError, serve_dashboard
from eureka_kit.web.http_base import MAX_BODY_BYTES
from eureka_kit.web.rank_server import HumanRanker, RankServer
from eureka_kit.web.report import write_report

CHROMIUM = HEADLESS_CHROMIUM
CHROMIUM_ARGS = list(HEADLESS_CHROMIUM_ARGS)
NAMES = ["cand_00", "cand_01", "cand_02"]
FITNESS = [0.8, -0.2, 1.7]


# ------------------------------------------------------------------------------------------ fixtures


def _make_run(root: Path) -> Path:
    """A one-generation run folder with three real tiny HalfCheetah videos (different open-loop policies)."""
    run = root / "run-rank"
    spec = get_task("HalfCheetah-Run-v1")
    for i, name in enumerate(NAMES):
        cand = run / "gen_000" / name
        cand.mkdir(parents=True)
        (cand / "reward.py").write_text(
            f"import torch\n\ndef compute_reward(x_velocity, action):\n    # candidate {i}\n"
            f"    speed = {i + 1}.0 * x_velocity\n    return speed, {{'speed': speed}}\n"
        )
        (cand / "feedback.md").write_text(f"speed component of candidate {i} rose steadily\n")
        step = iter(range(10_000))
        phase = np.linspace(0, np.pi, 6) * i

        def act(obs: np.ndarray, step: Iterator[int] = step, phase: np.ndarray = phase) -> np.ndarray:
            return np.sin(0.6 * next(step) + phase)

        result = record_video(spec, act, cand / "rollout.mp4", seed=i, max_steps=24, width=320, height=240)
        assert result.status == "ok", result.message
        rec = CandidateRecord(0, i, "ok", "", fitness=FITNESS[i], fitness_std=0.1)
        atomic_write_json(cand / "candidate.json", rec.to_json())
    atomic_write_json(run / "config.json", {"task": spec.id})
    failed = run / "gen_000" / "cand_03"
    failed.mkdir()
    (failed / "reward.py").write_text("def compute_reward(:\n")
    atomic_write_json(failed / "candidate.json", CandidateRecord(0, 3, "check_error", "SyntaxError").to_json())
    return run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_run(tmp_path_factory.mktemp("rank"))


@pytest.fixture()
def fresh_run(run_dir: Path) -> Iterator[Path]:
    """The shared run folder, with any ranking.json a test wrote removed afterwards."""
    yield run_dir
    ranking_path(run_dir, 0).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = os.environ.get("EUREKA_KIT_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        return Path(out)
    return tmp_path_factory.mktemp("shots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install it with scripts/setup_system.sh (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


# ------------------------------------------------------------------------------------------ HTTP helpers


def _request(
    url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            data = res.read()
            status = res.status
            ctype = res.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        data, status, ctype = e.read(), e.code, e.headers.get("Content-Type", "")
    return status, json.loads(data) if ctype.startswith("application/json") else data


def _post(
    server: RankServer, payload: Any, *, raw: bytes | None = None, ctype: str = "application/json"
) -> tuple[int, Any]:
    body = raw if raw is not None else json.dumps(payload).encode()
    return _request(server.page_url("/api/ranking"), method="POST", body=body, headers={"Content-Type": ctype})


# ------------------------------------------------------------------------------------------ browser


def _wait_js(page: Any, expression: str, arg: Any = None, timeout_s: float = 10.0) -> None:
    """Poll a JS predicate with ``page.evaluate``.

    Playwright's ``wait_for_function`` polls through ``eval``, which the pages' Content-Security-Policy
    (rightly) forbids; ``evaluate`` goes through the DevTools protocol and is not affected.
    """
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for: {expression}")
        page.wait_for_timeout(50)


def test_rank_page_in_chromium(browser: Any, fresh_run: Path, shots: Path) -> None:
    items = load_items(fresh_run, 0)
    assert [it.name for it in items] == NAMES  # the failed candidate is not ranked
    started: queue.Queue[RankServer] = queue.Queue()
    result: dict[str, Any] = {}
    messages: list[str] = []
    ranker = HumanRanker(fresh_run, timeout_s=60, announce=messages.append, on_start=started.put)
    worker = threading.Thread(target=lambda: result.update(ranking=ranker.rank(0, items)))
    worker.start()
    try:
        server = started.get(timeout=10)
        assert server.url in messages[0] and server.host == "127.0.0.1"
        page = browser.new_page(viewport={"width": 1150, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server.url)
        page.wait_for_selector(".card video")
        cards = page.locator(".card")
        assert cards.count() == 3

        # Every video loads and plays (muted autoplay, loop).
        _wait_js(
            page, "() => [...document.querySelectorAll('video')].every(v => v.readyState >= 2 && v.videoWidth > 0)"
        )
        start = page.evaluate("[...document.querySelectorAll('video')].map(v => v.currentTime)")
        _wait_js(
            page,
            "start => [...document.querySelectorAll('video')].every((v, i) => !v.paused && v.currentTime !== start[i])",
            start,
        )
        assert page.evaluate(
            "[...document.querySelectorAll('video')].every(v => v.error === null && v.muted && v.loop)"
        )

        # Fitness is hidden until asked for.
        fitness = page.locator(".card[data-name=cand_02] .fitness")
        assert not fitness.is_visible()
        page.get_by_test_id("show-fitness").check()
        assert fitness.is_visible() and fitness.inner_text() == "fitness 1.700"

        def order() -> list[str]:
            return page.eval_on_selector_all(".card", "cs => cs.map(c => c.dataset.name)")

        card = lambda name: page.locator(f".card[data-name={name}]")  # noqa: E731
        assert order() == ["cand_00", "cand_01", "cand_02"]
        card("cand_00").locator(".down").click()
        assert order() == ["cand_01", "cand_00", "cand_02"]
        card("cand_02").locator(".mark-best").click()
        assert order() == ["cand_02", "cand_01", "cand_00"]
        card("cand_01").locator(".mark-worst").click()
        assert order() == ["cand_02", "cand_00", "cand_01"]
        card("cand_01").locator(".up").click()
        assert order() == ["cand_02", "cand_01", "cand_00"]
        # Drag cand_00 onto the left half of cand_01: it goes before it.
        card("cand_00").drag_to(card("cand_01"), target_position={"x": 10, "y": 60})
        assert order() == ["cand_02", "cand_00", "cand_01"]
        assert card("cand_02").get_attribute("class") == "card is-best"
        assert "is-worst" in (card("cand_01").get_attribute("class") or "")
        assert card("cand_02").locator(".up").is_disabled() and card("cand_01").locator(".down").is_disabled()

        card("cand_02").locator(".comment").fill("runs forward <fast>")
        card("cand_01").locator(".comment").fill("flips onto its back")
        page.get_by_test_id("generation-comment").fill("all of them drag the front leg")
        card("cand_02").locator("details summary").click()
        assert "speed = 3.0 * x_velocity" in card("cand_02").locator(".source").inner_text()
        _wait_js(page, "() => [...document.querySelectorAll('video')].every(v => !v.paused)")
        page.screenshot(path=str(shots / "rank_page.png"), full_page=True)
        assert not ranking_path(fresh_run, 0).exists()

        page.get_by_test_id("submit").click()
        _wait_js(page, "() => document.querySelector('#status').textContent.startsWith('Saved')")
        assert page.get_by_test_id("submit").is_disabled()
        assert card("cand_00").locator(".comment").is_disabled()
        assert errors == []
        page.close()
    finally:
        worker.join(timeout=15)
    assert not worker.is_alive()

    ranking = result["ranking"]
    stored = json.loads(ranking_path(fresh_run, 0).read_text())
    assert Ranking.from_json(stored) == ranking
    assert stored["who"] == "human" and stored["generation"] == 0
    assert stored["order"] == ["cand_02", "cand_00", "cand_01"]
    assert (stored["best"], stored["worst"]) == ("cand_02", "cand_01")
    assert stored["comments"] == {"cand_02": "runs forward <fast>", "cand_01": "flips onto its back"}
    assert stored["generation_comment"] == "all of them drag the front leg"
    assert "received: best cand_02, worst cand_01" in messages[-1]
    assert (shots / "rank_page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dashboard_and_report_in_chromium(browser: Any, fresh_run: Path, shots: Path) -> None:
    atomic_write_json(
        ranking_path(fresh_run, 0),
        Ranking(0, "synthetic", ("cand_02", "cand_00", "cand_01"), "cand_02", "cand_01", note="test").to_json(),
    )
    server = serve_dashboard(fresh_run, block=False, announce=lambda s: None)
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.dashboard_url)
        page.wait_for_selector(".cand")
        assert page.locator("#run-id").inner_text() == "run-rank"
        assert page.locator("#plot svg circle").count() >= 3  # a dot per candidate with a fitness
        assert "Ranked by synthetic: cand_02 > cand_00 > cand_01" in page.locator("main").inner_text()
        failed = page.get_by_test_id("cand-0-cand_03")
        assert "check_error" in failed.inner_text()
        best = page.get_by_test_id("cand-0-cand_02")
        best.locator("summary").click()
        assert "speed = 3.0 * x_velocity" in best.inner_text() and "rose steadily" in best.inner_text()
        _wait_js(page, "() => document.querySelector('.cand video')?.readyState >= 2")
        assert errors == []
        page.close()
    finally:
        server.close()


def test_report_in_chromium(browser: Any, tmp_path: Path, shots: Path) -> None:
    from test_report import make_fake_run

    fits: dict[int, list[float | None]] = {
        0: [0.4, None, 1.1, -0.3],
        1: [1.6, 0.9, None, 1.2],
        2: [2.4, 1.8, 2.9, None],
        3: [3.1, 3.8, 2.2, 3.3],
    }
    run = make_fake_run(tmp_path, fits=fits)
    comments = {"cand_01": "gallops, front leg does the work", "cand_03": "falls on its back and wriggles"}
    save_ranking(run, Ranking(0, "synthetic", ("cand_02", "cand_00", "cand_03"), "cand_02", "cand_03"))
    save_ranking(run, Ranking(3, "human", ("cand_01", "cand_00", "cand_02", "cand_03"), "cand_01", "cand_03", comments))
    curves = {
        "forward": [0.1, 0.6, 1.3, 2.0, 2.6, 3.1, 3.4, 3.6],
        "ctrl": [-0.6, -0.5, -0.42, -0.38, -0.35, -0.33, -0.31, -0.3],
        "upright": [0.2, 0.5, 0.7, 0.8, 0.85, 0.88, 0.9, 0.9],
    }
    report = write_report(run, curves)
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
    page.goto(report.as_uri())
    assert page.locator("svg").count() == 4  # fitness + three components
    assert page.locator("svg polyline").count() == 5
    assert errors == []  # nothing tried to load from anywhere else
    page.screenshot(path=str(shots / "report.png"), full_page=True)
    page.close()


# ------------------------------------------------------------------------------------------ refusals


@pytest.fixture()
def server(fresh_run: Path) -> Iterator[RankServer]:
    with RankServer(fresh_run, 0, load_items(fresh_run, 0)) as s:
        yield s


def _valid() -> dict[str, Any]:
    return {"generation": 0, "order": ["cand_01", "cand_00", "cand_02"], "best": "cand_01", "worst": "cand_02"}


def test_token_is_required(server: RankServer) -> None:
    base = server.base_url
    for path in ["/rank", "/api/items", "/static/rank.js", "/files/gen_000/cand_00/rollout.mp4", "/"]:
        assert _request(base + path)[0] == 403
        assert _request(base + path + "?token=" + "x" * 32)[0] == 403
        assert _request(base + path + f"?token={server.token}&token={server.token}")[0] == 403
    status, body = _request(base + "/api/ranking", method="POST", body=json.dumps(_valid()).encode())
    assert status == 403 and "token" in body["error"]
    assert not ranking_path(server.run_dir, 0).exists()
    status, body = _post(server, _valid())  # the same request with the token is accepted
    assert status == 200, body


def test_pages_and_assets_with_token(server: RankServer) -> None:
    status, html = _request(server.url)
    assert status == 200 and f"rank.js?token={server.token}" in html.decode()
    status, html = _request(server.dashboard_url)
    assert status == 200 and f"dashboard.js?token={server.token}" in html.decode()
    status, data = _request(server.page_url("/api/items"))
    assert status == 200 and [it["name"] for it in data["items"]] == NAMES
    assert data["items"][2]["video"] == "/files/gen_000/cand_02/rollout.mp4"
    assert data["items"][2]["fitness"] == 1.7 and "speed = 3.0" in data["items"][2]["source"]
    video = (server.run_dir / "gen_000/cand_00/rollout.mp4").read_bytes()
    status, got = _request(server.page_url("/files/gen_000/cand_00/rollout.mp4"))
    assert status == 200 and got == video
    status, part = _request(server.page_url("/files/gen_000/cand_00/rollout.mp4"), headers={"Range": "bytes=4-11"})
    assert status == 206 and part == video[4:12] == b"ftypisom"
    status, tail = _request(server.page_url("/files/gen_000/cand_00/rollout.mp4"), headers={"Range": "bytes=-5"})
    assert status == 206 and tail == video[-5:]
    assert (
        _request(server.page_url("/files/gen_000/cand_00/rollout.mp4"), headers={"Range": "bytes=99999999-"})[0] == 416
    )
    status, run = _request(server.page_url("/api/run"))
    assert status == 200 and [c["status"] for c in run["generations"][0]["candidates"]] == ["ok"] * 3 + ["check_error"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({**_valid(), "order": ["cand_01", "cand_00", "cand_09"]}, 400, "unknown candidates: cand_09"),
        ({**_valid(), "order": ["cand_01", "cand_01", "cand_02"]}, 400, "more than once"),
        ({**_valid(), "order": ["cand_01", "cand_02"]}, 400, "leaves out cand_00"),
        ({**_valid(), "best": "cand_07"}, 400, "unknown candidates: cand_07"),
        ({**_valid(), "best": "cand_02", "worst": "cand_01"}, 400, "ranked below worst"),
        ({**_valid(), "comments": {"cand_00": "x" * 10_001}}, 400, "limit is 10000 bytes"),
        ({**_valid(), "comments": {"cand_00": "x" * 1_000_000}}, 413, "limit is 65536"),
        ({**_valid(), "comments": {"cand_05": "hm"}}, 400, "unknown candidates: cand_05"),
        ({**_valid(), "comments": {"cand_00": 3}}, 400, "comments must map"),
        ({**_valid(), "order": "cand_01"}, 400, "order must be a list"),
        ({**_valid(), "order": [1, 2, 3]}, 400, "order must be a list"),
        ({**_valid(), "best": None}, 400, "best must be"),
        ({**_valid(), "generation": 3}, 400, "ranks generation 0"),
        ({**_valid(), "generation_comment": ["x"]}, 400, "generation_comment must be a string"),
        ({**_valid(), "who": "fitness"}, 400, "unknown fields: who"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_invalid_submissions_store_nothing(server: RankServer, payload: Any, status: int, message: str) -> None:
    got, body = _post(server, payload)
    assert got == status and message in body["error"]
    assert not ranking_path(server.run_dir, 0).exists() and server.ranking is None


def test_malformed_bodies_store_nothing(server: RankServer) -> None:
    assert _post(server, None, raw=b'{"order": [')[0] == 400
    assert _post(server, None, raw=b'{"order": NaN}')[0] == 400
    assert _post(server, None, raw=b"\xff\xfe")[0] == 400
    assert _post(server, _valid(), ctype="text/plain")[0] == 415
    big = json.dumps({**_valid(), "generation_comment": "y" * MAX_BODY_BYTES}).encode()
    assert _post(server, None, raw=big)[0] == 413
    elsewhere = server.page_url("/api/elsewhere")
    assert _request(elsewhere, method="POST", body=b"{}", headers={"Content-Type": "application/json"})[0] == 404
    for method in ["PUT", "DELETE", "PATCH"]:
        assert _request(server.page_url("/api/ranking"), method=method, body=b"{}")[0] == 405
    assert not ranking_path(server.run_dir, 0).exists()


def test_only_run_videos_are_served(server: RankServer, tmp_path: Path) -> None:
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"secret")
    link = server.run_dir / "gen_000" / "cand_00" / "link.mp4"
    link.symlink_to(outside)
    try:
        for path in [
            "/files/../secret.mp4",
            "/files/gen_000/../../secret.mp4",
            "/files/%2e%2e/%2e%2e/etc/passwd",
            "/files/gen_000/%2E%2E/%2E%2E/etc/passwd",
            "/files//etc/passwd",
            "/files/%2Fetc%2Fpasswd",
            "/files/gen_000\\..\\summary.json",
            "/files/gen_000/cand_00/link.mp4",  # a symlink that leads out of the run
            "/files/gen_000/cand_00/reward.py",  # not a video
            "/files/gen_000/cand_00/candidate.json",
            "/files/gen_000/cand_00/missing.mp4",
            "/static/../rank_server.py",
            "/static/rank.html",
        ]:
            status, body = _request(server.page_url(path))
            assert status in (400, 403, 404), path
            assert isinstance(body, dict) and "error" in body, path
    finally:
        link.unlink()


def test_one_submission_then_conflict(server: RankServer) -> None:
    status, body = _post(server, {**_valid(), "comments": {"cand_00": "  ok  ", "cand_01": " "}})
    assert status == 200 and body["path"] == "gen_000/ranking.json"
    stored = json.loads(ranking_path(server.run_dir, 0).read_text())
    assert stored["comments"] == {"cand_00": "ok"} and stored["who"] == "human"
    assert server.wait(0) == Ranking.from_json(stored)
    assert _post(server, _valid())[0] == 409
    assert not [p for p in ranking_path(server.run_dir, 0).parent.iterdir() if p.name.endswith(".tmp")]


def test_closed_ranking_refuses_late_submission(server: RankServer) -> None:
    assert server.close_ranking() is None
    status, body = _post(server, _valid())
    assert status == 409 and "timed out" in body["error"]
    assert not ranking_path(server.run_dir, 0).exists()


def test_human_ranker_times_out_to_fitness(fresh_run: Path) -> None:
    messages: list[str] = []
    urls: list[str] = []
    ranker = HumanRanker(fresh_run, timeout_s=0.2, announce=messages.append, on_start=lambda s: urls.append(s.url))
    ranking = ranker.rank(0, load_items(fresh_run, 0))
    assert ranking.who == "fitness" and ranking.order == ("cand_02", "cand_00", "cand_01")
    assert "no ranking from a person within 0.2 s" in ranking.note and "ordered by fitness" in messages[-1]
    assert not ranking_path(fresh_run, 0).exists()
    with pytest.raises(urllib.error.URLError):  # the server is gone
        urllib.request.urlopen(urls[0], timeout=2)


def test_bad_setup_is_refused(fresh_run: Path) -> None:
    with pytest.raises(ValueError, match="token"):
        RankServer(fresh_run, token="short")
    with pytest.raises(ValueError, match="nothing to rank"):
        RankServer(fresh_run, 0, [])
    with pytest.raises(FileNotFoundError):
        RankServer(fresh_run / "nope")
    item = RankItem("cand_00", None, None, "")
    with pytest.raises(ValueError, match="not unique"):
        RankServer(fresh_run, 0, [item, item])


def test_dashboard_refuses_a_folder_that_is_not_a_run(fresh_run: Path, tmp_path: Path) -> None:
    (tmp_path / "gen_000").mkdir()
    with pytest.raises(NotARunError, match=rf"{tmp_path} is not a eureka-kit run \(no config.json\)"):
        serve_dashboard(tmp_path, block=False, announce=lambda s: None)
    with pytest.raises(NotARunError, match="does not exist"):
        serve_dashboard(tmp_path / "nope", block=False, announce=lambda s: None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotARunError, match="is a file"):
        serve_dashboard(tmp_path / "file", block=False, announce=lambda s: None)
    assert issubclass(NotARunError, FileNotFoundError)  # the CLI prints it as a one-line error
    serve_dashboard(fresh_run, block=False, announce=lambda s: None).close()  # a run folder is served


# ------------------------------------------------------------------------------------------ clients that go away


class _GoneClient:
    """A client socket that sends ``request`` and then goes away: reading past it, or any write, raises ``error``."""

    def __init__(self, request: bytes, error: OSError) -> None:
        self.request, self.error = request, error

    def makefile(self, mode: str, *args: Any) -> Any:
        client = self

        class Reader(io.BufferedReader):
            def __init__(self) -> None:
                super().__init__(io.BytesIO(client.request))  # type: ignore[arg-type]

            def readline(self, size: int | None = -1) -> bytes:
                line = super().readline(size)
                if not line:
                    raise client.error
                return line

        return Reader()

    def sendall(self, data: bytes) -> None:
        raise self.error

    def settimeout(self, t: float | None) -> None:
        return

    def setsockopt(self, *args: Any) -> None:
        return

    def shutdown(self, how: int) -> None:
        raise self.error

    def close(self) -> None:
        return


@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset by peer")])
@pytest.mark.parametrize("path", ["/files/gen_000/cand_00/rollout.mp4", "/api/run", "/static/nope.js"])
def test_a_client_going_away_prints_nothing(
    server: RankServer, capfd: pytest.CaptureFixture[str], error: OSError, path: str
) -> None:
    """A browser cancelling a video load (reset while reading the next request, or during our answer)."""
    request = f"GET {path}?token={server.token} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-\r\n\r\n".encode()
    server._httpd.process_request_thread(_GoneClient(request, error), ("127.0.0.1", 50000))  # type: ignore[arg-type]
    server._httpd.process_request_thread(_GoneClient(b"", error), ("127.0.0.1", 50001))  # type: ignore[arg-type]
    assert capfd.readouterr().err == ""
    assert _request(server.page_url("/api/items"))[0] == 200  # still serving


def test_a_failing_request_prints_one_line(server: RankServer, capfd: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError("something broke")
    except ValueError:
        server._httpd.handle_error(None, ("127.0.0.1", 50000))
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "ValueError: something broke" in err and "Traceback" not in err
