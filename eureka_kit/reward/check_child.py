"""The check child: ``python -P -m eureka_kit.reward.check_child TASK reward.py out.json``.

Runs the critic's :func:`eureka_kit.reward.critic.check_program` (which
executes the untrusted program on smoke batches) and writes the report as
JSON, atomically. Started only by the check runner,
:func:`eureka_kit.reward.check_runner.check_sandboxed`, inside the process
boundary, and follows the child protocol of :mod:`eureka_kit.sandbox.protocol`:
exit 0 with the report; :data:`~eureka_kit.sandbox.protocol.EXIT_USAGE` for
wrong arguments; a failure of the checker itself writes
:data:`~eureka_kit.sandbox.protocol.ERROR_FILE` beside the report and exits
with :data:`~eureka_kit.sandbox.protocol.EXIT_REPORTED_ERROR` (or
:data:`~eureka_kit.sandbox.protocol.EXIT_OUT_OF_MEMORY`).

Before the program is loaded, the real states of the smoke test are rolled
out (trusted work) and the seccomp filter is installed
(:func:`eureka_kit.sandbox.seccomp.lock_down`). Guards of the critic that live in
this process (``torch.isfinite``, tensor methods, the critic's modules, ...)
are snapshotted first: a program that monkeypatches them is rejected with ``tampering``.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from eureka_kit.files import atomic_write_text
from eureka_kit.sandbox.protocol import EXIT_OUT_OF_MEMORY, EXIT_REPORTED_ERROR, EXIT_USAGE, write_error

TAG = "check_child"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: python -m eureka_kit.reward.check_child TASK reward.py out.json (got {argv!r})", file=sys.stderr)
        return EXIT_USAGE
    task_id, reward_path, out_path = argv
    folder = Path(out_path).parent
    try:
        return _check(task_id, reward_path, Path(out_path))
    except MemoryError:
        write_error("memory_error", "the checker ran out of memory", folder, tag=TAG)
        return EXIT_OUT_OF_MEMORY
    except Exception:
        write_error("internal_error", traceback.format_exc(), folder, tag=TAG)
        return EXIT_REPORTED_ERROR


def _check(task_id: str, reward_path: str, out_path: Path) -> int:
    import torch

    torch.set_num_threads(1)
    from eureka_kit.reward.check_report import CheckIssue, CheckReport
    from eureka_kit.reward.critic import check_program
    from eureka_kit.reward.smoke_batches import real_states
    from eureka_kit.sandbox.seccomp import lock_down
    from eureka_kit.tasks.registry import get_task

    spec = get_task(task_id)
    source = Path(reward_path).read_text()
    try:
        real_states(spec, 8)  # the env rollout, before the filter (the critic falls back to synthetic states)
    except Exception:
        pass
    guards = _snapshot_guards()
    lock_down()
    report = check_program(spec, source)
    changed = _changed_guards(guards)
    if changed:
        msg = (
            f"the reward program replaced library functions ({', '.join(changed[:5])}); a reward program must not "
            "modify torch, numpy, math or builtins. Compute the reward from the inputs only."
        )
        report = CheckReport((*report.issues, CheckIssue("error", "tampering", msg)), report.components)
    atomic_write_text(out_path, report.to_json())
    return 0


def _guarded() -> dict[str, object]:
    import builtins
    import math

    import numpy
    import torch
    import torch.nn.functional

    from eureka_kit import files
    from eureka_kit.reward import (
        check_report,
        component_warnings,
        critic,
        pinpoint,
        program,
        python_values,
        shape_findings,
        shape_trace,
        smoke_batches,
        smoke_test,
        static_checks,
        term_flow,
    )

    return {
        "eureka_kit.reward.critic": critic,
        "eureka_kit.reward.check_report": check_report,
        "eureka_kit.reward.component_warnings": component_warnings,
        "eureka_kit.reward.program": program,
        "eureka_kit.reward.smoke_batches": smoke_batches,
        "eureka_kit.reward.smoke_test": smoke_test,
        "eureka_kit.reward.static_checks": static_checks,
        "eureka_kit.reward.term_flow": term_flow,
        "eureka_kit.reward.pinpoint": pinpoint,
        "eureka_kit.reward.shape_trace": shape_trace,
        "eureka_kit.reward.shape_findings": shape_findings,
        "eureka_kit.reward.python_values": python_values,
        "eureka_kit.files": files,
        "CheckReport": check_report.CheckReport,
        "Smoke": smoke_test.Smoke,
        "check_child": sys.modules[__name__],
        "torch": torch,
        "torch.Tensor": torch.Tensor,
        "torch.nn.functional": torch.nn.functional,
        "numpy": numpy,
        "numpy.ndarray": numpy.ndarray,
        "math": math,
        "builtins": builtins,
        "json": json,
    }


def _snapshot_guards() -> dict[str, dict[str, int]]:
    """Identity of every attribute of the modules and classes the critic relies on."""
    out: dict[str, dict[str, int]] = {}
    for name, obj in _guarded().items():
        out[name] = {k: id(v) for k, v in list(vars(obj).items())}
    return out


def _changed_guards(before: dict[str, dict[str, int]]) -> list[str]:
    """Attributes present before the program ran that now are missing or different objects, new class attributes."""
    changed: list[str] = []
    for name, obj in _guarded().items():
        now = vars(obj)
        old = before.get(name, {})
        for k, ident in old.items():
            if k in _VOLATILE:
                continue
            if k not in now or id(now[k]) != ident:
                changed.append(f"{name}.{k}")
        if isinstance(obj, type):  # a class gains no attribute legitimately (modules do: lazy submodules)
            changed += [f"{name}.{k}" for k in now if k not in old]
    return changed


_VOLATILE = frozenset({"__doc__", "_"})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
