"""The strict sandbox: Linux namespaces (bubblewrap), an unprivileged uid and a seccomp filter.

:func:`eureka_kit.sandbox.runner.run_child` uses this module in ``strict`` mode (the
default on Linux). A strict child runs under ``bwrap`` with

- its own network namespace (only its own loopback: no connection can leave
  it, not even to ``127.0.0.1`` of the host), and its own pid, ipc, uts and
  cgroup namespaces: it sees only its own processes, and killing the
  namespace's first process (``bwrap``) kills every process in it;
- a file system view built from nothing: read-only ``/usr``, ``/etc`` and the
  ``/lib*`` links, the Python installation, the virtual environment and the
  ``eureka_kit`` and ``envs`` packages; a private ``/tmp``; minimal ``/dev``
  and ``/proc``; and its candidate folder, the only writable place. Entries of
  that folder that existed before the child started are bound read-only on
  top of it, so the child can add files but not change or replace its inputs
  (``reward.py``, ``job.json``, the parent's log);
- an unprivileged identity: when eureka-kit runs as root, ``bwrap`` (root,
  no user namespace) builds the view and then ``setpriv`` switches to a fresh
  uid/gid of :data:`UID_RANGE`, with no capabilities, an empty bounding set,
  no supplementary groups and ``no_new_privs``, so a root-only (``0600``) file
  stays unreadable even where it is visible. As an ordinary user, ``bwrap``
  makes a user namespace (the child keeps the user's uid, with no
  capabilities): then the view is what protects the user's files;
- a process cap (``RLIMIT_NPROC``; per fresh uid as root, per user namespace
  otherwise), on top of the rlimits that ``run_child`` sets in both modes.

The children (check, train, score) also call :func:`lock_down` after their
trusted imports and before the reward program is loaded: a seccomp filter
(x86-64 only) under which starting a program or a process (``execve``,
``fork``, ``clone`` without ``CLONE_THREAD``), opening any socket, signalling
another process, tracing one, mounting, unsharing, and io_uring, ``bpf``,
``userfaultfd``, ``perf_event_open`` and the key ring fail with ``EPERM``
(sockets: ``EACCES``); threads stay allowed. Failing calls rather than killing
the process keeps libraries that try a subprocess and handle the error
working (``ctypes.util.find_library`` does); system calls of another ABI
(x32, i386) kill the process with ``SIGSYS``. The filter is applied in both
sandbox modes.

:func:`verify_isolation` proves all this on the machine at hand: it runs a
probe child under strict mode that tries to connect to a listener the parent
opens on ``127.0.0.1``, to write outside its folder, to read a root-only
canary file, and checks its uid, capabilities, pid namespace and the seccomp
filter. The command-line tool calls it at start-up.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

SandboxMode = Literal["strict", "basic"]
"""``strict``: namespaces + unprivileged uid + seccomp (Linux, needs bubblewrap). ``basic``: rlimits + seccomp only."""

UidStrategy = Literal["setuid", "user_namespace", "none"]
"""How a strict child loses its privileges: a fresh uid (eureka-kit runs as root) or a user namespace (it does not)."""

SECCOMP_VAR = "EUREKA_SECCOMP"
"""Child environment: ``require`` (failure to install the filter is an error), ``try`` or ``off``."""

UID_RANGE = (1_900_000_000, 1 << 24)
"""(first, count): the fresh uids/gids strict children run as when eureka-kit runs as root."""

TMPFS_BYTES = 64 * 1024 * 1024
"""Size of the child's private ``/tmp`` (memory-backed) when bubblewrap supports ``--size``."""

MIN_BWRAP = (0, 5, 0)
"""Oldest bubblewrap with the options used here (``--perms``, ``--die-with-parent``, ``--new-session``)."""

INSTALL_HINT = "install it (Debian/Ubuntu: `apt-get install bubblewrap`)"
BASIC_HINT = (
    "or run with --sandbox basic (no namespaces: the reward program could reach the network and read your files)"
)

BASIC_MODE_WARNING = (
    "warning: sandbox mode 'basic': reward programs run as plain child processes under resource limits and a "
    "seccomp filter, without namespaces: a program could read files your user can read and, where the filter is "
    "unavailable, reach the network. Use the default strict mode (bubblewrap) when you can."
)
"""What the command-line tool prints on every run in basic mode."""


class IsolationUnavailable(RuntimeError):
    """Strict mode was asked for but cannot be provided here; the message names the missing piece and the fix."""


# ----- tools --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    """The programs strict mode runs, and what it found about them."""

    bwrap: str
    bwrap_version: tuple[int, int, int]
    setpriv: str
    prlimit: str | None

    @property
    def has_size(self) -> bool:
        """``--size`` for tmpfs mounts (bubblewrap 0.7+)."""
        return self.bwrap_version >= (0, 7, 0)


@lru_cache(maxsize=1)
def find_tools() -> Tools:
    """Locate bubblewrap, setpriv and prlimit; raises :class:`IsolationUnavailable` when strict mode cannot work."""
    if not sys.platform.startswith("linux"):
        raise IsolationUnavailable(
            f"strict sandbox unavailable: it needs Linux namespaces and this is {platform.system()}; {BASIC_HINT}"
        )
    bwrap = shutil.which("bwrap") or next((p for p in ("/usr/bin/bwrap", "/bin/bwrap") if os.access(p, os.X_OK)), None)
    if bwrap is None:
        raise IsolationUnavailable(f"strict sandbox unavailable: bubblewrap not found: {INSTALL_HINT}, {BASIC_HINT}")
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise IsolationUnavailable(
            f"strict sandbox unavailable: {bwrap} --version failed ({e}); {BASIC_HINT}"
        ) from None
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    version = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else (0, 0, 0)
    if version < MIN_BWRAP:
        have = ".".join(map(str, version))
        need = ".".join(map(str, MIN_BWRAP))
        raise IsolationUnavailable(
            f"strict sandbox unavailable: bubblewrap {have} is older than {need}: upgrade it, {BASIC_HINT}"
        )
    setpriv = shutil.which("setpriv") or ("/usr/bin/setpriv" if os.access("/usr/bin/setpriv", os.X_OK) else None)
    if setpriv is None:
        raise IsolationUnavailable(
            "strict sandbox unavailable: setpriv not found (it drops the child's uid and capabilities): install "
            f"util-linux (Debian: `apt-get install util-linux`), {BASIC_HINT}"
        )
    prlimit = shutil.which("prlimit") or ("/usr/bin/prlimit" if os.access("/usr/bin/prlimit", os.X_OK) else None)
    if prlimit is None and os.geteuid() != 0:
        raise IsolationUnavailable(
            f"strict sandbox unavailable: prlimit not found (util-linux: `apt-get install util-linux`), {BASIC_HINT}"
        )
    return Tools(bwrap, version, setpriv, prlimit)


def uid_strategy() -> UidStrategy:
    """``setuid`` when eureka-kit runs as root (children get a fresh uid), else ``user_namespace``."""
    return "setuid" if os.geteuid() == 0 else "user_namespace"


# ----- the file-system view -----------------------------------------------------------------------------


_SYSTEM_DIRS = ("/usr", "/etc")
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_SYSTEM_TRY = ("/sys/devices/system/cpu",)  # torch's cpuinfo reads it; harmless


def package_root() -> Path:
    """The folder holding the ``eureka_kit`` package (the repository root in a checkout, site-packages installed)."""
    import eureka_kit

    return Path(eureka_kit.__file__).resolve().parent.parent


def package_dirs() -> list[Path]:
    """The folders of the code the children import: ``eureka_kit`` and every loaded task pack.

    In a checkout ``eureka_kit.envs`` lives in the top-level ``envs/`` folder
    (an editable install maps it); a task pack from another distribution lives
    wherever that one is installed. Each is bound into the strict sandbox's view.
    """
    import importlib

    import eureka_kit
    from eureka_kit.tasks.registry import load_packs

    dirs = [Path(eureka_kit.__file__).resolve().parent]
    for module in ["eureka_kit.envs", *load_packs().values()]:
        mod = importlib.import_module(module)
        for entry in getattr(mod, "__path__", None) or [str(Path(mod.__file__ or ".").parent)]:
            dirs.append(Path(entry).resolve())
    return list(dict.fromkeys(dirs))


def _covered(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


@lru_cache(maxsize=1)
def view_paths() -> tuple[tuple[str, ...], frozenset[Path]]:
    """(bwrap arguments for the system part of the view, the directories it binds or makes)."""
    args: list[str] = []
    bound: list[Path] = []
    made: set[Path] = set()
    for d in _SYSTEM_DIRS:
        if os.path.isdir(d):
            args += ["--ro-bind", d, d]
            bound.append(Path(d))
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
            bound.append(Path(link))
    for d in _SYSTEM_TRY:
        args += ["--ro-bind-try", d, d]
    # the Python installation, the virtual environment, site-packages outside them, and our packages
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    candidates.append(str(Path(os.path.realpath(sys.executable)).parent.parent))
    candidates += [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)]
    candidates += [str(d) for d in package_dirs()]
    extra: list[Path] = []
    for c in candidates:
        p = Path(os.path.realpath(c))
        if p == Path("/") or not p.is_dir():
            continue
        extra.append(p)
    extra.sort(key=lambda p: len(p.parts))
    for p in extra:
        if _covered(p, bound):
            continue
        args += _ancestors(p, made)
        args += ["--ro-bind", str(p), str(p)]
        bound.append(p)
    return tuple(args), frozenset(bound) | made


def _ancestors(dest: Path, have: set[Path]) -> list[str]:
    """``--perms 0755 --dir`` for each missing ancestor of ``dest`` (bwrap would make them 0700 otherwise)."""
    out: list[str] = []
    for parent in reversed(dest.parents):
        if parent == Path("/") or parent in have:
            continue
        have.add(parent)
        out += ["--perms", "0755", "--dir", str(parent)]
    return out


def protected_entries(cwd: Path, writable: Iterable[Path]) -> list[Path]:
    """Entries of ``cwd`` that exist now and are neither writable by design nor symlinks (which are not followed)."""
    keep = {Path(p) for p in writable}
    out = []
    try:
        with os.scandir(cwd) as it:
            for e in it:
                p = cwd / e.name
                if p in keep or e.is_symlink():
                    continue
                if e.is_file(follow_symlinks=False) or e.is_dir(follow_symlinks=False):
                    out.append(p)
    except OSError:
        return []
    return sorted(out)


def bwrap_argv(
    argv: Sequence[str],
    cwd: Path,
    *,
    uid: int | None,
    processes: int | None,
    writable: Sequence[Path] = (),
    protect: Sequence[Path] = (),
    extra_ro_binds: Sequence[tuple[Path, str]] = (),
) -> list[str]:
    """The full command line that runs ``argv`` in ``cwd`` under bubblewrap.

    ``uid``: the fresh uid to switch to (eureka-kit runs as root), or ``None``
    (user namespace). ``writable``: files outside ``cwd`` bound read-write
    (a heartbeat file elsewhere). ``protect``: entries of ``cwd`` bound
    read-only on top of it. ``extra_ro_binds``: (host path, path inside)
    pairs, for the isolation probe.
    """
    tools = find_tools()
    system, bound = view_paths()
    cwd = Path(cwd)
    have: set[Path] = set(bound)
    args = [tools.bwrap]
    if uid is None:
        args += ["--unshare-user", "--cap-drop", "ALL"]
    args += [
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "eureka-sandbox",
        "--die-with-parent",
        "--new-session",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    # the private /tmp comes before the binds: a project, venv or run folder under /tmp must stay visible
    if tools.has_size:
        args += ["--size", str(TMPFS_BYTES)]
    args += ["--perms", "1777", "--tmpfs", "/tmp", *system]
    have.add(Path("/tmp"))
    args += _ancestors(cwd, have)
    args += ["--bind", str(cwd), str(cwd)]
    for p in writable:
        p = Path(p)
        if cwd in p.parents:
            continue
        args += _ancestors(p, have)
        args += ["--bind", str(p), str(p)]
    for p in protect:
        args += ["--ro-bind", str(p), str(p)]
    for host, inside in extra_ro_binds:
        args += _ancestors(Path(inside), have)
        args += ["--ro-bind", str(host), inside]
    args += ["--chdir", str(cwd), "--"]
    if uid is not None:
        gid = str(uid)
        args += [tools.setpriv, "--reuid", str(uid), "--regid", gid, "--clear-groups"]
        args += ["--inh-caps", "-all", "--bounding-set", "-all", "--no-new-privs", "--"]
    else:
        args += [tools.setpriv, "--no-new-privs", "--"]
        if processes is not None and tools.prlimit is not None:
            args += [tools.prlimit, f"--nproc={processes}:{processes}", "--"]
    return args + list(argv)


# ----- fresh uids and the candidate folder's ownership ---------------------------------------------------


class UidPool:
    """Hands out fresh uids from :data:`UID_RANGE`, never the same one to two children of this process at once."""

    def __init__(self, first: int = UID_RANGE[0], count: int = UID_RANGE[1]) -> None:
        self.first = first
        self.count = count
        self._lock = threading.Lock()
        self._in_use: set[int] = set()

    def acquire(self) -> int:
        with self._lock:
            while True:
                uid = self.first + secrets.randbelow(self.count)
                if uid not in self._in_use:
                    self._in_use.add(uid)
                    return uid

    def release(self, uid: int) -> None:
        with self._lock:
            self._in_use.discard(uid)


UIDS = UidPool()


@dataclass(frozen=True)
class Loan:
    """Modes changed to lend a folder's inputs to a child's uid: (path, original mode), restored afterwards."""

    modes: tuple[tuple[str, int], ...] = ()


def lend_folder(cwd: Path, uid: int, writable: Iterable[Path], readable: Iterable[Path]) -> Loan:
    """Let ``uid`` create files in ``cwd``, write ``writable`` (the heartbeat, ``tmp/``) and read ``readable``.

    ``readable`` (the folder's existing entries, bound read-only) that others may not read (the run store
    writes ``0600`` files) get read (and, for folders, search) permission for others until
    :func:`reclaim_folder` restores their modes.
    """
    os.chown(cwd, uid, uid, follow_symlinks=False)
    for p in writable:
        if os.path.lexists(p):
            os.chown(p, uid, uid, follow_symlinks=False)
    changed: list[tuple[str, int]] = []
    for p in readable:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        want = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0)
        mode = stat.S_IMODE(st.st_mode)
        if mode & want != want and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            os.chmod(p, mode | want)
            changed.append((str(p), mode))
    return Loan(tuple(changed))


@dataclass(frozen=True)
class FolderSnapshot:
    """The (path, inode) pairs of a folder's entries, taken before a child starts."""

    entries: frozenset[tuple[str, int]]


def snapshot_folder(cwd: Path, max_entries: int = 100_000) -> FolderSnapshot:
    seen: set[tuple[str, int]] = set()
    for path, st in _walk(cwd, max_entries):
        seen.add((path, st.st_ino))
    return FolderSnapshot(frozenset(seen))


def _walk(top: Path, max_entries: int) -> Iterable[tuple[str, os.stat_result]]:
    """(path, lstat) of every entry under ``top``, not following symlinks, at most ``max_entries``."""
    stack = [str(top)]
    n = 0
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                n += 1
                if n > max_entries:
                    return
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                yield e.path, st
                if stat.S_ISDIR(st.st_mode):
                    stack.append(e.path)


def reclaim_folder(cwd: Path, before: FolderSnapshot, uid: int | None, loan: Loan | None = None) -> list[str]:
    """After a child: make its folder safe for the trusted parent; returns what was removed.

    Removes every symlink, FIFO, socket or device node the child created (a
    ``stats.json`` that is a FIFO would hang the parent's read; a symlink
    could point it at a secret), clears set-uid/set-gid bits, (``uid``
    given) gives the child's files back to the parent's uid and gid, and
    restores the modes a :class:`Loan` changed.
    """
    removed: list[str] = []
    for path, mode in loan.modes if loan is not None else ():
        try:
            os.chmod(path, mode, follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass
    owner = (os.geteuid(), os.getegid())
    for path, st in list(_walk(cwd, 1_000_000)):
        mode = st.st_mode
        new = (path, st.st_ino) not in before.entries
        if new and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            try:
                os.unlink(path)
                removed.append(os.path.relpath(path, cwd))
            except OSError:
                pass
            continue
        if stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
            try:
                os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))
            except OSError:
                pass
        if uid is not None and (st.st_uid == uid or st.st_gid == uid):
            try:
                os.chown(path, *owner, follow_symlinks=False)
            except OSError:
                pass
    if uid is not None:
        try:
            os.chown(cwd, *owner, follow_symlinks=False)
        except OSError:
            pass
    return removed


# ----- seccomp ------------------------------------------------------------------------------------------

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


# ----- verification -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IsolationCheck:
    """One property of the sandbox, tested by the probe child."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class IsolationReport:
    """What :func:`verify_isolation` found. ``ok`` False means strict mode must refuse; ``message`` says why."""

    mode: SandboxMode
    ok: bool
    message: str
    checks: tuple[IsolationCheck, ...] = ()
    uid_strategy: UidStrategy = "none"
    seccomp: bool = False
    bwrap_version: str | None = None

    @property
    def failed(self) -> tuple[IsolationCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def summary(self) -> str:
        """Multi-line text: the message, then one line per check."""
        lines = [self.message]
        lines += [f"  [{'ok' if c.passed else 'FAILED'}] {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


_NAMESPACE_ERRORS = (
    "No permissions to create new namespace",
    "Creating new namespace failed",
    "setting up uid map",
    "Operation not permitted",
    "unshare",
    "loopback",
)


def _unavailable(detail: str) -> str:
    if any(s in detail for s in _NAMESPACE_ERRORS):
        return (
            "strict sandbox unavailable: bubblewrap cannot create namespaces here (user namespaces disabled? "
            "check the sysctls user.max_user_namespaces, kernel.unprivileged_userns_clone and "
            "kernel.apparmor_restrict_unprivileged_userns, or a container that forbids them), "
            f"{BASIC_HINT}. bubblewrap said: {detail}"
        )
    return f"strict sandbox unavailable: the probe child failed: {detail}; {BASIC_HINT}"


def verify_isolation(mode: SandboxMode | None = None, *, timeout_s: float = 30.0) -> IsolationReport:
    """Prove that ``mode`` (default: the configured one) isolates a child on this machine.

    ``basic``: nothing to prove; the report is ok and its message is
    :data:`BASIC_MODE_WARNING`. ``strict``: a probe child runs under the
    strict sandbox and tries to connect to a listener opened here on
    127.0.0.1, to write outside its folder (a host temp folder and the
    package), to read a root-only canary (invisible, and, as root, visible
    but ``0600``); it checks its uid, capabilities, pid namespace and the
    seccomp filter. Any success of an attack, or a missing tool, gives
    ``ok=False`` with a message naming the missing piece.
    """
    from eureka_kit.sandbox import runner as sandbox  # late: runner imports this module

    mode = mode or sandbox.sandbox_mode()
    if mode == "basic":
        return IsolationReport("basic", True, BASIC_MODE_WARNING, seccomp=seccomp_supported())
    try:
        tools = find_tools()
    except IsolationUnavailable as e:
        return IsolationReport("strict", False, str(e))
    version = ".".join(map(str, tools.bwrap_version))
    strategy = uid_strategy()
    with tempfile.TemporaryDirectory(prefix="eureka-probe-") as tmp:
        base = Path(tmp)
        os.chmod(base, 0o700)
        cand = base / "cand"
        cand.mkdir()
        secret = base / "canary_secret"
        canary = "eureka-canary-" + secrets.token_hex(12)
        secret.write_text(canary)
        os.chmod(secret, 0o600)
        outside = base / "outside_write.txt"
        inside_pkg = package_root() / "eureka_kit" / f".probe_{secrets.token_hex(4)}"
        visible_secret = "/run/eureka-canary/secret"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        args = {
            "port": port,
            "outside": [str(outside), str(inside_pkg)],
            "secrets": [str(secret)] + ([visible_secret] if strategy == "setuid" else []),
            "out": str(cand / "probe.json"),
            "host_pid": os.getpid(),
        }
        (cand / "probe_args.json").write_text(json.dumps(args))
        limits = sandbox.Limits(wall_s=timeout_s, address_space_mb=None, heartbeat_s=None, max_output_bytes=20_000)
        argv = [sys.executable, "-P", "-m", "eureka_kit.sandbox.isolation", "probe", "probe_args.json"]
        try:
            outcome = sandbox._run(
                argv,
                cand,
                limits,
                cand / "probe.log",
                mode="strict",
                extra_env={SECCOMP_VAR: "require"} if seccomp_supported() else {SECCOMP_VAR: "off"},
                extra_ro_binds=[(secret, visible_secret)] if strategy == "setuid" else [],
                verify=False,
            )
        finally:
            connected = _accepted(listener)
            listener.close()
        log = (cand / "probe.log").read_text(errors="replace") if (cand / "probe.log").exists() else ""
        for p in (outside, inside_pkg):
            if p.exists():
                p.unlink()
        wrote = [str(p) for p in (outside, inside_pkg) if p.exists()]
        try:
            found: dict[str, Any] = json.loads((cand / "probe.json").read_text())
        except (OSError, ValueError):
            found = {}
        leaked = canary in log or canary in json.dumps(found)
    if not found:
        tail = log.strip().splitlines()[-3:] if log.strip() else [outcome.message]
        return IsolationReport("strict", False, _unavailable(" | ".join(tail)), uid_strategy=strategy)
    checks = _judge(found, connected, wrote, leaked, strategy, outcome.returncode)
    failed = [c for c in checks if not c.passed]
    seccomp_ok = any(c.name == "seccomp" and c.passed for c in checks)
    if failed:
        names = ", ".join(f"{c.name} ({c.detail})" for c in failed)
        message = f"strict sandbox check failed: {names}; refusing to run untrusted code, {BASIC_HINT}"
        return IsolationReport("strict", False, message, tuple(checks), strategy, seccomp_ok, version)
    who = "a fresh unprivileged uid" if strategy == "setuid" else "your uid in a user namespace, no capabilities"
    message = (
        f"strict sandbox ok (bubblewrap {version}): no network, own pid namespace, read-only system view, writes "
        f"only to the candidate folder, runs as {who}, seccomp filter {'on' if seccomp_ok else 'off (not x86-64)'}"
    )
    return IsolationReport("strict", True, message, tuple(checks), strategy, seccomp_ok, version)


def _accepted(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except (BlockingIOError, OSError):
        return False
    conn.close()
    return True


def _judge(
    found: Mapping[str, Any],
    connected: bool,
    wrote: Sequence[str],
    leaked: bool,
    strategy: UidStrategy,
    returncode: int | None,
) -> list[IsolationCheck]:
    checks = [
        IsolationCheck(
            "network",
            not connected and not str(found.get("network", "")).startswith("connected"),
            f"connect to a listener on the host's 127.0.0.1: {found.get('network', '?')}",
        ),
        IsolationCheck(
            "outside_write",
            not wrote and all(v != "written" for v in found.get("outside", {}).values()),
            "writes outside the folder: "
            + ", ".join(f"{Path(k).name}: {v}" for k, v in found.get("outside", {}).items()),
        ),
        IsolationCheck(
            "secret_read",
            not leaked and all(v != "read" for v in found.get("secrets", {}).values()),
            "root-only canary: " + ", ".join(f"{k}: {v}" for k, v in found.get("secrets", {}).items()),
        ),
        IsolationCheck(
            "own_folder_write", found.get("own_folder") == "written", f"own folder: {found.get('own_folder')}"
        ),
        IsolationCheck(
            "capabilities", found.get("cap_eff") == "0000000000000000", f"effective capabilities {found.get('cap_eff')}"
        ),
        IsolationCheck(
            "pid_namespace",
            bool(found.get("pid_namespace")),
            f"sees {found.get('processes')} process(es); host parent visible: {not found.get('pid_namespace')}",
        ),
    ]
    if strategy == "setuid":
        uid = found.get("uid")
        checks.append(IsolationCheck("uid", isinstance(uid, int) and uid != 0, f"runs as uid {uid}"))
    if seccomp_supported():
        sc = found.get("seccomp") or {}
        ok = (
            returncode == 0
            and all(str(sc.get(k, "")).startswith("denied") for k in ("socket", "exec", "fork"))
            and sc.get("thread") == "allowed"
        )
        detail = ", ".join(f"{k}: {v}" for k, v in sc.items()) if sc else f"not installed (exit code {returncode})"
        checks.append(IsolationCheck("seccomp", ok, detail))
    return checks


def _probe(args_path: str) -> int:
    """The probe child: try each attack, record what happened (never the canary itself), then test seccomp."""
    args = json.loads(Path(args_path).read_text())
    found: dict[str, Any] = {}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(("127.0.0.1", int(args["port"])))
        found["network"] = "connected"
    except OSError as e:
        found["network"] = f"blocked ({e.strerror or e})"
    finally:
        s.close()
    outside = {}
    for p in args["outside"]:
        try:
            with open(p, "w") as f:
                f.write("probe")
            outside[p] = "written"
        except OSError as e:
            outside[p] = f"blocked ({e.strerror})"
    found["outside"] = outside
    read = {}
    for p in args["secrets"]:
        try:
            with open(p) as f:
                f.read()
            read[p] = "read"
        except OSError as e:
            read[p] = f"blocked ({e.strerror})"
    found["secrets"] = read
    try:
        Path("own_write.txt").write_text("ok")
        found["own_folder"] = "written"
    except OSError as e:
        found["own_folder"] = f"blocked ({e.strerror})"
    found["uid"] = os.getuid()
    status = Path("/proc/self/status").read_text()
    m = re.search(r"^CapEff:\s*(\S+)", status, re.M)
    found["cap_eff"] = m.group(1) if m else None
    pids = [d for d in os.listdir("/proc") if d.isdigit()]
    found["processes"] = len(pids)
    found["pid_namespace"] = len(pids) <= 4 and os.getpid() != int(args["host_pid"])
    tmp = Path(args["out"]).with_suffix(".tmp")
    tmp.write_text(json.dumps(found))
    tmp.replace(args["out"])
    if lock_down():
        found["seccomp"] = _seccomp_probe()
    tmp.write_text(json.dumps(found))
    tmp.replace(args["out"])
    return 0


def _seccomp_probe() -> dict[str, str]:
    """Under the filter: a socket, a program and a process must all be refused."""
    out: dict[str, str] = {}
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        out["socket"] = "allowed"
    except OSError as e:
        out["socket"] = f"denied ({errno.errorcode.get(e.errno or 0, e.errno)})"
    try:
        rc = subprocess.run(["/bin/true"], check=False).returncode
        out["exec"] = f"allowed (exit code {rc})"
    except OSError as e:
        out["exec"] = f"denied ({errno.errorcode.get(e.errno or 0, e.errno)})"
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        out["fork"] = "allowed"
    except OSError as e:
        out["fork"] = f"denied ({errno.errorcode.get(e.errno or 0, e.errno)})"
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    out["thread"] = "allowed"
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "probe":
        sys.exit(_probe(sys.argv[2]))
    print("usage: python -m eureka_kit.sandbox.isolation probe ARGS.json", file=sys.stderr)
    sys.exit(2)
