"""The reward critic: check a reward program before anyone trains on it.

Like Gymnasium's ``check_env`` for envs, :func:`check_program` catches a wrong
reward program early and explains what is wrong in words that go straight
back to the LLM. It checks the reward-program contract (docs/architecture.md, "Reward program
contract") in parts, each in its own module:

* static checks (:mod:`~eureka_kit.reward.static_checks`, nothing is executed):
  parse, entry point, imports, calls, decorators, argument names;
* the smoke test (:mod:`~eureka_kit.reward.smoke_test` on the batches of
  :mod:`~eureka_kit.reward.smoke_batches`): the program is loaded and called on
  real states of the task, random perturbations and edge cases; every call
  must return ``(total, {name: component})`` of finite torch tensors of shape
  (N,), leave its inputs unchanged and be fast;
* pinpointing (:mod:`~eureka_kit.reward.pinpoint`): when the smoke test
  failed, one call is traced operation by operation
  (:mod:`~eureka_kit.reward.shape_trace`) and the first operation that lost
  the batch dimension, broadcast wrongly, left torch or made NaN/inf is named
  with its line, shapes and fix (:mod:`~eureka_kit.reward.shape_findings`);
* component warnings (:mod:`~eureka_kit.reward.component_warnings`): on real
  states, the total should be the sum of the components and no component
  should dominate.

The result is a :class:`~eureka_kit.reward.check_report.CheckReport`.

Which "check" is which:

* the *critic* (this module and its parts) judges a program's source before
  training; :func:`check_program` runs the program *in this process*;
* the *check runner* (:mod:`eureka_kit.reward.check_runner`) runs the static
  checks in the caller and the smoke test in the sandboxed *check child*
  (:mod:`eureka_kit.reward.check_child`): the only way untrusted programs are checked;
* the *CARD trajectory check* (:mod:`eureka_kit.feedback.card_check`) is a
  different thing: after training, it scores stored trajectories with a
  program to see whether it ranks good episodes above bad ones.

:func:`check_program` is a pure function of (spec, source): it never raises
for a bad program (whatever the program raises, ``SystemExit`` included,
becomes an issue).
"""

from __future__ import annotations

import torch

from eureka_kit.reward.check_report import CheckIssue, CheckReport
from eureka_kit.reward.component_warnings import component_warnings
from eureka_kit.reward.pinpoint import Pinpoint, locate, pinpoint
from eureka_kit.reward.program import (
    ENTRY_POINT,
    PROGRAM_FILENAME,
    BoundProgram,
    ProgramError,
    bind_arguments,
    compile_program,
)
from eureka_kit.reward.python_values import locate_python_values
from eureka_kit.reward.smoke_batches import REAL_STEPS, real_states, smoke_batches, synthetic_states
from eureka_kit.reward.smoke_test import (
    CALL_DEADLINE_S,
    MAX_DETAIL,
    SLOW_ERROR_MS,
    SLOW_WARNING_MS,
    Deadline,
    Smoke,
    deadline,
    describe_exception,
    quiet,
    time_per_call,
)
from eureka_kit.reward.static_checks import static_issues
from eureka_kit.tasks.spec import TaskSpec


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
        return CheckReport((CheckIssue("error", "internal_error", msg[: 2 * MAX_DETAIL]),))


def _check_program(spec: TaskSpec, source: str, n_envs: int) -> CheckReport:
    static, _ = static_issues(spec, source)
    if any(i.level == "error" for i in static):
        return CheckReport(tuple(static))
    issues = list(static)

    try:
        with quiet(), deadline(CALL_DEADLINE_S):
            fn = compile_program(source, PROGRAM_FILENAME)
    except KeyboardInterrupt:
        raise
    except ProgramError as e:
        return CheckReport((*issues, CheckIssue("error", "load_error", str(e))))
    except Deadline:
        msg = f"running the program's top-level code took more than {CALL_DEADLINE_S:g} s; define functions only."
        return CheckReport((*issues, CheckIssue("error", "too_slow", msg)))
    except BaseException as e:
        text, line = describe_exception(e, source)
        msg = f"running the program's top-level code (imports, constants, definitions) raised {text}."
        return CheckReport((*issues, CheckIssue("error", "load_error", msg, line)))
    try:
        program = BoundProgram(fn, bind_arguments(fn, spec))
    except ProgramError as e:  # e.g. a decorator changed the signature
        return CheckReport((*issues, CheckIssue("error", "unknown_argument", str(e))))
    except BaseException as e:
        text, line = describe_exception(e, source)
        return CheckReport((*issues, CheckIssue("error", "bad_signature", f"reading the signature raised {text}.")))

    try:
        steps = real_states(spec, n_envs)
        real_label = "real states from a random-action rollout"
    except Exception as e:  # the env itself failed: not the program's fault, test on synthetic states
        steps = synthetic_states(spec, n_envs, REAL_STEPS)
        real_label = "synthetic states in [-1, 1]"
        msg = f"could not roll out task {spec.id} for real states ({type(e).__name__}: {e}); tested on synthetic ones."
        issues.append(CheckIssue("warning", "real_states_unavailable", msg))

    smoke = Smoke(source, program)
    batches = smoke_batches(steps, n_envs, real_label)
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
            time_ms = time_per_call(smoke, batch, elapsed)
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

    # shape tracing: the line, expression, shapes and fix of the operation that broke the contract
    smoke_errors = {i.code for i in smoke.issues.values() if i.level == "error"}
    located: Pinpoint | None = None
    if "too_slow" not in smoke_errors:
        located = pinpoint(spec, source, program, steps, non_finite="non_finite" in smoke_errors)
        issues = locate(issues, located)
    issues = locate_python_values(spec, source, issues)

    if stats is not None:
        issues += component_warnings(*stats)
    components = smoke.components or ()
    if smoke.components == () and not any(i.level == "error" for i in issues):
        msg = (
            "the components dict is empty: name the parts of the reward (e.g. {'forward': ..., 'ctrl': ...}) so "
            "that their values can be shown during training and used to improve the program."
        )
        issues.append(CheckIssue("warning", "no_components", msg))
    return CheckReport(tuple(issues), components, time_ms, located.lines if located is not None else ())
