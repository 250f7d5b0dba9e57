"""Shape tracing: call a reward program once with every torch operation recorded against its line.

:func:`trace_call` runs the bound program under a :class:`torch.overrides.TorchFunctionMode`
that records, for each torch function or tensor method the program's own code
calls (helpers included), the program line, the exact source expression (from
the frame's instruction position), the shapes going in and what comes out: a
tensor's shape, a Python number, a numpy array, or the exception it raised.
Shapes are written symbolically: the batch size, chosen by :func:`trace_n` so
that no state variable has a dimension of that size, is printed as ``N``.

The findings (which operation lost the batch dimension, ...) are read from the
trace by :mod:`eureka_kit.reward.shape_findings`. This executes the untrusted
program in the calling process: only the sandboxed check child (through the
critic) and tests call it.
"""

from __future__ import annotations

import ast
import math
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch.overrides import TorchFunctionMode

from eureka_kit.python_parse import parse_expression
from eureka_kit.reward.program import PROGRAM_FILENAME, BoundProgram
from eureka_kit.tasks.spec import TaskSpec

TRACE_N_CANDIDATES = (13, 11, 17, 19, 23, 29, 31, 37)
"""Batch sizes tried for the traced call: the first one that is no dimension of any state variable."""
MAX_EVENTS = 200
"""Operations recorded at most per traced call (the rest still runs, unrecorded)."""
MAX_FRAMES = 40
"""How far up the stack an operation is looked for in the program's frames."""

OutKind = Literal["tensor", "number", "numpy", "other", "raised"]

TO_PYTHON_OPS = frozenset({"item", "__float__", "__int__", "__index__", "tolist", "numpy", "__array__"})
"""Tensor methods that leave torch: their result is a Python number, a list or a numpy array."""
_METADATA_OPS = frozenset(
    {"size", "dim", "__get__", "numel", "__len__", "__bool__", "__format__", "__repr__", "__hash__", "__eq__"}
)
"""Calls that read metadata (``x.shape``, ``x.size(0)``, ``if x:``): not recorded."""


@dataclass(frozen=True)
class Operand:
    """A tensor going into an operation: its symbolic shape, and the program's name or expression for it."""

    shape: tuple[int | str, ...]
    label: str = ""
    """The program's local variable holding this tensor, or the operand's source expression; ``""`` unknown."""
    finite: bool = True

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def batched(self) -> bool:
        return "N" in self.shape

    def text(self) -> str:
        shape = shape_text(self.shape)
        return f"`{self.label}` {shape}" if self.label else f"a {shape} tensor"


@dataclass(frozen=True)
class TraceEvent:
    """One operation of the program: where, what, shapes in and out."""

    line: int
    expression: str
    op: str
    inputs: tuple[Operand, ...]
    out_kind: OutKind
    out_shape: tuple[int | str, ...] = ()
    out_text: str = ""
    """For ``number``/``numpy``/``other``/``raised``: what came out (``Python float``, ``RuntimeError: ...``)."""
    out_finite: bool = True

    def output(self) -> str:
        return shape_text(self.out_shape) if self.out_kind == "tensor" else self.out_text

    def describe(self) -> str:
        ins = ", ".join(o.text() for o in self.inputs) or "no tensor"
        return f"line {self.line}: `{self.expression}` [{self.op}] {ins} -> {self.output()}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "text": self.describe()[:300]}


@dataclass(frozen=True)
class Trace:
    """The operations of one traced call, in order, and how the call ended."""

    n: int
    events: tuple[TraceEvent, ...]
    result: object = None
    error: str = ""
    """``Type: message`` when the call raised (the failing operation is the last event, ``raised``)."""


def shape_text(shape: tuple[int | str, ...]) -> str:
    """``(N, 6)``, ``(N,)``, ``()``."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def trace_n(spec: TaskSpec, avoid: int = 8) -> int:
    """A batch size that is no dimension of any state variable (so a dimension of that size is the batch)."""
    dims = {d for v in spec.state for d in v.shape} | {avoid}
    return next((n for n in TRACE_N_CANDIDATES if n not in dims), TRACE_N_CANDIDATES[-1])


def symbolic(shape: torch.Size | tuple[int, ...], n: int) -> tuple[int | str, ...]:
    return tuple("N" if d == n else int(d) for d in shape)


def _program_frame(start: types.FrameType | None) -> types.FrameType | None:
    frame, depth = start, 0
    while frame is not None and depth < MAX_FRAMES:
        if frame.f_code.co_filename == PROGRAM_FILENAME:
            return frame
        frame, depth = frame.f_back, depth + 1
    return None


def _position(frame: types.FrameType) -> tuple[int, int | None, int | None, int | None]:
    """(line, end line, column, end column) of the instruction the frame is executing."""
    try:
        positions = list(frame.f_code.co_positions())
        line, end_line, col, end_col = positions[frame.f_lasti // 2]
    except (IndexError, ValueError):
        return frame.f_lineno, None, None, None
    return (line or frame.f_lineno), end_line, col, end_col


def expression_at(source: str, line: int, end_line: int | None, col: int | None, end_col: int | None) -> str:
    """The source text of an instruction's expression; the whole (stripped) line when unknown."""
    lines = source.splitlines()
    if not 0 < line <= len(lines):
        return ""
    if end_line is None or col is None or end_col is None or end_line > len(lines):
        return lines[line - 1].strip()[:160]
    if end_line == line:
        text = lines[line - 1][col:end_col]
    else:
        text = "\n".join([lines[line - 1][col:], *lines[line : end_line - 1], lines[end_line - 1][:end_col]])
    return " ".join(text.split())[:160]


def _operand_labels(expression: str, op: str) -> list[str]:
    """Source text of the operands of a binary expression or method call (``a + b`` -> ``a``, ``b``)."""
    try:
        node = parse_expression(expression)
    except SyntaxError:
        return []
    if isinstance(node, ast.BinOp):
        return [ast.unparse(node.left), ast.unparse(node.right)]
    if isinstance(node, ast.Compare) and len(node.comparators) == 1:
        return [ast.unparse(node.left), ast.unparse(node.comparators[0])]
    if isinstance(node, ast.Call):
        func = node.func
        args = [ast.unparse(a) for a in node.args]
        if isinstance(func, ast.Attribute) and not _is_module(func.value):
            return [ast.unparse(func.value), *args]
        return args
    if isinstance(node, ast.Subscript):
        return [ast.unparse(node.value)]
    if isinstance(node, ast.Attribute):
        return [ast.unparse(node.value)]
    return []


def _is_module(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in {"torch", "np", "numpy", "math", "F"}


def _tensors(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Iterator[torch.Tensor]:
    for a in [*args, *kwargs.values()]:
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, list | tuple):
            yield from (t for t in a if isinstance(t, torch.Tensor))


def _finite(t: torch.Tensor) -> bool:
    if not t.is_floating_point() or t.numel() == 0:
        return True
    with torch._C.DisableTorchFunction():
        return bool(torch.isfinite(t).all())


class _Recorder(TorchFunctionMode):
    def __init__(self, source: str, n: int) -> None:
        super().__init__()
        self.source = source
        self.n = n
        self.events: list[TraceEvent] = []

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        record = name not in _METADATA_OPS and len(self.events) < MAX_EVENTS
        frame = _program_frame(sys._getframe(1)) if record else None
        try:
            out = func(*args, **kwargs)
        except BaseException as e:
            if frame is not None:
                detail = " ".join(str(e).split()).replace(f"({self.n})", f"({self.n}, that is N)")[:200]
                self._record(frame, name, args, kwargs, "raised", (), f"raised {type(e).__name__}: {detail}", True)
            raise
        if frame is not None:
            if isinstance(out, torch.Tensor):
                self._record(frame, name, args, kwargs, "tensor", symbolic(out.shape, self.n), "", _finite(out))
            elif isinstance(out, bool | int | float):
                kind: OutKind = "number" if name in TO_PYTHON_OPS else "other"
                finite = not isinstance(out, float) or math.isfinite(out)
                self._record(frame, name, args, kwargs, kind, (), f"Python {type(out).__name__}", finite)
            elif type(out).__module__ == "numpy":
                self._record(frame, name, args, kwargs, "numpy", (), "numpy array", True)
            elif name in TO_PYTHON_OPS:
                self._record(frame, name, args, kwargs, "number", (), f"Python {type(out).__name__}", True)
            elif isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor):  # max(dim=...) and friends
                self._record(frame, name, args, kwargs, "tensor", symbolic(out[0].shape, self.n), "", _finite(out[0]))
        return out

    def _record(
        self,
        frame: types.FrameType,
        op: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        kind: OutKind,
        shape: tuple[int | str, ...],
        text: str,
        finite: bool,
    ) -> None:
        line, end_line, col, end_col = _position(frame)
        expression = expression_at(self.source, line, end_line, col, end_col)
        tensors = list(_tensors(args, kwargs))
        labels = _operand_labels(expression, op)
        names = {id(v): k for k, v in frame.f_locals.items() if isinstance(v, torch.Tensor)}
        operands = []
        for i, t in enumerate(tensors):
            label = names.get(id(t)) or (labels[i] if i < len(labels) and len(tensors) == len(labels) else "")
            operands.append(Operand(symbolic(t.shape, self.n), label, _finite(t)))
        self.events.append(TraceEvent(line, expression, op, tuple(operands), kind, shape, text, finite))


def trace_call(program: BoundProgram, inputs: Mapping[str, torch.Tensor], source: str, n: int) -> Trace:
    """Call the program once on ``inputs`` (batch size ``n``) with every torch operation recorded."""
    recorder = _Recorder(source, n)
    result: object = None
    error = ""
    try:
        with torch.no_grad(), recorder:
            result = program(inputs)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # the program's own exception: the trace says where
        error = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
    return Trace(n, tuple(recorder.events), result, error)
