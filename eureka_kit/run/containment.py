"""Containment: an unexpected exception in one candidate's work ends that candidate, never the run.

A fault of eureka-kit itself (a bug, a full disk, a library that raises where it should not) while one candidate
is prepared, checked, repaired, trained, evaluated or given feedback ends that candidate with status
``internal_error``: its traceback goes to ``internal_error.txt`` in the candidate folder, the record's message
names that file, and the run goes on. ``eureka-kit resume`` retries such candidates (the fault was ours, not the
program's), and the next prompt does not show them to the model.

Tests set ``EUREKA_KIT_RAISE_INTERNAL_ERRORS=1`` (``tests/conftest.py``) so that a bug still fails the test that
meets it; a test of containment itself unsets it.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from eureka_kit.python_parse import format_exception
from eureka_kit.run.layout import candidate_dir, candidate_name
from eureka_kit.run.records import CandidateRecord, short
from eureka_kit.run.store import atomic_write_text

INTERNAL_ERROR_FILE = "internal_error.txt"
RAISE_ENV = "EUREKA_KIT_RAISE_INTERNAL_ERRORS"
"""Set to ``1`` to let internal errors propagate (tests: a bug must fail loudly, not become a status)."""

T = TypeVar("T")


def raise_internal_errors() -> bool:
    """Whether internal errors propagate instead of being contained (``EUREKA_KIT_RAISE_INTERNAL_ERRORS=1``)."""
    return os.environ.get(RAISE_ENV, "").strip() not in ("", "0")


def where(error: BaseException) -> str:
    """The innermost frame of the traceback inside ``eureka_kit`` (``reward/extract.py:106 in extract_program``)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f"{os.sep}eureka_kit{os.sep}" in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f"{f.filename.rpartition(f'{os.sep}eureka_kit{os.sep}')[2]}:{f.lineno} in {f.name}"


def write_traceback(folder: Path, error: BaseException, context: str, file_name: str = INTERNAL_ERROR_FILE) -> str:
    """Write ``error``'s traceback to ``folder/file_name``; the path written, or why it could not be written."""
    text = f"{context}\n\n{format_exception(error)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / file_name, text)
    except OSError as e:  # a full disk: the record's message still carries the cause
        return f"(the traceback could not be written: {e})"
    return str(folder / file_name)


def internal_error_record(run_root: Path, generation: int, index: int, stage: str, error: Exception) -> CandidateRecord:
    """The ``internal_error`` record of a candidate whose work raised ``error``; writes ``internal_error.txt``."""
    at = where(error)
    context = f"{candidate_name(generation, index)}: internal error while {stage}" + (f" ({at})" if at else "")
    written = write_traceback(candidate_dir(run_root, generation, index), error, context)
    shown = Path(written).relative_to(run_root) if written.startswith(str(run_root)) else written
    message = (
        f"internal error while {stage} (traceback in {shown}): {type(error).__name__}: {error}"
        + (f" at {at}" if at else "")
        + ". eureka-kit's fault, not the program's: `eureka-kit resume` runs this candidate again."
    )
    return CandidateRecord(generation, index, "internal_error", short(message))


def contained(
    work: Callable[[], T], on_error: Callable[[Exception], T], passthrough: tuple[type[Exception], ...] = ()
) -> T:
    """``work()``, or ``on_error(e)`` when it raises an unexpected exception.

    Exceptions of the ``passthrough`` types (the LLM budget reached: a clean stop of the whole run) propagate, as
    does everything when :func:`raise_internal_errors` is on.
    """
    try:
        return work()
    except passthrough:
        raise
    except Exception as e:
        if raise_internal_errors():
            raise
        return on_error(e)


def contain_hook(
    log: Callable[[str], None],
    folder: Path,
    name: str,
    hook: str,
    call: Callable[[], None],
    passthrough: tuple[type[Exception], ...] = (),
) -> None:
    """``call()``, a callback's hook (``name`` at ``hook``); a failure leaves its traceback in ``folder``
    (``internal_error_<name>.txt``) and one console line, and the run goes on. ``passthrough``: as in
    :func:`contained`."""

    def failed(error: Exception) -> None:
        written = write_traceback(folder, error, f"{name} at {hook}", f"internal_error_{name}.txt")
        log(f"  internal error in {name} at {hook} (the run goes on): {type(error).__name__}: {error}")
        log(f"  traceback: {written}")

    contained(call, failed, passthrough)


def report_internal_errors(log: Callable[[str], None], run_root: Path, history: Sequence[CandidateRecord]) -> None:
    """The run's last console lines when candidates ended ``internal_error``: how many, where to look, what next."""
    failed = [r for r in history if r.status == "internal_error"]
    if not failed:
        return
    files = ", ".join(str(run_root / r.name / INTERNAL_ERROR_FILE) for r in failed[:5])
    log(
        f"{len(failed)} candidate(s) ended with internal_error (eureka-kit's fault, not the reward programs'); "
        f"tracebacks in {files}{' ...' if len(failed) > 5 else ''}"
    )
    log(f"`eureka-kit resume {run_root}` runs them again; please report the traceback")
