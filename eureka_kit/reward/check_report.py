"""The critic's report: typed issues (:class:`CheckIssue`) and the report (:class:`CheckReport`, ``check.json``).

Written by the critic (:mod:`eureka_kit.reward.critic`), read back by the
check runner (:mod:`eureka_kit.reward.check_runner`) from the sandboxed check
child, and stored as ``check.json`` in each candidate folder. Not to be
confused with the CARD trajectory check (:mod:`eureka_kit.feedback.card_check`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

IssueLevel = Literal["error", "warning"]


@dataclass(frozen=True)
class CheckIssue:
    """One problem found by the critic. ``message`` is fit to send to the LLM as is.

    ``code`` is a short stable identifier (``syntax_error``, ``unknown_argument``,
    ``wrong_shape``, ``non_finite``, ``input_mutated``, ``too_slow``, ...);
    ``line`` is the line of the program the issue points at, when known.
    """

    level: IssueLevel
    code: str
    message: str
    line: int | None = None


@dataclass(frozen=True)
class CheckReport:
    """What the critic found. ``ok`` means no errors (warnings allowed)."""

    issues: tuple[CheckIssue, ...] = ()
    components: tuple[str, ...] = ()
    time_per_call_ms: float | None = None
    trace: tuple[str, ...] = ()
    """The program's torch operations on one traced call, one line each (line, expression, shapes in and out)."""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> tuple[CheckIssue, ...]:
        return tuple(i for i in self.issues if i.level == "error")

    @property
    def warnings(self) -> tuple[CheckIssue, ...]:
        return tuple(i for i in self.issues if i.level == "warning")

    @property
    def codes(self) -> tuple[str, ...]:
        """Issue codes in order (handy in tests and logs)."""
        return tuple(i.code for i in self.issues)

    def feedback(self) -> str:
        """The issues as text for the LLM (errors first)."""
        if not self.issues:
            return (
                "The reward program passed all checks (syntax, imports, arguments, and a smoke test on real, "
                "random and edge-case states)."
            )
        errors, warns = self.errors, self.warnings
        if errors:
            head = f"The reward program was rejected: fix the {len(errors)} error(s) below"
            head += f" (and consider the {len(warns)} warning(s))." if warns else "."
        else:
            head = f"The reward program works, with {len(warns)} warning(s):"
        lines = [head]
        lines += [f"- error [{i.code}]: {i.message}" for i in errors]
        lines += [f"- warning [{i.code}]: {i.message}" for i in warns]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "issues": [asdict(i) for i in self.issues],
            "components": list(self.components),
            "time_per_call_ms": self.time_per_call_ms,
            "trace": list(self.trace),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckReport:
        issues = []
        for i in d.get("issues", []):
            level = i["level"]
            if level not in ("error", "warning"):
                raise ValueError(f"check report: unknown issue level {level!r}")
            line = i.get("line")
            issues.append(CheckIssue(level, str(i["code"]), str(i["message"]), None if line is None else int(line)))
        t = d.get("time_per_call_ms")
        components = tuple(str(c) for c in d.get("components", []))
        trace = tuple(str(line) for line in d.get("trace", []))
        return cls(tuple(issues), components, None if t is None else float(t), trace)

    def to_json(self) -> str:
        """JSON text (for ``check.json`` in the run folder)."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> CheckReport:
        return cls.from_dict(json.loads(text))
