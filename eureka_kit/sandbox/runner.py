"""The process boundary: run an untrusted command in a sandboxed child process under limits.

Every execution of a reward program happens in a child started by
:func:`run_child`. The child runs with an environment built from scratch,
under rlimits, a wall-clock deadline and an optional heartbeat, with capped
output, and the whole process tree is killed when it ends
(:mod:`eureka_kit.sandbox.launch` and :mod:`eureka_kit.sandbox.supervise` have
the details).

Two modes (:func:`configure_sandbox`, or ``EUREKA_SANDBOX=strict|basic``; see
:mod:`eureka_kit.sandbox.mode`):

- ``strict`` (the default on Linux): the child also runs under bubblewrap, in
  its own network, pid, ipc and uts namespaces, in a read-only view of the
  system with its folder as the only writable place, as an unprivileged uid,
  with a process cap (:mod:`eureka_kit.sandbox.bwrap`, :mod:`eureka_kit.sandbox.view`).
  Before the first strict child of a process, :func:`ensure_isolation` runs
  :func:`~eureka_kit.sandbox.verify.verify_isolation` once; when bubblewrap is
  missing or the probe escapes, strict children are refused with
  :class:`~eureka_kit.sandbox.bwrap.IsolationUnavailable`, never silently run weaker.
- ``basic``: plain processes under the rlimits. It does not stop reads of
  files the user can read; where the seccomp filter is unavailable it does not
  stop network access either. Known gaps: a descendant that double-forks *and*
  scrubs its environment escapes the clean-up; grandchildren do not die with
  the parent.

In both modes the children that know about it install the seccomp filter of
:func:`eureka_kit.sandbox.seccomp.lock_down` after their trusted imports, and
follow the exit codes and error file of :mod:`eureka_kit.sandbox.protocol`. After
a child, entries it created that are neither regular files nor directories
(symlinks, FIFOs) are removed from its folder (:mod:`eureka_kit.sandbox.folders`),
so the trusted parent never follows a link planted by the child or blocks on a FIFO.

The layers, each importing only those below it: ``runner`` -> ``verify`` ->
``launch`` -> ``supervise``, ``bwrap``/``view``, ``folders``, ``seccomp``, ``mode``, ``protocol``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from eureka_kit.sandbox.bwrap import IsolationUnavailable
from eureka_kit.sandbox.launch import HEARTBEAT_VAR, ChildOutcome, ChildStatus, Limits, launch_child
from eureka_kit.sandbox.mode import MODE_VAR, SandboxMode, configure_sandbox, default_mode, sandbox_mode
from eureka_kit.sandbox.verify import IsolationReport, verify_isolation

__all__ = [
    "HEARTBEAT_VAR",
    "MODE_VAR",
    "ChildOutcome",
    "ChildStatus",
    "IsolationReport",
    "IsolationUnavailable",
    "Limits",
    "SandboxMode",
    "configure_sandbox",
    "default_mode",
    "ensure_isolation",
    "run_child",
    "sandbox_mode",
]

_lock = threading.Lock()
_verified: dict[SandboxMode, IsolationReport] = {}


def ensure_isolation(mode: SandboxMode | None = None) -> IsolationReport:
    """Verify ``mode`` once per process (cached); raise :class:`IsolationUnavailable` when strict mode fails."""
    mode = mode or sandbox_mode()
    with _lock:
        report = _verified.get(mode)
        if report is None:
            report = verify_isolation(mode)
            _verified[mode] = report
    if not report.ok:
        raise IsolationUnavailable(report.message)
    return report


def run_child(
    argv: list[str],
    cwd: Path,
    limits: Limits,
    log_path: Path,
    *,
    heartbeat_path: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    mode: SandboxMode | None = None,
) -> ChildOutcome:
    """Run ``argv`` in ``cwd`` as a sandboxed child under ``limits``; output goes to ``log_path`` (capped).

    Blocks until the child has ended and no process of its tree is left. With
    ``heartbeat_path`` and ``limits.heartbeat_s`` set, the child must touch that
    file (its path is in the child's ``EUREKA_HEARTBEAT`` variable) at least
    every ``heartbeat_s`` seconds, or it is killed as a ``timeout``.

    ``mode`` defaults to :func:`sandbox_mode`. In ``strict`` mode the child
    sees only the system, Python, the package and ``cwd`` (everything it
    reads must be there) and can write only in ``cwd`` (and the heartbeat
    file); raises :class:`IsolationUnavailable` when strict mode cannot be
    provided on this machine.
    """
    mode = mode or sandbox_mode()
    if mode == "strict":
        ensure_isolation("strict")
    return launch_child(argv, cwd, limits, log_path, heartbeat_path=heartbeat_path, extra_env=extra_env, mode=mode)
