"""The sandbox mode of this process: ``strict`` or ``basic``, chosen once and read by every later child.

:func:`configure_sandbox` (the command line's ``--sandbox``) or the ``EUREKA_SANDBOX``
environment variable choose it; :func:`sandbox_mode` is what a child gets now.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Literal, get_args

from eureka_kit.errors import UsageError

SandboxMode = Literal["strict", "basic"]
"""``strict``: namespaces + unprivileged uid + seccomp (Linux, needs bubblewrap). ``basic``: rlimits + seccomp only."""

MODE_VAR = "EUREKA_SANDBOX"
"""Environment variable choosing the default sandbox mode (``strict`` or ``basic``) of a process."""

_lock = threading.Lock()
_configured: SandboxMode | None = None
_seccomp = True


def default_mode() -> SandboxMode:
    """``EUREKA_SANDBOX`` when set, else ``strict`` on Linux and ``basic`` elsewhere."""
    env = os.environ.get(MODE_VAR, "").strip().lower()
    if env:
        if env not in get_args(SandboxMode):
            raise UsageError(f"{MODE_VAR}={env!r} is not a sandbox mode; valid: {', '.join(get_args(SandboxMode))}")
        return env  # type: ignore[return-value]  # checked above
    return "strict" if sys.platform.startswith("linux") else "basic"


def configure_sandbox(mode: SandboxMode | None = None, *, seccomp: bool = True) -> None:
    """Set the mode of every later child of this process (``None``: back to :func:`default_mode`).

    ``seccomp=False`` stops the children from installing the seccomp filter
    (a way out should it break a library on some machine).
    """
    global _configured, _seccomp
    if mode is not None and mode not in get_args(SandboxMode):
        raise UsageError(f"unknown sandbox mode {mode!r}; valid: {', '.join(get_args(SandboxMode))}")
    with _lock:
        _configured = mode
        _seccomp = seccomp


def sandbox_mode() -> SandboxMode:
    """The mode children get now: the configured one, else :func:`default_mode`."""
    return _configured or default_mode()


def seccomp_wanted() -> bool:
    """False when :func:`configure_sandbox` turned the children's seccomp filter off."""
    return _seccomp
