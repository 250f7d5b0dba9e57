"""What candidate threads share in the driver stays consistent when many threads use it at once.

Each test hammers one shared object from several threads with a tiny switch interval (so the interpreter
switches threads as often as it can) and checks the result is exactly what a serial run gives: the call log's
lines, the LLM totals, the progress display, the shared Crafter textures, one render at a time, the task
constants. See "Threads in the driver" in docs/architecture.md.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

THREADS = 8


pytestmark = pytest.mark.usefixtures("fast_switching")  # tests/conftest.py


def _together(fn: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """``fn(i)`` for ``i < n``, all started at once from ``n`` threads; re-raises the first error."""
    start = threading.Barrier(n)

    def run(i: int) -> Any:
        start.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result() for f in [pool.submit(run, i) for i in range(n)]]


# ----- progress display ---------------------------------------------------------------------------------


class _FakeLive:
    """Stands in for ``rich.live.Live``: keeps the last panel, prints nothing."""

    def __init__(self) -> None:
        self.panels = 0
        self.console = self

    def update(self, panel: Any) -> None:
        self.panels += 1

    def print(self, message: str) -> None:
        pass


def test_progress_panel_is_drawn_while_candidates_change_stages() -> None:
    from eureka_kit.run.progress import Progress

    progress = Progress("CartPole-Run-v1", 1, live=False)
    progress._live = _FakeLive()  # draw a panel on every event, as on a terminal

    def candidate(i: int) -> None:
        for j in range(150):
            name = f"gen_000/cand_{i:02d}_{j:03d}"
            progress.stage(name, "checking")
            progress.finished(name, "ok" if j % 2 else f"status_{j % 7}", float(j))

    _together(candidate)
    assert progress._s.statuses.total() == THREADS * 150
    assert progress._s.best_fitness == 149.0


def test_progress_lines_are_printed_whole(capsys: pytest.CaptureFixture[str]) -> None:
    from eureka_kit.run.progress import Progress

    progress = Progress("CartPole-Run-v1", 1, live=False)
    _together(lambda i: [progress.log(f"line {i} {j} " + "x" * 200) for j in range(100)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == THREADS * 100
    assert all(line.startswith("line ") and line.endswith("x" * 200) and line.count("line") == 1 for line in lines)


# ----- LLM client: call log and totals ------------------------------------------------------------------


def _record(i: int, j: int) -> Any:
    from eureka_kit.llm import CallRecord

    return CallRecord(f"gen_000/cand_{i:02d}/repair_{j}", "m", (0,), "ok", 10 + i, j, cost_usd=0.001 * j)


def test_call_log_lines_stay_whole_with_many_threads_and_two_hooks(tmp_path: Path) -> None:
    from eureka_kit.llm.accounting import append_jsonl

    log = tmp_path / "llm_calls.jsonl"
    hooks = [append_jsonl(log), append_jsonl(log)]  # e.g. the judge's client and the loop's, on one file
    _together(lambda i: [hooks[j % 2](_record(i, j)) for j in range(200)])
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == THREADS * 200
    seen = {(d["request_id"], d["completion_tokens"]) for d in map(json.loads, lines)}
    assert len(seen) == THREADS * 200


def test_concurrent_samples_add_up_exactly_in_totals_records_and_log(tmp_path: Path) -> None:
    from eureka_kit.llm import Message, make_client
    from eureka_kit.llm.accounting import usage_from_log

    replay = tmp_path / "replay.jsonl"
    replay.write_text('{"key": "*", "text": "def compute_reward(): pass"}\n')
    log = tmp_path / "llm_calls.jsonl"
    client = make_client("replay", replay_path=replay, cache_dir=tmp_path / "cache", calls_log=log)
    messages = [Message("user", "write a reward")]

    def candidate(i: int) -> None:
        for j in range(25):
            client.sample(messages, n=2, request_id=f"gen_000/cand_{i:02d}/repair_{j}")
        client.sample(messages, n=2, request_id=f"gen_000/cand_{i:02d}/repair_0")  # from the cache

    _together(candidate)
    totals = client.totals()
    assert (totals.requests, totals.completions, totals.cache_hits) == (THREADS * 25, THREADS * 50, THREADS)
    assert len(client.records) == THREADS * 26 == len(log.read_text().splitlines())
    assert usage_from_log(log) == totals
    assert sum(client.totals(f"gen_000/cand_{i:02d}/").requests for i in range(THREADS)) == totals.requests


# ----- Crafter's shared textures ------------------------------------------------------------------------


def test_crafter_texture_swap_is_undone_whatever_the_threads() -> None:
    pytest.importorskip("crafter")
    from crafter import engine

    from eureka_kit.games import crafter_env

    original = engine.Textures
    built: list[Any] = []

    def build(i: int) -> None:
        for _ in range(20):
            with crafter_env._shared_textures():
                built.append(engine.Textures("unused"))
                time.sleep(0)

    _together(build)
    assert engine.Textures is original  # never left swapped
    assert len(crafter_env._TEXTURES) == 1 and all(t is crafter_env._TEXTURES[0] for t in built)


# ----- videos: one GL context at a time ------------------------------------------------------------------


def test_videos_from_several_threads_render_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from eureka_kit.preferences import video
    from eureka_kit.tasks.registry import get_task

    active, most = [0], [0]
    count = threading.Lock()

    class Env:
        """A render env that counts how many exist at once (each would hold a GL context)."""

        def __init__(self) -> None:
            with count:
                active[0] += 1
                most[0] = max(most[0], active[0])

        def reset(self, seed: int) -> None:
            time.sleep(0.005)
            raise RuntimeError("no display in this test")

        def render(self) -> None:
            raise AssertionError("reset fails first")

        def close(self) -> None:
            with count:
                active[0] -= 1

    monkeypatch.setattr(video, "_make_render_env", lambda spec, width, height: Env())
    spec = get_task("MountainCar-Flag-v1")
    results = _together(
        lambda i: video.record_video(spec, lambda obs: np.zeros(1), tmp_path / f"{i}.mp4", seed=i, max_steps=5)
    )
    assert [r.status for r in results] == ["render_error"] * THREADS
    assert most[0] == 1 and active[0] == 0


# ----- cached task constants ------------------------------------------------------------------------------


def test_cached_task_constants_cannot_be_changed_by_one_thread_for_all() -> None:
    pytest.importorskip("mujoco")
    import numpy as np

    from eureka_kit.sim.physics import get_physics

    consts = get_physics("HalfCheetah-Run-v1").consts()
    assert consts is get_physics("HalfCheetah-Run-v1").consts()  # one object shared by every env and thread
    for array in (consts.init_qpos, consts.init_qvel, consts.body_mass):
        with pytest.raises(ValueError, match="read-only"):
            array += 1.0
    with pytest.raises(TypeError):
        consts.body["torso"] = 0  # type: ignore[index]
    assert np.all(consts.init_qvel == 0.0)
