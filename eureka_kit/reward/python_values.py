"""Point at the line where a returned Python number comes from (no torch operation made it, so no trace shows it).

A small model often starts with ``total = 0.0`` and then never adds a tensor
to it (or only adds what it then throws away): the total returned is a Python
float, and the shape trace has no operation to point at. :func:`locate_python_values`
finds, with ``ast`` only, the assignment of the returned name to a number and
puts it, with a fix for the shapes at hand (``torch.zeros_like`` of an (N,)
argument), in front of the critic's ``non_tensor`` message.
"""

from __future__ import annotations

import ast
import re

from eureka_kit.python_parse import parse_module
from eureka_kit.reward.check_report import CheckIssue
from eureka_kit.reward.program import ENTRY_POINT
from eureka_kit.tasks.spec import TaskSpec

_TOTAL = re.compile(r"the total is a Python (float|int)")


def _entry(tree: ast.Module) -> ast.FunctionDef | None:
    found = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == ENTRY_POINT]
    return found[0] if len(found) == 1 else None


def _numeric_assignment(fn: ast.FunctionDef, name: str) -> ast.Assign | None:
    """The last ``name = <number>`` in ``fn`` (``None`` when ``name`` is ever assigned something else)."""
    last: ast.Assign | None = None
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = node.value
            if isinstance(value, ast.UnaryOp):
                value = value.operand
            if not (isinstance(value, ast.Constant) and isinstance(value.value, int | float)):
                return None
            if last is None or node.lineno > last.lineno:
                last = node
    return last


def _scalar_argument(fn: ast.FunctionDef, spec: TaskSpec) -> str | None:
    scalars = {v.name for v in spec.state if v.shape == ()}
    names = [a.arg for a in fn.args.args]
    return next((n for n in names if n in scalars), names[0] if names else None)


def locate_python_values(spec: TaskSpec, source: str, issues: list[CheckIssue]) -> list[CheckIssue]:
    """``issues`` with a ``non_tensor`` total error (without a line) pointed at the number assigned to it."""
    k = next((k for k, i in enumerate(issues) if i.code == "non_tensor" and i.line is None), None)
    if k is None or not _TOTAL.search(issues[k].message):
        return issues
    try:
        tree = parse_module(source)
    except (SyntaxError, ValueError, RecursionError):
        return issues
    fn = _entry(tree)
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)] if fn is not None else []
    if fn is None or not returns:
        return issues
    ret = max(returns, key=lambda r: r.lineno)
    value = ret.value
    if not (isinstance(value, ast.Tuple) and value.elts and isinstance(value.elts[0], ast.Name)):
        return issues
    name = value.elts[0].id
    assign = _numeric_assignment(fn, name)
    arg = _scalar_argument(fn, spec)
    if assign is None or arg is None:
        return issues
    text = ast.get_source_segment(source, assign) or f"{name} = ..."
    message = (
        f"line {assign.lineno}: `{text}` makes `{name}` a Python number, and nothing before `return` (line "
        f"{ret.lineno}) turns it into a tensor of shape (N,). Fix: start from a tensor, e.g. "
        f"`{name} = torch.zeros_like({arg})` on line {assign.lineno} ((N,), one value per env), and add the "
        f"(N,) terms of the reward to it. (The checker saw: {issues[k].message})"
    )
    return [*issues[:k], CheckIssue("error", "non_tensor", message, assign.lineno), *issues[k + 1 :]]
