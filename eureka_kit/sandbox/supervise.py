"""Supervising a started child: its output, its deadlines, and the clean-up of its whole process tree.

:func:`supervise` starts a command, copies its output to the log up to a cap
(then drains and drops the rest, so a program that prints without end cannot
fill the disk), waits for it under a wall-clock deadline and an optional
heartbeat file, and on every way out kills the whole process tree
(:func:`kill_tree`: descendants that left the process group or session are
found by the token in their environment) before reaping the child, so its pid
cannot be reused meanwhile.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import psutil

TOKEN_VAR = "EUREKA_SANDBOX_TOKEN"
"""Environment variable carrying a per-child random token; finds descendants that left the process tree."""

_HEARTBEAT_CHECK_S = 1.0


@dataclass(frozen=True)
class Heartbeat:
    """A file the child must touch at least every ``max_age_s`` seconds."""

    path: Path
    max_age_s: float


@dataclass(frozen=True)
class Ended:
    """How a supervised child ended.

    ``returncode``: its exit code (negative: killed by that signal). ``cpu_s``: CPU seconds of the
    child and the descendants it waited for (``None`` when unknown). ``stopped``: why the supervisor
    killed it (wall clock, heartbeat), or ``None`` when it ended by itself.
    """

    returncode: int
    cpu_s: float | None
    wall_s: float
    output_truncated: bool
    stopped: str | None


class OutputPump(threading.Thread):
    """Copies the child's output pipe to the log file up to a cap, then drains and drops the rest."""

    def __init__(self, fd: int, log: BinaryIO, cap: int) -> None:
        super().__init__(daemon=True, name="sandbox-output")
        self.fd = fd
        self.log = log
        self.cap = cap
        self.written = 0
        self.truncated = False
        self.stop_requested = threading.Event()

    def run(self) -> None:
        try:
            while True:
                ready, _, _ = select.select([self.fd], [], [], 0.25)
                if not ready:
                    if self.stop_requested.is_set():
                        return
                    continue
                data = os.read(self.fd, 1 << 16)
                if not data:
                    return
                self._write(data)
        finally:
            self.log.flush()

    def _write(self, data: bytes) -> None:
        room = self.cap - self.written
        if room > 0:
            chunk = data[:room]
            self.log.write(chunk)
            self.written += len(chunk)
        if len(data) > max(room, 0) and not self.truncated:
            self.truncated = True
            self.log.write(f"\n[eureka-kit: output truncated after {self.cap} bytes; the rest was dropped]\n".encode())


class ExitWatch:
    """Waits for the child to exit *without reaping it* (a pidfd), so its pid stays reserved until clean-up."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.fd: int | None = None
        try:
            self.fd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # old kernel: fall back to Popen.wait (which reaps)
            self.fd = None

    def wait(self, timeout: float) -> bool:
        """True when the child has exited, after at most ``timeout`` seconds."""
        if self.fd is None:
            try:
                self.proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        return bool(ready)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def process_tree(pid: int, token: str) -> list[psutil.Process]:
    """The child and every descendant: by parent links, and by the token in their environment."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(pid)
        found[root.pid] = root
        for c in root.children(recursive=True):
            found[c.pid] = c
    except psutil.NoSuchProcess:
        pass
    me = os.getpid()
    for p in psutil.process_iter():
        if p.pid in found or p.pid == me:
            continue
        try:
            if p.environ().get(TOKEN_VAR) == token:
                found[p.pid] = p
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return [p for p in found.values() if _alive(p)]


def kill_tree(pid: int, token: str, timeout_s: float = 5.0) -> int:
    """SIGKILL the process ``pid`` and all its descendants until none is left; returns how many were killed.

    Each round suspends every process found first (so none can fork while we
    kill), then kills them and the child's process group, and looks again.
    """
    killed: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        victims = process_tree(pid, token)
        try:
            os.killpg(pid, signal.SIGKILL)  # the child's own group: start_new_session made pgid == pid
        except (ProcessLookupError, PermissionError):
            pass
        if not victims:
            break
        for p in victims:
            try:
                p.suspend()
            except psutil.Error:
                pass
        for p in victims:
            try:
                p.kill()
                killed.add(p.pid)
            except psutil.Error:
                pass
        gone_by = time.monotonic() + 1.0
        while any(_alive(p) for p in victims) and time.monotonic() < gone_by:
            psutil.wait_procs([p for p in victims if _alive(p)], timeout=0.1)
    return len(killed)


def supervise(
    command: list[str],
    cwd: Path,
    env: Mapping[str, str],
    log: BinaryIO,
    *,
    token: str,
    preexec: Callable[[], None],
    wall_s: float,
    max_output_bytes: int,
    heartbeat: Heartbeat | None,
    start: float,
) -> Ended:
    """Run ``command`` to its end (or until a deadline), then clear its process tree.

    ``start`` is the :func:`time.monotonic` the wall clock counts from. Raises
    ``OSError`` when the command cannot be started.
    """
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
        preexec_fn=preexec,
    )
    assert proc.stdout is not None
    pump = OutputPump(proc.stdout.fileno(), log, max_output_bytes)
    pump.start()
    reason: str | None = None
    deadline = start + wall_s
    exited = ExitWatch(proc)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = f"wall-clock limit of {wall_s:g} s exceeded; the process tree was killed"
                break
            step = remaining if heartbeat is None else min(remaining, _HEARTBEAT_CHECK_S, heartbeat.max_age_s / 4)
            if exited.wait(step):
                break
            if heartbeat is not None:
                try:
                    age = time.time() - heartbeat.path.stat().st_mtime
                except OSError:
                    age = time.monotonic() - start
                if age > heartbeat.max_age_s:
                    reason = (
                        f"no progress for {age:.0f} s (heartbeat limit {heartbeat.max_age_s:g} s; "
                        "hung or stuck in a slow call); the process tree was killed"
                    )
                    break
    finally:
        # Always, before reaping the child (so its pid cannot be reused meanwhile): also clears
        # descendants left behind by a child that exited on its own.
        kill_tree(proc.pid, token)
        rc, cpu = reap(proc)
        exited.close()
        pump.stop_requested.set()
        pump.join(timeout=5.0)
        proc.stdout.close()
    log.flush()
    return Ended(rc, cpu, time.monotonic() - start, pump.truncated, reason)


def reap(proc: subprocess.Popen[bytes]) -> tuple[int, float | None]:
    """Wait for the child; its exit code and the CPU seconds it (and the descendants it reaped) used."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # already reaped (the pidfd fallback's Popen.wait)
        return proc.wait(), None
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc
    return rc, usage.ru_utime + usage.ru_stime
