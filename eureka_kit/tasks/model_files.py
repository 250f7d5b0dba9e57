"""Model files that sandboxed children must read to rebuild a task (``mjcf:`` tasks' compiled copies).

The strict sandbox shows a child only the system, Python, the packages and its
own folder. A task built from a user's model file names that file in its id;
:func:`expose` marks the one file (a self-contained ``.mjb`` in the run folder)
and :func:`eureka_kit.sandbox.bwrap.bwrap_argv` binds every exposed file
read-only at its own path. Only files are exposed, never their folders.
"""

from __future__ import annotations

import threading
from pathlib import Path

_lock = threading.Lock()
_files: set[Path] = set()


def expose(path: Path) -> None:
    """Let sandboxed children of this process read ``path`` (bound read-only at its absolute path)."""
    with _lock:
        _files.add(Path(path).resolve())


def exposed() -> tuple[Path, ...]:
    """The files exposed so far that still exist, sorted."""
    with _lock:
        return tuple(sorted(p for p in _files if p.is_file()))
