"""Inline SVG charts for the report and the dashboard: line charts of named series, fitness per generation.

Presentation attributes only (no ``style``, no script), so the SVG passes the
pages' Content-Security-Policy and works in a self-contained ``report.html``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")

Series = Mapping[str, Sequence[float | None]]
"""Named series of values (``None`` leaves a gap)."""


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a chart or a table: ``digits`` significant digits, ``–`` for none."""
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
        out.append(f'<text x="{left - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
    integer_x = all(float(x).is_integer() for x in allx)
    for t in _ticks(x_lo, x_hi, 6):
        if integer_x and not float(t).is_integer():
            continue
        out.append(f'<text x="{px(t):.1f}" y="{top + ph + 14}" text-anchor="middle">{fmt(t)}</text>')
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
    best = [finite(g.get("best_fitness")) for g in per_generation]
    mean = [finite(g.get("mean_fitness")) for g in per_generation]
    points = []
    for g, gen in zip(per_generation, gens, strict=True):
        for c in g.get("candidates") or []:
            f = finite(c.get("fitness")) if isinstance(c, Mapping) else None
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


def finite(x: Any) -> float | None:
    """``x`` as a float when it is a finite number (not a bool), else ``None``: for values read from JSON."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)
