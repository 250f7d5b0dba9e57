"""Safe mechanical normalizations: source edits of a rejected program where its meaning cannot change.

Only two, both about the *form* of what ``compute_reward`` returns, never
about a value it computed:

* ``components_from_total``: the program returns the total alone
  (``return total``, or ``return total, None``) and the critic said it has
  shape (N,): it becomes ``return total, {"total": total}``;
* ``constant_component``: a component of the returned dict literal is a
  Python number written in the source (``{"alive": 1.0}``) while the total is
  a tensor: it becomes ``torch.full_like(total, 1.0)``, the same constant for
  every env.

A batch reduction is never "fixed" (a value that lost N stays an error for the
model to fix), and a number computed at run time (``x.mean().item()``) is not a
constant. :func:`normalize` returns the edited source and one
:class:`Normalization` per edit; the repair loop (:mod:`eureka_kit.loop.repair`)
checks the result again, records the edits and tells the model. Nothing is
executed here (``ast`` only).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal

from eureka_kit.python_parse import parse_module
from eureka_kit.reward.check_report import CheckReport
from eureka_kit.reward.program import ENTRY_POINT
from eureka_kit.tasks.spec import TaskSpec

NormalizationKind = Literal["components_from_total", "constant_component"]


@dataclass(frozen=True)
class Normalization:
    """One edit of the program: what, where, and the sentence that tells the model."""

    kind: NormalizationKind
    line: int
    note: str


@dataclass(frozen=True)
class _Edit:
    line: int
    col: int
    end_line: int
    end_col: int
    text: str


def _entry(tree: ast.Module) -> ast.FunctionDef | None:
    found = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == ENTRY_POINT]
    return found[-1] if len(found) == 1 else None


def _returns(fn: ast.FunctionDef) -> list[ast.Return]:
    """The return statements of ``fn`` itself (not of functions nested in it)."""
    out: list[ast.Return] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                continue
            if isinstance(child, ast.Return):
                out.append(child)
            visit(child)

    visit(fn)
    return out


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def _single_tensor_total(report: CheckReport) -> bool:
    """The critic saw a single tensor of shape (N,) returned (and nothing worse)."""
    return any(
        i.code == "bad_return" and "returned a single tensor of shape" in i.message and ",)." in i.message
        for i in report.errors
    )


def _constant_components(report: CheckReport) -> bool:
    """The critic saw Python-number components while the total was a tensor."""
    return any(
        i.code == "non_tensor" and "component" in i.message and "the total is" not in i.message for i in report.errors
    )


def normalize(spec: TaskSpec, source: str, report: CheckReport) -> tuple[str | None, tuple[Normalization, ...]]:
    """The program with the safe edits the report calls for, and the edits; ``(None, ())`` when none applies."""
    try:
        tree = parse_module(source)
    except (SyntaxError, ValueError, RecursionError):
        return None, ()
    fn = _entry(tree)
    if fn is None:
        return None, ()
    edits: list[_Edit] = []
    notes: list[Normalization] = []
    want_components = _single_tensor_total(report)
    want_constants = _constant_components(report)
    for ret in _returns(fn):
        value = ret.value
        if value is None or value.end_lineno is None or value.end_col_offset is None:
            continue
        if want_components and not isinstance(value, ast.Tuple):
            text = ast.get_source_segment(source, value) or ""
            if isinstance(value, ast.Name):
                new = f'{text}, {{"total": {text}}}'
            else:
                new = f'(lambda total: (total, {{"total": total}}))({text})'
            edits.append(_Edit(value.lineno, value.col_offset, value.end_lineno, value.end_col_offset, new))
            note = (
                f"line {ret.lineno}: `return {text}` returned the total alone; the checker made it return "
                f'`{text}, {{"total": {text}}}`. Next time name the parts of the reward in the components dict.'
            )
            notes.append(Normalization("components_from_total", ret.lineno, note))
        if (
            want_constants
            and isinstance(value, ast.Tuple)
            and len(value.elts) == 2
            and isinstance(value.elts[0], ast.Name)
            and isinstance(value.elts[1], ast.Dict)
        ):
            total = value.elts[0].id
            for key, v in zip(value.elts[1].keys, value.elts[1].values, strict=True):
                c = _number(v)
                if c is None or v.end_lineno is None or v.end_col_offset is None:
                    continue
                name = ast.get_source_segment(source, key) if key is not None else "?"
                new = f"torch.full_like({total}, {c!r})"
                edits.append(_Edit(v.lineno, v.col_offset, v.end_lineno, v.end_col_offset, new))
                note = (
                    f"line {v.lineno}: component {name} was the Python number {c!r}; the checker made it "
                    f"`{new}` (the same value for every env). Write components as tensors of shape (N,)."
                )
                notes.append(Normalization("constant_component", v.lineno, note))
    if not edits:
        return None, ()
    return _apply(source, edits, needs_torch="torch.full_like" in "".join(e.text for e in edits)), tuple(notes)


def _apply(source: str, edits: list[_Edit], needs_torch: bool) -> str:
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    data = source.encode()
    for e in sorted(edits, key=lambda e: (e.line, e.col), reverse=True):
        start = offsets[e.line - 1] + e.col
        end = offsets[e.end_line - 1] + e.end_col
        data = data[:start] + e.text.encode() + data[end:]
    text = data.decode()
    if needs_torch and not any(
        isinstance(s, ast.Import) and any(a.name == "torch" and a.asname is None for a in s.names)
        for s in parse_module(text).body
    ):
        text = "import torch\n" + text
    return text
