"""The ``eureka-kit`` command line. Every command is a thin layer over a Python function."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, get_args

from eureka_kit.choices import RankerKind
from eureka_kit.config import JUDGES, SCHEDULES, LLMKind, RunConfig
from eureka_kit.errors import UsageError, UserError
from eureka_kit.tasks.derived import PREFIX as DERIVED_PREFIX


def examples_dir() -> Path:
    """The shipped examples (``examples/`` of the checkout, installed as ``eureka_kit.examples``)."""
    import eureka_kit.examples

    return Path(eureka_kit.examples.__file__).resolve().parent


DEMO_SAMPLES = 3
"""Reward programs per generation of the demo (2 generations)."""
DEMO_STEPS = 500_000
"""Training env-steps per demo candidate."""
DEMO_REPLAY = examples_dir() / "responses" / "halfcheetah_demo.jsonl"
DEMO_REPLAY_NOTE = (
    "demo: no OPENAI_API_KEY or --base-url set, so no model is called: the LLM's answers are HAND-WRITTEN EXAMPLE "
    "answers in a model's style (not recorded from a model), replayed from {file}; training and evaluation are real."
)


def _cmd_tasks(args: argparse.Namespace) -> int:
    if args.validate is not None:
        from eureka_kit.task_file import load_task_file

        tf = load_task_file(Path(args.validate))  # TaskFileError (a ValueError): every error, by field
        print(f"{tf.path}: OK (task {tf.task_id}, fitness {tf.fitness or 'none'})")
        if tf.needs_a_person:
            print("no fitness expression: a run of it needs --human (you rank the policies)")
        return 0
    from rich.console import Console
    from rich.table import Table

    from eureka_kit.tasks.registry import list_tasks

    table = Table(title="eureka-kit tasks")
    for col in ("id", "env", "fitness", "algo", "steps", "state", "goal"):
        table.add_column(col, no_wrap=col != "goal")
    for t in list_tasks():
        table.add_row(
            t.id,
            t.env_id,
            f"{t.fitness.name} ({t.fitness.unit})",
            t.train.algo,
            f"{t.train.total_steps:,}",
            str(len(t.state)),
            t.goal,
        )
    console = Console()
    Console(width=max(150, console.width) if not console.is_terminal else None).print(table)
    return 0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


MAX_PROGRAM_BYTES = 1_000_000


def read_program(path: Path) -> str:
    """The source of a reward program file; :class:`UntrustedFileError` naming the file when it is not one."""
    from eureka_kit.files import UntrustedFileError, read_bounded_text

    if not path.exists():
        raise UntrustedFileError(f"no such file: {path}")
    if path.is_dir():
        raise UntrustedFileError(f"{path} is a directory; give the path of a Python file defining compute_reward")
    return read_bounded_text(path, MAX_PROGRAM_BYTES)


def _cmd_check(args: argparse.Namespace) -> int:
    from eureka_kit.loop import prepare_sandbox
    from eureka_kit.reward.check_runner import check_sandboxed
    from eureka_kit.tasks.mjcf import is_mjcf, localize
    from eureka_kit.tasks.registry import get_task

    with tempfile.TemporaryDirectory() as tmp:  # an mjcf: task's model, compiled where the check child can read it
        spec = get_task(localize(args.task, Path(tmp)) if is_mjcf(args.task) else args.task)
        path = Path(args.program)
        source = read_program(path)  # before the sandbox check: a wrong path is the user's first thing to fix
        prepare_sandbox(args.sandbox, _stderr)
        report = check_sandboxed(spec, source)
    if args.json:
        print(report.to_json())
    else:
        print(f"{path}: {'OK' if report.ok else 'REJECTED'} for task {args.task}")
        text = report.feedback().strip()
        if text:
            print(text)
        if args.explain:
            from eureka_kit.reward.explain import explain

            print()
            print(explain(source, report))
    return 0 if report.ok else 1


def _add_config_args(p: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(RunConfig):
        if f.name == "task":
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        if f.name == "use_examples":
            off = "the first prompt carries no few-shot examples from the example library"
            p.add_argument("--no-examples", dest=f.name, action="store_false", default=None, help=off)
        elif f.name == "llm":
            p.add_argument(flag, choices=get_args(LLMKind), default=None, help=help_text)
        elif f.name == "ranker":
            p.add_argument(flag, choices=get_args(RankerKind), default=None, help=help_text)
        elif f.name == "schedule":
            p.add_argument(flag, choices=SCHEDULES, default=None, help=help_text)
        elif f.name == "judge":
            p.add_argument(flag, choices=JUDGES, default=None, help=help_text)
        elif f.type == "bool":
            default = "on" if f.default else "off"
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"{help_text} ({default})")
        elif f.type in ("int", "int | None"):
            p.add_argument(flag, type=int, default=None, help=help_text)
        elif f.type in ("float", "float | None"):
            aliases = [flag[: -len("-s")]] if flag.endswith("-s") else []  # --rank-timeout == --rank-timeout-s
            p.add_argument(flag, *aliases, type=float, default=None, help=help_text)
        else:
            p.add_argument(flag, default=None, help=help_text)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Build the run config: explicit flags win; the LLM defaults to openai when a key or URL is set."""
    env, task_file = getattr(args, "env", None), getattr(args, "task_file", None)
    mjcf = getattr(args, "mjcf", None)
    if sum(x is not None for x in (args.task, env, task_file, mjcf)) != 1:
        raise UsageError(
            "name one task: a registered task id (see `eureka-kit tasks`), --env ENV_ID (a gymnasium MuJoCo env), "
            "--mjcf FILE (a bare MuJoCo model) or --task-file FILE"
        )
    values: dict[str, Any] = {"task": args.task if env is None else f"{DERIVED_PREFIX}{env}"}
    episode = {k: v for k in ("episode_steps", "frame_skip") if (v := getattr(args, k, None)) is not None}
    if episode and mjcf is None:
        raise UsageError("--episode-steps and --frame-skip set up a --mjcf model; other tasks have their own")
    if mjcf is not None:
        from eureka_kit.tasks.mjcf import mjcf_task_id

        values["task"] = mjcf_task_id(Path(mjcf), **episode)
    if task_file is not None:
        from eureka_kit.task_file import load_task_file

        values = {k: v for k, v in load_task_file(Path(task_file)).config_values().items() if v is not None}
    for f in dataclasses.fields(RunConfig):
        v = getattr(args, f.name, None)
        if f.name != "task" and v is not None:
            values[f.name] = v
    for name in ("examples", "init_reward"):  # the loop reads them later, maybe from another folder (resume)
        if values.get(name) is not None:
            values[name] = str(Path(values[name]).absolute())
    if getattr(args, "human", False):
        values["ranker"] = "human"
    if "llm" not in values:
        if os.environ.get("OPENAI_API_KEY") or values.get("base_url"):
            values["llm"] = "openai"
        elif values.get("replay_path"):
            values["llm"] = "replay"
        else:
            values["llm"] = "openai"
    return RunConfig(**values)


def _print_result(result: Any) -> None:
    s = result.summary
    print()
    if result.stopped:
        print(f"run stopped early: {result.stopped}")
    print(f"run folder:   {result.run_dir}")
    print(f"summary:      {result.run_dir / 'summary.json'}")
    if result.best is None:
        print("best program: none (no candidate produced a working policy; see summary.json)")
    else:
        print(f"best program: {result.best_program}  (fitness {result.best.fitness:.4g})")
    llm = s["llm"]
    cost = f"${llm['cost_usd']:.4f}" if llm["cost_usd"] is not None else "n/a"
    print(
        f"LLM: {llm['calls']} calls ({llm['cached_calls']} cached), "
        f"{llm['prompt_tokens'] + llm['completion_tokens']} tokens, cost {cost}; wall time {s['wall_time_s']:.0f} s"
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from eureka_kit.loop import start_run

    config = config_from_args(args)
    if config.llm == "replay":
        print(f"LLM: replaying the answers in {config.replay_path} (no model is called)")
    # folders are passed on absolute: the sandboxed children run in other working directories
    result = start_run(config, Path(args.runs_dir).absolute())
    _print_result(result)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """A short real run on HalfCheetah; replayed responses unless a model is configured."""
    from eureka_kit.loop import start_run

    use_model = bool(os.environ.get("OPENAI_API_KEY") or args.base_url)
    config = RunConfig(
        task="HalfCheetah-Run-v1",
        samples=DEMO_SAMPLES,
        generations=2,
        steps=args.steps,
        eval_episodes=2,
        workers=args.workers or DEMO_SAMPLES,
        llm="openai" if use_model else "replay",
        model=args.model,
        base_url=args.base_url,
        replay_path=None if use_model else str(DEMO_REPLAY),
        sandbox=args.sandbox,
    )
    if use_model:
        print(f"demo: using model {config.model} at {config.base_url or 'OpenAI'}")
    else:
        print(DEMO_REPLAY_NOTE.format(file=DEMO_REPLAY.name))
    result = start_run(config, Path(args.runs_dir).absolute())
    _print_result(result)
    return 0


def _cmd_feedback(args: argparse.Namespace) -> int:
    from eureka_kit.files import read_bounded_text
    from eureka_kit.run.notes import MAX_NOTE_CHARS, add_note

    text = args.text if args.file is None else read_bounded_text(Path(args.file), 4 * MAX_NOTE_CHARS)
    if text is None:
        raise UsageError("give the note as text or with --file FILE")
    note = add_note(Path(args.run).absolute(), text)
    print(f"note {note.id} added to {args.run}: the next generation's prompt will carry it")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from eureka_kit.loop import resume_run

    result = resume_run(Path(args.run).absolute())
    _print_result(result)
    return 0


def _cmd_rank(args: argparse.Namespace) -> int:
    from eureka_kit.preferences.ranking import load_items, load_ranking, save_ranking
    from eureka_kit.web.rank_server import HumanRanker

    run = require_run(Path(args.run).absolute())
    gens = sorted(int(p.name[4:]) for p in run.glob("gen_[0-9][0-9][0-9]") if p.is_dir())
    if not gens:
        print(f"error: {run} has no generations to rank", file=sys.stderr)
        return 2
    generation = gens[-1] if args.generation is None else args.generation
    existing = load_ranking(run, generation)
    if existing is not None:
        print(f"generation {generation} is already ranked by {existing.who}: best {existing.best}")
        return 0
    items = load_items(run, generation)
    if len(items) < 2:
        print(f"error: generation {generation} has {len(items)} successful candidate(s), 2 needed", file=sys.stderr)
        return 2
    ranking = HumanRanker(run, timeout_s=args.timeout, open_browser=args.open).rank(generation, items)
    path = save_ranking(run, ranking)
    print(f"ranking stored in {path}; `eureka-kit resume {run}` continues the run with it")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from eureka_kit.web.report import write_report

    path = write_report(require_run(Path(args.run).absolute()))
    print(f"report written to {path}")
    return 0


def require_run(run: Path) -> Path:
    """``run`` when it is a run folder (holds ``config.json``); else a ``FileNotFoundError`` naming it."""
    if not run.is_dir():
        raise FileNotFoundError(f"{run} is not a folder; give a run folder such as runs/<run-id>")
    if not (run / "config.json").is_file():
        raise FileNotFoundError(
            f"{run} is not a eureka-kit run (no config.json); give a run folder such as runs/<run-id>"
        )
    return run


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from eureka_kit.web.dashboard import serve_dashboard

    serve_dashboard(require_run(Path(args.run).absolute()), port=args.port, open_browser=args.open, block=True)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from eureka_kit.final_eval import evaluate_run, format_table
    from eureka_kit.loop import prepare_sandbox

    run = require_run(Path(args.run).absolute())  # before the sandbox check (seconds): a wrong folder comes first
    prepare_sandbox(args.sandbox)
    result = evaluate_run(run, seeds=args.seeds, steps=args.steps, workers=args.workers)
    print(format_table(result))
    print(f"stored in {Path(args.run) / 'final_eval.json'}")
    return 0


def _add_sandbox_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sandbox",
        choices=("strict", "basic"),
        default=None,
        help="strict: Linux namespaces (default on Linux); basic: process limits only, with a warning",
    )


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from eureka_kit.sandbox.mode import configure_sandbox, sandbox_mode
    from eureka_kit.sandbox.verify import verify_isolation

    configure_sandbox(args.sandbox)
    report = verify_isolation()
    print(f"mode: {sandbox_mode()}")
    print(report.summary())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eureka-kit", description="An LLM writes reward functions; an evolutionary loop keeps the ones that work."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="list the registered tasks (or check a task file)")
    p.add_argument("--validate", metavar="FILE", default=None, help="check a task file (TOML), field by field")
    p.set_defaults(fn=_cmd_tasks)

    p = sub.add_parser("check", help="run the reward critic on a program (sandboxed)")
    p.add_argument("task")
    p.add_argument("program", help="path of a Python file defining compute_reward")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--explain", action="store_true", help="also print the traced shapes of every torch operation, line by line"
    )
    _add_sandbox_arg(p)
    p.set_defaults(fn=_cmd_check)

    p = sub.add_parser("sandbox", help="verify that the sandbox isolates reward programs, and say how")
    _add_sandbox_arg(p)
    p.set_defaults(fn=_cmd_sandbox)

    p = sub.add_parser("run", help="run the evolutionary loop on a task")
    p.add_argument("task", nargs="?", default=None, help="a registered task id (see `eureka-kit tasks`)")
    p.add_argument(
        "--env",
        default=None,
        metavar="ENV_ID",
        help="instead of a task: any gymnasium env simulated by MuJoCo (your own registered one too, as "
        "'package:Env-v0'); its state is derived from the model (task id gym:ENV_ID); give --goal and --fitness "
        "or --human",
    )
    p.add_argument(
        "--task-file",
        default=None,
        metavar="FILE",
        help="instead of a task: a task file (TOML: env or task, goal, fitness, [train]); see docs/fitness.md",
    )
    p.add_argument(
        "--mjcf",
        default=None,
        metavar="FILE",
        help="instead of a task: a bare MuJoCo model (MJCF .xml): action = its actuators, observation = qpos/qvel, "
        "state derived from the model; give --goal and --fitness or --human (docs/open_tasks.md)",
    )
    p.add_argument("--episode-steps", type=int, default=None, help="with --mjcf: env steps per episode (default 1000)")
    p.add_argument("--frame-skip", type=int, default=None, help="with --mjcf: physics steps per env step (default 5)")
    p.add_argument("--runs-dir", default="runs", help="where run folders are created")
    p.add_argument("--human", action="store_true", help="a person ranks each generation on a local page (ICPL)")
    _add_config_args(p)
    p.set_defaults(fn=_cmd_run)

    p = sub.add_parser("demo", help="a short real run on HalfCheetah (replayed LLM answers without a model)")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument(
        "--steps",
        type=int,
        default=DEMO_STEPS,
        help=f"training env-steps per candidate (default {DEMO_STEPS:,}: policies that run, in about 5 minutes on 2 "
        "cores with the batched CPU engine)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"candidates trained at once (default {DEMO_SAMPLES}: all of a generation, sharing the cores)",
    )
    p.add_argument("--model", default="gpt-4o-mini")
    p.add_argument("--base-url", default=None)
    _add_sandbox_arg(p)
    p.set_defaults(fn=_cmd_demo)

    p = sub.add_parser("feedback", help="add a person's note to a run: the next generation's prompt carries it")
    p.add_argument("run", help="run folder (running or stopped: a resumed run reads it too)")
    p.add_argument("text", nargs="?", default=None, help="the note, in plain language")
    p.add_argument("--file", default=None, help="read the note from a file instead")
    p.set_defaults(fn=_cmd_feedback)

    p = sub.add_parser("resume", help="continue a run after a crash")
    p.add_argument("run", help="run folder, e.g. runs/HalfCheetah-Run-v1__...")
    p.set_defaults(fn=_cmd_resume)

    p = sub.add_parser("rank", help="serve the ranking page for the last unranked generation of a run")
    p.add_argument("run")
    p.add_argument("--generation", type=int, default=None, help="generation to rank (default: the last one)")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait before falling back to fitness")
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    p.set_defaults(fn=_cmd_rank)

    p = sub.add_parser("report", help="write a self-contained report.html of a run")
    p.add_argument("run")
    p.set_defaults(fn=_cmd_report)

    p = sub.add_parser("dashboard", help="serve a local page that shows a run (fitness, programs, videos)")
    p.add_argument("run")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    p.set_defaults(fn=_cmd_dashboard)

    p = sub.add_parser("eval", help="retrain best, human and sparse rewards with N seeds; human-normalized score")
    p.add_argument("run")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the run's)")
    p.add_argument("--workers", type=int, default=None)
    _add_sandbox_arg(p)
    p.set_defaults(fn=_cmd_eval)

    from eureka_kit.benchmark.command import add_subcommands

    add_subcommands(sub, _add_config_args)  # benchmark, export
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command: the user's errors (:class:`~eureka_kit.errors.UserError`, a path that is not there) are one
    line on stderr and exit code 2; anything else is a bug of eureka-kit, shown with its traceback (exit code 1)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        print("\ninterrupted; resume with `eureka-kit resume RUN`", file=sys.stderr)
        return 130
    except (UserError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except Exception as e:
        from eureka_kit.python_parse import format_exception

        print(format_exception(e), file=sys.stderr, end="")
        print(
            f"error: internal error in eureka-kit ({type(e).__name__}): this is a bug, not a problem with your input; "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
