"""How often concurrent ``ast.parse`` fails in this interpreter, and how often the parse door does.

CPython 3.11's AST-to-object conversion keeps an interpreter-wide recursion counter; a garbage collection that
runs Python finalizers in the middle of one thread's conversion lets another thread in, and the counter no longer
matches (``SystemError: AST constructor recursion depth mismatch``). This script provokes it: a few threads parse a
large module while one thread makes reference cycles whose finalizers run Python code, with a tiny switch interval
and a low GC threshold. Prints the failures of raw ``ast.parse`` and of :func:`eureka_kit.python_parse.parse_module`
measured in one run.

    .venv/bin/python bench/parse_race.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import ast
import gc
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from eureka_kit.python_parse import parse_module

SOURCE = (Path(__file__).resolve().parent.parent / "eureka_kit" / "reward" / "extract.py").read_text()


class _Finalized:
    def __del__(self) -> None:
        sum(range(200))  # Python code inside a collection: a chance for the interpreter to switch threads


def _churn(cycles: int) -> None:
    for _ in range(cycles):
        a, b = _Finalized(), _Finalized()
        a.other, b.other = b, a  # type: ignore[attr-defined]


def failures(parse: Callable[[str], object], threads: int = 3, parses: int = 100) -> int:
    """SystemErrors seen while ``threads`` threads parse ``parses`` times each beside a finalizer churn."""
    errors: list[str] = []

    def work() -> None:
        for _ in range(parses):
            try:
                parse(SOURCE)
            except SystemError as e:
                errors.append(str(e))

    churn = threading.Thread(target=_churn, args=(200_000,))
    workers = [threading.Thread(target=work) for _ in range(threads)]
    churn.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    churn.join()
    return len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 1, 1)
    print(f"python {sys.version.split()[0]}; {args.rounds} rounds of 3 threads x 100 parses beside a finalizer churn")
    for name, parse in (("ast.parse", ast.parse), ("parse_module (the door)", parse_module)):
        started = time.perf_counter()
        counts = [failures(parse) for _ in range(args.rounds)]
        print(f"  {name:<26} SystemErrors per round: {counts}  ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
