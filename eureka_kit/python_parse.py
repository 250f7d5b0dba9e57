"""The one door for parsing Python text in the driver process: ``ast.parse`` behind a process-wide lock.

CPython 3.11 turns the parser's tree into ``ast`` objects with a recursion counter that is interpreter-wide
state, so two threads in ``ast.parse`` at once can fail with ``SystemError: AST constructor recursion depth
mismatch``. The driver parses untrusted program text from several candidate threads (extraction, static checks,
normalization, shape findings, few-shot examples, fitness expressions), so every parse in ``eureka_kit`` goes
through :func:`parse_module` or :func:`parse_expression` (``tests/test_parse_door.py`` fails on any other
``ast.parse``).

Python 3.11's ``traceback`` module parses source lines too (to place its ``^^^`` markers), so a traceback
formatted while candidates run goes through :func:`format_exception` under the same lock.
"""

from __future__ import annotations

import ast
import threading
import traceback

_LOCK = threading.RLock()
"""Held for every parse; re-entrant so a helper that parses while holding it cannot deadlock."""


def parse_module(text: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(text, filename)`` (mode ``exec``), safe to call from any thread.

    Raises what ``ast.parse`` raises: ``SyntaxError``, ``ValueError`` (null bytes), ``RecursionError`` and
    ``MemoryError`` (absurd nesting).
    """
    with _LOCK:
        return ast.parse(text, filename, mode="exec")


def parse_expression(text: str, filename: str = "<unknown>") -> ast.expr:
    """The body of ``ast.parse(text, mode="eval")``, safe to call from any thread."""
    with _LOCK:
        return ast.parse(text, filename, mode="eval").body


def format_exception(error: BaseException) -> str:
    """The full traceback of ``error`` as text, safe to call from any thread."""
    with _LOCK:
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
