"""Full training vs successive halving on a fixed pool of reward programs, one table from one run.

Usage: .venv/bin/python bench/halving.py [--steps 30000] [--rungs 3] [--eta 3] [--workers 2] [--smoke]

The pool (below) is five hand-written HalfCheetah-Run-v1 programs whose quality is known by construction (they are
not recorded model answers): forward speed with a small control cost (best), forward speed under a heavy control
cost, an upright-only reward, a control-cost-only reward (stands still) and a backward-speed reward (worst). Both
schedules run one generation of the real loop on the ``cpu`` backend with these programs as replayed answers (same
seed, sandboxed training children, trusted evaluation), the analyzer, trajectory check, pruning and videos off.
The table gives, per schedule: the best program picked, its trusted fitness, env-steps used by the generation
(summary.json), wall time, and the ratios halving / full.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from eureka_kit.config import RunConfig
from eureka_kit.loop import start_run
from eureka_kit.run.progress import Progress

TASK = "HalfCheetah-Run-v1"
SIGNATURE = (
    "def compute_reward(x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor)"
    " -> tuple[torch.Tensor, dict[str, torch.Tensor]]:"
)
POOL: dict[str, str] = {
    "forward_small_ctrl (best)": (
        "ctrl = -0.05 * torch.square(action).sum(dim=-1)\n"
        "    return x_velocity + ctrl, {'forward': x_velocity, 'ctrl': ctrl}"
    ),
    "forward_heavy_ctrl": (
        "ctrl = -1.0 * torch.square(action).sum(dim=-1)\n"
        "    fwd = 0.3 * x_velocity\n    return fwd + ctrl, {'forward': fwd, 'ctrl': ctrl}"
    ),
    "upright_only": "up = torch.exp(-torch.square(torso_angle))\n    return up, {'upright': up}",
    "ctrl_only": "ctrl = -torch.square(action).sum(dim=-1)\n    return ctrl, {'ctrl': ctrl}",
    "backward (worst)": "back = -x_velocity\n    return back, {'back': back}",
}


def _answer(body: str) -> str:
    return f"```python\nimport torch\n\n\n{SIGNATURE}\n    {body}\n```\n"


def run_schedule(schedule: str, replay: Path, runs: Path, args: argparse.Namespace) -> dict[str, object]:
    config = RunConfig(
        task=TASK, samples=len(POOL), generations=1, steps=args.steps, workers=args.workers, backend="cpu",
        schedule=schedule, rungs=args.rungs, reduction_factor=args.eta, eval_episodes=args.eval_episodes,
        llm="replay", replay_path=str(replay), repair_rounds=0, analyzer=False, trajectory_check=False,
        prune_equivalent=False, videos=False,
    )  # fmt: skip
    start = time.monotonic()
    result = start_run(config, runs / schedule, progress=Progress(TASK, 1, live=False))
    wall = time.monotonic() - start
    names = list(POOL)
    best = result.best
    return {
        "best": names[best.index] if best is not None else "none",
        "fitness": best.fitness if best is not None else None,
        "env_steps": int(result.summary["env_steps"]),
        "wall_s": wall,
        "statuses": [c["status"] for c in result.summary["fitness_per_generation"][0]["candidates"]],
        "fitnesses": [c["fitness"] for c in result.summary["fitness_per_generation"][0]["candidates"]],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30_000, help="env-steps per candidate (full budget)")
    p.add_argument("--rungs", type=int, default=3)
    p.add_argument("--eta", type=int, default=3, help="reduction factor")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--eval-episodes", type=int, default=3)
    p.add_argument("--smoke", action="store_true", help="seconds-long sizes (checks the script, measures nothing)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.eval_episodes = 2048, 1
    with tempfile.TemporaryDirectory(prefix="bench_halving_") as tmp:
        replay = Path(tmp) / "pool.jsonl"
        replay.write_text("".join(json.dumps({"key": "initial", "text": _answer(b)}) + "\n" for b in POOL.values()))
        rows = {s: run_schedule(s, replay, Path(tmp) / "runs", args) for s in ("full", "halving")}
    full, halving = rows["full"], rows["halving"]
    print(
        f"\n{TASK}, pool of {len(POOL)} programs, {args.steps:,} env-steps each, cpu backend, {args.workers} workers,"
    )
    print(f"halving: {args.rungs} rungs, eta {args.eta}\n")
    print("| schedule | best program picked | its fitness | env-steps used | wall time |")
    print("|---|---|---|---|---|")
    for s, r in rows.items():
        fit = "n/a" if r["fitness"] is None else f"{r['fitness']:.3f}"
        print(f"| {s} | {r['best']} | {fit} | {r['env_steps']:,} | {r['wall_s']:.0f} s |")
    same = "yes" if full["best"] == halving["best"] else "NO"
    steps_ratio = halving["env_steps"] / max(1, full["env_steps"])  # type: ignore[operator]
    wall_ratio = halving["wall_s"] / max(1e-9, full["wall_s"])  # type: ignore[operator]
    print(
        f"\nsame best program: {same}; env-steps halving/full: {steps_ratio:.2f}; "
        f"wall time halving/full: {wall_ratio:.2f}"
    )
    for s, r in rows.items():
        detail = ", ".join(
            f"{n.split(' ')[0]}={st}" + ("" if f is None else f" {f:.2f}")
            for n, st, f in zip(POOL, r["statuses"], r["fitnesses"], strict=True)  # type: ignore[call-overload]
        )
        print(f"{s}: {detail}")
    return 0 if same == "yes" else 1


if __name__ == "__main__":
    sys.exit(main())
