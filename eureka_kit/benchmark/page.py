"""``benchmark.html``: one self-contained page (inline CSS and SVG, no script) from a benchmark folder.

Sources: ``benchmark.json`` (every number), and per search the run's ``summary.json`` (fitness per
generation, the best program) and its best candidate's ``analysis.json`` (the analyzer's findings). Missing
run files are noted on the page, never fatal. Tables and line charts are those of the run report
(:mod:`eureka_kit.web.report`, :mod:`eureka_kit.web.svg_charts`); the HNS bars are drawn here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eureka_kit.files import atomic_write_text, read_bounded_json
from eureka_kit.web.report import _CSS, _duration, _e, _table
from eureka_kit.web.svg_charts import PALETTE, finite, fitness_svg, fmt

PAGE_FILE = "benchmark.html"
MAX_JSON_BYTES = 64 * 1024 * 1024


def _read(path: Path) -> Any:
    try:
        return read_bounded_json(path, MAX_JSON_BYTES)
    except (OSError, ValueError):
        return None


def hns_bars_svg(tasks: Sequence[str], configs: Sequence[Mapping[str, Any]], *, width: int = 900) -> str:
    """HNS per task as bars (one per configuration), whiskers of ± one standard deviation over search seeds,
    each seed's HNS as a dot; dashed lines at 0 (sparse) and 1 (human)."""
    left, right, top, bottom = 56, 12, 30, 70
    height = 320
    pw, ph = width - left - right, height - top - bottom
    values: list[float] = [0.0, 1.0]
    for c in configs:
        for t in c["tasks"]:
            if finite(t.get("hns")) is not None:
                values += [t["hns"] - (t.get("hns_std") or 0.0), t["hns"] + (t.get("hns_std") or 0.0)]
            values += [s["hns"] for s in t.get("seeds", ()) if finite(s.get("hns")) is not None]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or 1.0
    lo, hi = lo - pad, hi + pad

    def py(v: float) -> float:
        return top + (1 - (v - lo) / (hi - lo)) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="human-normalized score per task" font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">Human-normalized score per task</text>',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#ccc"/>',
    ]
    for ref, label in ((0.0, "sparse"), (1.0, "human")):
        y = py(ref)
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#999" stroke-dasharray="4 3"/>'
        )
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{fmt(ref)} {label}</text>')
    group = pw / max(1, len(tasks))
    bar = group * 0.7 / max(1, len(configs))
    for ti, task in enumerate(tasks):
        gx = left + ti * group + group * 0.15
        for ci, c in enumerate(configs):
            t = next((x for x in c["tasks"] if x["task"] == task), None)
            color = PALETTE[ci % len(PALETTE)]
            x = gx + ci * bar
            v = finite(t.get("hns")) if t else None
            if v is None:
                out.append(
                    f'<text x="{x + bar / 2:.1f}" y="{py(0.0) - 4:.1f}" text-anchor="middle" fill="#777">n/a</text>'
                )
                continue
            y0, y1 = sorted((py(0.0), py(v)))
            out.append(
                f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bar * 0.9:.1f}" height="{max(1.0, y1 - y0):.1f}" '
                f'fill="{color}" fill-opacity="0.75" data-task="{html.escape(task)}" data-hns="{v:.6g}"/>'
            )
            sd = finite(t.get("hns_std")) if t else None
            cx = x + bar * 0.45
            if sd:
                out.append(
                    f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{py(v - sd):.1f}" y2="{py(v + sd):.1f}" stroke="#222"/>'
                )
            for s in t.get("seeds", ()) if t else ():
                sv = finite(s.get("hns"))
                if sv is not None:
                    out.append(f'<circle cx="{cx:.1f}" cy="{py(sv):.1f}" r="2.5" fill="#222" fill-opacity="0.6"/>')
        label = task if len(task) <= 24 else task[:22] + "…"
        lx = left + ti * group + group / 2
        out.append(
            f'<text x="{lx:.1f}" y="{top + ph + 14}" text-anchor="end" transform="rotate(-20 {lx:.1f} '
            f'{top + ph + 14})">{html.escape(label)}</text>'
        )
    for ci, c in enumerate(configs):
        lx = left + 8 + ci * 180
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="8" fill="{PALETTE[ci % len(PALETTE)]}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 6}">{html.escape(str(c["name"]))}</text>')
    out.append("</svg>")
    return "".join(out)


def _stat(s: Mapping[str, Any] | None) -> str:
    return "–" if not s else f"{fmt(finite(s.get('mean')), 4)} ± {fmt(finite(s.get('std')), 2)}"


def _findings(run: Path, best: Mapping[str, Any]) -> str:
    cand = str(best.get("candidate", ""))
    rel = Path(cand)
    if not cand or rel.is_absolute() or ".." in rel.parts:
        return ""
    analysis = _read(run / rel / "analysis.json")
    if not isinstance(analysis, Mapping) or not analysis.get("findings"):
        return '<p class="muted">no analyzer findings for this program (analyzer off, or nothing found)</p>'
    items = "".join(
        f"<li><b>{_e(f.get('kind'))}</b> ({_e(f.get('severity'))}): {_e(f.get('message'))}</li>"
        for f in analysis["findings"]
        if isinstance(f, Mapping)
    )
    return f"<p>Analyzer findings:</p><ul>{items}</ul>"


def _config_section(root: Path, data: Mapping[str, Any], c: Mapping[str, Any]) -> list[str]:
    parts = [f"<h2>Configuration {_e(c['name'])}</h2>"]
    llm = c["model"] if c["llm"] != "replay" else "replayed answers (no model called)"
    facts = [["LLM", _e(llm)], ["options", _e(c.get("options") or "budget defaults")]]
    usage = c["usage"]
    cost = finite(usage.get("cost_usd"))
    facts += [
        ["LLM tokens", _e(usage["llm_tokens"])],
        ["cost", _e(f"${cost:.4f}" if cost is not None else "n/a")],
        ["env-steps", _e(f"{usage['env_steps']:,}")],
        ["wall time", _e(_duration(usage["wall_s"]))],
    ]
    parts.append(_table([], facts))
    rows = []
    for t in c["tasks"]:
        hns = fmt(finite(t.get("hns"))) if t.get("hns") is not None else f"n/a: {t.get('reason', '')}"
        spread = f" ± {fmt(finite(t.get('hns_std')), 2)}" if t.get("hns_std") is not None else ""
        success = t.get("success") or {}
        rates = ", ".join(f"{k} {fmt(finite(v['mean']), 2) if v else '–'}" for k, v in success.items())
        rows.append(
            [_e(t["task"]), _stat(t["method"]), _stat(t["human"]), _stat(t["sparse"]), _e(hns + spread), _e(rates)]
        )
    parts.append(_table(["task", "best program", "human", "sparse", "HNS", "success rate"], rows, numeric=(1, 2, 3, 4)))
    s = c["suite"]
    parts.append(
        f"<p>Suite mean HNS <b>{_e(fmt(finite(s['hns_mean'])))}</b>, clipped to [0, 3] "
        f"<b>{_e(fmt(finite(s['hns_mean_clipped'])))}</b> over {len(s['scored'])} task(s)"
        + (f"; not scored: {_e(', '.join(s['unscored']))}" if s["unscored"] else "")
        + ".</p>"
    )
    for unit in c["units"]:
        run = root / str(unit["run_dir"])
        parts.append(f"<h3>{_e(unit['task'])}, search seed {_e(unit['seed'])}</h3>")
        summary = _read(run / "summary.json")
        if not isinstance(summary, Mapping):
            parts.append(f'<p class="muted">{_e(unit["run_dir"])}/summary.json is missing</p>')
            continue
        parts.append(fitness_svg(summary.get("fitness_per_generation") or [], width=560, height=220))
        best = summary.get("best")
        if isinstance(best, Mapping):
            parts.append(
                f"<p>Best program {_e(best.get('candidate'))} of {_e(unit['run_dir'])} (search fitness "
                f"{_e(fmt(finite(best.get('fitness'))))})</p><pre>{_e(best.get('source', ''))}</pre>"
            )
            parts.append(_findings(run, best))
        else:
            parts.append('<p class="muted">the search found no working program</p>')
    return parts


def render_page(root: Path, data: Mapping[str, Any]) -> str:
    """The page's HTML for a benchmark folder and its ``benchmark.json`` content."""
    budget = data["budget"]
    title = f"eureka-kit benchmark: {data.get('suite') or ', '.join(data['tasks'])} ({budget['name']})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    ]
    versions = ", ".join(f"{k} {v}" for k, v in (data.get("versions") or {}).items())
    facts = [
        ["tasks", _e(", ".join(data["tasks"]))],
        ["budget", _e(f"{budget['name']}: {budget['samples']} samples x {budget['generations']} generations")],
        ["seeds", _e(f"{data['seeds']} search, {data['eval_seeds']} evaluation")],
        ["wall time (this invocation)", _e(_duration(data.get("wall_time_s")))],
        ["versions", _e(versions)],
    ]
    parts.append(_table([], facts))
    configs = data["configurations"]
    replayed = [c["name"] for c in configs if c["llm"] == "replay"]
    if replayed:
        parts.append(
            f'<p class="note">Configuration(s) {_e(", ".join(replayed))} replay recorded or hand-written answers: '
            "their scores say nothing about a model's reward quality.</p>"
        )
    parts.append(hns_bars_svg(data["tasks"], configs))
    cmp = data.get("compare")
    if cmp:
        parts.append(f"<h2>Paired comparison: {_e(cmp['b'])} − {_e(cmp['a'])}</h2>")
        rows = [
            [_e(r["task"]), _e(fmt(finite(r["a"]))), _e(fmt(finite(r["b"]))), _e(fmt(finite(r["diff"])))]
            for r in cmp["rows"]
        ]
        parts.append(_table(["task", cmp["a"], cmp["b"], "difference"], rows, numeric=(1, 2, 3)))
        ci = cmp.get("ci")
        interval = f", {cmp['level']:.0%} bootstrap CI [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else ""
        parts.append(
            f"<p>Mean HNS difference <b>{_e(fmt(finite(cmp['mean_diff'])))}</b> over {_e(cmp['pairs'])} "
            f"(task, seed) pair(s){_e(interval)}.</p>"
        )
    cache = data["baseline_cache"]
    parts.append(
        f"<p>Baselines: {len(data['baselines'])} retraining(s) (human and sparse reward per task and evaluation "
        f"seed), {cache['trained']} trained by this invocation, {cache['reused']} reused from the cache.</p>"
    )
    for c in configs:
        parts += _config_section(root, data, c)
    parts.append('<p class="muted">Written by eureka-kit.</p></body></html>')
    return "\n".join(parts) + "\n"


def write_page(root: Path) -> Path:
    """Write ``benchmark.html`` of the benchmark folder ``root`` (atomically) from its ``benchmark.json``."""
    data = _read(root / "benchmark.json")
    if not isinstance(data, Mapping):
        raise FileNotFoundError(f"{root} is not a finished benchmark (no readable benchmark.json)")
    path = root / PAGE_FILE
    atomic_write_text(path, render_page(root, data))
    return path
