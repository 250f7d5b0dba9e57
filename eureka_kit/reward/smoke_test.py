"""The critic's smoke test: call the program on batches and check what it returns.

:class:`Smoke` calls the bound program on each
:class:`~eureka_kit.reward.smoke_batches.SmokeBatch` (quietly, under a
:data:`CALL_DEADLINE_S` wall-clock limit) and records one issue per (code,
subject): exceptions, in-place changes of the inputs, the return type
(``(total, {name: component})``), torch tensors of shape (N,), floating
point, finite values. :func:`time_per_call` measures the fastest of a few
calls against :data:`SLOW_WARNING_MS` and :data:`SLOW_ERROR_MS`.

This executes the untrusted program in the calling process: only the
sandboxed check child (:mod:`eureka_kit.reward.check_child`) and tests call it.
"""

from __future__ import annotations

import contextlib
import io
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from eureka_kit.reward.check_report import CheckIssue, IssueLevel
from eureka_kit.reward.program import ENTRY_POINT, PROGRAM_FILENAME, BoundProgram
from eureka_kit.reward.smoke_batches import SmokeBatch
from eureka_kit.reward.static_checks import line_text
from eureka_kit.tasks.state_capture import to_torch

SLOW_WARNING_MS = 5.0
"""Warn when one call on N=``n_envs`` states takes longer than this (ms)."""
SLOW_ERROR_MS = 100.0
"""Reject the program when one call on N=``n_envs`` states takes longer than this (ms)."""
CALL_DEADLINE_S = 2.0
"""Hard wall-clock limit of one call (main thread only; the sandbox enforces its own limits)."""
TIMING_BUDGET_S = 0.25
"""Time spent at most on repeated calls to measure the time per call (past :data:`MIN_TIMED_CALLS`)."""
TIMING_REPEATS = 5
MIN_TIMED_CALLS = 3
"""Calls timed at least (the first included), whatever the budget."""
MAX_DETAIL = 300
"""Longest exception text quoted in an issue (characters)."""


class Deadline(BaseException):
    """Raised inside a program call that runs past CALL_DEADLINE_S (BaseException: `except Exception` can't eat it)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
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
        raise Deadline()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Swallow what the program prints or warns while it runs."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def _program_line(e: BaseException) -> int | None:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == PROGRAM_FILENAME]
    return frames[-1].lineno if frames else None


def describe_exception(e: BaseException, source: str) -> tuple[str, int | None]:
    """``Type: detail (at line L: `code`)`` for an exception raised by the program, and that line."""
    line = _program_line(e)
    detail = str(e).strip().replace("\n", " ")
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL] + "..."
    text = f"{type(e).__name__}: {detail}" if detail else type(e).__name__
    if line is not None:
        code = line_text(source, line)
        text += f" (at line {line}" + (f": `{code}`)" if code else ")")
    return text, line


class Smoke:
    """Runs the bound program on batches and collects issues, one per (code, subject)."""

    def __init__(self, source: str, program: BoundProgram) -> None:
        self.source = source
        self.program = program
        self.issues: dict[tuple[str, str], CheckIssue] = {}
        self.components: tuple[str, ...] | None = None

    def add(self, level: IssueLevel, code: str, subject: str, message: str, line: int | None = None) -> None:
        self.issues.setdefault((code, subject), CheckIssue(level, code, message, line))

    def call(self, batch: SmokeBatch) -> tuple[object, float] | None:
        """Call the program on a batch; None when it raised (the issue is recorded)."""
        inputs = to_torch({k: batch.data[k] for k in self.program.arg_names})
        before = {k: t.clone() for k, t in inputs.items()}
        try:
            with quiet(), torch.no_grad(), deadline(CALL_DEADLINE_S):
                start = time.perf_counter()
                out = self.program(inputs)
                elapsed = time.perf_counter() - start
        except KeyboardInterrupt:
            raise
        except Deadline:
            msg = (
                f"calling `{ENTRY_POINT}` on {batch.label} did not finish within {CALL_DEADLINE_S:g} s; a call must "
                f"take well under {SLOW_ERROR_MS:g} ms. Use vectorized torch operations, no Python loops."
            )
            self.add("error", "too_slow", "", msg)
            return None
        except BaseException as e:
            text, line = describe_exception(e, self.source)
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

    def validate(self, out: object, batch: SmokeBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
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
        return (
            " It was reduced over the batch dimension N (a sum, mean, max... over all envs, or an index that picks "
            "one env): keep one value per env."
        )
    if t.dim() >= 2 and t.shape[0] == n:
        if t.dim() == 2 and t.shape[1] == 1:
            return " Drop the trailing dimension of size 1 with `.squeeze(-1)`."
        return " Reduce its trailing dimension(s), never N (e.g. `.sum(dim=-1)` on an (N, k) tensor)."
    return ""


def time_per_call(smoke: Smoke, batch: SmokeBatch, first: float) -> float | None:
    """Fastest of a few repeated calls (ms); the first call may pay one-time costs.

    At least :data:`MIN_TIMED_CALLS` calls count, even past the budget: a cold first call in a fresh child (torch's
    lazy kernel set-up, three checks starting at once on two cores) measured 443 ms for ``x + 0.1 * a.sum(-1)``,
    and with the budget spent by it alone that cold time was the verdict.
    """
    times = [first]
    spent = first
    while len(times) < TIMING_REPEATS and (spent < TIMING_BUDGET_S or len(times) < MIN_TIMED_CALLS):
        result = smoke.call(batch)
        if result is None:
            return None
        times.append(result[1])
        spent += result[1]
    return 1000.0 * min(times)
