"""The reward critic: check a reward program before anyone trains on it.

Like Gymnasium's ``check_env`` for envs, :func:`check_program` catches a wrong
reward program early and explains what is wrong in words that go straight
back to the LLM. It checks the contract of DESIGN.md ("Reward program
contract"):

* static (:func:`check_static`, nothing is executed): the program parses;
  exactly one top-level ``compute_reward``; imports only from
  :data:`ALLOWED_IMPORTS`; no ``eval``/``exec``/``open``/...; no
  ``torch.jit``/``torch.compile`` decorators; arguments named after the task's
  state variables (no ``*args``/``**kwargs``/positional-only);
* smoke test (:func:`check_program`): the program is loaded and called on
  batches of *real* states (a random-action rollout of the task, cached per
  task id), *random* perturbations of them and *edge* cases (all zeros, one
  env only, large magnitudes). Every call must return
  ``(total, {name: component})`` with torch tensors of shape (N,), finite
  values, and must leave its inputs unchanged; it must be fast
  (:data:`SLOW_WARNING_MS`, :data:`SLOW_ERROR_MS`). On real states it warns
  when the total is not the sum of the components or one component dominates.

:func:`check_program` runs the program *in this process*; callers that check
untrusted programs run it inside a sandboxed child. It is a pure function of
(spec, source): it returns a :class:`CheckReport` and never raises for a bad
program (whatever the program raises, ``SystemExit`` included, becomes an
issue).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import io
import json
import math
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch

from eureka_kit.reward.program import ENTRY_POINT, BoundProgram, ProgramError, bind_arguments, compile_program
from eureka_kit.tasks.spec import BatchedState, TaskSpec
from eureka_kit.tasks.state_capture import rollout_states, to_torch

ALLOWED_IMPORTS: tuple[str, ...] = ("torch", "math", "numpy", "typing", "__future__")
"""Top-level modules a reward program may import (``import torch.nn.functional as F`` is fine)."""

FORBIDDEN_CALLS: tuple[str, ...] = ("__import__", "eval", "exec", "compile", "open", "input", "breakpoint")
"""Builtins a reward program may not call."""

SLOW_WARNING_MS = 5.0
"""Warn when one call on N=``n_envs`` states takes longer than this (ms)."""
SLOW_ERROR_MS = 100.0
"""Reject the program when one call on N=``n_envs`` states takes longer than this (ms)."""
CALL_DEADLINE_S = 2.0
"""Hard wall-clock limit of one call (main thread only; the sandbox enforces its own limits)."""
TIMING_BUDGET_S = 0.25
"""Time spent at most on repeated calls to measure the time per call."""
TIMING_REPEATS = 5
SUM_RTOL = 1e-3
"""Total and sum of components are 'close' when they differ by at most this, relative to their magnitude."""
SUM_ATOL = 1e-5
DOMINANCE_SHARE = 0.9
"""Warn when one component is more than this share of the summed absolute magnitude of all components."""
LARGE_FACTOR = 10.0
"""The 'large magnitudes' edge batch is this many times the largest absolute value seen in the rollout (at least 1)."""
REAL_STEPS = 16
"""Steps of the random-action rollout that provides the real states (N envs x REAL_STEPS states)."""
PROGRAM_FILENAME = "<reward program>"

IssueLevel = Literal["error", "warning"]
BatchKind = Literal["real", "random", "edge"]

_MAX_DETAIL = 300


@dataclass(frozen=True)
class CheckIssue:
    """One problem found by the critic. ``message`` is fit to send to the LLM as is.

    ``code`` is a short stable identifier (``syntax_error``, ``unknown_argument``,
    ``wrong_shape``, ``non_finite``, ``input_mutated``, ``too_slow``, ...);
    ``line`` is the line of the program the issue points at, when known.
    """

    level: IssueLevel
    code: str
    message: str
    line: int | None = None


@dataclass(frozen=True)
class CheckReport:
    """What the critic found. ``ok`` means no errors (warnings allowed)."""

    issues: tuple[CheckIssue, ...] = ()
    components: tuple[str, ...] = ()
    time_per_call_ms: float | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> tuple[CheckIssue, ...]:
        return tuple(i for i in self.issues if i.level == "error")

    @property
    def warnings(self) -> tuple[CheckIssue, ...]:
        return tuple(i for i in self.issues if i.level == "warning")

    @property
    def codes(self) -> tuple[str, ...]:
        """Issue codes in order (handy in tests and logs)."""
        return tuple(i.code for i in self.issues)

    def feedback(self) -> str:
        """The issues as text for the LLM (errors first)."""
        if not self.issues:
            return (
                "The reward program passed all checks (syntax, imports, arguments, and a smoke test on real, "
                "random and edge-case states)."
            )
        errors, warns = self.errors, self.warnings
        if errors:
            head = f"The reward program was rejected: fix the {len(errors)} error(s) below"
            head += f" (and consider the {len(warns)} warning(s))." if warns else "."
        else:
            head = f"The reward program works, with {len(warns)} warning(s):"
        lines = [head]
        lines += [f"- error [{i.code}]: {i.message}" for i in errors]
        lines += [f"- warning [{i.code}]: {i.message}" for i in warns]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "issues": [asdict(i) for i in self.issues],
            "components": list(self.components),
            "time_per_call_ms": self.time_per_call_ms,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckReport:
        issues = []
        for i in d.get("issues", []):
            level = i["level"]
            if level not in ("error", "warning"):
                raise ValueError(f"check report: unknown issue level {level!r}")
            line = i.get("line")
            issues.append(CheckIssue(level, str(i["code"]), str(i["message"]), None if line is None else int(line)))
        t = d.get("time_per_call_ms")
        return cls(tuple(issues), tuple(str(c) for c in d.get("components", [])), None if t is None else float(t))

    def to_json(self) -> str:
        """JSON text (for ``check.json`` in the run folder)."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> CheckReport:
        return cls.from_dict(json.loads(text))


# --------------------------------------------------------------------------- static checks


def check_static(spec: TaskSpec, source: str) -> CheckReport:
    """The checks that need no execution: syntax, entry point, imports, calls, decorators, arguments."""
    issues, _ = _static(spec, source)
    return CheckReport(tuple(issues))


def _static(spec: TaskSpec, source: str) -> tuple[list[CheckIssue], ast.Module | None]:
    try:
        tree = ast.parse(source, PROGRAM_FILENAME)
    except SyntaxError as e:
        text = _line_text(source, e.lineno)
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


# --------------------------------------------------------------------------- smoke test


@dataclass(frozen=True)
class _Batch:
    kind: BatchKind
    name: Literal["real", "real_all", "random", "zeros", "single", "large"]
    label: str
    data: BatchedState

    @property
    def n(self) -> int:
        return len(next(iter(self.data.values())))


class _ByTaskId:
    """Cache key for a TaskSpec (specs hold mappings and are not hashable): equal when the ids are."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def __hash__(self) -> int:
        return hash(self.spec.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByTaskId) and other.spec.id == self.spec.id


@functools.lru_cache(maxsize=16)
def _rollout(key: _ByTaskId, n_envs: int, n_steps: int) -> tuple[BatchedState, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        steps = rollout_states(key.spec, n_envs, n_steps)
    for step in steps:
        for v in step.values():
            v.setflags(write=False)
    return tuple(steps)


def real_states(spec: TaskSpec, n_envs: int = 8, n_steps: int = REAL_STEPS) -> tuple[BatchedState, ...]:
    """Batched states of a random-action rollout of the task (cached per task id in this process)."""
    return _rollout(_ByTaskId(spec), n_envs, n_steps)


def _synthetic_states(spec: TaskSpec, n_envs: int, n_steps: int) -> tuple[BatchedState, ...]:
    rng = np.random.default_rng(0)
    return tuple({v.name: rng.uniform(-1.0, 1.0, size=(n_envs, *v.shape)) for v in spec.state} for _ in range(n_steps))


def _batches(steps: tuple[BatchedState, ...], n_envs: int, real_label: str) -> list[_Batch]:
    """Real batches first (the first one is timed), then random perturbations, then edge cases."""
    rng = np.random.default_rng(0)
    names = list(steps[0])
    every = {k: np.concatenate([s[k] for s in steps]) for k in names}
    lo = {k: every[k].min(axis=0) for k in names}
    hi = {k: every[k].max(axis=0) for k in names}
    last = steps[-1]
    n_all = len(every[names[0]])

    def random_batch() -> BatchedState:
        out = {}
        for k in names:
            span = hi[k] - lo[k]
            pad = 0.5 * span + 0.05 * np.maximum(np.maximum(np.abs(lo[k]), np.abs(hi[k])), 1.0)
            out[k] = rng.uniform(lo[k] - pad, hi[k] + pad, size=(n_envs, *lo[k].shape))
        return out

    def large_batch() -> BatchedState:
        out = {}
        for k in names:
            scale = LARGE_FACTOR * max(float(np.abs(every[k]).max()), 1.0)
            signs = rng.choice([-1.0, 1.0], size=(n_envs, *lo[k].shape))
            out[k] = signs * scale
        return out

    zeros = {k: np.zeros_like(v) for k, v in last.items()}
    large = (
        f"an edge case: large magnitudes (±{LARGE_FACTOR:g}x the largest value of the rollout, "
        f"at least ±{LARGE_FACTOR:g}; N={n_envs})"
    )
    return [
        _Batch("real", "real", f"{real_label} (N={n_envs})", dict(last)),
        _Batch("real", "real_all", f"{real_label} (all {n_all} of them at once, N={n_all})", every),
        _Batch("random", "random", f"random perturbations of real states (N={n_envs})", random_batch()),
        _Batch("edge", "zeros", f"an edge case: all state variables zero (N={n_envs})", zeros),
        _Batch("edge", "single", "an edge case: one env only (N=1)", {k: v[:1] for k, v in last.items()}),
        _Batch("edge", "large", large, large_batch()),
    ]


class _Deadline(BaseException):
    """Raised inside a program call that runs past CALL_DEADLINE_S (BaseException: `except Exception` can't eat it)."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """SIGALRM-based time limit, only in the main thread and when no other timer is running."""
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0
    )
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Deadline()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow what the program prints or warns while it runs."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def _line_text(source: str, line: int | None) -> str:
    lines = source.splitlines()
    if line is None or not 0 < line <= len(lines):
        return ""
    return lines[line - 1].strip()[:120]


def _program_line(e: BaseException) -> int | None:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == PROGRAM_FILENAME]
    return frames[-1].lineno if frames else None


def _describe_exception(e: BaseException, source: str) -> tuple[str, int | None]:
    line = _program_line(e)
    detail = str(e).strip().replace("\n", " ")
    if len(detail) > _MAX_DETAIL:
        detail = detail[:_MAX_DETAIL] + "..."
    text = f"{type(e).__name__}: {detail}" if detail else type(e).__name__
    if line is not None:
        code = _line_text(source, line)
        text += f" (at line {line}" + (f": `{code}`)" if code else ")")
    return text, line


class _Smoke:
    """Runs the bound program on batches and collects issues, one per (code, subject)."""

    def __init__(self, source: str, program: BoundProgram) -> None:
        self.source = source
        self.program = program
        self.issues: dict[tuple[str, str], CheckIssue] = {}
        self.components: tuple[str, ...] | None = None

    def add(self, level: IssueLevel, code: str, subject: str, message: str, line: int | None = None) -> None:
        self.issues.setdefault((code, subject), CheckIssue(level, code, message, line))

    def call(self, batch: _Batch) -> tuple[object, float] | None:
        """Call the program on a batch; None when it raised (the issue is recorded)."""
        inputs = to_torch({k: batch.data[k] for k in self.program.arg_names})
        before = {k: t.clone() for k, t in inputs.items()}
        try:
            with _quiet(), torch.no_grad(), _deadline(CALL_DEADLINE_S):
                start = time.perf_counter()
                out = self.program(inputs)
                elapsed = time.perf_counter() - start
        except KeyboardInterrupt:
            raise
        except _Deadline:
            msg = (
                f"calling `{ENTRY_POINT}` on {batch.label} did not finish within {CALL_DEADLINE_S:g} s; a call must "
                f"take well under {SLOW_ERROR_MS:g} ms. Use vectorized torch operations, no Python loops."
            )
            self.add("error", "too_slow", "", msg)
            return None
        except BaseException as e:
            text, line = _describe_exception(e, self.source)
            msg = (
                f"calling `{ENTRY_POINT}` on {batch.label} raised {text}. Every argument is a torch tensor with a "
                f"leading batch dimension N (shapes: {self._shapes(inputs)})."
            )
            self.add("error", "call_error", "", msg, line)
            return None
        for k, t in inputs.items():
            if t.shape != before[k].shape or not torch.equal(t, before[k]):
                msg = (
                    f"`{ENTRY_POINT}` changed its input `{k}` in place (on {batch.label}). Inputs are shared with "
                    f"the trainer and must not be modified: use out-of-place operations (`y = {k} * 2`, not "
                    f"`{k}.mul_(2)`, `{k} *= 2` or `{k}[...] = ...`), or work on `{k}.clone()`."
                )
                self.add("error", "input_mutated", k, msg)
        return out, elapsed

    @staticmethod
    def _shapes(inputs: Mapping[str, torch.Tensor]) -> str:
        return ", ".join(f"{k} {tuple(t.shape)}" for k, t in inputs.items())

    def validate(self, out: object, batch: _Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
        """Check the returned value; the (total, components) pair when it has the right types and shapes."""
        n = batch.n
        want = f"`{ENTRY_POINT}` must return a tuple `(total, components)`: `total` a torch tensor of shape (N,) and "
        want += "`components` a dict mapping names to torch tensors of shape (N,)"
        if isinstance(out, torch.Tensor):
            shape = tuple(out.shape)
            msg = f"{want}; it returned a single tensor of shape {shape}. Return `total, {{'name': part, ...}}`."
            self.add("error", "bad_return", "", msg)
            return None
        if isinstance(out, float | int | np.ndarray | np.generic):
            msg = f"{want}; it returned a {_type_name(out)}. Compute the reward with torch operations on the inputs."
            self.add("error", "non_tensor", "total", msg)
            return None
        if not isinstance(out, tuple | list) or len(out) != 2:
            got = f"a {type(out).__name__} of length {len(out)}" if isinstance(out, tuple | list) else _type_name(out)
            self.add("error", "bad_return", "", f"{want}; it returned {got}.")
            return None
        total, components = out
        if not isinstance(components, dict):
            msg = f"{want}; the second returned value is a {_type_name(components)}, not a dict."
            self.add("error", "bad_return", "components", msg)
            return None
        bad_keys = [k for k in components if not isinstance(k, str)]
        if bad_keys:
            msg = f"{want}; component names must be strings, got {', '.join(map(repr, bad_keys))}."
            self.add("error", "bad_return", "keys", msg)
            return None
        values = [("the total", total), *((f"component {k!r}", v) for k, v in components.items())]

        not_tensor = [f"{subject} is a {_type_name(v)}" for subject, v in values if not isinstance(v, torch.Tensor)]
        if not_tensor:
            msg = (
                f"{'; '.join(not_tensor)}. The total and every component must be torch tensors "
                f"of shape (N,) computed with torch operations on the input tensors (no Python floats, no numpy "
                f"arrays, no `.item()` or `.numpy()`)."
            )
            self.add("error", "non_tensor", "", msg)
            return None
        tensors: list[tuple[str, torch.Tensor]] = [(subject, v) for subject, v in values]  # all tensors now

        wrong = [(subject, t) for subject, t in tensors if tuple(t.shape) != (n,)]
        if wrong:
            shapes = "; ".join(f"{subject} has shape {tuple(t.shape)}" for subject, t in wrong)
            hints = "".join(dict.fromkeys(_shape_hint(t, n) for _, t in wrong))
            msg = f"on {batch.label}: {shapes}; the contract wants ({n},), that is (N,): one value per env.{hints}"
            self.add("error", "wrong_shape", "", msg)
            return None
        not_float = [f"{subject} has dtype {t.dtype}" for subject, t in tensors if not t.is_floating_point()]
        if not_float:
            msg = f"{'; '.join(not_float)}: rewards must be floating-point tensors (convert with `.float()`)."
            self.add("error", "wrong_dtype", "", msg)
            return None

        # A non-finite component makes the total non-finite too: name the components, the total only alone.
        bad = [(subject, t) for subject, t in tensors[1:] if not bool(torch.isfinite(t).all())]
        if not bad and not bool(torch.isfinite(total).all()):
            bad = [tensors[0]]
        if bad:
            counts = "; ".join(
                f"{subject} ({int(torch.isnan(t).sum())} NaN, {int(torch.isinf(t).sum())} inf of {n})"
                for subject, t in bad
            )
            level: IssueLevel = "warning" if batch.name == "large" else "error"
            msg = (
                f"non-finite values on {batch.label}: {counts}. Rewards must be finite for every state: guard "
                f"divisions, sqrt and log (add a small epsilon, clamp), and clamp the argument of exp."
            )
            self.add(level, "non_finite", "", msg)
        if self.components is None:
            self.components = tuple(components)
        return tensors[0][1], dict(components)


def _type_name(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"numpy array of shape {x.shape}"
    if isinstance(x, bool | int | float):
        return f"Python {type(x).__name__} ({x!r})"
    if x is None:
        return "None"
    return type(x).__name__


def _shape_hint(t: torch.Tensor, n: int) -> str:
    if t.dim() == 0:
        return " It was reduced over the batch (e.g. `.sum()` or `.mean()` without `dim=-1`): keep one value per env."
    if t.dim() >= 2 and t.shape[0] == n:
        return " Reduce the trailing dimension(s) (e.g. `.sum(dim=-1)`) or drop a size-1 one with `.squeeze(-1)`."
    return ""


def check_program(spec: TaskSpec, source: str, *, n_envs: int = 8) -> CheckReport:
    """Static checks, then a smoke test of the program on real, random and edge-case batches of ``n_envs`` states.

    Never raises for a bad program: everything it raises is turned into an issue. ``n_envs`` must be >= 2
    (one env only is tested as an edge case).
    """
    if n_envs < 2:
        raise ValueError(f"check_program needs n_envs >= 2, got {n_envs}")
    try:
        return _check_program(spec, source, n_envs)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # a bug of the critic itself, or an exotic program escaping the guards
        msg = f"the checker could not test the program: {type(e).__name__}: {e}"
        return CheckReport((CheckIssue("error", "internal_error", msg[: 2 * _MAX_DETAIL]),))


def _check_program(spec: TaskSpec, source: str, n_envs: int) -> CheckReport:
    static, _ = _static(spec, source)
    if any(i.level == "error" for i in static):
        return CheckReport(tuple(static))
    issues = list(static)

    try:
        with _quiet(), _deadline(CALL_DEADLINE_S):
            fn = compile_program(source, PROGRAM_FILENAME)
    except KeyboardInterrupt:
        raise
    except ProgramError as e:
        return CheckReport((*issues, CheckIssue("error", "load_error", str(e))))
    except _Deadline:
        msg = f"running the program's top-level code took more than {CALL_DEADLINE_S:g} s; define functions only."
        return CheckReport((*issues, CheckIssue("error", "too_slow", msg)))
    except BaseException as e:
        text, line = _describe_exception(e, source)
        msg = f"running the program's top-level code (imports, constants, definitions) raised {text}."
        return CheckReport((*issues, CheckIssue("error", "load_error", msg, line)))
    try:
        program = BoundProgram(fn, bind_arguments(fn, spec))
    except ProgramError as e:  # e.g. a decorator changed the signature
        return CheckReport((*issues, CheckIssue("error", "unknown_argument", str(e))))
    except BaseException as e:
        text, line = _describe_exception(e, source)
        return CheckReport((*issues, CheckIssue("error", "bad_signature", f"reading the signature raised {text}.")))

    try:
        steps = real_states(spec, n_envs)
        real_label = "real states from a random-action rollout"
    except Exception as e:  # the env itself failed: not the program's fault, test on synthetic states
        steps = _synthetic_states(spec, n_envs, REAL_STEPS)
        real_label = "synthetic states in [-1, 1]"
        msg = f"could not roll out task {spec.id} for real states ({type(e).__name__}: {e}); tested on synthetic ones."
        issues.append(CheckIssue("warning", "real_states_unavailable", msg))

    smoke = _Smoke(source, program)
    batches = _batches(steps, n_envs, real_label)
    time_ms: float | None = None
    stats: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None
    for i, batch in enumerate(batches):
        result = smoke.call(batch)
        if result is None:
            if ("too_slow", "") in smoke.issues:
                break
            continue
        out, elapsed = result
        valid = smoke.validate(out, batch)
        if i == 0:
            time_ms = _time_per_call(smoke, batch, elapsed)
            if time_ms is not None and time_ms > SLOW_ERROR_MS:
                break
        if i == 1 and valid is not None:
            stats = valid
    issues += smoke.issues.values()

    if time_ms is not None and time_ms > SLOW_ERROR_MS:
        msg = (
            f"one call of `{ENTRY_POINT}` on N={n_envs} states takes {time_ms:.0f} ms; the limit is "
            f"{SLOW_ERROR_MS:g} ms (it runs at every step of training). Use vectorized torch operations on whole "
            f"tensors, no Python loops over envs or steps."
        )
        issues.append(CheckIssue("error", "too_slow", msg))
    elif time_ms is not None and time_ms > SLOW_WARNING_MS:
        msg = (
            f"one call of `{ENTRY_POINT}` on N={n_envs} states takes {time_ms:.1f} ms (more than "
            f"{SLOW_WARNING_MS:g} ms); it runs at every step of training, so this slows training down. Prefer "
            f"vectorized torch operations, no Python loops."
        )
        issues.append(CheckIssue("warning", "slow", msg))

    if stats is not None:
        issues += _stat_warnings(*stats)
    components = smoke.components or ()
    if smoke.components == () and not any(i.level == "error" for i in issues):
        msg = (
            "the components dict is empty: name the parts of the reward (e.g. {'forward': ..., 'ctrl': ...}) so "
            "that their values can be shown during training and used to improve the program."
        )
        issues.append(CheckIssue("warning", "no_components", msg))
    return CheckReport(tuple(issues), components, time_ms)


def _time_per_call(smoke: _Smoke, batch: _Batch, first: float) -> float | None:
    """Fastest of a few repeated calls (ms); the first call may pay one-time costs."""
    times = [first]
    spent = first
    while len(times) < TIMING_REPEATS and spent < TIMING_BUDGET_S:
        result = smoke.call(batch)
        if result is None:
            return None
        times.append(result[1])
        spent += result[1]
    return 1000.0 * min(times)


def _stat_warnings(total: torch.Tensor, parts: dict[str, torch.Tensor]) -> list[CheckIssue]:
    """Total vs sum of components and a dominating component, on the batch of all real states."""
    issues: list[CheckIssue] = []
    if (
        not parts
        or not bool(torch.isfinite(total).all())
        or not all(bool(torch.isfinite(v).all()) for v in parts.values())
    ):
        return issues
    t = total.double()
    s = torch.stack([v.double() for v in parts.values()]).sum(dim=0)
    diff = (t - s).abs()
    tol = SUM_RTOL * torch.maximum(t.abs(), s.abs()) + SUM_ATOL
    if bool((diff > tol).any()):
        i = int(torch.argmax(diff - tol))
        msg = (
            f"on real states the total is not the sum of the components (e.g. total {t[i].item():.4g} vs sum "
            f"{s[i].item():.4g}; largest difference {diff.max().item():.4g}). Make the total the sum of the "
            f"components (put any scaling or transformation inside a component), so each component's values show "
            f"its real share of the reward."
        )
        issues.append(CheckIssue("warning", "total_not_sum", msg))
    if len(parts) >= 2:
        mags = {k: float(v.double().abs().mean()) for k, v in parts.items()}
        whole = sum(mags.values())
        if whole > 0 and math.isfinite(whole):
            top = max(mags, key=lambda k: mags[k])
            share = mags[top] / whole
            if share > DOMINANCE_SHARE:
                others = ", ".join(f"{k} {100 * m / whole:.1f}%" for k, m in mags.items() if k != top)
                msg = (
                    f"on real states component {top!r} makes up {100 * share:.1f}% of the summed absolute magnitude "
                    f"of all components (others: {others}), so the others barely affect learning. Rescale the "
                    f"components if they matter, or drop them."
                )
                issues.append(CheckIssue("warning", "dominant_component", msg))
    return issues
