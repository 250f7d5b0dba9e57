"""The critic's static checks: what can be said of a reward program without running any of it.

:func:`check_static` parses the program (``ast``) and checks: exactly one
top-level ``compute_reward``; imports only from :data:`ALLOWED_IMPORTS`; no
call of :data:`FORBIDDEN_CALLS`; no ``torch.jit``/``torch.compile``
decorators; arguments named after the task's state variables (no
``*args``/``**kwargs``/positional-only); and warns about terms computed and
then dropped (:mod:`~eureka_kit.reward.term_flow`). It is safe to run in the trusted
parent: nothing of the program is executed (the signature is rebuilt from the
``ast`` with empty defaults and no annotations).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from typing import Any

from eureka_kit.python_parse import parse_module
from eureka_kit.reward.check_report import CheckIssue, CheckReport
from eureka_kit.reward.program import ENTRY_POINT, PROGRAM_FILENAME, ProgramError, bind_arguments
from eureka_kit.reward.term_flow import term_issues
from eureka_kit.tasks.spec import TaskSpec

ALLOWED_IMPORTS: tuple[str, ...] = ("torch", "math", "numpy", "typing", "__future__")
"""Top-level modules a reward program may import (``import torch.nn.functional as F`` is fine)."""

FORBIDDEN_CALLS: tuple[str, ...] = ("__import__", "eval", "exec", "compile", "open", "input", "breakpoint")
"""Builtins a reward program may not call."""


def check_static(spec: TaskSpec, source: str) -> CheckReport:
    """The checks that need no execution: syntax, entry point, imports, calls, decorators, arguments, dropped terms."""
    issues, _ = static_issues(spec, source)
    return CheckReport(tuple(issues))


def static_issues(spec: TaskSpec, source: str) -> tuple[list[CheckIssue], ast.Module | None]:
    """The issues of :func:`check_static` and the parsed program (``None`` when it does not parse)."""
    try:
        tree = parse_module(source, PROGRAM_FILENAME)
    except SyntaxError as e:
        text = line_text(source, e.lineno)
        where = f" at line {e.lineno}" + (f" (`{text}`)" if text else "") if e.lineno else ""
        msg = f"The program does not parse: SyntaxError{where}: {e.msg}. Send the corrected program."
        return [CheckIssue("error", "syntax_error", msg, e.lineno)], None
    except (ValueError, RecursionError, MemoryError) as e:
        return [CheckIssue("error", "syntax_error", f"The program does not parse: {e}.")], None

    issues: list[CheckIssue] = []
    issues += _check_imports(tree)
    issues += _check_calls(tree)
    entries = [s for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) and s.name == ENTRY_POINT]
    if not entries:
        issues.append(CheckIssue("error", "no_entry_point", _no_entry_message(tree)))
    elif len(entries) > 1:
        lines = ", ".join(str(e.lineno) for e in entries)
        msg = (
            f"`{ENTRY_POINT}` is defined {len(entries)} times (lines {lines}); only the last one would be used. "
            f"Keep exactly one top-level `def {ENTRY_POINT}(...)`."
        )
        issues.append(CheckIssue("error", "multiple_entry_points", msg, entries[1].lineno))
    else:
        issues += _check_signature(spec, entries[0])
        issues += term_issues(tree)
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        for d in fn.decorator_list:
            text = ast.unparse(d)
            if "jit" in text or "compile" in text:
                msg = (
                    f"line {d.lineno}: the decorator `@{text}` on `{fn.name}` is not supported (the program is "
                    f"loaded from text and called as plain batched torch code). Remove the decorator."
                )
                issues.append(CheckIssue("error", "unsupported_decorator", msg, d.lineno))
    return issues, tree


def _is_main_guard(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (never runs: the program is loaded as a module)."""
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    t = stmt.test
    names = [t.left, *t.comparators]
    return (
        len(t.ops) == 1
        and isinstance(t.ops[0], ast.Eq)
        and any(isinstance(n, ast.Name) and n.id == "__name__" for n in names)
        and any(isinstance(n, ast.Constant) and n.value == "__main__" for n in names)
    )


def _live_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """All nodes of the program except the bodies of top-level ``if __name__ == "__main__":`` blocks."""
    for stmt in tree.body:
        if _is_main_guard(stmt):
            assert isinstance(stmt, ast.If)
            for node in stmt.orelse:
                yield from ast.walk(node)
        else:
            yield from ast.walk(stmt)


def _check_imports(tree: ast.Module) -> list[CheckIssue]:
    allowed = ", ".join(m for m in ALLOWED_IMPORTS if m != "__future__")
    issues: list[CheckIssue] = []
    seen: set[str] = set()
    for node in _live_nodes(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = ["." * node.level + (node.module or "")]
        else:
            continue
        for module in modules:
            root = module.split(".")[0]
            if root in ALLOWED_IMPORTS or module in seen:
                continue
            seen.add(module)
            stmt = ast.unparse(node)
            msg = (
                f"line {node.lineno}: `{stmt}` is not allowed: reward programs may import only {allowed} "
                f"(and `from __future__`). Rewrite it with torch operations."
            )
            issues.append(CheckIssue("error", "disallowed_import", msg, node.lineno))
    return issues


def _check_calls(tree: ast.Module) -> list[CheckIssue]:
    issues: list[CheckIssue] = []
    for node in _live_nodes(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            msg = (
                f"line {node.lineno}: calling `{node.func.id}(...)` is not allowed in a reward program; compute the "
                f"reward from the input tensors only."
            )
            issues.append(CheckIssue("error", "forbidden_call", msg, node.lineno))
    return issues


def _no_entry_message(tree: ast.Module) -> str:
    nested = [
        n
        for top in tree.body
        if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for n in ast.walk(top)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == ENTRY_POINT and n is not top
    ]
    assigned = any(
        isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == ENTRY_POINT for t in s.targets)
        for s in tree.body
    )
    names = [s.name for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
    msg = f"The program does not define a top-level function `{ENTRY_POINT}`"
    if nested:
        msg += f" (it is defined inside another function or class at line {nested[0].lineno}; move it to top level)"
    elif assigned:
        msg += f" (`{ENTRY_POINT}` is assigned, not defined with `def`)"
    elif names:
        msg += f" (it defines: {', '.join(names)})"
    return msg + f". Define `def {ENTRY_POINT}(...)` at top level, returning (total, components)."


def _check_signature(spec: TaskSpec, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[CheckIssue]:
    valid = ", ".join(spec.state_names)
    if isinstance(fn, ast.AsyncFunctionDef):
        msg = f"`{ENTRY_POINT}` must be a plain `def`, not `async def`."
        return [CheckIssue("error", "bad_signature", msg, fn.lineno)]
    a = fn.args
    if a.vararg or a.kwarg:
        star = f"*{a.vararg.arg}" if a.vararg else f"**{a.kwarg.arg}"  # type: ignore[union-attr]
        msg = (
            f"`{ENTRY_POINT}` must name each argument explicitly (found `{star}`): arguments are bound by name to "
            f"the task's state variables. Valid names: {valid}."
        )
        return [CheckIssue("error", "bad_signature", msg, fn.lineno)]
    if a.posonlyargs:
        msg = (
            f"`{ENTRY_POINT}` must not have positional-only arguments (`/`): arguments are passed by name. "
            f"Valid names: {valid}."
        )
        return [CheckIssue("error", "bad_signature", msg, fn.lineno)]
    try:
        bound = bind_arguments(_signature_stub(fn), spec)
    except ProgramError as e:
        msg = f"{e}. Name each argument exactly after the state variable it reads."
        return [CheckIssue("error", "unknown_argument", msg, fn.lineno)]
    issues: list[CheckIssue] = []
    unbound = [x.arg for x in [*a.args, *a.kwonlyargs] if x.arg not in bound]
    if unbound:
        msg = (
            f"argument(s) {', '.join(map(repr, unbound))} of `{ENTRY_POINT}` are not state variables, so they always "
            f"keep their default value. Valid names: {valid}."
        )
        issues.append(CheckIssue("warning", "unbound_argument", msg, fn.lineno))
    if not bound:
        msg = (
            f"`{ENTRY_POINT}` takes no state variables, so its reward cannot depend on what the agent does. "
            f"Take some of: {valid}."
        )
        issues.append(CheckIssue("error", "no_arguments", msg, fn.lineno))
    return issues


def _signature_stub(fn: ast.FunctionDef) -> Callable[..., object]:
    """A function with ``fn``'s parameters and an empty body, built without running any of the program."""
    stub = copy.deepcopy(fn)
    stub.decorator_list = []
    stub.returns = None
    stub.body = [ast.Pass()]
    args = stub.args
    for x in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        x.annotation = None
    args.defaults = [ast.Constant(None) for _ in args.defaults]
    args.kw_defaults = [None if d is None else ast.Constant(None) for d in args.kw_defaults]
    module = ast.fix_missing_locations(ast.Module(body=[stub], type_ignores=[]))
    namespace: dict[str, Any] = {"__builtins__": {}}
    exec(compile(module, "<signature>", "exec"), namespace)
    return namespace[ENTRY_POINT]  # type: ignore[no-any-return]


def line_text(source: str, line: int | None) -> str:
    """Line ``line`` of ``source``, stripped and cut to 120 characters (``""`` when out of range)."""
    lines = source.splitlines()
    if line is None or not 0 < line <= len(lines):
        return ""
    return lines[line - 1].strip()[:120]
