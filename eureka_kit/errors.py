"""The user's errors: problems with what the user gave, which the CLI reports as one line and exit code 2.

Everything else that escapes a command is a bug of eureka-kit and is reported with its traceback (exit code 1),
never dressed up as the user's mistake. An exception type is the user's when it derives from :class:`UserError`:
the named errors of bad input (an unknown task, a bad fitness expression, a damaged run file, an unreachable LLM
API, a missing sandbox tool...) do, and plain validation of arguments raises :class:`UsageError`.
"""

from __future__ import annotations


class UserError(Exception):
    """Base of the errors about the user's input or environment (the CLI prints the message, exit code 2)."""


class UsageError(UserError, ValueError):
    """A value the user gave (an option, an argument, a config field) is not valid; the message says why."""
