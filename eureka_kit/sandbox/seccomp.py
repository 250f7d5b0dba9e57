"""The seccomp filter every child installs after its trusted imports: :func:`lock_down`.

Under the filter (x86-64 only), starting a program or a process (``execve``,
``fork``, ``clone`` without ``CLONE_THREAD``), opening any socket, signalling
another process, tracing one, mounting, unsharing, and io_uring, ``bpf``,
``userfaultfd``, ``perf_event_open`` and the key ring fail with ``EPERM``
(sockets: ``EACCES``); threads stay allowed. Failing calls rather than killing
the process keeps libraries that try a subprocess and handle the error
working (``ctypes.util.find_library`` does); system calls of another ABI
(x32, i386) kill the process with ``SIGSYS``. The filter is applied in both
sandbox modes; the runner tells a child whether to install it through
:data:`SECCOMP_VAR` in its environment.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
from collections.abc import Mapping

SECCOMP_VAR = "EUREKA_SECCOMP"
"""Child environment: ``require`` (failure to install the filter is an error), ``try`` or ``off``."""

_AUDIT_ARCH_X86_64 = 0xC000003E
_SYS_SECCOMP_X86_64 = 317
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000
_CLONE_THREAD = 0x00010000
_CLONE_NEW_NAMESPACES = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

# x86-64 system calls that fail with EPERM
_X86_64_DENIED: Mapping[str, int] = {
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "ptrace": 101,
    "personality": 135,
    "rt_sigqueueinfo": 129,
    "pivot_root": 155,
    "chroot": 161,
    "mount": 165,
    "umount2": 166,
    "tkill": 200,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "migrate_pages": 256,
    "unshare": 272,
    "move_pages": 279,
    "rt_tgsigqueueinfo": 297,
    "perf_event_open": 298,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "bpf": 321,
    "execveat": 322,
    "userfaultfd": 323,
    "pidfd_send_signal": 424,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "pidfd_getfd": 438,
    "process_madvise": 440,
}
_X86_64 = {"clone": 56, "clone3": 435, "socket": 41, "kill": 62, "tgkill": 234}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


_LD_W_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06


def seccomp_supported() -> bool:
    """The filter exists for this machine (Linux on x86-64)."""
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


def seccomp_program(pid: int) -> list[tuple[int, int, int, int]]:
    """The BPF program (code, jt, jf, k) for a process whose pid (in its namespace) is ``pid``.

    Labels are resolved to relative jumps here; every jump is short (< 256).
    """
    ins: list[tuple[int, str | int, str | int, int]] = []
    labels: dict[str, int] = {}

    def emit(code: int, k: int, jt: str | int = 0, jf: str | int = 0) -> None:
        ins.append((code, jt, jf, k))

    def label(name: str) -> None:
        assert name not in labels, f"duplicate label {name}"
        labels[name] = len(ins)

    emit(_LD_W_ABS, 4)  # arch
    emit(_JEQ, _AUDIT_ARCH_X86_64, 0, "sigsys")
    emit(_LD_W_ABS, 0)  # syscall number
    emit(_JGE, 0x40000000, "sigsys", 0)  # the x32 ABI
    for nr in _X86_64_DENIED.values():
        emit(_JEQ, nr, "deny", 0)
    emit(_JEQ, _X86_64["clone3"], "enosys", 0)  # its flags are in memory: glibc falls back to clone
    emit(_JEQ, _X86_64["clone"], "clone", 0)
    emit(_JEQ, _X86_64["socket"], "eacces", 0)
    emit(_JEQ, _X86_64["kill"], "kill", 0)
    emit(_JEQ, _X86_64["tgkill"], "tgkill", 0)
    emit(_RET, _RET_ALLOW)
    label("clone")
    emit(_LD_W_ABS, 16)  # args[0], low 32 bits: the flags
    emit(_JSET, _CLONE_NEW_NAMESPACES, "deny", 0)
    emit(_JSET, _CLONE_THREAD, "allow", "deny")
    label("kill")
    emit(_LD_W_ABS, 16)  # the pid
    emit(_JEQ, pid, "allow", 0)
    emit(_JEQ, 0, "allow", "deny")  # 0: its own process group (a session of its own)
    label("tgkill")
    emit(_LD_W_ABS, 16)  # the thread group
    emit(_JEQ, pid, "allow", "deny")
    label("allow")
    emit(_RET, _RET_ALLOW)
    label("deny")
    emit(_RET, _RET_ERRNO | errno.EPERM)
    label("sigsys")
    emit(_RET, _RET_KILL_PROCESS)
    label("enosys")
    emit(_RET, _RET_ERRNO | errno.ENOSYS)
    label("eacces")
    emit(_RET, _RET_ERRNO | errno.EACCES)

    out: list[tuple[int, int, int, int]] = []
    for i, (code, jt, jf, k) in enumerate(ins):

        def rel(target: str | int, i: int = i) -> int:
            if isinstance(target, int):
                return target
            off = labels[target] - (i + 1)
            if not 0 <= off < 256:
                raise AssertionError(f"seccomp jump to {target} out of range: {off}")
            return off

        out.append((code, rel(jt), rel(jf), k))
    return out


def lock_down(mode: str | None = None) -> bool:
    """Install the seccomp filter in this process (all its threads); call after trusted imports.

    ``mode`` defaults to the ``EUREKA_SECCOMP`` environment variable:
    ``require`` raises :class:`OSError` when the filter cannot be installed,
    ``try`` returns False then, ``off`` (or unset) does nothing. Returns True
    when the filter is in force.
    """
    mode = mode if mode is not None else os.environ.get(SECCOMP_VAR, "off")
    if mode not in ("require", "try"):
        return False
    try:
        _install_filter()
    except OSError:
        if mode == "require":
            raise
        return False
    return True


def _install_filter() -> None:
    if not seccomp_supported():
        raise OSError(errno.ENOSYS, f"no seccomp filter for {platform.machine()} (only x86-64)")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(e)}")
    program = seccomp_program(os.getpid())
    filters = (_SockFilter * len(program))(*[_SockFilter(c, jt, jf, k) for c, jt, jf, k in program])
    fprog = _SockFprog(len(program), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    libc.syscall.restype = ctypes.c_long
    rc = libc.syscall(
        ctypes.c_long(_SYS_SECCOMP_X86_64),
        ctypes.c_uint(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_uint(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if rc != 0:
        e = ctypes.get_errno()
        what = f"thread {rc} could not be synchronised" if rc > 0 else os.strerror(e)
        raise OSError(e or errno.EPERM, f"seccomp(SET_MODE_FILTER) failed: {what}")
