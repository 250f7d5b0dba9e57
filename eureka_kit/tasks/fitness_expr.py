"""Fitness expressions: a small language over a task's state, aggregated per episode (``--fitness``).

::

    mean(x_velocity)                      # the episode's mean forward velocity
    fraction(torso_height > 0.8)          # share of the steps with the torso above 0.8 m
    max(-abs(torso_angle))                # minus the smallest tilt reached: higher is better
    sum(x_velocity * 0.05)                # distance travelled (arithmetic goes inside the aggregate)
    any(norm(fingertip_to_target) < 0.05)

Grammar (parsed with :mod:`ast`, then checked node by node; nothing is ever
passed to ``eval``)::

    fitness   := AGG "(" step ")"                    (exactly one aggregate, outermost)
    AGG       := mean | sum | max | last | any | fraction
    step      := NUMBER | NAME | step OP step | "-" step | FUNC "(" step ")"
                 | step CMP step | step and step | step or step | not step
    OP        := + - * / **        CMP := < <= > >= == !=
    FUNC      := abs | sqrt | exp | log | norm      (norm: Euclidean norm over a vector variable's last axis)
    NAME      := a state variable of the task with shape () (one value per env), or a vector one inside norm()

A comparison is 1.0 where true, else 0.0, so ``fraction(cond)`` is the share
of steps where ``cond`` holds and ``any(cond)`` whether it ever held.
Anything else (attribute access, subscripts, other calls, unknown names,
strings, lambdas, comprehensions) is refused with a message that names it and
says what is allowed. The trusted evaluator computes the result from the
states it records itself, so a reward program cannot change it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from eureka_kit.errors import UserError
from eureka_kit.python_parse import parse_expression
from eureka_kit.tasks.spec import FREE_FORM_TAG, Fitness, TaskSpec

Aggregate = Literal["mean", "sum", "max", "last", "any", "fraction"]
AGGREGATES: tuple[str, ...] = ("mean", "sum", "max", "last", "any", "fraction")
FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs,
    "sqrt": lambda x: np.sqrt(np.maximum(x, 0.0)),
    "exp": lambda x: np.exp(np.minimum(x, 50.0)),
    "log": lambda x: np.log(np.maximum(x, 1e-12)),
}
"""Elementwise functions (sqrt and log clamp their input; exp its exponent: a fitness is always finite)."""
MAX_LENGTH = 300
"""Longest expression accepted (characters)."""

Step = Callable[[Mapping[str, np.ndarray]], np.ndarray]

_BINOPS: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: lambda a, b: np.divide(a, np.where(b == 0, 1e-12, b)),
    ast.Pow: lambda a, b: np.power(np.abs(a), b) * np.where((a < 0) & (np.mod(b, 2) == 1), -1.0, 1.0),
}
_CMPOPS: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}


class FitnessExprError(UserError, ValueError):
    """An expression outside the grammar, or one that names what the task does not have."""


@dataclass(frozen=True)
class FitnessExpr:
    """A checked expression: the per-step function and the episode aggregate."""

    text: str
    aggregate: Aggregate
    step: Step

    def to_fitness(self) -> Fitness:
        """The :class:`~eureka_kit.tasks.spec.Fitness` the trusted evaluator uses for this expression."""
        return Fitness(
            name=f"expr: {self.text}",
            description=f"the fitness expression `{self.text}`, computed by the trusted evaluator per episode",
            unit="expression",
            step=self.step,
            aggregate="mean" if self.aggregate == "fraction" else self.aggregate,
        )


def parse_fitness(text: str, spec: TaskSpec) -> FitnessExpr:
    """Check ``text`` against the grammar and ``spec``'s state; :class:`FitnessExprError` says what is wrong."""
    text = text.strip()
    if not text:
        raise FitnessExprError("the fitness expression is empty; e.g. mean(x_velocity)")
    if len(text) > MAX_LENGTH:
        raise FitnessExprError(f"the fitness expression is longer than {MAX_LENGTH} characters")
    try:
        tree = parse_expression(text)
    except SyntaxError as e:
        raise FitnessExprError(f"not an expression: {e.msg} at column {e.offset}: {text!r}") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id in AGGREGATES):
        raise FitnessExprError(
            f"a fitness expression is one aggregate over the episode ({', '.join(AGGREGATES)}) of a per-step "
            f"expression, e.g. mean(x_velocity) or fraction(torso_height > 0.8); got {text!r}"
        )
    if len(tree.args) != 1 or tree.keywords:
        raise FitnessExprError(f"{tree.func.id}(...) takes exactly one per-step expression")
    state = {v.name: v.shape for v in spec.state}
    step = _compile(tree.args[0], state)
    return FitnessExpr(text, tree.func.id, step)  # type: ignore[arg-type]


def with_fitness(spec: TaskSpec, text: str) -> TaskSpec:
    """``spec`` with the fitness of expression ``text`` (the id stays: children build the same env and state).

    A free-form goal with an expression is no longer free-form: the elite is chosen by this fitness.
    """
    tags = tuple(t for t in spec.tags if t != FREE_FORM_TAG)
    return replace(spec, fitness=parse_fitness(text, spec).to_fitness(), tags=tags)


# ----- checking and compiling -------------------------------------------------------------------------------


def _is_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _is_number(node.operand)
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _number(node: ast.AST) -> float:
    if isinstance(node, ast.UnaryOp):
        v = _number(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    assert isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
    return float(node.value)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts",
        ast.Lambda: "lambdas",
        ast.ListComp: "comprehensions",
        ast.GeneratorExp: "comprehensions",
        ast.IfExp: "if-else",
        ast.Starred: "starred arguments",
        ast.NamedExpr: "assignment",
    }
    what = names.get(type(node), type(node).__name__)
    return f"{what} ({ast.unparse(node)!r})"


def _compile(node: ast.AST, state: Mapping[str, tuple[int, ...]]) -> Step:
    if _is_number(node):
        c = _number(node)
        return lambda s: np.full(_batch(s), c)
    if isinstance(node, ast.Constant):
        raise FitnessExprError(f"only numbers are allowed as constants, not {ast.unparse(node)}")
    if isinstance(node, ast.Name):
        return _name(node.id, state)
    if isinstance(node, ast.UnaryOp):
        inner = _compile(node.operand, state)
        if isinstance(node.op, ast.USub):
            return lambda s: -inner(s)
        if isinstance(node.op, ast.UAdd):
            return inner
        if isinstance(node.op, ast.Not):
            return lambda s: (inner(s) == 0).astype(np.float64)
        raise FitnessExprError(f"operator {ast.unparse(node)!r} is not allowed")
    if isinstance(node, ast.BinOp):
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise FitnessExprError(f"operator in {ast.unparse(node)!r} is not allowed: use + - * / **")
        left, right = _compile(node.left, state), _compile(node.right, state)
        return lambda s: op(left(s), right(s))
    if isinstance(node, ast.Compare):
        parts = [_compile(node.left, state), *(_compile(c, state) for c in node.comparators)]
        ops = [_CMPOPS[type(o)] for o in node.ops if type(o) in _CMPOPS]
        if len(ops) != len(node.ops):
            raise FitnessExprError(f"comparison in {ast.unparse(node)!r} is not allowed: use < <= > >= == !=")

        def compare(s: Mapping[str, np.ndarray]) -> np.ndarray:
            values = [p(s) for p in parts]
            out = np.ones(_batch(s), dtype=bool)
            for op, a, b in zip(ops, values, values[1:], strict=False):
                out &= op(a, b)
            return out.astype(np.float64)

        return compare
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, state) for v in node.values]
        both = isinstance(node.op, ast.And)

        def boolean(s: Mapping[str, np.ndarray]) -> np.ndarray:
            truth = [p(s) != 0 for p in parts]
            out = np.logical_and.reduce(truth) if both else np.logical_or.reduce(truth)
            return np.asarray(out, dtype=np.float64)

        return boolean
    if isinstance(node, ast.Call):
        return _call(node, state)
    raise FitnessExprError(f"{_describe(node)} is not allowed in a fitness expression")


def _call(node: ast.Call, state: Mapping[str, tuple[int, ...]]) -> Step:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    allowed = ", ".join([*FUNCTIONS, "norm"])
    if name in AGGREGATES:
        raise FitnessExprError(f"{name}(...) inside the per-step expression: a fitness has one aggregate, outermost")
    if name is None or (name not in FUNCTIONS and name != "norm"):
        shown = name if name is not None else ast.unparse(node.func)
        raise FitnessExprError(f"call of {shown!r} is not allowed: the per-step functions are {allowed}")
    if len(node.args) != 1 or node.keywords:
        raise FitnessExprError(f"{name}(...) takes exactly one argument")
    (arg,) = node.args
    if name == "norm":
        if not (isinstance(arg, ast.Name) and arg.id in state and state[arg.id]):
            raise FitnessExprError("norm(...) takes the name of a vector state variable, e.g. norm(root_lin_vel)")
        var = arg.id
        return lambda s: np.linalg.norm(np.asarray(s[var], dtype=np.float64).reshape(_batch(s), -1), axis=-1)
    fn = FUNCTIONS[name]
    inner = _compile(arg, state)
    return lambda s: fn(inner(s))


def _name(name: str, state: Mapping[str, tuple[int, ...]]) -> Step:
    if name not in state:
        scalars = sorted(n for n, shape in state.items() if not shape)
        raise FitnessExprError(
            f"unknown name {name!r}: the task's one-value-per-env state variables are {', '.join(scalars)}"
            + (f" (vector ones go inside norm(): {', '.join(sorted(n for n in state if state[n]))})" if state else "")
        )
    if state[name]:
        raise FitnessExprError(
            f"{name!r} has shape (N, {', '.join(map(str, state[name]))}): one value per env is needed; use norm({name})"
        )
    return lambda s: np.asarray(s[name], dtype=np.float64).reshape(-1)


def _batch(state: Mapping[str, np.ndarray]) -> int:
    return len(state["action"])
