"""The protocol every sandboxed child follows: argv, exit codes, the error file, bounded reading of its output.

Three children run untrusted reward code: the critic's smoke test
(``eureka_kit.reward.check_child``), training (``eureka_kit.training.child``)
and trajectory scoring (``eureka_kit.feedback.score_child``). Each is started
with :func:`child_argv`, works in its own folder, and ends with one of:

- exit 0 and its result files;
- :data:`EXIT_REPORTED_ERROR` after writing :data:`ERROR_FILE`
  (``{"kind": ..., "message": ...}``, see :class:`ChildError`) with :func:`write_error`;
- :data:`EXIT_OUT_OF_MEMORY` after a ``MemoryError`` (also with an error file when it could write one);
- anything else (a crash, a kill by a limit), which the runner classifies.

The parent reads every file a child wrote as untrusted data: :func:`read_error`
returns a bounded, type-checked :class:`ChildError` or ``None``, and results go
through :func:`eureka_kit.files.read_bounded_json` or the child's own
validating reader.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from eureka_kit.files import UntrustedFileError, atomic_write_bytes, read_bounded_json

EXIT_USAGE = 2
"""Child exit code: wrong arguments (a bug of the caller, never of the reward program)."""

EXIT_REPORTED_ERROR = 87
"""Child exit code: the child wrote :data:`ERROR_FILE` explaining the failure."""

EXIT_OUT_OF_MEMORY = 88
"""Child exit code: the child caught a ``MemoryError`` (its address-space limit)."""

ERROR_FILE = "error.json"
MAX_ERROR_BYTES = 64_000
MAX_MESSAGE_CHARS = 2000

ErrorKind = Literal["reward_error", "memory_error", "config_error", "internal_error"]
"""``reward_error``: the reward program failed; ``memory_error``: out of memory; ``config_error``: a bad job or
arguments; ``internal_error``: a crash of eureka-kit's own code in the child."""


def bounded(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Bound a message for records and prompts, keeping its end (tracebacks end with the cause)."""
    message = message.strip()
    if len(message) <= limit:
        return message
    return "[...]\n" + message[-(limit - 6) :]


def child_argv(module: str, *args: str) -> list[str]:
    """``python -P -m MODULE ARGS...`` with this interpreter.

    ``-P`` keeps the child's working folder, which untrusted code can write,
    off ``sys.path``: a ``torch.py`` left there by a reward program is never
    imported by a later child. (It needs Python 3.11, which the project requires.)
    """
    return [sys.executable, "-P", "-m", module, *args]


@dataclass(frozen=True)
class ChildError:
    """What a child's :data:`ERROR_FILE` says, validated and bounded."""

    kind: ErrorKind
    message: str


def write_error(kind: ErrorKind, message: str, folder: Path = Path("."), *, tag: str = "child") -> None:
    """Write :data:`ERROR_FILE` in ``folder`` (best effort: a full disk must not hide the original error)."""
    payload = json.dumps({"kind": kind, "message": bounded(message)}).encode()
    try:
        atomic_write_bytes(Path(folder) / ERROR_FILE, payload)
    except OSError:
        pass
    print(f"[{tag}] {kind}: {bounded(message, 500)}", file=sys.stderr, flush=True)


def read_error(path: Path) -> ChildError | None:
    """A child's error file as a :class:`ChildError`; ``None`` when missing, malformed or of an unknown kind."""
    try:
        data = read_bounded_json(path, MAX_ERROR_BYTES)
    except UntrustedFileError:
        return None
    if not isinstance(data, Mapping):
        return None
    kind, message = data.get("kind"), data.get("message")
    if kind not in get_args(ErrorKind) or not isinstance(message, str):
        return None
    return ChildError(kind, bounded(message))  # type: ignore[arg-type]  # kind checked above
