"""The strict sandbox's command line: bubblewrap, setpriv and prlimit, and the identity a child runs as.

A strict child runs under ``bwrap`` with

- its own network namespace (only its own loopback: no connection can leave
  it, not even to ``127.0.0.1`` of the host), and its own pid, ipc, uts and
  cgroup namespaces: it sees only its own processes, and killing the
  namespace's first process (``bwrap``) kills every process in it;
- the read-only view of :mod:`eureka_kit.sandbox.view`, a private ``/tmp``,
  minimal ``/dev`` and ``/proc``, and its candidate folder, the only writable
  place. Entries of that folder that existed before the child started are
  bound read-only on top of it, so the child can add files but not change or
  replace its inputs (``reward.py``, ``job.json``, the parent's log);
- an unprivileged identity (:func:`uid_strategy`): when eureka-kit runs as
  root, ``bwrap`` (root, no user namespace) builds the view and then
  ``setpriv`` switches to a fresh uid/gid of :data:`UID_RANGE` (from
  :data:`UIDS`), with no capabilities, an empty bounding set, no supplementary
  groups and ``no_new_privs``, so a root-only (``0600``) file stays unreadable
  even where it is visible. As an ordinary user, ``bwrap`` makes a user
  namespace (the child keeps the user's uid, with no capabilities): then the
  view is what protects the user's files;
- a process cap (``RLIMIT_NPROC``; per fresh uid as root, per user namespace
  otherwise), on top of the rlimits the runner sets in both modes.
"""

from __future__ import annotations

import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from eureka_kit.errors import UserError
from eureka_kit.sandbox.view import ancestor_dirs, view_paths
from eureka_kit.tasks.model_files import exposed

UidStrategy = Literal["setuid", "user_namespace", "none"]
"""How a strict child loses its privileges: a fresh uid (eureka-kit runs as root) or a user namespace (it does not)."""

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


class IsolationUnavailable(UserError, RuntimeError):
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


def bwrap_argv(
    argv: Sequence[str],
    cwd: Path,
    *,
    uid: int | None,
    processes: int | None,
    writable: Sequence[Path] = (),
    protect: Sequence[Path] = (),
    extra_ro_binds: Sequence[tuple[Path, str]] = (),
    gpu: bool = False,
) -> list[str]:
    """The full command line that runs ``argv`` in ``cwd`` under bubblewrap.

    ``uid``: the fresh uid to switch to (eureka-kit runs as root), or ``None``
    (user namespace). ``writable``: files outside ``cwd`` bound read-write
    (a heartbeat file elsewhere). ``protect``: entries of ``cwd`` bound
    read-only on top of it. ``extra_ro_binds``: (host path, path inside)
    pairs, for the isolation probe. ``gpu``: add :func:`gpu_binds`.
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
    args += ancestor_dirs(cwd, have)
    args += ["--bind", str(cwd), str(cwd)]
    for p in writable:
        p = Path(p)
        if cwd in p.parents:
            continue
        args += ancestor_dirs(p, have)
        args += ["--bind", str(p), str(p)]
    for p in protect:
        args += ["--ro-bind", str(p), str(p)]
    for p in exposed():  # a task's model file (mjcf: tasks), this one file only
        if cwd not in p.parents:
            args += ancestor_dirs(p, have)
            args += ["--ro-bind", str(p), str(p)]
    if gpu:
        args += gpu_binds()
    for host, inside in extra_ro_binds:
        args += ancestor_dirs(Path(inside), have)
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


# ----- GPU access ------------------------------------------------------------------------------------------

GPU_DEVICE_GLOBS = ("nvidia[0-9]*", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
"""Device files of ``/dev`` a CUDA child needs: one per GPU, the control device, unified memory."""
GPU_RO_TRY = ("/proc/driver/nvidia", "/sys/bus/pci/devices", "/sys/devices/pci0000:00", "/sys/module/nvidia")
"""Read-only, when present: the driver's parameters and the PCI topology (CUDA and NVML read them)."""


def gpu_binds(dev: Path = Path("/dev")) -> list[str]:
    """bwrap arguments that let a child use the NVIDIA GPUs, and nothing else of the host's devices or memory.

    The device files are bound as devices (``--dev-bind``: a CUDA child opens
    and ``ioctl``s them; that is the whole point), everything else read-only.
    The driver's user-space libraries (``libcuda.so``) are under ``/usr`` or
    ``/lib``, which the view already shows read-only; a driver installed
    elsewhere (``/usr/local/nvidia`` in some containers) is under ``/usr`` too.
    What this opens: the GPU itself (its memory is not cleared between
    processes by every driver, and a child can use all of it), the PCI
    device tree's names. No other device, no network, no writable path.
    """
    args: list[str] = []
    for pattern in GPU_DEVICE_GLOBS:
        for node in sorted(dev.glob(pattern)):
            args += ["--dev-bind", str(node), str(node)]
    for path in GPU_RO_TRY:
        args += ["--ro-bind-try", path, path]
    return args


# ----- fresh uids ------------------------------------------------------------------------------------------


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
