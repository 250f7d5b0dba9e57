"""The critic's pinpointing: trace one call of the program and name the line that broke the contract.

:func:`pinpoint` calls the program under shape tracing
(:func:`~eureka_kit.reward.shape_trace.trace_call`) on real states at a batch
size N no state variable has (so N is recognisable in every shape), then, while
nothing is found, on all-zero and large-magnitude states (where divisions and
logarithms fail). The first finding
(:func:`~eureka_kit.reward.shape_findings.first_finding`) becomes an error issue
that names the line, the expression, the shapes in and out and the fix; the
traced operations of the real-state call are kept, one line each, for
``eureka-kit check --explain``.

Runs the program: called by the critic inside the sandboxed check child.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eureka_kit.reward import smoke_test
from eureka_kit.reward.check_report import CheckIssue
from eureka_kit.reward.program import BoundProgram
from eureka_kit.reward.shape_findings import ShapeFinding, first_finding
from eureka_kit.reward.shape_trace import Trace, trace_call, trace_n
from eureka_kit.reward.smoke_test import Deadline, deadline, quiet
from eureka_kit.tasks.spec import BatchedState, TaskSpec
from eureka_kit.tasks.state_capture import to_torch

MAX_TRACE_LINES = 120
"""Traced operations kept in the report (``check --explain``)."""
RELATED: dict[str, frozenset[str]] = {
    "wrong_shape": frozenset({"lost_batch_dim", "bad_broadcast"}),
    "non_tensor": frozenset({"python_number", "lost_batch_dim", "numpy_op"}),
    "bad_return": frozenset({"lost_batch_dim", "python_number"}),
    "wrong_dtype": frozenset({"lost_batch_dim"}),
    "call_error": frozenset({"bad_broadcast", "op_error", "python_number"}),
    "non_finite": frozenset({"non_finite_op"}),
}
"""Smoke-test errors the trace can point at a line for, and the finding kinds that explain each."""


@dataclass(frozen=True)
class Pinpoint:
    """What the traced calls found: the finding (if any) and the traced operations of the real-state call."""

    finding: ShapeFinding | None
    lines: tuple[str, ...]
    n: int


def locate(issues: list[CheckIssue], found: Pinpoint) -> list[CheckIssue]:
    """The issues with the finding put in front of the error it explains (else the first pinpointable error).

    The issue keeps its code (``wrong_shape``, ``call_error``...); its message starts with the finding
    (line, expression, shapes in and out, fix) and its line becomes the finding's.
    """
    f = found.finding
    if f is None:
        return issues
    errors = [k for k, i in enumerate(issues) if i.level == "error" and i.code in RELATED]
    if not errors:
        return issues
    k = next((k for k in errors if f.kind in RELATED[issues[k].code]), errors[0])
    old = issues[k]
    message = f"{f.message()} [{f.kind}] (The checker saw: {old.message})"
    return [*issues[:k], CheckIssue(old.level, old.code, message, f.line), *issues[k + 1 :]]


def trace_batches(spec: TaskSpec, steps: tuple[BatchedState, ...], n: int) -> list[tuple[str, BatchedState]]:
    """Real states (n of the rollout's states), all zeros, large magnitudes: each with batch size n."""
    names = list(steps[0])
    every = {k: np.concatenate([s[k] for s in steps]) for k in names}
    reps = -(-n // len(every[names[0]]))
    real = {k: np.concatenate([v] * reps)[:n] for k, v in every.items()}
    zeros = {k: np.zeros_like(v) for k, v in real.items()}
    rng = np.random.default_rng(1)
    large = {
        k: rng.choice([-1.0, 1.0], size=v.shape) * 10.0 * max(float(np.abs(v).max()), 1.0) for k, v in real.items()
    }
    return [("real states", real), ("all-zero states", zeros), ("large-magnitude states", large)]


def _traced(program: BoundProgram, source: str, batch: BatchedState, n: int) -> Trace | None:
    inputs = to_torch({k: batch[k] for k in program.arg_names})
    try:
        with quiet(), deadline(smoke_test.CALL_DEADLINE_S):
            return trace_call(program, inputs, source, n)
    except Deadline:
        return None


def pinpoint(
    spec: TaskSpec, source: str, program: BoundProgram, steps: tuple[BatchedState, ...], non_finite: bool = False
) -> Pinpoint:
    """Trace the program on real states; with ``non_finite`` (the smoke test saw NaN/inf) also on zero and
    large states, where only an operation that made finite inputs non-finite is looked for."""
    n = trace_n(spec)
    lines: tuple[str, ...] = ()
    for i, (_, batch) in enumerate(trace_batches(spec, steps, n)):
        trace = _traced(program, source, batch, n)
        if trace is None or (i > 0 and not non_finite):
            break
        if i == 0:
            lines = tuple(e.describe()[:300] for e in trace.events[:MAX_TRACE_LINES])
        found = first_finding(trace)
        if found is not None and (i == 0 or found.kind == "non_finite_op"):
            return Pinpoint(found, lines, n)
    return Pinpoint(None, lines, n)
