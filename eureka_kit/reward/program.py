"""Reward programs: compile LLM-written source and call it on batched state.

The contract (docs/architecture.md, "Reward programs")::

    def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]

Arguments are bound *by name* to the task's state variables (``action``
included); the total has shape (N,) and every component (N,).

Source is executed in a fresh module namespace of its own (never spliced into
package files). This module does not isolate anything: callers that run
untrusted programs do it inside a sandboxed child process.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from eureka_kit.tasks.spec import TaskSpec

ENTRY_POINT = "compute_reward"
PROGRAM_FILENAME = "<reward program>"
"""The file name under which the critic compiles a program (its frames are found by it in tracebacks)."""


class ProgramError(Exception):
    """A reward program cannot be compiled or bound; the message is fit to send to the LLM."""


@dataclass(frozen=True)
class BoundProgram:
    """A compiled ``compute_reward`` and the state variable names bound to its arguments."""

    fn: Callable[..., object]
    arg_names: tuple[str, ...]

    def __call__(self, state: Mapping[str, torch.Tensor]) -> object:
        return self.fn(**{name: state[name] for name in self.arg_names})


def compile_program(source: str, filename: str = "reward.py") -> Callable[..., object]:
    """Execute ``source`` in a fresh module and return its ``compute_reward``."""
    module = types.ModuleType("eureka_reward_program")
    module.__file__ = filename
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as e:
        raise ProgramError(f"SyntaxError at line {e.lineno}: {e.msg}") from None
    exec(code, module.__dict__)
    fn = module.__dict__.get(ENTRY_POINT)
    if not callable(fn):
        raise ProgramError(f"the program does not define a function named `{ENTRY_POINT}`")
    return fn  # type: ignore[no-any-return]


def bind_arguments(fn: Callable[..., object], spec: TaskSpec) -> tuple[str, ...]:
    """Names of the state variables bound to ``fn``'s parameters; unknown names are an error."""
    valid = spec.state_names
    names: list[str] = []
    unknown: list[str] = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind == p.POSITIONAL_ONLY:
            raise ProgramError(
                f"`{ENTRY_POINT}` arguments are passed by name: remove the positional-only marker `/` "
                f"from the signature (argument {p.name!r})"
            )
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ProgramError(
                f"`{ENTRY_POINT}` must name its arguments explicitly (no *args/**kwargs); "
                f"valid names: {', '.join(valid)}"
            )
        if p.name in valid:
            names.append(p.name)
        elif p.default is p.empty:
            unknown.append(p.name)
    if unknown:
        raise ProgramError(
            f"`{ENTRY_POINT}` has argument(s) {', '.join(map(repr, unknown))} that are not state variables of "
            f"task {spec.id}; valid names are: {', '.join(valid)}"
        )
    return tuple(names)


def load_program(source: str, spec: TaskSpec, filename: str = "reward.py") -> BoundProgram:
    """Compile and bind in one step."""
    fn = compile_program(source, filename)
    return BoundProgram(fn=fn, arg_names=bind_arguments(fn, spec))
