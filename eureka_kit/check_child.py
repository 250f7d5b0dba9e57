"""Child entry point of the sandboxed critic: ``python -m eureka_kit.check_child TASK reward.py out.json``.

Runs :func:`eureka_kit.critic.check_program` (which executes the untrusted
program on smoke batches) and writes the report as JSON. Started only by
:func:`eureka_kit.checker.check_sandboxed`, inside the process boundary.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    task_id, reward_path, out_path = argv
    import torch

    torch.set_num_threads(1)
    from eureka_kit.critic import check_program
    from eureka_kit.task import get_task

    report = check_program(get_task(task_id), Path(reward_path).read_text())
    tmp = Path(out_path).with_suffix(".tmp")
    tmp.write_text(report.to_json())
    tmp.replace(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
