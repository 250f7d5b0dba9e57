"""One generic registry: named entries of one kind, each registered once, looked up with a helpful error.

Tasks, environment kinds, training backends, algorithms and executors all register by name in a
:class:`Registry`: a second registration of the same name with a different entry is an error, and an unknown
name fails with the closest valid name ("did you mean") and the list of valid ones, in an exception type the
caller chooses (``UnknownTaskError``, ``ConfigError``...).

::

    KINDS = Registry[EnvKind]("environment kind", error=UnknownKindError)
    KINDS.register("mujoco", MUJOCO)
    KINDS.get("mujoc")   # UnknownKindError: unknown environment kind 'mujoc'. Did you mean 'mujoco'? Valid: ...
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def did_you_mean(name: str, valid: list[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``valid`` to ``name``, or an empty string."""
    close = difflib.get_close_matches(name, valid, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


class Registry(Generic[T]):
    """Entries of one kind by name (see the module docstring); safe to fill and read from several threads."""

    def __init__(
        self,
        what: str,
        error: Callable[[str], Exception] = KeyError,
        more: str = "",
        same: Callable[[T, T], bool] = lambda a, b: a is b or a == b,
    ) -> None:
        self.what = what
        """What an entry is, in messages ("training backend")."""
        self._error = error
        self._more = more
        """Appended to the list of valid names in an unknown-name error (other accepted spellings)."""
        self._same = same
        self._entries: dict[str, T] = {}
        self._lock = threading.Lock()

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` as ``name``; the same entry again is a no-op, a different one a ``ValueError``."""
        with self._lock:
            if name in self._entries and not self._same(self._entries[name], entry):
                raise ValueError(f"{self.what} {name!r} is already registered")
            self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry ``name``; the registry's error type naming the closest and the valid names otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            raise self.unknown(name) from None

    def unknown(self, name: str) -> Exception:
        """The error for an unknown ``name`` (raise it)."""
        valid = self.names()
        listed = ", ".join(valid) or "(none registered)"
        return self._error(f"unknown {self.what} {name!r}.{did_you_mean(name, valid)} Valid: {listed}{self._more}")

    def names(self) -> list[str]:
        return sorted(self._entries)

    def values(self) -> list[T]:
        """The entries sorted by name."""
        return [self._entries[k] for k in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
