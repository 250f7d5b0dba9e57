"""Run the reward critic on untrusted code inside the sandboxed process boundary.

The static checks (parse, entry point, imports, argument names) run in the
caller; the smoke test, which executes the program, runs in a child started
by :func:`eureka_kit.sandbox.runner.run_child`. A child that crashes, hangs or
exhausts memory becomes an error issue of the report, never an exception.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from eureka_kit.reward.critic import CheckIssue, CheckReport, check_static
from eureka_kit.sandbox.runner import Limits, run_child
from eureka_kit.tasks.spec import TaskSpec

CHECK_LIMITS = Limits(wall_s=120.0, cpu_s=120, address_space_mb=4096)
MAX_REPORT_BYTES = 1_000_000
MAX_ISSUES = 64
MAX_MESSAGE_CHARS = 2000


def _failed(code: str, message: str) -> CheckReport:
    return CheckReport(issues=(CheckIssue(level="error", code=code, message=message),))


def _read_report(path: Path) -> CheckReport:
    """The child's report, read as untrusted data: bounded size and counts; a malformed one is ``check_crashed``."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_REPORT_BYTES + 1)
        if len(raw) > MAX_REPORT_BYTES:
            raise ValueError(f"larger than {MAX_REPORT_BYTES} bytes")
        report = CheckReport.from_json(raw.decode("utf-8"))
        issues = tuple(
            CheckIssue(i.level, i.code[:64], i.message[:MAX_MESSAGE_CHARS], i.line) for i in report.issues[:MAX_ISSUES]
        )
        components = tuple(c[:64] for c in report.components[:MAX_ISSUES])
        return CheckReport(issues, components, report.time_per_call_ms)
    except Exception as e:  # untrusted JSON: ValueError, KeyError, TypeError, AttributeError, RecursionError ...
        return _failed("check_crashed", f"the reward checker produced an unreadable report: {str(e)[:300]}")


def check_sandboxed(
    spec: TaskSpec, source: str, workdir: Path | None = None, limits: Limits = CHECK_LIMITS
) -> CheckReport:
    """Static checks here, then the smoke test in a sandboxed child; always returns a report."""
    static = check_static(spec, source)
    if not static.ok:
        return static
    with tempfile.TemporaryDirectory(prefix="eureka-check-") as tmp:
        work = Path(tmp)
        (work / "reward.py").write_text(source)
        out = work / "check_report.json"
        outcome = run_child(
            [sys.executable, "-P", "-m", "eureka_kit.reward.check_child", spec.id, str(work / "reward.py"), str(out)],
            cwd=work,
            limits=limits,
            log_path=work / "check.log",
        )
        if workdir is not None and (work / "check.log").exists():
            workdir.mkdir(parents=True, exist_ok=True)
            (workdir / "check.log").write_bytes((work / "check.log").read_bytes())
        if outcome.status == "ok" and out.is_file():
            return _read_report(out)
        if outcome.status == "ok":
            return _failed(
                "check_crashed",
                "the reward program ended the checker process early (it exited without a report); a reward "
                "program must not exit, only define compute_reward",
            )
        if outcome.status == "timeout":
            return _failed(
                "check_timeout",
                f"checking the reward function took longer than {limits.wall_s:.0f} s; "
                "compute_reward must return quickly (avoid Python loops over large ranges)",
            )
        if outcome.status == "out_of_memory":
            return _failed("check_out_of_memory", "checking the reward function exhausted memory; avoid huge tensors")
        return _failed(
            "check_crashed", f"the reward function crashed the checker ({outcome.status}): {outcome.message}"
        )
