"""Files written atomically and untrusted files read with bounds: the one place for both.

Every file eureka-kit writes, in the parent or in a sandboxed child, goes
through :func:`atomic_write_bytes` (or :func:`atomic_path` for libraries that
write to a path themselves: ``np.savez``, ``safetensors``): a temporary file in
the same folder, flushed, then renamed, so a ``kill -9`` or a full disk leaves
either the old file or the new one, never half of one.

Files a sandboxed child wrote are untrusted: :func:`read_bounded` and
:func:`read_bounded_json` read at most a given size and raise
:class:`UntrustedFileError` naming the file for anything unreadable.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eureka_kit.errors import UserError


class StoreError(UserError, OSError):
    """A file could not be written; the message says which and why (e.g. disk full)."""


class UntrustedFileError(UserError, ValueError):
    """A file (written by a child, or damaged) is missing, too large, not UTF-8 or not valid JSON; names the file."""


def _store_error(path: Path, e: OSError) -> StoreError:
    if e.errno == errno.ENOSPC:
        return StoreError(
            e.errno, f"disk full while writing {path}; free some space and resume the run (nothing was lost)"
        )
    return StoreError(e.errno or 0, f"could not write {path}: {e.strerror or e}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _store_error(path, e) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (fsync before the rename); the old content survives any failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise _store_error(path, e) from e


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of ``path``; :class:`UntrustedFileError` when missing, unreadable or larger."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except IsADirectoryError:
        raise UntrustedFileError(f"{path} is a directory, not a file") from None
    except OSError as e:
        raise UntrustedFileError(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) > max_bytes:
        raise UntrustedFileError(f"{path} is larger than {max_bytes} bytes")
    return raw


def read_bounded_text(path: Path, max_bytes: int) -> str:
    """:func:`read_bounded` decoded as UTF-8; a binary file is an :class:`UntrustedFileError` naming it."""
    raw = read_bounded(path, max_bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UntrustedFileError(f"{path} is not UTF-8 text (byte {e.start}); is it a binary file?") from None


def read_bounded_json(path: Path, max_bytes: int) -> Any:
    """:func:`read_bounded_text` parsed as JSON; truncated or malformed JSON is an :class:`UntrustedFileError`."""
    text = read_bounded_text(path, max_bytes)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # ValueError: bad JSON, an integer of > 4300 digits
        raise UntrustedFileError(f"{path} is not valid JSON ({str(e)[:200]}); it may be truncated or damaged") from None
