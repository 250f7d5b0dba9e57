"""The critic's term flow: terms that ``compute_reward`` computes and then drops (``ast`` only, nothing runs).

Small models often compute a term and forget it (``alive = 0.5 * is_healthy``, then
``total = forward + effort``): the program passes every other check and trains on a
reward that is not the one it meant. :func:`term_issues` reads the body of the entry
point and warns about:

* ``unused_term``: a name assigned from a state variable or from another term (its
  right-hand side reads an argument or an assigned name) that is never read
  afterwards, so it is neither in the total nor among the returned components;
* ``component_not_in_total``: a component of the returned dict whose value the
  total does not depend on (through any chain of assignments).

Both are warnings and err on the side of silence: a name counts as read when any
later line (or any line of the same loop) reads it; the total's dependencies are
the union over every assignment of every name it reads, in any order; and a
component made only of terms the total is made of (a copy, a rescaling) is taken
to be in the total (the smoke test's sums judge it). When the
components are built in a way this module does not follow (a comprehension, a
helper's result, ``.update``), it says nothing about them. The runtime complement, a
total that differs from the sum of the components on the smoke batches, is
``total_not_sum`` of :mod:`eureka_kit.reward.component_warnings`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from eureka_kit.reward.check_report import CheckIssue
from eureka_kit.reward.program import ENTRY_POINT

Position = tuple[int, int]
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
MAX_CODE = 100
"""Longest code quoted in a message (characters)."""


@dataclass(frozen=True)
class Assignment:
    """One binding of a plain name in the entry point (``x = ...``, ``x += ...``, ``x: T = ...``)."""

    name: str
    line: int
    end: Position
    """Where the statement ends: a read of the name after it reads this value."""
    reads: frozenset[str]
    """Names the right-hand side reads (the name itself too, for ``x += ...``)."""
    loop: ast.For | ast.While | None
    """The innermost loop around the statement: any read inside it may read this value."""
    unpacked: bool = False
    """Bound by unpacking (``a, b = ...``): a term, but never reported as unused (``_, idx = x.max(-1)``)."""


@dataclass(frozen=True)
class Component:
    """One entry of the returned components dict: its key, value and line."""

    key: str
    value: ast.expr
    line: int


def term_issues(tree: ast.Module) -> list[CheckIssue]:
    """``unused_term`` and ``component_not_in_total`` warnings of the program's single top-level entry point."""
    entries = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == ENTRY_POINT]
    if len(entries) != 1:
        return []
    flow = TermFlow.of(entries[0])
    return [*flow.unused_terms(), *flow.components_outside_total()]


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes under ``node``, not entering nested functions, lambdas or classes."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, _SCOPES):
            yield from _own_nodes(child)


def _loaded(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


def _start(node: ast.AST) -> Position:
    return node.lineno, node.col_offset  # type: ignore[attr-defined]


def _end(node: ast.AST) -> Position:
    end_line = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
    end_col = getattr(node, "end_col_offset", None) or 0
    return end_line, end_col


def _code(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= MAX_CODE else text[: MAX_CODE - 3] + "..."


@dataclass(frozen=True)
class TermFlow:
    """Who reads what in one ``compute_reward``: assignments, reads, dependencies, the returned pair."""

    fn: ast.FunctionDef
    params: frozenset[str]
    assignments: tuple[Assignment, ...]
    reads: tuple[tuple[str, Position], ...]
    """Every read of a name in the function (nested functions and lambdas included), with its position."""
    depends: dict[str, frozenset[str]]
    """Name -> names its value is made from: every assignment, in-place update and item assignment of it."""

    @classmethod
    def of(cls, fn: ast.FunctionDef) -> TermFlow:
        a = fn.args
        params = frozenset(x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs])
        assignments: list[Assignment] = []
        depends: dict[str, set[str]] = {}
        _collect(fn.body, None, assignments, depends)
        reads = tuple(
            (n.id, _start(n)) for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        )
        return cls(fn, params, tuple(assignments), reads, {k: frozenset(v) for k, v in depends.items()})

    @property
    def terms(self) -> frozenset[str]:
        """State variables and assigned names: what a term can be made of."""
        return self.params | {x.name for x in self.assignments}

    def read_after(self, x: Assignment) -> bool:
        """Whether any read of ``x.name`` comes after ``x`` (or lies in the loop around it)."""
        loop = (_start(x.loop), _end(x.loop)) if x.loop is not None else None
        for name, pos in self.reads:
            if name != x.name:
                continue
            if pos > x.end or (loop is not None and loop[0] <= pos <= loop[1]):
                return True
        return False

    def closure(self, names: frozenset[str]) -> frozenset[str]:
        """``names`` and every name their values are made from, transitively."""
        seen = set(names)
        todo = list(names)
        while todo:
            for dep in self.depends.get(todo.pop(), frozenset()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return frozenset(seen)

    def unused_terms(self) -> list[CheckIssue]:
        """A name made from a state variable or another term and never read afterwards: one warning per name."""
        if any(name in ("locals", "vars", "eval") for name, _ in self.reads):
            return []
        terms = self.terms
        issues: list[CheckIssue] = []
        reported: set[str] = set()
        for x in self.assignments:
            if x.unpacked or x.name in reported or x.name.startswith("_") or not (x.reads & terms):
                continue
            if self.read_after(x):
                continue
            reported.add(x.name)
            msg = (
                f"`{x.name}` (line {x.line}) is computed but neither added to the total nor returned as a "
                f"component; add it or remove it."
            )
            issues.append(CheckIssue("warning", "unused_term", msg, x.line))
        return issues

    def returned(self) -> tuple[ast.expr, ast.expr] | None:
        """``(total, components)`` of the function's only ``return``, when it returns a pair."""
        returns = [n for n in _own_nodes(self.fn) if isinstance(n, ast.Return)]
        if len(returns) != 1 or not isinstance(returns[0].value, ast.Tuple) or len(returns[0].value.elts) != 2:
            return None
        total, components = returns[0].value.elts
        return total, components

    def components(self, expr: ast.expr) -> list[Component] | None:
        """The entries of the returned components: a dict literal, ``dict(k=...)``, or a name bound to one and
        filled with ``name["key"] = ...``; ``None`` when built any other way."""
        if not isinstance(expr, ast.Name):
            return _literal_items(expr)
        binds = [x for x in self.assignments if x.name == expr.id]
        made = [
            n
            for n in _own_nodes(self.fn)
            if isinstance(n, ast.Assign | ast.AnnAssign)
            and any(isinstance(t, ast.Name) and t.id == expr.id for t in _targets(n))
        ]
        if len(binds) != 1 or len(made) != 1 or len(_targets(made[0])) != 1 or made[0].value is None:
            return None
        items = _literal_items(made[0].value)
        if items is None:
            return None
        for n in _own_nodes(self.fn):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == expr.id:
                return None  # components.update(...), .setdefault(...), .pop(...): not followed
            if not isinstance(n, ast.Assign):
                continue
            for t in n.targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == expr.id:
                    key = t.slice
                    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                        return None
                    items.append(Component(key.value, n.value, n.lineno))
        return items

    def components_outside_total(self) -> list[CheckIssue]:
        """A returned component whose value the total is not made from."""
        pair = self.returned()
        if pair is None:
            return []
        total, comps = pair
        items = self.components(comps)
        if not items:
            return []
        into_total = self.closure(_loaded(total))
        terms = self.terms
        where = self._total_text(total)
        issues: list[CheckIssue] = []
        for c in items:
            v = c.value
            if isinstance(v, ast.Name) and v.id in into_total:
                continue
            made_of = (
                self.depends.get(v.id, frozenset())
                if isinstance(v, ast.Name) and v.id not in self.params
                else _loaded(v)
            )
            made_of &= terms
            if not made_of or made_of <= into_total:  # a copy or rescaling of what the total is made of
                continue
            what = "" if isinstance(v, ast.Name) and v.id == c.key else f"`{_code(v)}`, "
            msg = (
                f"component {c.key!r} ({what}line {c.line}) is returned but does not enter the total{where}, so the "
                f"policy is not trained on it; add it to the total or remove it from the components."
            )
            issues.append(CheckIssue("warning", "component_not_in_total", msg, c.line))
        return issues

    def _total_text(self, total: ast.expr) -> str:
        """`` (`total = ...`, line L)``: how the total is made, when one assignment makes it."""
        if not isinstance(total, ast.Name):
            return f" (`{_code(total)}`)"
        made = [
            n
            for n in _own_nodes(self.fn)
            if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign)
            and any(isinstance(t, ast.Name) and t.id == total.id for t in _targets(n))
        ]
        if len(made) != 1:
            return ""
        return f" (`{_code(made[0])}`, line {made[0].lineno})"


def _targets(stmt: ast.Assign | ast.AugAssign | ast.AnnAssign) -> list[ast.expr]:
    return list(stmt.targets) if isinstance(stmt, ast.Assign) else [stmt.target]


def _literal_items(expr: ast.expr) -> list[Component] | None:
    """The entries of ``{"k": v, ...}`` or ``dict(k=v, ...)`` (``None`` for ``**`` or non-string keys)."""
    if isinstance(expr, ast.Dict):
        items: list[Component] = []
        for k, v in zip(expr.keys, expr.values, strict=True):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                return None
            items.append(Component(k.value, v, v.lineno))
        return items
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == "dict"
        and not expr.args
        and all(k.arg is not None for k in expr.keywords)
    ):
        return [Component(str(k.arg), k.value, k.value.lineno) for k in expr.keywords]
    return None


def _collect(
    body: list[ast.stmt],
    loop: ast.For | ast.While | None,
    assignments: list[Assignment],
    depends: dict[str, set[str]],
) -> None:
    """The assignments of ``body`` and what each name is made from (nested blocks too, nested functions not)."""
    for stmt in body:
        if isinstance(stmt, _SCOPES):
            continue
        value: ast.expr | None = None
        targets: list[ast.expr] = []
        extra: frozenset[str] = frozenset()
        if isinstance(stmt, ast.Assign):
            value, targets = stmt.value, list(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            value, targets = stmt.value, [stmt.target]
        elif isinstance(stmt, ast.AugAssign):
            value, targets = stmt.value, [stmt.target]
            if isinstance(stmt.target, ast.Name):
                extra = frozenset({stmt.target.id})
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func  # total.add_(alive), parts.append(x): the object is made from the arguments
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                depends.setdefault(func.value.id, set()).update(_loaded(stmt.value) - {func.value.id})
        if value is not None:
            reads = _loaded(value) | extra
            for t in targets:
                if isinstance(t, ast.Name):
                    depends.setdefault(t.id, set()).update(reads)
                    assignments.append(Assignment(t.id, stmt.lineno, _end(stmt), reads, loop))
                elif isinstance(t, ast.Subscript | ast.Attribute):
                    root = t.value
                    while isinstance(root, ast.Subscript | ast.Attribute):
                        root = root.value
                    if isinstance(root, ast.Name):  # total[mask] = x: total is made from x (and the mask)
                        depends.setdefault(root.id, set()).update(reads | (_loaded(t) - {root.id}))
                else:  # a, b = ...: every name unpacked is made from the whole right-hand side
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            depends.setdefault(n.id, set()).update(reads)
                            assignments.append(Assignment(n.id, stmt.lineno, _end(stmt), reads, loop, True))
        inner = stmt if isinstance(stmt, ast.For | ast.While) else loop
        for field in ("body", "orelse", "finalbody"):
            block = getattr(stmt, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                _collect(block, inner if field != "finalbody" else loop, assignments, depends)
        for handler in getattr(stmt, "handlers", []):
            _collect(handler.body, loop, assignments, depends)
        if isinstance(stmt, ast.For):  # the loop variable is made from the iterable
            for n in ast.walk(stmt.target):
                if isinstance(n, ast.Name):
                    depends.setdefault(n.id, set()).update(_loaded(stmt.iter))
        if isinstance(stmt, ast.With):
            for item in stmt.items:
                if item.optional_vars is not None:
                    for n in ast.walk(item.optional_vars):
                        if isinstance(n, ast.Name):
                            depends.setdefault(n.id, set()).update(_loaded(item.context_expr))
