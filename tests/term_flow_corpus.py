"""Issue 26's corpus count: the critic's term warnings on every distinct program of the small-model corpus.

Run: ``.venv/bin/python tests/term_flow_corpus.py`` (the whole in-process critic on each program; under a minute).
Prints, per warning kind, how many programs get it, and each warning with where the program first appears.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_term_flow import TERM_CODES, _corpus_programs

from eureka_kit.reward.critic import check_program
from eureka_kit.tasks.registry import get_task


def main() -> None:
    spec = get_task("HalfCheetah-Run-v1")
    programs = _corpus_programs()
    counts: collections.Counter[str] = collections.Counter()
    passing = 0
    for where, source in programs.items():
        report = check_program(spec, source)
        passing += report.ok
        for issue in report.warnings:
            if issue.code in TERM_CODES:
                counts[issue.code] += 1
                print(f"{where} [{'ok' if report.ok else 'rejected'}] {issue.code}: {issue.message}")
    print(f"{len(programs)} distinct programs, {passing} pass the critic; term warnings: {dict(counts)}")


if __name__ == "__main__":
    main()
