"""Starting one child in a given sandbox mode, without the start-up verification: the runner's engine.

:func:`launch_child` is what :func:`eureka_kit.sandbox.runner.run_child` runs once
:func:`~eureka_kit.sandbox.runner.ensure_isolation` has proved the strict mode on
this machine, and what :func:`eureka_kit.sandbox.verify.verify_isolation` runs its
probe with. The child

- runs in a new session with an environment built from scratch (:func:`child_env`:
  no variable of the parent leaks in, in particular no API keys), ``HOME`` set to
  its own folder and ``TMPDIR`` to ``tmp/`` in it;
- runs under rlimits set before ``exec`` (:class:`Limits`): CPU seconds
  (``SIGXCPU``), address space (``MemoryError``), file size, open files, no core
  dumps, and ``PR_SET_PDEATHSIG`` (``SIGKILL``): it dies when the thread that
  started it dies;
- in strict mode, under bubblewrap (:func:`eureka_kit.sandbox.bwrap.bwrap_argv`), as a
  fresh uid when eureka-kit runs as root (:func:`eureka_kit.sandbox.folders.lend_folder`);
- is supervised by :func:`eureka_kit.sandbox.supervise.supervise` (capped output,
  wall clock, heartbeat, the whole tree killed at the end);

and afterwards its folder is made safe for the parent
(:func:`eureka_kit.sandbox.folders.reclaim_folder`). :func:`classify` turns the exit
code into a :class:`ChildOutcome`, following the exit codes of
:mod:`eureka_kit.sandbox.protocol`.
"""

from __future__ import annotations

import ctypes
import os
import resource
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eureka_kit.sandbox.bwrap import UIDS, bwrap_argv, uid_strategy
from eureka_kit.sandbox.folders import Loan, lend_folder, reclaim_folder, snapshot_folder
from eureka_kit.sandbox.mode import SandboxMode, sandbox_mode, seccomp_wanted
from eureka_kit.sandbox.protocol import EXIT_OUT_OF_MEMORY, EXIT_REPORTED_ERROR
from eureka_kit.sandbox.seccomp import SECCOMP_VAR, seccomp_supported
from eureka_kit.sandbox.supervise import TOKEN_VAR, Heartbeat, supervise
from eureka_kit.sandbox.view import package_root, protected_entries

HEARTBEAT_VAR = "EUREKA_HEARTBEAT"
"""Environment variable naming the heartbeat file the child should touch (when a heartbeat is used)."""

MESSAGE_MAX_CHARS = 2000
"""Upper bound of :attr:`ChildOutcome.message`."""

_PASSED_VARS = ("MUJOCO_GL", "PYOPENGL_PLATFORM", "EGL_PLATFORM")
_PR_SET_PDEATHSIG = 1

ChildStatus = Literal["ok", "error", "timeout", "out_of_memory", "killed"]


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
    gpu: bool = False
    """Strict mode: also bind the NVIDIA device files and the driver's ``/proc`` and ``/sys`` entries (see
    :func:`eureka_kit.sandbox.bwrap.gpu_binds`), for a child that trains on CUDA. Set ``address_space_mb=None``
    with it: CUDA reserves far more virtual memory than it uses."""

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
    pkg_root = str(package_root())
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


def classify(rc: int, limits: Limits, log_path: Path, cpu_s: float | None = None) -> tuple[ChildStatus, str]:
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


def launch_child(
    argv: Sequence[str],
    cwd: Path,
    limits: Limits,
    log_path: Path,
    *,
    heartbeat_path: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    mode: SandboxMode | None = None,
    extra_ro_binds: Sequence[tuple[Path, str]] = (),
) -> ChildOutcome:
    """Run ``argv`` in ``cwd`` as a child in ``mode`` (default: :func:`sandbox_mode`), *without* verifying it.

    Arguments as for :func:`eureka_kit.sandbox.runner.run_child`; ``extra_ro_binds``
    ((host path, path inside) pairs bound read-only into the strict view) is for the
    isolation probe and the tests. Raises :class:`~eureka_kit.sandbox.bwrap.IsolationUnavailable`
    when a tool of strict mode is missing.
    """
    mode = mode or sandbox_mode()
    cwd = Path(cwd).resolve()
    log_path = Path(log_path)
    token = secrets.token_hex(16)
    extra = dict(extra_env or {})
    extra.setdefault(SECCOMP_VAR, ("require" if mode == "strict" else "try") if seccomp_wanted() else "off")
    if extra[SECCOMP_VAR] == "require" and not seccomp_supported():
        extra[SECCOMP_VAR] = "off"
    heartbeat: Heartbeat | None = None
    if heartbeat_path is not None:
        heartbeat_path = Path(heartbeat_path).resolve()
        heartbeat_path.touch()
        extra[HEARTBEAT_VAR] = str(heartbeat_path)
        if limits.heartbeat_s is not None:
            heartbeat = Heartbeat(heartbeat_path, limits.heartbeat_s)
    env = child_env(cwd, token, extra)
    tmp_dir = cwd / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    writable = [tmp_dir] + ([heartbeat_path] if heartbeat_path is not None else [])
    uid: int | None = None
    nproc: int | None = None
    loan: Loan | None = None
    start = time.monotonic()
    with open(log_path, "wb") as log:
        command = list(argv)
        before = snapshot_folder(cwd)
        try:
            if mode == "strict":
                protect = protected_entries(cwd, writable)
                if uid_strategy() == "setuid":
                    uid = UIDS.acquire()
                    nproc = limits.processes
                    loan = lend_folder(cwd, uid, writable, protect)
                command = bwrap_argv(
                    argv,
                    cwd,
                    uid=uid,
                    processes=limits.processes,
                    writable=writable,
                    protect=protect,
                    extra_ro_binds=extra_ro_binds,
                    gpu=limits.gpu,
                )
            try:
                ended = supervise(
                    command,
                    cwd,
                    env,
                    log,
                    token=token,
                    preexec=_make_preexec(limits, nproc),
                    wall_s=limits.wall_s,
                    max_output_bytes=limits.max_output_bytes,
                    heartbeat=heartbeat,
                    start=start,
                )
            except OSError as e:
                message = _bounded(f"could not start the child: {e}")
                return ChildOutcome("error", None, message, time.monotonic() - start)
        finally:
            reclaim_folder(cwd, before, uid, loan)
            if uid is not None:
                UIDS.release(uid)
    rc, cpu = ended.returncode, ended.cpu_s
    if mode == "strict":
        cpu = None  # bubblewrap's own time: its pid 1 does not pass on the CPU time of the processes it reaps
        if 128 < rc < 128 + 65:
            rc = -(rc - 128)  # bubblewrap reports a child killed by signal N as exit code 128 + N
    if ended.stopped is not None:
        return ChildOutcome("timeout", None, _bounded(ended.stopped), ended.wall_s, ended.output_truncated, cpu)
    status, message = classify(rc, limits, log_path, cpu if cpu is not None else ended.wall_s)
    return ChildOutcome(status, rc, _bounded(message), ended.wall_s, ended.output_truncated, cpu)
