"""The ``eureka-kit benchmark`` command: arguments to a :class:`~eureka_kit.benchmark.plan.Request`, then run.

The parser's run options are those of ``eureka-kit run`` (added by :mod:`eureka_kit.cli`); this module adds
the benchmark's own and turns them into a request.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eureka_kit.benchmark.suites import BUDGETS, get_budget, get_suite, suite_names
from eureka_kit.errors import UsageError

if TYPE_CHECKING:
    from eureka_kit.benchmark.options import Configuration
    from eureka_kit.benchmark.plan import Request


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's own arguments (the run options are added by the caller)."""
    which = p.add_mutually_exclusive_group()
    which.add_argument("--suite", default=None, help=f"a shipped suite: {', '.join(suite_names())}")
    which.add_argument("--tasks", nargs="+", default=None, metavar="ID", help="registered task ids instead of a suite")
    p.add_argument("--seeds", type=int, default=1, help="search seeds per task (a whole run each)")
    p.add_argument(
        "--eval-seeds",
        type=int,
        default=None,
        help="retrainings per reward in the final evaluation (default: budget's)",
    )
    p.add_argument(
        "--budget",
        choices=list(BUDGETS),
        default=None,
        help="search and training budget per task (default: smoke for the smoke suite, else small)",
    )
    p.add_argument("--dir", default=None, help="the benchmark folder (default: benchmarks/<suite>-<budget>)")
    p.add_argument("--jobs", type=int, default=None, help="searches and retrainings at once (default: cores)")
    p.add_argument("--name", default=None, help="the configuration's name (default: 'default', or from --compare)")
    p.add_argument(
        "--compare",
        nargs=2,
        default=None,
        metavar=("CONFIG_A", "CONFIG_B"),
        help="two TOML files of run options, benchmarked on the same tasks and seeds, paired",
    )
    p.add_argument(
        "--compare-flag",
        action="append",
        default=None,
        metavar="FLAGS",
        help='run options as flags, e.g. "--schedule halving": once, compared with the plain configuration; '
        "twice, the two compared",
    )
    p.add_argument("--report", default=None, metavar="DIR", help="only rebuild benchmark.html of the folder DIR")


def _slug(flags: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", flags.replace("--", " ").strip()).strip("-")
    return slug[:60] or "flags"


def configurations(args: argparse.Namespace) -> tuple[Configuration, ...]:
    from eureka_kit.benchmark.options import Configuration, configuration_from_file, options_from_flags

    if args.compare and args.compare_flag:
        raise UsageError("give --compare CONFIG_A CONFIG_B or --compare-flag FLAGS, not both")
    if args.compare:
        pair = tuple(configuration_from_file(Path(f)) for f in args.compare)
        if pair[0].name == pair[1].name:
            raise UsageError(f"--compare: both files are named {pair[0].name!r}; rename one (the name is its folder)")
        return pair
    if args.compare_flag:
        if len(args.compare_flag) > 2:
            raise UsageError("--compare-flag: give it once (compared with the plain configuration) or twice")
        flags = [Configuration(_slug(f), options_from_flags(f), source=f"flags {f!r}") for f in args.compare_flag]
        base = [Configuration(args.name or "default")] if len(flags) == 1 else []
        return (*base, *flags)
    return (Configuration(args.name or "default"),)


def request_from_args(args: argparse.Namespace, run_options: Mapping[str, Any]) -> tuple[Request, Path]:
    """The request and the benchmark folder of the command's arguments; ``run_options`` apply to every run."""
    from eureka_kit.benchmark.plan import Request

    if "seed" in run_options:
        raise UsageError("--seed is set by the benchmark per run; give --seeds N (search seeds 0 .. N-1)")
    if args.tasks:
        tasks, suite = tuple(args.tasks), None
    elif args.suite:
        s = get_suite(args.suite)
        tasks, suite = s.tasks, s.name
    else:
        raise UsageError(f"name a suite (--suite {' | '.join(suite_names())}) or tasks (--tasks ID ...)")
    budget = get_budget(args.budget or ("smoke" if suite == "smoke" else "small"))
    kw: dict[str, Any] = {} if args.jobs is None else {"jobs": args.jobs}
    request = Request(
        tasks,
        budget,
        args.seeds,
        configurations(args),
        suite=suite,
        eval_seeds=args.eval_seeds,
        base_options=dict(run_options),
        **kw,
    )
    root = Path(args.dir) if args.dir else Path("benchmarks") / f"{suite or 'tasks'}-{budget.name}"
    return request, root


def run_command(args: argparse.Namespace) -> int:
    """``eureka-kit benchmark``: run (or finish) the benchmark, print its tables; or only rebuild its page."""
    import dataclasses

    from eureka_kit.config import RunConfig

    fields = dataclasses.fields(RunConfig)
    run_options = {f.name: v for f in fields if (v := getattr(args, f.name, None)) is not None}
    if args.report is not None:
        from eureka_kit.benchmark.page import write_page

        print(f"benchmark page written to {write_page(Path(args.report))}")
        return 0
    from eureka_kit.benchmark.core import run_benchmark
    from eureka_kit.benchmark.results import format_tables

    request, root = request_from_args(args, run_options)
    data = run_benchmark(request, root)
    print()
    print(format_tables(data))
    print(f"\nstored in {root / 'benchmark.json'} and {root / 'benchmark.html'}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    """``eureka-kit export RUN_OR_BENCHMARK DIR``."""
    from eureka_kit.benchmark.export import export_library

    done = export_library(Path(args.source), Path(args.dir))
    print(f"{len(done)} program(s) written to {args.dir} (index.json lists them); use them with --examples {args.dir}")
    return 0


def add_subcommands(sub: Any, add_run_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``benchmark`` (with ``eureka-kit run``'s options, added by ``add_run_options``) and ``export``."""
    p = sub.add_parser("benchmark", help="human-normalized scores over a suite of tasks, seeds and configurations")
    add_arguments(p)
    add_run_options(p)
    p.set_defaults(fn=run_command)

    p = sub.add_parser("export", help="write the best programs of a run or benchmark as an --examples library")
    p.add_argument("source", help="a run folder or a benchmark folder")
    p.add_argument("dir", help="the folder to write the example programs into")
    p.set_defaults(fn=export_command)
