"""``benchmark.json`` from a finished benchmark, and its console tables.

Every number of the table is in the file, with what produced it: package versions, model, budget, seeds,
each configuration's options, the baselines (and whether they were reused from the cache), the per-seed
retrainings, the paired comparison and the LLM tokens, cost, env-steps and wall time per configuration.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eureka_kit.benchmark.plan import Plan
from eureka_kit.benchmark.runner import Outcome, UnitResult
from eureka_kit.benchmark.scoring import TaskScore, compare, score_task, suite_score
from eureka_kit.loop.run_setup import package_versions

BENCH_FILE = "benchmark.json"
FORMAT = 1


def _usage(units: Sequence[UnitResult]) -> dict[str, Any]:
    costs = [u.cost_usd for u in units]
    return {
        "llm_tokens": sum(u.llm_tokens for u in units),
        "cost_usd": None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 6),
        "env_steps": sum(u.env_steps for u in units),
        "wall_s": round(sum(u.wall_s for u in units), 2),
    }


def task_scores(plan: Plan, outcome: Outcome, configuration: str) -> list[TaskScore]:
    units = [u for u in outcome.units if u.configuration == configuration]
    planned = plan.units_of(configuration)
    scores = []
    for task in plan.request.tasks:
        unit = next(u for u in planned if u.task == task)
        keys = {k.label for k in unit.baselines()}
        mine = [(k, t) for k, t in outcome.baselines if k.label in keys]
        human = [t for k, t in mine if k.kind == "baseline"]
        sparse = [t for k, t in mine if k.kind == "sparse"]
        programs = {u.seed: list(u.programs) for u in units if u.task == task}
        scores.append(score_task(task, human, sparse, programs, success_rates=unit.success_rates))
    return scores


def build(plan: Plan, outcome: Outcome, wall_s: float) -> dict[str, Any]:
    """The content of ``benchmark.json``."""
    req = plan.request
    configurations = []
    per_config: dict[str, list[TaskScore]] = {}
    for c in req.configurations:
        scores = task_scores(plan, outcome, c.name)
        per_config[c.name] = scores
        first = plan.units_of(c.name)[0].config
        units = [u for u in outcome.units if u.configuration == c.name]
        configurations.append(
            {
                **c.to_json(),
                "llm": first.llm,
                "model": first.model if first.llm != "replay" else "replay",
                "replay_paths": {u.task: u.config.replay_path for u in plan.units_of(c.name) if u.seed == 0}
                if first.llm == "replay"
                else None,
                "steps": {u.task: u.settings.steps for u in plan.units_of(c.name) if u.seed == 0},
                "tasks": [s.to_json() for s in scores],
                "suite": asdict(suite_score(scores)),
                "usage": _usage(units),
                "units": [u.to_json() for u in units],
            }
        )
    comparison = None
    if len(req.configurations) == 2:
        a, b = (c.name for c in req.configurations)
        comparison = compare(a, per_config[a], b, per_config[b]).to_json()
    return {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "suite": req.suite,
        "tasks": list(req.tasks),
        "budget": req.budget.to_json(),
        "seeds": req.seeds,
        "eval_seeds": req.n_eval_seeds,
        "versions": package_versions(),
        "configurations": configurations,
        "baselines": [
            {**k.to_json(), "folder": f"baselines/{k.label}", "result": t.to_json()} for k, t in outcome.baselines
        ],
        "baseline_cache": {"trained": outcome.baselines_trained, "reused": outcome.baselines_reused},
        "compare": comparison,
        "wall_time_s": round(wall_s, 2),
    }


# ----- console tables ------------------------------------------------------------------------------------------


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    return f"{float(x):.{digits}g}" if abs(float(x)) >= 1e-3 or float(x) == 0 else f"{float(x):.2e}"


def _stat(s: Mapping[str, Any] | None) -> str:
    if not s:
        return "n/a"
    return f"{_num(s['mean'], 4)} ± {_num(s['std'], 2)}"


def _success(t: Mapping[str, Any]) -> str:
    success = t.get("success")
    if not success:
        return ""
    parts = [f"{k} {_num(v['mean'], 2) if v else 'n/a'}" for k, v in success.items()]
    return "success: " + ", ".join(parts)


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def _grid(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return [_row(head, widths), *(_row(r, widths) for r in rows)]


def format_tables(data: Mapping[str, Any]) -> str:
    """The console tables of a ``benchmark.json``: one per configuration, then the paired comparison."""
    lines: list[str] = []
    budget = data["budget"]
    lines.append(
        f"benchmark: {len(data['tasks'])} task(s){' (suite ' + data['suite'] + ')' if data.get('suite') else ''}, "
        f"budget {budget['name']}, {data['seeds']} search seed(s), {data['eval_seeds']} evaluation seed(s)"
    )
    for c in data["configurations"]:
        model = c["model"]
        if c["llm"] == "replay":
            files = sorted(set((c.get("replay_paths") or {}).values()))
            where = str(Path(files[0]).parent) if len(files) > 1 else (files[0] if files else "?")
            model = f"replayed answers from {where}"
        lines += ["", f"configuration {c['name']} (LLM {model})"]
        rows = []
        for t in c["tasks"]:
            spread = f" ± {_num(t['hns_std'], 2)}" if t.get("hns_std") is not None else ""
            hns = _num(t["hns"]) + spread if t["hns"] is not None else f"n/a ({t['reason']})"
            rows.append([t["task"], _stat(t["method"]), _stat(t["human"]), _stat(t["sparse"]), hns])
        lines += _grid(["task", "best program", "human", "sparse", "HNS"], rows)
        for t in c["tasks"]:
            if t.get("success"):
                lines.append(f"  {t['task']} {_success(t)}")
        s = c["suite"]
        lines.append(
            f"suite mean HNS: {_num(s['hns_mean'])} (clipped to [0, 3]: {_num(s['hns_mean_clipped'])}) over "
            f"{len(s['scored'])} task(s)" + (f"; not scored: {', '.join(s['unscored'])}" if s["unscored"] else "")
        )
        u = c["usage"]
        cost = f"${u['cost_usd']:.4f}" if u["cost_usd"] is not None else "n/a"
        lines.append(
            f"usage: {u['llm_tokens']} LLM tokens, cost {cost}, {u['env_steps']:,} env-steps, {u['wall_s']:.0f} s"
        )
    cache = data["baseline_cache"]
    lines.append(
        f"\nbaselines: {len(data['baselines'])} retraining(s), {cache['trained']} trained now, "
        f"{cache['reused']} reused from the cache"
    )
    cmp = data.get("compare")
    if cmp:
        lines += ["", f"paired comparison: {cmp['b']} - {cmp['a']} (HNS per task)"]
        rows = [[r["task"], _num(r["a"]), _num(r["b"]), _num(r["diff"])] for r in cmp["rows"]]
        lines += _grid(["task", cmp["a"], cmp["b"], "difference"], rows)
        ci = cmp["ci"]
        interval = f", {cmp['level']:.0%} bootstrap CI [{_num(ci[0])}, {_num(ci[1])}]" if ci else ""
        lines.append(
            f"mean HNS difference: {_num(cmp['mean_diff'])} over {cmp['pairs']} (task, seed) pair(s){interval}"
        )
    return "\n".join(lines)


def bench_file(root: Path) -> Path:
    return root / BENCH_FILE
