"""``eureka-kit benchmark``: the smoke suite end to end with replayed (hand-written) answers, killed and resumed,
then compared with a second configuration that reuses the cached baselines; the HNS arithmetic checked by hand
against the stored fitnesses; the page in Chromium. Plus the scoring and option parsing alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from eureka_kit.benchmark.options import options_from_flags, options_from_toml
from eureka_kit.benchmark.scoring import Trained, bootstrap_ci, compare, hns, score_task, suite_score
from eureka_kit.benchmark.suites import get_budget, get_suite
from eureka_kit.cli import main
from eureka_kit.web.chromium import HEADLESS_CHROMIUM, HEADLESS_CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ["benchmark", "--suite", "smoke", "--jobs", "2"]
COMPARE = [*SMOKE, "--compare-flag", "--temperature 0.5"]


# ----- scoring and options alone ---------------------------------------------------------------------------------


def _t(kind: str, seed: int, fitness: float | None, success: float | None = None) -> Trained:
    return Trained(kind, seed, "ok" if fitness is not None else "train_error", fitness, success, 1.0)  # type: ignore[arg-type]


def test_hns_per_task_and_suite_by_hand() -> None:
    human = [_t("baseline", 0, 10.0), _t("baseline", 1, 14.0)]  # mean 12
    sparse = [_t("sparse", 0, 1.0), _t("sparse", 1, 3.0)]  # mean 2
    programs = {0: [_t("program", 0, 20.0), _t("program", 1, 24.0)], 1: [_t("program", 0, 4.0), _t("program", 1, 6.0)]}
    score = score_task("T", human, sparse, programs, success_rates=False)
    # seed 0: (22 - 2) / |12 - 2| = 2.0; seed 1: (5 - 2) / 10 = 0.3
    assert [s.hns for s in score.seeds] == pytest.approx([2.0, 0.3])
    assert score.hns == pytest.approx(1.15) and score.hns_clipped == pytest.approx(1.15)
    assert score.hns_std == pytest.approx(((2.0 - 1.15) ** 2 * 2) ** 0.5)
    assert score.method is not None and score.method.mean == pytest.approx(13.5)
    # the human reward below the sparse one: the denominator is |human - sparse|, so a worse method is negative
    worse = score_task(
        "U", [_t("baseline", 0, 1.0)], [_t("sparse", 0, 5.0)], {0: [_t("program", 0, 17.0)]}, success_rates=False
    )
    assert worse.hns == pytest.approx(3.0)
    high = score_task(
        "V", [_t("baseline", 0, 2.0)], [_t("sparse", 0, 1.0)], {0: [_t("program", 0, 9.0)]}, success_rates=False
    )
    assert high.hns == pytest.approx(8.0) and high.hns_clipped == 3.0
    same = score_task(
        "W", [_t("baseline", 0, 0.0)], [_t("sparse", 0, 0.0)], {0: [_t("program", 0, 1.0)]}, success_rates=True
    )
    assert same.hns is None and same.status == "undefined" and "same" in same.reason
    none = score_task("X", human, sparse, {0: []}, success_rates=False)
    assert none.hns is None and none.seeds[0].status == "no_program"
    suite = suite_score([score, worse, high, same, none])
    assert suite.hns_mean == pytest.approx((1.15 + 3.0 + 8.0) / 3)
    assert suite.hns_mean_clipped == pytest.approx((1.15 + 3.0 + 3.0) / 3)
    assert suite.unscored == ("W", "X")
    assert hns(1.0, 1.0, 1.0) is None


def test_success_rates_and_paired_comparison() -> None:
    human = [_t("baseline", 0, 0.5, 0.5)]
    sparse = [_t("sparse", 0, 0.0, 0.0)]
    a = [score_task("G", human, sparse, {s: [_t("program", 0, 0.25, 0.25)] for s in range(3)}, success_rates=True)]
    b = [
        score_task(
            "G", human, sparse, {s: [_t("program", 0, 0.25 + 0.1 * s, 0.25)] for s in range(3)}, success_rates=True
        )
    ]
    assert a[0].success is not None and a[0].success["human"] is not None and a[0].success["human"].mean == 0.5
    c = compare("a", a, "b", b)
    # per seed: HNS a = 0.5; b = 0.5, 0.7, 0.9 -> differences 0, 0.2, 0.4
    assert c.pairs == 3 and c.mean_diff == pytest.approx(0.2)
    assert c.rows[0].diff == pytest.approx(0.2)
    assert c.ci is not None and c.ci[0] == pytest.approx(0.0) and c.ci[1] == pytest.approx(0.4)  # 3 pairs: extremes
    assert bootstrap_ci([0.0, 0.2, 0.4]) == c.ci  # fixed RNG seed: the same interval every time
    assert bootstrap_ci([]) is None


def test_options_from_flags_and_toml(tmp_path: Path) -> None:
    assert options_from_flags("--samples 2 --no-videos --schedule halving --temperature=0.5") == {
        "samples": 2,
        "videos": False,
        "schedule": "halving",
        "temperature": 0.5,
    }
    with pytest.raises(ValueError, match="Did you mean 'samples'"):
        options_from_flags("--sampels 2")
    with pytest.raises(ValueError, match="set by the benchmark"):
        options_from_flags("--seed 3")
    toml = tmp_path / "fast.toml"
    toml.write_text('model = "gpt-4o"\nrepair-rounds = 1\n')
    assert options_from_toml(toml) == {"model": "gpt-4o", "repair_rounds": 1}
    toml.write_text("[run]\nsamples = 2\n")
    with pytest.raises(ValueError, match="top-level"):
        options_from_toml(toml)
    with pytest.raises(ValueError, match="Valid: games, locomotion, smoke"):
        get_suite("locomotoin")
    assert get_budget("smoke").task_steps(200_000) == 256 and get_budget("small").task_steps(200_000) == 20_000


# ----- the smoke suite, end to end -------------------------------------------------------------------------------


def _events(bench: Path) -> list[dict[str, Any]]:
    path = bench / "trainings.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip().endswith("}")]


def _kill_after_first_done(bench: Path) -> set[str]:
    """Start the smoke benchmark in a process; SIGKILL its whole process tree once some work has finished."""
    cmd = [sys.executable, "-m", "eureka_kit.cli", *SMOKE, "--dir", str(bench)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if any(e["event"] == "done" for e in _events(bench)):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the benchmark finished before it could be killed"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return {e["key"] for e in _events(bench) if e["event"] == "done"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, set[str], str, str]]:
    bench = tmp_path_factory.mktemp("bench") / "smoke"
    done_before_kill = _kill_after_first_done(bench)
    lines_before = len(_events(bench))
    first, second = StringIO(), StringIO()
    with redirect_stdout(first):
        assert main([*SMOKE, "--dir", str(bench)]) == 0  # resumes the killed benchmark
    after_resume = len(_events(bench))
    with redirect_stdout(second):
        assert main([*COMPARE, "--dir", str(bench)]) == 0  # a second configuration on the same folder
    yield bench, done_before_kill, first.getvalue(), second.getvalue()
    assert lines_before <= after_resume


def test_resume_after_sigkill_retrains_nothing_finished(smoke: tuple[Path, set[str], str, str]) -> None:
    bench, done_before_kill, _, _ = smoke
    assert done_before_kill
    events = _events(bench)
    for key in done_before_kill:
        starts = [e for e in events if e["key"] == key and e["event"] == "start"]
        assert len(starts) == 1, f"{key} was started again after it had finished: {starts}"
    for e in events:  # every piece of work finished exactly once over the three invocations
        if e["event"] == "done":
            assert sum(1 for x in events if x["key"] == e["key"] and x["event"] == "done") == 1, e["key"]


def test_compare_reuses_the_cached_baselines(smoke: tuple[Path, set[str], str, str]) -> None:
    bench, _, _, out = smoke
    data = json.loads((bench / "benchmark.json").read_text())
    assert [c["name"] for c in data["configurations"]] == ["default", "temperature-0.5"]
    assert data["baseline_cache"] == {"trained": 0, "reused": 4}
    baseline_events = [e for e in _events(bench) if e["what"] == "baseline" and e["event"] == "start"]
    assert len(baseline_events) == 4  # human and sparse x two tasks x one seed, trained once in all
    assert "4 reused from the cache" in out and "paired comparison: temperature-0.5 - default" in out
    cmp = data["compare"]
    assert [r["task"] for r in cmp["rows"]] == list(get_suite("smoke").tasks)
    for c in data["configurations"]:
        usage = c["usage"]
        assert usage["llm_tokens"] > 0 and usage["env_steps"] >= 2 * 2 * 256 and usage["wall_s"] > 0
        assert c["llm"] == "replay" and c["units"][0]["status"] == "ok"
    b = data["configurations"][1]
    assert b["options"] == {"temperature": 0.5}
    assert (
        json.loads((bench / "configs" / "temperature-0.5" / "options.json").read_text())["resolved"]["temperature"]
        == 0.5
    )


def _fitness(path: Path) -> float:
    stored = json.loads(path.read_text())
    evaluated = json.loads((path.with_suffix("") / "eval.json").read_text())  # the trusted evaluator's number
    assert stored["fitness"] == evaluated["fitness"]
    return float(stored["fitness"])


def test_benchmark_json_and_hns_by_hand(smoke: tuple[Path, set[str], str, str]) -> None:
    bench, _, first, _ = smoke
    data = json.loads((bench / "benchmark.json").read_text())
    assert data["tasks"] == ["HalfCheetah-Run-v1", "LavaCrossing-Grid-v1"] and data["suite"] == "smoke"
    assert data["budget"]["name"] == "smoke" and data["seeds"] == 1 and data["eval_seeds"] == 1
    assert {"eureka-kit", "torch", "stable-baselines3"} <= set(data["versions"])
    config = data["configurations"][0]
    assert config["steps"] == {"HalfCheetah-Run-v1": 256, "LavaCrossing-Grid-v1": 256}
    scored = []
    for t in config["tasks"]:
        label = f"{t['task']}__{{}}__sb3__256steps__1envs__1ep__seed0.json"
        human = _fitness(bench / "baselines" / label.format("baseline"))
        sparse = _fitness(bench / "baselines" / label.format("sparse"))
        program = _fitness(bench / "configs" / "default" / t["task"] / "seed0" / "final" / "program_seed0.json")
        assert t["human"]["mean"] == human and t["sparse"]["mean"] == sparse and t["method"]["mean"] == program
        if human == sparse:
            assert t["hns"] is None and t["status"] == "undefined"
            continue
        expected = (program - sparse) / abs(human - sparse)
        assert t["hns"] == pytest.approx(expected) and t["seeds"][0]["hns"] == pytest.approx(expected)
        assert t["hns_clipped"] == pytest.approx(min(max(expected, 0.0), 3.0))
        scored.append((expected, min(max(expected, 0.0), 3.0)))
    assert scored, "HalfCheetah's human and sparse rewards train to different fitnesses"
    suite = config["suite"]
    assert suite["hns_mean"] == pytest.approx(sum(s[0] for s in scored) / len(scored))
    assert suite["hns_mean_clipped"] == pytest.approx(sum(s[1] for s in scored) / len(scored))
    lava = next(t for t in config["tasks"] if t["task"] == "LavaCrossing-Grid-v1")
    assert set(lava["success"]) == {"method", "human", "sparse"}  # a game: success rates
    assert next(t for t in config["tasks"] if t["task"] == "HalfCheetah-Run-v1")["success"] is None
    assert "suite mean HNS" in first and "HalfCheetah-Run-v1" in first


def test_page_renders_in_chromium(smoke: tuple[Path, set[str], str, str]) -> None:
    bench = smoke[0]
    if not HEADLESS_CHROMIUM.exists():
        pytest.skip(f"{HEADLESS_CHROMIUM} is missing (scripts/setup_system.sh)")
    (bench / "benchmark.html").unlink()
    assert main(["benchmark", "--report", str(bench)]) == 0
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(HEADLESS_CHROMIUM), headless=True, args=list(HEADLESS_CHROMIUM_ARGS)
        )
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.route("**/*", lambda r: r.abort() if not r.request.url.startswith("file:") else r.continue_())
        page.goto((bench / "benchmark.html").as_uri())
        text = page.locator("body").inner_text()
        assert "Paired comparison" in text and "def compute_reward" in text
        bars = page.locator("svg rect[data-hns]")
        assert bars.count() >= 2  # HalfCheetah's HNS for both configurations
        assert page.locator("svg").count() == 1 + 4  # the HNS bars + fitness per generation of each search
        assert errors == []
        browser.close()


def test_export_writes_an_examples_library(smoke: tuple[Path, set[str], str, str], tmp_path: Path) -> None:
    from eureka_kit.loop.few_shot import load_examples
    from eureka_kit.tasks.registry import get_task

    bench = smoke[0]
    out = tmp_path / "library"
    assert main(["export", str(bench), str(out)]) == 0
    index = json.loads((out / "index.json").read_text())
    assert len(index["programs"]) == 4  # two tasks x two configurations, one seed
    data = json.loads((bench / "benchmark.json").read_text())
    cheetah = next(t for t in data["configurations"][0]["tasks"] if t["task"] == "HalfCheetah-Run-v1")
    entry = next(p for p in index["programs"] if p["task"] == "HalfCheetah-Run-v1" and p["origin"] == "default__s0")
    assert entry["hns"] == cheetah["seeds"][0]["hns"]
    examples = load_examples(get_task("HalfCheetah-Run-v1"), out)  # what --examples DIR does
    mine = [e for e in examples if e.origin == "user"]
    assert len(mine) == 4 and {e.task for e in mine} == {"HalfCheetah-Run-v1", "LavaCrossing-Grid-v1"}
    assert all("def compute_reward" in e.program for e in mine)
    run = bench / data["configurations"][0]["units"][0]["run_dir"]  # a single run folder exports too
    assert main(["export", str(run), str(tmp_path / "one")]) == 0
    assert len(json.loads((tmp_path / "one" / "index.json").read_text())["programs"]) == 1
