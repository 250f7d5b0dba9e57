"""The run report: one self-contained ``report.html`` (inline CSS, inline SVG plots, no script).

::

    from eureka_kit.web.report import write_report
    path = write_report(Path("runs/2025-01-01_halfcheetah"))

Sources, all optional except the run folder itself:

- ``summary.json`` (written by the loop): best program, fitness per
  generation, status counts, LLM tokens and cost, wall time. Without it, the
  fitness table is rebuilt from the candidates' ``candidate.json`` files.
- ``gen_XXX/cand_YY/candidate.json``, ``reward.py``, ``feedback.md``,
  ``rollout.mp4``: per-candidate status, fitness, program (:func:`load_run`,
  also behind the dashboard of :mod:`eureka_kit.web.rank_server`).
- ``gen_XXX/ranking.json``: who ranked each generation, and their comments.
- the best candidate's ``stats.json``: its reward components along training,
  or a mapping ``name -> values`` given to :func:`write_report`.

Missing or malformed files are noted in the report, never fatal.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eureka_kit.preferences.ranking import VIDEO_FILE, Ranking, RankingError, load_ranking
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.store import atomic_write_text, read_json

REPORT_FILE = "report.html"
MAX_TEXT_CHARS = 100_000
"""Longest program or feedback text read from a candidate folder (the rest is cut)."""

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
_GEN = re.compile(r"^gen_(\d{3,})$")
_CAND = re.compile(r"^cand_(\d{2,})$")

Series = Mapping[str, Sequence[float | None]]


# ------------------------------------------------------------------------------------------ run folder


@dataclass(frozen=True)
class CandidateView:
    """What the run folder says about one candidate. ``status`` is ``"pending"`` before ``candidate.json`` exists.

    ``video`` is the rollout video's path relative to the run folder (POSIX), or ``None``.
    """

    generation: int
    index: int
    status: str
    fitness: float | None
    fitness_std: float | None
    message: str
    program: str | None
    feedback: str | None
    video: str | None

    @property
    def name(self) -> str:
        return f"cand_{self.index:02d}"

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "index": self.index,
            "name": self.name,
            "status": self.status,
            "fitness": self.fitness,
            "fitness_std": self.fitness_std,
            "message": self.message,
            "program": self.program,
            "feedback": self.feedback,
            "video": self.video,
        }


@dataclass(frozen=True)
class GenerationView:
    """One generation's candidates and its ranking (``ranking_error`` says why a stored one was unreadable)."""

    generation: int
    candidates: tuple[CandidateView, ...]
    ranking: Ranking | None
    ranking_error: str = ""

    @property
    def fitnesses(self) -> list[float]:
        return [c.fitness for c in self.candidates if c.fitness is not None and math.isfinite(c.fitness)]

    def to_summary(self) -> dict[str, Any]:
        """The generation in ``summary.json``'s ``fitness_per_generation`` format."""
        fits = self.fitnesses
        return {
            "generation": self.generation,
            "best_fitness": max(fits) if fits else None,
            "mean_fitness": sum(fits) / len(fits) if fits else None,
            "candidates": [{"index": c.index, "status": c.status, "fitness": c.fitness} for c in self.candidates],
        }


@dataclass(frozen=True)
class RunView:
    """A run folder as read from disk: its summary (if written) and every generation found."""

    root: Path
    summary: Mapping[str, Any] | None
    generations: tuple[GenerationView, ...]
    notes: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def task(self) -> str | None:
        if self.summary and isinstance(self.summary.get("task"), str):
            return str(self.summary["task"])
        return None

    def fitness_per_generation(self) -> list[Mapping[str, Any]]:
        """From ``summary.json`` when it has them, else rebuilt from the candidate folders."""
        if self.summary and isinstance(self.summary.get("fitness_per_generation"), list):
            return [g for g in self.summary["fitness_per_generation"] if isinstance(g, Mapping)]
        return [g.to_summary() for g in self.generations]


def _read_text(path: Path) -> str | None:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            text = f.read(MAX_TEXT_CHARS + 1)
    except OSError:
        return None
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "\n[... cut]"


def _candidate(run_dir: Path, generation: int, index: int, folder: Path, notes: list[str]) -> CandidateView:
    status, fitness, std, message = "pending", None, None, ""
    record_path = folder / "candidate.json"
    if record_path.is_file():
        try:
            record = CandidateRecord.from_json(read_json(record_path))
            status, fitness, std, message = record.status, record.fitness, record.fitness_std, record.message
        except (ValueError, TypeError) as e:
            status, message = "unreadable", f"candidate.json: {e}"
            notes.append(f"{folder.relative_to(run_dir)}/candidate.json is unreadable: {e}")
    video = folder / VIDEO_FILE
    return CandidateView(
        generation=generation,
        index=index,
        status=status,
        fitness=fitness,
        fitness_std=std,
        message=message,
        program=_read_text(folder / "reward.py"),
        feedback=_read_text(folder / "feedback.md"),
        video=video.relative_to(run_dir).as_posix() if video.is_file() else None,
    )


def load_run(run_dir: Path) -> RunView:
    """Read a run folder: ``summary.json`` if present, every ``gen_XXX/cand_YY`` and ranking."""
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no run folder at {root}")
    notes: list[str] = []
    summary = None
    summary_path = root / "summary.json"
    if summary_path.is_file():
        try:
            data = read_json(summary_path)
            summary = data if isinstance(data, Mapping) else None
        except ValueError as e:
            notes.append(f"summary.json is unreadable: {e}")
    generations = []
    for gen_dir in sorted(p for p in root.iterdir() if p.is_dir() and _GEN.match(p.name)):
        g = int(gen_dir.name[4:])
        cands = []
        for folder in sorted(p for p in gen_dir.iterdir() if p.is_dir() and _CAND.match(p.name)):
            cands.append(_candidate(root, g, int(folder.name[5:]), folder, notes))
        ranking, error = None, ""
        try:
            ranking = load_ranking(root, g)
        except RankingError as e:
            error = str(e)
            notes.append(error)
        generations.append(GenerationView(g, tuple(cands), ranking, error))
    return RunView(root, summary, tuple(generations), tuple(notes))


def load_component_series(cand_dir: Path) -> dict[str, list[float]]:
    """Reward-component curves of a candidate from its ``stats.json``; ``{}`` when missing or unreadable."""
    path = Path(cand_dir) / "stats.json"
    if not path.is_file():
        return {}
    try:
        from eureka_kit.training.job import read_stats

        return {k: [float(v) for v in vals] for k, vals in read_stats(path).series().items()}
    except Exception:
        return {}


# ------------------------------------------------------------------------------------------ SVG plots


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or not isinstance(x, (int, float)):
        return "–"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def line_chart_svg(
    series: Series,
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    x_values: Sequence[float] | None = None,
    points: Sequence[tuple[float, float]] = (),
    width: int = 640,
    height: int = 280,
) -> str:
    """An SVG line chart of named series (``None`` values leave gaps), with optional scatter ``points``.

    Every series shares ``x_values`` (default 0, 1, 2, ...). Colours and the
    legend follow the order of ``series``. Uses presentation attributes only
    (no ``style``), so the SVG is allowed by the dashboard's content policy.
    """
    left, right, top, bottom = 56, 12, 26 if title else 10, 38
    pw, ph = width - left - right, height - top - bottom
    n = max((len(v) for v in series.values()), default=0)
    xs = list(x_values) if x_values is not None else list(range(n))
    ys = [float(v) for vals in series.values() for v in vals if v is not None and math.isfinite(float(v))]
    ys += [p[1] for p in points if math.isfinite(p[1])]
    allx = xs + [p[0] for p in points]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{html.escape(title or y_label)}" font-family="sans-serif" font-size="11">'
    ]
    if title:
        out.append(f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>')
    if not ys or not allx:
        out.append(f'<text x="{left}" y="{top + ph / 2:.0f}" fill="#777">no data</text></svg>')
        return "".join(out)
    y_lo, y_hi = min(ys), max(ys)
    if y_hi - y_lo < 1e-12:
        y_lo, y_hi = y_lo - 1, y_hi + 1
    pad = (y_hi - y_lo) * 0.05
    y_lo, y_hi = y_lo - pad, y_hi + pad
    x_lo, x_hi = min(allx), max(allx)
    if x_hi - x_lo < 1e-12:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y_lo) / (y_hi - y_lo)) * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#ccc"/>')
    for t in _ticks(y_lo, y_hi):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    integer_x = all(float(x).is_integer() for x in allx)
    for t in _ticks(x_lo, x_hi, 6):
        if integer_x and not float(t).is_integer():
            continue
        out.append(f'<text x="{px(t):.1f}" y="{top + ph + 14}" text-anchor="middle">{_fmt(t)}</text>')
    if x_label:
        out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
    if y_label:
        out.append(
            f'<text x="12" y="{top + ph / 2:.0f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + ph / 2:.0f})">{html.escape(y_label)}</text>'
        )
    for x, y in points:
        if math.isfinite(y):
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="#999" fill-opacity="0.6"/>')
    for i, (name, vals) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        segments: list[list[str]] = [[]]
        for x, v in zip(xs, vals, strict=False):
            if v is None or not math.isfinite(float(v)):
                segments.append([])
                continue
            segments[-1].append(f"{px(x):.1f},{py(float(v)):.1f}")
        for seg in segments:
            if len(seg) > 1:
                out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" stroke-width="2"/>')
            for p in seg:
                cx, cy = p.split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
        if len(series) == 1 and name == title:
            continue  # the title names the only series
        lx = left + 8 + (i % 3) * (pw // 3)
        ly = top + 14 + (i // 3) * 14
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="3" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly - 4}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def fitness_svg(per_generation: Sequence[Mapping[str, Any]], *, width: int = 640, height: int = 280) -> str:
    """Best and mean fitness per generation as lines, every candidate's fitness as grey dots."""
    gens = [int(g.get("generation", i)) for i, g in enumerate(per_generation)]
    best = [_num(g.get("best_fitness")) for g in per_generation]
    mean = [_num(g.get("mean_fitness")) for g in per_generation]
    points = []
    for g, gen in zip(per_generation, gens, strict=True):
        for c in g.get("candidates") or []:
            f = _num(c.get("fitness")) if isinstance(c, Mapping) else None
            if f is not None:
                points.append((float(gen), f))
    return line_chart_svg(
        {"best": best, "mean": mean},
        title="Fitness per generation",
        x_label="generation",
        y_label="fitness",
        x_values=gens,
        points=points,
        width=width,
        height=height,
    )


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


# ------------------------------------------------------------------------------------------ HTML

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
    value = _fmt(_num(c.get("fitness"))) if ok else str(c.get("status"))
    return f'<span class="{"ok" if ok else "bad"}">{_e(c.get("index", "?"))}: {_e(value)}</span>'


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
                _e(_fmt(_num(g.get("best_fitness")))),
                _e(_fmt(_num(g.get("mean_fitness")))),
                cells,
            ]
        )
    parts.append(
        _table(["generation", "best", "mean", "candidates (index: fitness or status)"], rows, numeric=(0, 1, 2))
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
            f"<p>{_e(best.get('candidate', '?'))}, fitness {_e(_fmt(_num(best.get('fitness'))))}"
            + (f" ± {_e(_fmt(_num(best.get('fitness_std'))))}" if _num(best.get("fitness_std")) is not None else "")
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
        cost = _num(llm.get("cost_usd"))
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
    s = _num(seconds)
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
