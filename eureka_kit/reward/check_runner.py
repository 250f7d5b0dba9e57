"""The check runner: the reward critic on untrusted code, with the smoke test inside the sandbox.

:func:`check_sandboxed` runs the critic's static checks
(:func:`~eureka_kit.reward.static_checks.check_static`: parse, entry point,
imports, argument names) in the caller; the smoke test, which executes the
program, runs in the check child (:mod:`eureka_kit.reward.check_child`)
started by :func:`eureka_kit.sandbox.runner.run_child` under the child
protocol of :mod:`eureka_kit.sandbox.protocol`. A child that crashes, hangs or
exhausts memory becomes an error issue of the report, never an exception.

The child works in :data:`CHECK_DIR` inside the candidate's folder
(``workdir``), removed when the check ends; a run killed during a check
leaves it in the unfinished candidate's folder, which ``resume`` removes when
it starts that candidate over. Without a ``workdir`` (``eureka-kit check``)
the child works in a temporary folder.

(Not the CARD trajectory check, :mod:`eureka_kit.feedback.card_check`.)
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from eureka_kit.files import UntrustedFileError, atomic_write_text, read_bounded_json
from eureka_kit.reward.check_report import CheckIssue, CheckReport
from eureka_kit.reward.static_checks import check_static
from eureka_kit.run.layout import REWARD_FILE
from eureka_kit.sandbox.protocol import ERROR_FILE, bounded, child_argv, read_error
from eureka_kit.sandbox.runner import Limits, run_child
from eureka_kit.tasks.spec import TaskSpec

CHECK_LIMITS = Limits(wall_s=120.0, cpu_s=120, address_space_mb=4096)
CHECK_DIR = "check"
"""The check child's work folder inside the candidate folder (removed after the check)."""
CHECK_LOG = "check.log"
"""The check child's output, kept in the candidate folder."""
REPORT_FILE = "check_report.json"
MAX_REPORT_BYTES = 1_000_000
MAX_ISSUES = 64
MAX_TRACE_LINES = 200


def _failed(code: str, message: str) -> CheckReport:
    return CheckReport(issues=(CheckIssue(level="error", code=code, message=bounded(message)),))


def _read_report(path: Path) -> CheckReport:
    """The child's report, read as untrusted data: bounded size and counts; a malformed one is ``check_crashed``."""
    try:
        report = CheckReport.from_dict(read_bounded_json(path, MAX_REPORT_BYTES))
        issues = tuple(CheckIssue(i.level, i.code[:64], bounded(i.message), i.line) for i in report.issues[:MAX_ISSUES])
        components = tuple(c[:64] for c in report.components[:MAX_ISSUES])
        trace = tuple(line[:300] for line in report.trace[:MAX_TRACE_LINES])
        return CheckReport(issues, components, report.time_per_call_ms, trace)
    except UntrustedFileError as e:
        return _failed("check_crashed", f"the reward checker produced an unreadable report: {str(e)[:300]}")
    except Exception as e:  # untrusted JSON of the wrong shape: KeyError, TypeError, AttributeError, ValueError ...
        return _failed("check_crashed", f"the reward checker produced a malformed report: {type(e).__name__}: {e}")


def check_sandboxed(
    spec: TaskSpec, source: str, workdir: Path | None = None, limits: Limits = CHECK_LIMITS
) -> CheckReport:
    """Static checks here, then the smoke test in a sandboxed child; always returns a report.

    With ``workdir`` (the candidate folder) the child works in ``workdir/check/``
    and its log is kept as ``workdir/check.log``.
    """
    static = check_static(spec, source)
    if not static.ok:
        return static
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="eureka-check-") as tmp:
            return _smoke_test(spec, source, Path(tmp), limits)
    work = Path(workdir).absolute() / CHECK_DIR  # the child runs in it: no path may be relative to our folder
    if work.exists():  # left by a check that was killed
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        report = _smoke_test(spec, source, work, limits)
        if (work / CHECK_LOG).is_file():
            shutil.copyfile(work / CHECK_LOG, Path(workdir) / CHECK_LOG)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _smoke_test(spec: TaskSpec, source: str, work: Path, limits: Limits) -> CheckReport:
    atomic_write_text(work / REWARD_FILE, source)
    out = work / REPORT_FILE
    outcome = run_child(
        child_argv("eureka_kit.reward.check_child", spec.id, str(work / REWARD_FILE), str(out)),
        cwd=work,
        limits=limits,
        log_path=work / CHECK_LOG,
    )
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
    error = read_error(work / ERROR_FILE)
    if error is not None and error.kind == "memory_error":
        return _failed("check_out_of_memory", "checking the reward function exhausted memory; avoid huge tensors")
    if error is not None:
        return _failed("check_crashed", f"the checker failed ({error.kind}): {error.message}")
    return _failed("check_crashed", f"the reward function crashed the checker ({outcome.status}): {outcome.message}")
