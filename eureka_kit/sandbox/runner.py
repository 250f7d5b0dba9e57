"""The process boundary: run an untrusted command in a child process under limits.

Every execution of a reward program happens in a child started by
:func:`run_child`. The child

- runs in a new session with an environment built from scratch (no variable
  of the parent leaks in, in particular no API keys), ``HOME`` set to its own
  folder and ``TMPDIR`` to ``tmp/`` in it;
- runs under rlimits set before ``exec``: CPU seconds (``SIGXCPU``), address
  space (``MemoryError``), file size, open files, no core dumps;
- writes stdout and stderr through a pipe that the parent copies to
  ``log_path`` up to ``max_output_bytes`` and then drains without writing, so a
  program that prints without end cannot fill the disk;
- has a wall-clock deadline and, optionally, a heartbeat file it must touch;
  when either runs out, the whole process tree is killed (descendants that
  left the process group or session included) and the parent waits until no
  process of the tree is left.

Two modes (:func:`configure_sandbox`, or ``EUREKA_SANDBOX=strict|basic``):

- ``strict`` (the default on Linux): the child also runs under bubblewrap,
  in its own network, pid, ipc and uts namespaces, in a read-only view of the
  system with its folder as the only writable place, as an unprivileged uid,
  with a process cap (:mod:`eureka_kit.sandbox.isolation` has the details). Before
  the first strict child of a process, :func:`ensure_isolation` runs
  :func:`~eureka_kit.sandbox.isolation.verify_isolation` once; when bubblewrap is
  missing or the probe escapes, strict children are refused with
  :class:`~eureka_kit.sandbox.isolation.IsolationUnavailable`, never silently run
  weaker.
- ``basic``: plain processes under the rlimits above. It does not stop reads
  of files the user can read; where the seccomp filter is unavailable it does
  not stop network access either. Known gaps: a descendant that double-forks
  *and* scrubs its environment escapes the clean-up; grandchildren do not die
  with the parent.

In both modes the child gets ``PR_SET_PDEATHSIG`` (``SIGKILL``): it dies when
the thread that started it dies (with eureka-kit), and the children that know
about it install the seccomp filter of :func:`eureka_kit.sandbox.isolation.lock_down`
after their trusted imports (``EUREKA_SECCOMP`` in their environment). After
a child, entries it created that are neither regular files nor directories
(symlinks, FIFOs) are removed from its folder, so the trusted parent never
follows a link planted by the child or blocks on a FIFO.

Exit-code convention for children that know about it (``train_child`` does):
:data:`EXIT_OUT_OF_MEMORY` means "caught a MemoryError", :data:`EXIT_REPORTED_ERROR`
means "wrote a typed error file, see it". A Python child that dies of an
uncaught ``MemoryError`` is recognised from the last line of its log too.
"""

from __future__ import annotations

import ctypes
import os
import resource
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, get_args

import psutil

from eureka_kit.sandbox import isolation
from eureka_kit.sandbox.isolation import (
    BASIC_MODE_WARNING,
    SECCOMP_VAR,
    IsolationReport,
    IsolationUnavailable,
    SandboxMode,
    verify_isolation,
)

__all__ = [
    "BASIC_MODE_WARNING",
    "EXIT_OUT_OF_MEMORY",
    "EXIT_REPORTED_ERROR",
    "ChildOutcome",
    "IsolationReport",
    "IsolationUnavailable",
    "Limits",
    "SandboxMode",
    "configure_sandbox",
    "ensure_isolation",
    "kill_tree",
    "run_child",
    "sandbox_mode",
    "verify_isolation",
]

EXIT_REPORTED_ERROR = 87
"""Child exit code: the child wrote a typed error file (e.g. ``error.json``) explaining the failure."""

EXIT_OUT_OF_MEMORY = 88
"""Child exit code: the child caught a ``MemoryError`` (its address-space limit was reached)."""

TOKEN_VAR = "EUREKA_SANDBOX_TOKEN"
"""Environment variable carrying a per-child random token; finds descendants that left the process tree."""

HEARTBEAT_VAR = "EUREKA_HEARTBEAT"
"""Environment variable naming the heartbeat file the child should touch (when a heartbeat is used)."""

MESSAGE_MAX_CHARS = 2000
"""Upper bound of :attr:`ChildOutcome.message`."""

MODE_VAR = "EUREKA_SANDBOX"
"""Environment variable choosing the default sandbox mode (``strict`` or ``basic``) of a process."""

_HEARTBEAT_CHECK_S = 1.0
_PASSED_VARS = ("MUJOCO_GL", "PYOPENGL_PLATFORM", "EGL_PLATFORM")
_PR_SET_PDEATHSIG = 1

ChildStatus = Literal["ok", "error", "timeout", "out_of_memory", "killed"]


# ----- the mode -----------------------------------------------------------------------------------------

_mode_lock = threading.Lock()
_configured: SandboxMode | None = None
_seccomp = True
_verified: dict[SandboxMode, IsolationReport] = {}


def default_mode() -> SandboxMode:
    """``EUREKA_SANDBOX`` when set, else ``strict`` on Linux and ``basic`` elsewhere."""
    env = os.environ.get(MODE_VAR, "").strip().lower()
    if env:
        if env not in get_args(SandboxMode):
            raise ValueError(f"{MODE_VAR}={env!r} is not a sandbox mode; valid: {', '.join(get_args(SandboxMode))}")
        return env  # type: ignore[return-value]  # checked above
    return "strict" if sys.platform.startswith("linux") else "basic"


def configure_sandbox(mode: SandboxMode | None = None, *, seccomp: bool = True) -> None:
    """Set the mode of every later child of this process (``None``: back to :func:`default_mode`).

    ``seccomp=False`` stops the children from installing the seccomp filter
    (a way out should it break a library on some machine).
    """
    global _configured, _seccomp
    if mode is not None and mode not in get_args(SandboxMode):
        raise ValueError(f"unknown sandbox mode {mode!r}; valid: {', '.join(get_args(SandboxMode))}")
    with _mode_lock:
        _configured = mode
        _seccomp = seccomp


def sandbox_mode() -> SandboxMode:
    """The mode children get now: the configured one, else :func:`default_mode`."""
    return _configured or default_mode()


def ensure_isolation(mode: SandboxMode | None = None) -> IsolationReport:
    """Verify ``mode`` once per process (cached); raise :class:`IsolationUnavailable` when strict mode fails."""
    mode = mode or sandbox_mode()
    with _mode_lock:
        report = _verified.get(mode)
        if report is None:
            report = verify_isolation(mode)
            _verified[mode] = report
    if not report.ok:
        raise IsolationUnavailable(report.message)
    return report


@dataclass(frozen=True)
class Limits:
    """Resource limits of one child process (and of each of its descendants, for the rlimits).

    ``cpu_s=None`` sets the CPU-time limit from the wall clock (``wall_s + 10``: a
    backstop, since the child is single-threaded). ``address_space_mb=None``
    means no address-space limit (needed for CUDA processes; use cgroups
    there). ``heartbeat_s`` applies only when :func:`run_child` gets a
    heartbeat file: a child whose heartbeat is older than this is killed;
    ``None`` disables the check. ``processes`` caps the processes and threads
    of a strict child (``RLIMIT_NPROC`` for its own uid or user namespace; not
    applied in basic mode, where it would count all of the user's processes).
    """

    wall_s: float = 1800.0
    cpu_s: float | None = None
    address_space_mb: int | None = 4096
    file_size_mb: int = 256
    open_files: int = 256
    max_output_bytes: int = 1_000_000
    heartbeat_s: float | None = 300.0
    processes: int | None = 256

    def __post_init__(self) -> None:
        if self.wall_s <= 0:
            raise ValueError(f"wall_s must be > 0, got {self.wall_s}")
        if self.cpu_s is not None and self.cpu_s <= 0:
            raise ValueError(f"cpu_s must be > 0 or None, got {self.cpu_s}")
        if self.address_space_mb is not None and self.address_space_mb < 16:
            raise ValueError(f"address_space_mb must be >= 16 or None, got {self.address_space_mb}")
        if self.file_size_mb < 1 or self.open_files < 16 or self.max_output_bytes < 0:
            raise ValueError("file_size_mb must be >= 1, open_files >= 16 and max_output_bytes >= 0")
        if self.heartbeat_s is not None and self.heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s must be > 0 or None, got {self.heartbeat_s}")
        if self.processes is not None and self.processes < 8:
            raise ValueError(f"processes must be >= 8 or None, got {self.processes}")

    @property
    def cpu_seconds(self) -> float:
        """The CPU-time limit in force: ``cpu_s``, or ``wall_s + 10`` when it is ``None``."""
        return self.cpu_s if self.cpu_s is not None else self.wall_s + 10.0


@dataclass(frozen=True)
class ChildOutcome:
    """How a child ended. ``message`` is short, bounded and fit to show a user or an LLM.

    ``cpu_s``: CPU seconds of the child and the descendants it waited for (basic mode; ``None`` when unknown).
    """

    status: ChildStatus
    returncode: int | None
    message: str
    wall_s: float
    output_truncated: bool = False
    cpu_s: float | None = None


def child_env(cwd: Path, token: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment of a child: built from scratch, nothing of the parent but a few display vars."""
    exe_dir = str(Path(sys.executable).parent)
    pkg_root = str(isolation.package_root())
    env = {
        "PATH": f"{exe_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(cwd),
        "TMPDIR": str(cwd / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": pkg_root,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        TOKEN_VAR: token,
    }
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    for name in _PASSED_VARS:
        if name in os.environ:
            env[name] = os.environ[name]
    if extra:
        env.update(extra)
    return env


def _rlimits(limits: Limits) -> list[tuple[int, tuple[int, int]]]:
    mb = 1024 * 1024
    out = [
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb)),
        (resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files)),
    ]
    soft = max(1, int(limits.cpu_seconds + 0.999))
    out.append((resource.RLIMIT_CPU, (soft, soft + 5)))  # SIGXCPU at soft, SIGKILL at hard
    if limits.address_space_mb is not None:
        out.append((resource.RLIMIT_AS, (limits.address_space_mb * mb, limits.address_space_mb * mb)))
    return out


def _make_preexec(limits: Limits, nproc: int | None) -> Callable[[], None]:
    settings = _rlimits(limits)  # computed in the parent: the preexec function only makes system calls
    if nproc is not None:
        settings.append((resource.RLIMIT_NPROC, (nproc, nproc)))
    setrlimit = resource.setrlimit
    prctl = _libc_prctl()
    parent = os.getpid()

    def preexec() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the prctl: die now
                os._exit(1)
        for which, value in settings:
            setrlimit(which, value)

    return preexec


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


class _OutputPump(threading.Thread):
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


class _ExitWatch:
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


def _tree(pid: int, token: str) -> list[psutil.Process]:
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
        victims = _tree(pid, token)
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


def _tail(path: Path, max_lines: int = 20, max_chars: int = 1500) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 8192))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [
        ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.startswith("[eureka-kit: output truncated")
    ]
    out = "\n".join(lines[-max_lines:])
    return out[-max_chars:]


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _bounded(msg: str) -> str:
    return msg if len(msg) <= MESSAGE_MAX_CHARS else msg[: MESSAGE_MAX_CHARS - 15] + " ... (cut)"


def _classify(rc: int, limits: Limits, log_path: Path, cpu_s: float | None = None) -> tuple[ChildStatus, str]:
    """Status and message of an exit code. ``cpu_s``: CPU seconds used, or (where unknown) the wall time."""
    tail = _tail(log_path)
    last = tail.splitlines()[-1] if tail else ""
    if rc == 0:
        return "ok", "exited normally"
    if rc == EXIT_OUT_OF_MEMORY or last.startswith("MemoryError"):
        limit = f" of {limits.address_space_mb} MB" if limits.address_space_mb else ""
        return "out_of_memory", f"ran out of memory (address-space limit{limit})"
    if rc < 0:
        sig = -rc
        if sig == signal.SIGXCPU:
            return "timeout", f"CPU time limit of {limits.cpu_seconds:g} s exceeded"
        if sig == signal.SIGKILL and cpu_s is not None and cpu_s >= limits.cpu_seconds:
            return "timeout", (
                f"CPU time limit of {limits.cpu_seconds:g} s exceeded (killed after {cpu_s:.0f} s: the program "
                "ignored SIGXCPU and reached the hard limit)"
            )
        if sig in (signal.SIGABRT, signal.SIGSEGV) and ("bad_alloc" in tail or "out of memory" in tail.lower()):
            return "out_of_memory", f"ran out of memory ({_signal_name(sig)}); last output:\n{tail}"
        if sig == signal.SIGXFSZ:
            return "error", f"file size limit of {limits.file_size_mb} MB exceeded"
        if sig == signal.SIGSYS:
            return "killed", (
                "stopped by the sandbox (SIGSYS): the program made a forbidden system call (starting a process "
                "or a program, opening a network connection, or signalling another process); a reward program "
                "must only compute with tensors"
            )
        extra = f"; last output:\n{tail}" if tail else ""
        return "killed", f"killed by {_signal_name(sig)}{extra}"
    if rc == EXIT_REPORTED_ERROR:
        return "error", f"the child reported an error (exit code {rc}); last output:\n{tail}"
    return "error", f"exited with code {rc}; last output:\n{tail}" if tail else f"exited with code {rc} (no output)"


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
    return _run(argv, cwd, limits, log_path, heartbeat_path=heartbeat_path, extra_env=extra_env, mode=mode)


def _run(
    argv: list[str],
    cwd: Path,
    limits: Limits,
    log_path: Path,
    *,
    heartbeat_path: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    mode: SandboxMode | None = None,
    extra_ro_binds: Sequence[tuple[Path, str]] = (),
    verify: bool = True,
) -> ChildOutcome:
    mode = mode or sandbox_mode()
    if mode == "strict" and verify:
        ensure_isolation("strict")
    cwd = Path(cwd).resolve()
    log_path = Path(log_path)
    token = secrets.token_hex(16)
    extra = dict(extra_env or {})
    extra.setdefault(SECCOMP_VAR, ("require" if mode == "strict" else "try") if _seccomp else "off")
    if extra[SECCOMP_VAR] == "require" and not isolation.seccomp_supported():
        extra[SECCOMP_VAR] = "off"
    use_heartbeat = heartbeat_path is not None and limits.heartbeat_s is not None
    if heartbeat_path is not None:
        heartbeat_path = Path(heartbeat_path).resolve()
        heartbeat_path.touch()
        extra[HEARTBEAT_VAR] = str(heartbeat_path)
    env = child_env(cwd, token, extra)
    tmp_dir = cwd / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    writable = [tmp_dir] + ([heartbeat_path] if heartbeat_path is not None else [])
    uid: int | None = None
    nproc: int | None = None
    loan: isolation.Loan | None = None
    start = time.monotonic()
    with open(log_path, "wb") as log:
        command = list(argv)
        before = isolation.snapshot_folder(cwd)
        try:
            if mode == "strict":
                protect = isolation.protected_entries(cwd, writable)
                if isolation.uid_strategy() == "setuid":
                    uid = isolation.UIDS.acquire()
                    nproc = limits.processes
                    loan = isolation.lend_folder(cwd, uid, writable, protect)
                command = isolation.bwrap_argv(
                    argv,
                    cwd,
                    uid=uid,
                    processes=limits.processes,
                    writable=writable,
                    protect=protect,
                    extra_ro_binds=extra_ro_binds,
                )
            return _supervise(
                command, cwd, env, limits, log, log_path, token, heartbeat_path, use_heartbeat, nproc, start, mode
            )
        finally:
            isolation.reclaim_folder(cwd, before, uid, loan)
            if uid is not None:
                isolation.UIDS.release(uid)


def _supervise(
    command: list[str],
    cwd: Path,
    env: Mapping[str, str],
    limits: Limits,
    log: BinaryIO,
    log_path: Path,
    token: str,
    heartbeat_path: Path | None,
    use_heartbeat: bool,
    nproc: int | None,
    start: float,
    mode: SandboxMode,
) -> ChildOutcome:
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            preexec_fn=_make_preexec(limits, nproc),
        )
    except OSError as e:
        return ChildOutcome("error", None, _bounded(f"could not start the child: {e}"), time.monotonic() - start)
    assert proc.stdout is not None
    pump = _OutputPump(proc.stdout.fileno(), log, limits.max_output_bytes)
    pump.start()
    reason: str | None = None
    deadline = start + limits.wall_s
    exited = _ExitWatch(proc)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = f"wall-clock limit of {limits.wall_s:g} s exceeded; the process tree was killed"
                break
            check = min(_HEARTBEAT_CHECK_S, (limits.heartbeat_s or 1.0) / 4)
            step = min(remaining, check) if use_heartbeat else remaining
            if exited.wait(step):
                break
            if use_heartbeat and heartbeat_path is not None and limits.heartbeat_s is not None:
                try:
                    age = time.time() - heartbeat_path.stat().st_mtime
                except OSError:
                    age = time.monotonic() - start
                if age > limits.heartbeat_s:
                    reason = (
                        f"no progress for {age:.0f} s (heartbeat limit {limits.heartbeat_s:g} s; "
                        "hung or stuck in a slow call); the process tree was killed"
                    )
                    break
    finally:
        # Always, before reaping the child (so its pid cannot be reused meanwhile): also clears
        # descendants left behind by a child that exited on its own.
        kill_tree(proc.pid, token)
        rc, cpu = _reap(proc)
        exited.close()
        pump.stop_requested.set()
        pump.join(timeout=5.0)
        proc.stdout.close()
    wall = time.monotonic() - start
    if mode == "strict":
        cpu = None  # bubblewrap's own time: its pid 1 does not pass on the CPU time of the processes it reaps
        if 128 < rc < 128 + 65:
            rc = -(rc - 128)  # bubblewrap reports a child killed by signal N as exit code 128 + N
    if reason is not None:
        return ChildOutcome("timeout", None, _bounded(reason), wall, pump.truncated, cpu)
    log.flush()
    status, message = _classify(rc, limits, log_path, cpu if cpu is not None else wall)
    return ChildOutcome(status, rc, _bounded(message), wall, pump.truncated, cpu)


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float | None]:
    """Wait for the child; its exit code and the CPU seconds it (and the descendants it reaped) used."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # already reaped (the pidfd fallback's Popen.wait)
        return proc.wait(), None
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc
    return rc, usage.ru_utime + usage.ru_stime
