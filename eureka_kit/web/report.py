"""The run report: one self-contained ``report.html`` (inline CSS, inline SVG plots, no script).

::

    from eureka_kit.web.report import write_report
    path = write_report(Path("runs/2025-01-01_halfcheetah"))

Sources, all optional except the run folder itself:

- ``summary.json`` (written by the loop): best program, fitness per
  generation, status counts, LLM tokens and cost, wall time. Without it, the
  fitness table is rebuilt from the candidates' ``candidate.json`` files.
- ``gen_XXX/cand_YY/candidate.json``, ``reward.py``, ``feedback.md``,
  ``rollout.mp4``: per-candidate status, fitness, program
  (:func:`eureka_kit.web.run_view.load_run`, also behind the dashboard of
  :mod:`eureka_kit.web.dashboard`).
- ``gen_XXX/ranking.json``: who ranked each generation, and their comments.
- the best candidate's ``stats.json``: its reward components along training,
  or a mapping ``name -> values`` given to :func:`write_report`.

Missing or malformed files are noted in the report, never fatal. The charts
are :mod:`eureka_kit.web.svg_charts`; this module writes the page and its tables.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eureka_kit.files import atomic_write_text
from eureka_kit.web.run_view import RunView, load_component_series, load_run
from eureka_kit.web.svg_charts import Series, finite, fitness_svg, fmt, line_chart_svg

REPORT_FILE = "report.html"

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;
vertical-align:top;font-size:.9em}th{background:#f5f5f5}.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;padding:12px;overflow:auto;font-size:.85em;border:1px solid #e1e4e8}
.ok{color:#1a7f37}.bad{color:#b42318}.muted{color:#777}.grid{display:flex;flex-wrap:wrap;gap:8px}
.note{background:#fff8e1;border:1px solid #f0d000;padding:6px 10px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; cells are given already escaped; no header row when ``head`` is empty."""
    out = ["<table>"]
    if head:
        out += ["<tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        cells = (f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        out += ["<tr>", *cells, "</tr>"]
    out.append("</table>")
    return "".join(out)


def _candidate_cell(c: Mapping[str, Any]) -> str:
    ok = c.get("status") == "ok"
    value = fmt(finite(c.get("fitness"))) if ok else str(c.get("status"))
    origin = c.get("origin")
    fresh = "*" if isinstance(origin, str) and origin.startswith("topup") else ""  # a fresh sample (--min-valid)
    return f'<span class="{"ok" if ok else "bad"}">{_e(c.get("index", "?"))}{fresh}: {_e(value)}</span>'


def render_report(view: RunView, series: Series | None = None) -> str:
    """The report's HTML for a loaded run; ``series`` are the best candidate's component curves."""
    summary = dict(view.summary or {})
    per_gen = view.fitness_per_generation()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>eureka-kit report: {_e(view.run_id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Run {_e(view.run_id)}</h1>",
    ]
    facts = [
        ("task", _e(view.task or "?")),
        ("generations", _e(f"{len(per_gen)}" + (f" of {summary['generations']}" if "generations" in summary else ""))),
        ("wall time", _e(_duration(summary.get("wall_time_s")))),
    ]
    if summary.get("stopped"):
        facts.append(("stopped", _e(summary["stopped"])))
    if not view.summary:
        facts.append(("summary.json", '<span class="muted">missing: rebuilt from the candidate folders</span>'))
    parts.append(_table([], facts))
    for note in view.notes:
        parts.append(f'<p class="note">{_e(note)}</p>')

    parts.append("<h2>Fitness</h2>")
    parts.append(fitness_svg(per_gen))
    rows = []
    for g in per_gen:
        cands = [c for c in g.get("candidates") or [] if isinstance(c, Mapping)]
        cells = ", ".join(_candidate_cell(c) for c in cands)
        rows.append(
            [
                _e(g.get("generation")),
                _e(fmt(finite(g.get("best_fitness")))),
                _e(fmt(finite(g.get("mean_fitness")))),
                cells,
            ]
        )
    parts.append(
        _table(
            ["generation", "best", "mean", "candidates (index: fitness or status; * a fresh sample, --min-valid)"],
            rows,
            numeric=(0, 1, 2),
        )
    )
    counts = summary.get("status_counts")
    if not isinstance(counts, Mapping):
        counts = {}
        for g in per_gen:
            for c in g.get("candidates") or []:
                counts[c.get("status")] = counts.get(c.get("status"), 0) + 1
    if counts:
        parts.append(_table(["status", "candidates"], [[_e(k), _e(v)] for k, v in counts.items()], numeric=(1,)))

    best = summary.get("best") if isinstance(summary.get("best"), Mapping) else None
    parts.append("<h2>Best program</h2>")
    if best:
        parts.append(
            f"<p>{_e(best.get('candidate', '?'))}, fitness {_e(fmt(finite(best.get('fitness'))))}"
            + (f" ± {_e(fmt(finite(best.get('fitness_std'))))}" if finite(best.get("fitness_std")) is not None else "")
            + "</p>"
        )
        parts.append(f"<pre>{_e(best.get('source', ''))}</pre>")
    else:
        parts.append('<p class="muted">no successful candidate yet</p>')

    parts.append("<h2>Reward components of the best candidate</h2>")
    if series:
        charts = [
            line_chart_svg({name: vals}, title=name, x_label="sample along training", width=340, height=200)
            for name, vals in series.items()
        ]
        parts.append('<div class="grid">' + "".join(charts) + "</div>")
    else:
        parts.append('<p class="muted">no training statistics (stats.json) for the best candidate</p>')

    ranked = [g for g in view.generations if g.ranking is not None]
    if ranked:
        parts.append("<h2>Rankings</h2>")
        rows = []
        for gv in ranked:
            r = gv.ranking
            assert r is not None
            comments = "<br>".join(f"<b>{_e(n)}</b>: {_e(t)}" for n, t in r.comments.items() if t)
            if r.generation_comment:
                comments = f"<i>{_e(r.generation_comment)}</i><br>" + comments
            rows.append([_e(gv.generation), _e(r.who), _e(" > ".join(r.order)), comments or "–"])
        parts.append(_table(["generation", "ranked by", "order (best first)", "comments"], rows, numeric=(0,)))

    llm = summary.get("llm") if isinstance(summary.get("llm"), Mapping) else None
    parts.append("<h2>LLM usage</h2>")
    if llm:
        cost = finite(llm.get("cost_usd"))
        rows = [
            ["model", _e(llm.get("model", "?"))],
            ["calls", _e(llm.get("calls", "?"))],
            ["cached calls", _e(llm.get("cached_calls", "?"))],
            ["prompt tokens", _e(llm.get("prompt_tokens", "?"))],
            ["completion tokens", _e(llm.get("completion_tokens", "?"))],
            ["cost", _e(f"${cost:.4f}" if cost is not None else "n/a (model not in the price table)")],
        ]
        parts.append(_table([], rows, numeric=(1,)))
    else:
        parts.append('<p class="muted">no LLM totals (summary.json missing)</p>')
    parts.append('<p class="muted">Written by eureka-kit.</p></body></html>')
    return "\n".join(parts) + "\n"


def _duration(seconds: Any) -> str:
    s = finite(seconds)
    if s is None:
        return "?"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def write_report(run_dir: Path, series: Series | None = None, *, out: Path | None = None) -> Path:
    """Write the run's self-contained ``report.html`` (atomically) and return its path.

    ``series`` are the best candidate's reward-component curves (``name ->
    values``); by default they are read from its ``stats.json``
    (:func:`load_component_series`).
    """
    view = load_run(run_dir)
    if series is None:
        series = {}
        best = (view.summary or {}).get("best")
        if isinstance(best, Mapping) and isinstance(best.get("candidate"), str):
            rel = Path(best["candidate"])
            if not rel.is_absolute() and ".." not in rel.parts:
                series = load_component_series(view.root / rel)
    path = Path(out) if out is not None else view.root / REPORT_FILE
    atomic_write_text(path, render_report(view, series))
    return path
