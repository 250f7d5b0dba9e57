"""The run's ``summary.json``: best program, fitness per generation, statuses, checks, rankings, LLM usage, wall time.

Per generation it also counts the samples drawn (``samples_drawn``, top-ups included), the top-up requests
(``topups``) and the programs that passed the critic and trained (``passed``); each candidate carries its
``origin`` (``initial`` or ``topup_<r>``) and how its repair ended (``repair_stop``).

Rebuilt from the candidates' files after every generation (so a deleted
summary is rebuilt on resume); LLM accounting comes from ``llm_calls.jsonl``,
which every process of the run appends to, so it survives resumes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from eureka_kit.loop.selection import find_elite
from eureka_kit.preferences.ranking import load_ranking
from eureka_kit.run.layout import REWARD_FILE, gen_name
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.samples import samples_summary
from eureka_kit.run.store import RunStore, atomic_write_json, read_json, read_jsonl
from eureka_kit.tasks.spec import TaskSpec


def llm_usage(calls: list[dict[str, Any]], prefix: str = "") -> dict[str, Any]:
    """LLM accounting from ``llm_calls.jsonl`` records (all processes of the run, so it survives resumes).

    ``calls`` counts requests answered by the backend, ``cached_calls`` those answered by the cache (no new
    tokens or cost). ``cost_usd`` is None when some call had no price (unknown model, replay).
    """
    mine = [c for c in calls if str(c.get("request_id", "")).startswith(prefix)]
    paid = [c for c in mine if c.get("status") == "ok"]
    costs = [c.get("cost_usd") for c in paid]
    return {
        "calls": len(paid),
        "cached_calls": sum(1 for c in mine if c.get("status") == "cached"),
        "failed_calls": sum(1 for c in mine if c.get("status") in ("error", "budget_exceeded")),
        "prompt_tokens": sum(int(c.get("prompt_tokens") or 0) for c in paid),
        "completion_tokens": sum(int(c.get("completion_tokens") or 0) for c in paid),
        "cost_usd": None if any(x is None for x in costs) else sum(float(x) for x in costs if x is not None),
    }


def write_summary(
    spec: TaskSpec,
    store: RunStore,
    history: list[CandidateRecord],
    *,
    generations: int,
    model: str,
    wall: float,
    stopped: str | None,
) -> dict[str, Any]:
    """Build ``summary.json`` from ``history`` and the run's files, write it atomically and return it."""
    elite = find_elite(spec, store.root, history)
    calls = read_jsonl(store.llm_calls_path)
    per_gen = []
    for g in sorted({r.generation for r in history}):
        fits = [r.fitness for r in history if r.generation == g and r.fitness is not None]
        per_gen.append(
            {
                "generation": g,
                "best_fitness": max(fits) if fits else None,
                "mean_fitness": sum(fits) / len(fits) if fits else None,
                **samples_summary(store.root, g, [r for r in history if r.generation == g]),
                "llm": llm_usage(calls, prefix=f"{gen_name(g)}/"),
                "env_steps": sum(r.env_steps or 0 for r in history if r.generation == g),
                "candidates": [
                    {
                        "index": r.index,
                        "status": r.status,
                        "fitness": r.fitness,
                        "env_steps": r.env_steps,
                        "origin": r.origin,
                        "repair_stop": r.repair_stop,
                    }
                    for r in history
                    if r.generation == g
                ],
            }
        )
    checks: Counter[str] = Counter()
    for r in history:
        path = store.root / r.name / "trajectory_check.json"
        if path.exists():
            checks[str(read_json(path).get("status"))] += 1
    rankings = []
    for g in sorted({r.generation for r in history}):
        ranking = load_ranking(store.root, g)
        if ranking is not None:
            rankings.append({"generation": g, "who": ranking.who, "best": ranking.best, "worst": ranking.worst})
    summary: dict[str, Any] = {
        "run_id": store.run_id,
        "task": spec.id,
        "finished_generations": len(per_gen),
        "generations": generations,
        "stopped": stopped,
        "best": None
        if elite is None
        else {
            "candidate": elite.record.name,
            "fitness": elite.record.fitness,
            "fitness_std": elite.record.fitness_std,
            "program": str(Path(elite.record.name) / REWARD_FILE),
            "source": elite.source,
        },
        "fitness_per_generation": per_gen,
        "status_counts": dict(Counter(r.status for r in history)),
        "env_steps": sum(r.env_steps or 0 for r in history),
        "trajectory_check": {
            "checked": sum(checks.values()),
            **{k: checks.get(k, 0) for k in ("pass", "fail", "skipped", "error")},
            "training_runs_saved": sum(1 for r in history if r.status == "trajectory_rejected"),
        },
        "rankings": rankings,
        "llm": {"model": model, **llm_usage(calls)},
        "wall_time_s": round(wall, 2),
    }
    atomic_write_json(store.summary_path, summary)
    return summary
