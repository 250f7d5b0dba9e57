"""The candidate folder around a child: lend it to the child's uid, snapshot it, make it safe afterwards.

Before a strict child that runs as a fresh uid (eureka-kit runs as root),
:func:`lend_folder` gives that uid the folder, ``tmp/`` and the heartbeat file,
and read permission on the inputs. Before every child, :func:`snapshot_folder`
records what was there; after it, :func:`reclaim_folder` removes what the
trusted parent must never follow or open (symlinks, FIFOs, sockets, device
nodes the child made), clears set-uid bits, gives the files back to the
parent's uid and restores the modes the loan changed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


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
    """The entries under ``cwd`` (at most ``max_entries``), to tell later which ones a child created."""
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
