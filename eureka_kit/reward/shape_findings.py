"""Read a shape trace: the first operation that broke the contract, and a fix that is right for its shapes.

:func:`findings` scans the events of a :class:`~eureka_kit.reward.shape_trace.Trace`
in order and flags:

* ``lost_batch_dim``: a batched tensor went in (one of its dimensions is N)
  and what came out has no N: a reduction over the envs (``x.sum()``,
  ``torch.mean(x)``, ``x.sum(dim=0)``), an index that picks one env (``x[0]``);
* ``bad_broadcast``: two batched tensors that cannot be combined ((N,) with
  (N, 6): an error), or that broadcast into more N's than either had
  ((N, 1) with (N,) gives (N, N));
* ``python_number``: a tensor turned into a Python number, list or numpy
  array (``.item()``, ``float(x)``, ``.tolist()``, ``.numpy()``);
* ``non_finite_op``: finite inputs, non-finite output (``log(0)``, ``x / 0``);
* ``op_error``: any other operation that raised;
* ``numpy_op`` (a note): a numpy function applied to a tensor (works on CPU only).

Every fix is written from the traced shapes: a reduction of an (N,) tensor is
to be *removed* (it is one value per env already); only a tensor with its own
trailing dimensions is told to reduce them (``.sum(dim=-1)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from eureka_kit.reward.shape_trace import TO_PYTHON_OPS, Operand, Trace, TraceEvent, shape_text

FindingKind = Literal["lost_batch_dim", "bad_broadcast", "python_number", "non_finite_op", "op_error", "numpy_op"]

REDUCTIONS = frozenset(
    {
        "sum", "mean", "max", "min", "amax", "amin", "prod", "norm", "std", "var", "median", "logsumexp",
        "nansum", "nanmean", "all", "any", "argmax", "argmin", "count_nonzero", "linalg_norm", "vector_norm",
    }
)  # fmt: skip
"""Operations that reduce a tensor over dimensions."""
_FACTORIES = frozenset({"new_tensor", "new_zeros", "new_ones", "new_full", "new_empty"})
"""Methods that build a new tensor of any shape (``x.new_tensor(0.0)``): their shape says nothing of the batch."""
_PRODUCTS = frozenset({"dot", "matmul", "inner", "mv", "mm", "vdot", "__matmul__", "__rmatmul__"})


@dataclass(frozen=True)
class ShapeFinding:
    """One operation of the program that broke the contract, and the fix for that line."""

    kind: FindingKind
    event: TraceEvent
    what: str
    """What went wrong, in a few words (``reduced over the batch dimension N``)."""
    fix: str

    @property
    def line(self) -> int:
        return self.event.line

    @property
    def operand(self) -> Operand | None:
        """The tensor the fix is about (the one reduced, indexed, converted)."""
        return self.event.inputs[0] if self.event.inputs else None

    def message(self) -> str:
        ev = self.event
        ins = ", ".join(o.text() for o in ev.inputs) or "no tensor"
        out = f"it {ev.out_text}" if ev.out_kind == "raised" else f"{ev.output()} coming out"
        return (
            f"line {ev.line}: `{ev.expression}` ({op_name(ev.op)}) {self.what}: {ins} going in, {out}. Fix: {self.fix}"
        )


_OPERATORS = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "truediv": "/", "rdiv": "/", "floordiv": "//", "pow": "**",
    "matmul": "@", "getitem": "indexing", "radd": "+", "rsub": "-", "rmul": "*", "rtruediv": "/", "rpow": "**",
    "iadd": "+=", "isub": "-=", "imul": "*=", "itruediv": "/=", "idiv": "/=",
}  # fmt: skip


def op_name(op: str) -> str:
    """``+`` for ``__radd__``/``add``, ``sum`` for ``sum``, ``indexing`` for ``__getitem__``."""
    bare = op.strip("_")
    return _OPERATORS.get(bare, bare)


def findings(trace: Trace) -> tuple[ShapeFinding, ...]:
    """Every flagged operation of the trace, in program order (at most one per operation)."""
    out: list[ShapeFinding] = []
    events = trace.events
    for i, ev in enumerate(events):
        nxt = events[i + 1] if i + 1 < len(events) else None
        found = _judge(ev, nxt)
        if found is not None:
            out.append(found)
    return tuple(out)


def first_finding(trace: Trace) -> ShapeFinding | None:
    """The first operation that broke the contract (a numpy note only when nothing else was found)."""
    found = findings(trace)
    primary = [f for f in found if f.kind != "numpy_op"]
    return primary[0] if primary else (found[0] if found else None)


def _judge(ev: TraceEvent, nxt: TraceEvent | None) -> ShapeFinding | None:
    batched = [o for o in ev.inputs if o.batched]
    if ev.op in TO_PYTHON_OPS and ev.inputs:
        if ev.op == "__array__" and nxt is not None and nxt.op == "__array_wrap__" and nxt.line == ev.line:
            fix = (
                f"use the torch function instead of numpy's on line {ev.line} (e.g. `torch.cos(x)`, not "
                f"`np.cos(x)`): numpy functions do not work on GPU tensors."
            )
            return ShapeFinding("numpy_op", ev, "applies a numpy function to a tensor", fix)
        return ShapeFinding("python_number", ev, "turns a tensor into a Python value", _python_fix(ev))
    if ev.out_kind == "raised":
        if len(batched) >= 2 and re.search(r"must match|broadcast|size of tensor", ev.out_text):
            return ShapeFinding("bad_broadcast", ev, "cannot combine these shapes", _broadcast_fix(ev, batched))
        return ShapeFinding("op_error", ev, ev.out_text, _error_fix(ev))
    if ev.out_kind == "tensor" and batched and "N" not in ev.out_shape and ev.op not in _FACTORIES:
        return ShapeFinding("lost_batch_dim", ev, "lost the batch dimension N", _lost_fix(ev, batched[0]))
    if ev.out_kind == "tensor" and len(batched) >= 2:
        most = max(o.shape.count("N") for o in batched)
        if ev.out_shape.count("N") > most:
            what = f"broadcast into {shape_text(ev.out_shape)}, a value for every pair of envs"
            return ShapeFinding("bad_broadcast", ev, what, _pair_fix(ev, batched))
    if ev.out_kind == "tensor" and not ev.out_finite and all(o.finite for o in ev.inputs):
        return ShapeFinding("non_finite_op", ev, "produced NaN or inf from finite inputs", _finite_fix(ev))
    return None


def _atom(expr: str) -> str:
    """``expr`` ready to take a method call or a power: parenthesized unless it is a name or attribute."""
    return expr if re.fullmatch(r"[A-Za-z_][\w.]*", expr) else f"({expr})"


def _name(o: Operand, fallback: str = "this tensor") -> str:
    return f"`{o.label}`" if o.label else fallback


def _lost_fix(ev: TraceEvent, inp: Operand) -> str:
    line = ev.line
    if ev.op in REDUCTIONS:
        if inp.ndim == 1:
            label = inp.label
            if label and ev.expression.startswith(label + "."):
                call = ev.expression[len(label) :]
                return (
                    f"`{label}` is (N,): one value per env already; remove `{call}` on line {line} and use "
                    f"`{label}` as it is. Never sum or average over the envs: each env gets its own reward."
                )
            subject = f"`{label}`" if label else "its input"
            return (
                f"{subject} is (N,): one value per env already; replace `{ev.expression}` on line {line} by "
                f"{subject if label else 'that input'} itself. Never sum or average over the envs."
            )
        if inp.shape and inp.shape[0] == "N":
            dims = "dim=-1" if inp.ndim == 2 else f"dim={tuple(range(1, inp.ndim))}"
            op = {"max": "amax", "min": "amin", "linalg_norm": "norm", "vector_norm": "norm"}.get(ev.op, ev.op)
            target = inp.label or "x"
            return (
                f"{_name(inp)} is {shape_text(inp.shape)}: reduce only its own dimension, never N: write "
                f"`{target}.{op}({dims})` on line {line}, which gives (N,)."
            )
        keep = inp.shape.index("N")
        others = tuple(d for d in range(inp.ndim) if d != keep)
        return (
            f"{_name(inp)} is {shape_text(inp.shape)} with N at position {keep}: reduce over dim={others} only, "
            f"so that one value per env remains (N,)."
        )
    if ev.op == "__getitem__":
        m = re.fullmatch(r"(.+)\[(.+)\]", ev.expression)
        if inp.ndim == 1:
            return (
                f"{_name(inp)} is (N,): indexing it picks some envs only; use {_name(inp, 'it')} whole on line {line}."
            )
        if m and inp.shape[0] == "N":
            return (
                f"`{ev.expression}` indexes the env dimension N; index the trailing dimension instead: "
                f"`{m.group(1)}[:, {m.group(2)}]` on line {line} (one value per env)."
            )
    if ev.op in _PRODUCTS and len(ev.inputs) == 2 and all(o.shape and o.shape[0] == "N" for o in ev.inputs):
        a, b = (o.label or "a" for o in ev.inputs)
        if all(o.ndim == 1 for o in ev.inputs):
            return f"both are (N,): multiply them elementwise, `{a} * {b}` on line {line} (N,)."
        return f"for a per-env dot product write `({a} * {b}).sum(dim=-1)` on line {line}, which gives (N,)."
    return (
        f"keep N as the first dimension on line {line}: every intermediate value must hold one entry per env; "
        f"combine values elementwise and reduce only trailing dimensions."
    )


def _broadcast_fix(ev: TraceEvent, batched: list[Operand]) -> str:
    a, b = batched[0], batched[1]
    if a.ndim != b.ndim and min(a.ndim, b.ndim) == 1 and a.shape[0] == b.shape[0] == "N":
        small, big = (a, b) if a.ndim == 1 else (b, a)
        k = shape_text(big.shape[1:]) if big.ndim > 2 else str(big.shape[1])
        big_name = _atom(big.label) if big.label else "x"
        small_name = _atom(small.label) if small.label else "w"
        dims = "dim=-1" if big.ndim == 2 else f"dim={tuple(range(1, big.ndim))}"
        return (
            f"{_name(small)} is (N,) (one value per env) and {_name(big)} is {shape_text(big.shape)} ({k} values per "
            f"env). On line {ev.line}, reduce `{big_name}` to one value per env before combining, e.g. "
            f"`({big_name} ** 2).sum({dims})` or `{big_name}.sum({dims})`, which give (N,); or, to weigh each of "
            f"its entries by `{small_name}`, use `{small_name}.unsqueeze(-1)` and reduce the product with "
            f"`.sum({dims})`."
        )
    if a.ndim == b.ndim >= 2:
        return (
            f"{_name(a)} is {shape_text(a.shape)} and {_name(b)} is {shape_text(b.shape)}: their trailing sizes "
            f"differ. Reduce each over its own dimension (`.sum(dim=-1)`, giving (N,)) before combining them on "
            f"line {ev.line}."
        )
    return (
        f"make both operands (N,) before combining them on line {ev.line}: reduce trailing dimensions with "
        f"`.sum(dim=-1)`, never the env dimension N."
    )


def _pair_fix(ev: TraceEvent, batched: list[Operand]) -> str:
    wide = [o for o in batched if o.ndim >= 2 and o.shape[-1] == 1]
    if wide:
        o = wide[0]
        name = o.label or "the (N, 1) operand"
        return (
            f"`{name}` is {shape_text(o.shape)}: write `{name}.squeeze(-1)` (N,) so that both operands are (N,) "
            f"on line {ev.line}."
        )
    return f"make both operands (N,) on line {ev.line} (`.squeeze(-1)` drops a trailing dimension of size 1)."


def _python_fix(ev: TraceEvent) -> str:
    expr = ev.expression
    for call in (".item()", ".tolist()", ".numpy()"):
        if expr.endswith(call):
            return (
                f"remove `{call}` on line {ev.line}: the reward must stay a torch tensor of shape (N,) "
                f"(one value per env), computed with torch operations."
            )
    return (
        f"keep the value a torch tensor on line {ev.line} (no `float(...)`, `int(...)`, `.item()`, numpy): "
        f"the reward must be a torch tensor of shape (N,), computed with torch operations."
    )


def _error_fix(ev: TraceEvent) -> str:
    ins = ", ".join(o.text() for o in ev.inputs)
    shapes = f" with {ins}" if ins else ""
    return (
        f"the operation fails{shapes}; every argument is a torch tensor whose first dimension is N, so write "
        f"line {ev.line} for those shapes (reduce trailing dimensions with `.sum(dim=-1)`, never N)."
    )


def _finite_fix(ev: TraceEvent) -> str:
    op, line = ev.op, ev.line
    if op in {"log", "log2", "log10"}:
        return f"guard the logarithm on line {line}: `torch.log(x.clamp_min(1e-6))`."
    if op in {"sqrt", "rsqrt"}:
        return f"guard the square root on line {line}: `torch.sqrt(x.clamp_min(0.0))` (add 1e-6 for rsqrt)."
    if op in {"div", "true_divide", "__truediv__", "__rtruediv__", "reciprocal", "__floordiv__", "__rdiv__"}:
        return f"the divisor reaches 0 on line {line}: add a small epsilon, e.g. `a / (b.abs() + 1e-6)`."
    if op in {"exp", "pow", "__pow__", "__rpow__", "expm1", "cosh", "sinh"}:
        return f"the result overflows on line {line}: clamp the argument first, e.g. `torch.exp(x.clamp(max=20.0))`."
    if op in {"acos", "asin", "arccos", "arcsin"}:
        return f"the argument leaves [-1, 1] on line {line}: `torch.acos(x.clamp(-1.0, 1.0))`."
    return f"guard line {line} so that it stays finite for every state (clamp arguments, add an epsilon)."
