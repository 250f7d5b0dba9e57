"""The run report, built from a small fake run folder."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from eureka_kit.preferences.ranking import Ranking, save_ranking
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.store import atomic_write_json
from eureka_kit.web.report import write_report
from eureka_kit.web.run_view import load_run
from eureka_kit.web.svg_charts import fitness_svg, line_chart_svg

BEST_SOURCE = (
    "import torch\n\ndef compute_reward(x_velocity, action):\n    return x_velocity, {'forward': x_velocity}\n"
)


DEFAULT_FITNESS: dict[int, list[float | None]] = {0: [1.0, None, 2.5], 1: [3.0, 0.5, None]}


def make_fake_run(
    root: Path, *, with_summary: bool = True, fits: dict[int, list[float | None]] = DEFAULT_FITNESS
) -> Path:
    """A run folder: per generation, candidates with these fitnesses (``None``: failed), a ranking of
    generation 0, and optionally ``summary.json``. The best candidate's program is :data:`BEST_SOURCE`."""
    run = root / "run-1"
    best = max(((f, g, i) for g, v in fits.items() for i, f in enumerate(v) if f is not None))
    for g, values in fits.items():
        for i, f in enumerate(values):
            cand = run / f"gen_{g:03d}" / f"cand_{i:02d}"
            cand.mkdir(parents=True)
            (cand / "reward.py").write_text(BEST_SOURCE if (g, i) == best[1:] else f"# program {g}.{i} <b>\n")
            (cand / "feedback.md").write_text(f"feedback {g}.{i}\n")
            status = "ok" if f is not None else "train_error"
            rec = CandidateRecord(g, i, status, "" if f is not None else "diverged", fitness=f)  # type: ignore[arg-type]
            atomic_write_json(cand / "candidate.json", rec.to_json())
    save_ranking(
        run,
        Ranking(
            0, "human", ("cand_02", "cand_00"), "cand_02", "cand_00", {"cand_00": "<script>alert(1)</script>"}, "meh"
        ),
    )
    if with_summary:
        per_gen: list[dict[str, Any]] = []
        for g, v in fits.items():
            ok = [f for f in v if f is not None]
            per_gen.append(
                {
                    "generation": g,
                    "best_fitness": max(ok) if ok else None,
                    "mean_fitness": sum(ok) / len(ok) if ok else None,
                    "candidates": [
                        {"index": i, "status": "ok" if f is not None else "train_error", "fitness": f}
                        for i, f in enumerate(v)
                    ],
                }
            )
        statuses: list[str] = [c["status"] for g in per_gen for c in g["candidates"]]
        summary: dict[str, Any] = {
            "run_id": "run-1",
            "task": "HalfCheetah-Run-v1",
            "generations": len(fits),
            "best": {
                "candidate": f"gen_{best[1]:03d}/cand_{best[2]:02d}",
                "fitness": best[0],
                "fitness_std": 0.25,
                "source": BEST_SOURCE,
            },
            "fitness_per_generation": per_gen,
            "status_counts": {s: statuses.count(s) for s in sorted(set(statuses))},
            "llm": {
                "model": "gpt-test",
                "calls": 4,
                "cached_calls": 1,
                "prompt_tokens": 12345,
                "completion_tokens": 678,
                "cost_usd": 0.0123,
            },
            "wall_time_s": 754.0,
        }
        atomic_write_json(run / "summary.json", summary)
    return run


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(text: str) -> _Collect:
    p = _Collect()
    p.feed(text)
    return p


def test_report_is_self_contained_and_complete(tmp_path: Path) -> None:
    run = make_fake_run(tmp_path)
    path = write_report(run, {"forward": [0.1, 0.5, 1.2], "ctrl": [-0.3, None, -0.1]})
    assert path == run / "report.html"
    text = path.read_text()
    doc = _parse(text)
    # Self-contained: no script, no external resource of any kind.
    assert "script" not in doc.tags and "link" not in doc.tags and "img" not in doc.tags
    assert not re.search(r"(src|href)\s*=", text)
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    body = " ".join(doc.text)
    assert "HalfCheetah-Run-v1" in body and "12.6 min" in body
    assert "12345" in body and "678" in body and "$0.0123" in body and "gpt-test" in body
    assert "def compute_reward(x_velocity, action):" in body and "3 ± 0.25" in body
    assert "cand_02 > cand_00" in body and "meh" in body
    assert "train_error" in body
    # One fitness chart with best and mean lines and a dot per successful candidate; two component charts.
    assert doc.tags.count("svg") == 3
    assert "Fitness per generation" in body and "forward" in body and "ctrl" in body
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_report_without_summary_or_stats(tmp_path: Path) -> None:
    run = make_fake_run(tmp_path, with_summary=False)
    (run / "gen_001" / "ranking.json").write_text("{broken")
    text = write_report(run).read_text()
    body = " ".join(_parse(text).text)
    assert "missing: rebuilt from the candidate folders" in body
    assert "no training statistics" in body and "no LLM totals" in body
    assert "not valid JSON" in body  # the broken ranking is noted, not fatal
    view = load_run(run)
    per_gen = view.fitness_per_generation()
    assert [g["best_fitness"] for g in per_gen] == [2.5, 3.0]
    assert [c["status"] for c in per_gen[1]["candidates"]] == ["ok", "ok", "train_error"]


def test_load_run_reads_candidates(tmp_path: Path) -> None:
    run = make_fake_run(tmp_path)
    (run / "gen_001" / "cand_00" / "rollout.mp4").write_bytes(b"\0")
    (run / "gen_001" / "cand_03").mkdir()  # in progress
    view = load_run(run)
    g1 = view.generations[1]
    assert [c.status for c in g1.candidates] == ["ok", "ok", "train_error", "pending"]
    assert g1.candidates[0].video == "gen_001/cand_00/rollout.mp4" and g1.candidates[1].video is None
    assert g1.candidates[0].program == BEST_SOURCE and g1.candidates[2].message == "diverged"
    assert view.generations[0].ranking is not None and view.generations[0].ranking.best == "cand_02"


def test_charts_cope_with_gaps_and_empty_data() -> None:
    svg = line_chart_svg({"a": [None, 1.0, float("nan"), 2.0, 3.0]}, title="t <x>")
    assert svg.count("<polyline") == 1 and "t &lt;x&gt;" in svg
    assert "no data" in line_chart_svg({"a": []})
    assert "no data" in line_chart_svg({})
    flat = line_chart_svg({"a": [1.0, 1.0]})
    assert "<polyline" in flat
    assert "<circle" in fitness_svg([{"generation": 0, "best_fitness": None, "candidates": [{"fitness": 1.0}]}])
