"""MuJoCo's warnings go to Python logging; the known deprecation notes of gymnasium's own model files are dropped.

MuJoCo's default warning handler prints ``WARNING: ...`` to stdout and appends
to ``MUJOCO_LOG.TXT`` in the working folder. Gymnasium's ``half_cheetah.xml``
uses the ``settotalmass`` compiler attribute, which mujoco >= 4.0 deprecates,
so every process that loads it (each training child, the evaluator, videos)
printed the same two lines. :func:`route_mujoco_warnings` installs a handler
that drops the notes listed in :data:`KNOWN_ASSET_NOTES` (about files we ship
unchanged, nothing a user can act on) and logs every other warning.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("mujoco")

KNOWN_ASSET_NOTES: tuple[str, ...] = ("compiler attribute 'settotalmass' is deprecated",)
"""Start of warnings about gymnasium's model files that are dropped."""

_lock = threading.Lock()
_installed = False


def _handle(message: str) -> None:
    if not message.startswith(KNOWN_ASSET_NOTES):
        log.warning("%s", message.strip())


def route_mujoco_warnings() -> None:
    """Install the handler once per process (a no-op without mujoco)."""
    global _installed
    with _lock:
        if _installed:
            return
        try:
            import mujoco
        except ImportError:
            return
        mujoco.set_mju_user_warning(_handle)
        _installed = True
