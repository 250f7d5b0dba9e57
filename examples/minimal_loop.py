"""The whole public API in one file, top to bottom (CleanRL style): a config, a run, its result.

    .venv/bin/python examples/minimal_loop.py                    # 2 generations x 3 programs, 2,048 steps each
    .venv/bin/python examples/minimal_loop.py --steps 256 --generations 1 --samples 2   # a smoke run, ~1 min

No model is called: the LLM's answers are the demo's hand-written example answers in a model's style
(``examples/responses/halfcheetah_demo.jsonl``, replayed by request id). Everything else is real: the critic
checks each program in the sandbox, a sandboxed child trains a policy with it, the trusted evaluator scores the
policy, and the next generation's prompt carries the best program with its feedback. Pass ``--llm openai``
(with ``OPENAI_API_KEY`` set, or ``--base-url`` of a local OpenAI-compatible server) to ask a real model.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from eureka_kit.config import RunConfig
from eureka_kit.loop import start_run
from eureka_kit.loop.callbacks import GenerationContext, LoopCallback
from eureka_kit.run.progress import Progress
from eureka_kit.run.records import CandidateRecord
from eureka_kit.tasks.registry import get_task

HERE = Path(__file__).resolve().parent  # examples/ in a checkout, eureka_kit/examples/ when installed
DEMO_ANSWERS = HERE / "responses" / "halfcheetah_demo.jsonl"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="HalfCheetah-Run-v1", help="task id (see `eureka-kit tasks`)")
    p.add_argument("--samples", type=int, default=3, help="reward programs the LLM writes per generation")
    p.add_argument("--generations", type=int, default=2, help="generations of the evolutionary loop")
    p.add_argument("--steps", type=int, default=2048, help="training env-steps per program")
    p.add_argument("--workers", type=int, default=2, help="programs trained at once")
    p.add_argument("--llm", choices=("replay", "openai"), default="replay", help="replay: the demo's answers")
    p.add_argument("--model", default="gpt-4o-mini", help="model name (with --llm openai)")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server URL (with --llm openai)")
    p.add_argument("--sandbox", choices=("strict", "basic"), default=None, help="default: strict on Linux")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where the run folder is created")
    return p.parse_args()


class PrintGeneration(LoopCallback):
    """A loop callback: called after each generation with every candidate's final, typed record."""

    def on_generation_end(self, gen: GenerationContext) -> None:
        ok = [r for r in gen.records if r.status == "ok" and r.fitness is not None]
        best = max(ok, key=lambda r: r.fitness or 0.0, default=None)
        line = f"best {best.name} fitness {best.fitness:.4g}" if best and best.fitness is not None else "none worked"
        gen.run.log(f"[minimal_loop] generation {gen.generation}: {len(ok)}/{len(gen.records)} ok, {line}")


if __name__ == "__main__":
    args = parse_args()

    # 1. The task: a registered spec (its state variables are what a reward program may read).
    spec = get_task(args.task)
    print(f"task {spec.id}: {spec.description}")
    print(f"fitness: {spec.fitness.name} [{spec.fitness.unit}]; state: {', '.join(v.name for v in spec.state)}")

    # 2. The run's config: one frozen dataclass, written to the run folder as config.json.
    config = RunConfig(
        task=spec.id,
        samples=args.samples,  # K programs per generation
        generations=args.generations,  # G generations
        steps=args.steps,  # training budget of one program
        workers=args.workers,
        repair_rounds=1,  # a program the critic rejects goes back to the LLM once, with the critic's message
        eval_episodes=2,  # episodes of trusted evaluation per policy
        llm=args.llm,
        model=args.model,
        base_url=args.base_url,
        replay_path=str(DEMO_ANSWERS) if args.llm == "replay" else None,
        sandbox=args.sandbox,
        videos=False,  # an mp4 per policy costs time; the demo records them
    )

    # 3. The run: start_run creates runs/<run-id>/ and runs every generation (resume_run continues a crashed one).
    started = time.monotonic()
    result = start_run(
        config,
        args.runs_dir,
        progress=Progress(config.task, config.generations, live=False),
        callbacks=[PrintGeneration()],
    )
    print(f"\nrun folder {result.run_dir} ({time.monotonic() - started:.0f} s)")
    if result.stopped:
        print(f"stopped early: {result.stopped}")

    # 4. The result: the best program by trusted fitness (None when no program produced a working policy).
    if result.best is None:
        print("no program produced a working policy; see the candidates below")
    else:
        print(f"best program {result.best_program} (fitness {result.best.fitness:.4g}):")
        assert result.best_program is not None
        print(result.best_program.read_text())

    # 5. summary.json: fitness per generation, status counts, LLM usage; the same dict is result.summary.
    summary = json.loads((result.run_dir / "summary.json").read_text())
    for gen in summary["fitness_per_generation"]:
        best = gen["best_fitness"]
        statuses = ", ".join(f"cand_{c['index']:02d} {c['status']}" for c in gen["candidates"])
        print(f"generation {gen['generation']}: best fitness {'n/a' if best is None else f'{best:.4g}'} ({statuses})")
    print(f"status counts: {summary['status_counts']}")
    llm = summary["llm"]
    print(f"LLM: {llm['calls']} calls, {llm['prompt_tokens'] + llm['completion_tokens']} tokens")

    # 6. Each candidate's typed record (candidate.json), beside its response, reward.py, check.json, eval.json...
    for path in sorted(result.run_dir.glob("gen_*/cand_*/candidate.json")):
        record = CandidateRecord.from_json(json.loads(path.read_text()))
        fitness = "" if record.fitness is None else f" fitness {record.fitness:.4g}"
        repaired = f" after {record.repairs} repair(s)" if record.repairs else ""
        message = f": {record.message.splitlines()[0][:100]}" if record.message else ""
        print(f"  {record.name}: {record.status}{fitness}{repaired}{message}")
