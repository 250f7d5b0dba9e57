"""``eureka-kit check --explain``: the critic's traced shapes, line by line, for a person.

:func:`explain` lays the traced operations of the report
(:attr:`~eureka_kit.reward.check_report.CheckReport.trace`, recorded in the
sandboxed check child by :mod:`eureka_kit.reward.pinpoint`) under the program
lines they come from, and marks the lines the errors point at.
"""

from __future__ import annotations

import re

from eureka_kit.reward.check_report import CheckReport

_TRACED = re.compile(r"^line (\d+): (.*)$", re.DOTALL)


def explain(source: str, report: CheckReport) -> str:
    """Every program line that ran torch operations, with each operation's shapes in and out."""
    if not report.trace:
        return "No traced shapes: the program did not run far enough to trace (see the errors above)."
    ops: dict[int, list[str]] = {}
    for entry in report.trace:
        m = _TRACED.match(entry)
        if m:
            ops.setdefault(int(m.group(1)), []).append(m.group(2))
    flagged = {i.line for i in report.errors if i.line is not None}
    lines = source.splitlines()
    width = len(str(len(lines)))
    out = [
        "Traced shapes of one call on real states (N is the batch: one value per env; `[op]` is the torch operation):"
    ]
    for number, text in enumerate(lines, start=1):
        if number not in ops:
            continue
        mark = "  <-- error" if number in flagged else ""
        out.append(f"{number:>{width}} | {text.rstrip()}{mark}")
        out += [f"{'':>{width}} |     {op}" for op in ops[number]]
    return "\n".join(out)
