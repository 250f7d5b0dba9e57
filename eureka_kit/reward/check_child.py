"""Child entry point of the sandboxed critic: ``python -m eureka_kit.reward.check_child TASK reward.py out.json``.

Runs :func:`eureka_kit.reward.critic.check_program` (which executes the untrusted
program on smoke batches) and writes the report as JSON. Started only by
:func:`eureka_kit.reward.check_runner.check_sandboxed`, inside the process boundary.

Before the program is loaded, the real states of the smoke test are rolled
out (trusted work) and the seccomp filter is installed
(:func:`eureka_kit.sandbox.isolation.lock_down`). Guards of the critic that live in
this process (``torch.isfinite``, tensor methods, ...) are snapshotted first:
a program that monkeypatches them is rejected with ``tampering``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    task_id, reward_path, out_path = argv
    import torch

    torch.set_num_threads(1)
    from eureka_kit.reward.critic import CheckIssue, CheckReport, check_program, real_states
    from eureka_kit.sandbox.isolation import lock_down
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
    tmp = Path(out_path).with_suffix(".tmp")
    tmp.write_text(report.to_json())
    tmp.replace(out_path)
    return 0


def _guarded() -> dict[str, object]:
    import builtins
    import math

    import numpy
    import torch
    import torch.nn.functional

    from eureka_kit.reward import critic

    return {
        "eureka_kit.reward.critic": critic,
        "CheckReport": critic.CheckReport,
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
