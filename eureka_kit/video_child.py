"""Record one candidate's policy video in a child process: ``python -m eureka_kit.video_child TASK CAND_DIR``.

Trusted code only: the policy is built by the evaluator from ``policy.safetensors``
(weights, no pickle); no reward program runs here. A child process lets the
loop record a candidate's video in its worker thread, overlapping with the
training of other candidates, without sharing an OpenGL context between
threads. Prints the :class:`~eureka_kit.video.VideoResult` as JSON; exit 0 when
the video was written.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path


def main(argv: list[str]) -> int:
    task_id, cand = argv[0], Path(argv[1])
    import torch

    torch.set_num_threads(1)
    from eureka_kit.evaluator import load_actor
    from eureka_kit.preferences import VIDEO_SEED, VIDEO_STEPS
    from eureka_kit.ranking import VIDEO_FILE
    from eureka_kit.task import get_task
    from eureka_kit.video import record_video

    spec = get_task(task_id)
    result = record_video(spec, load_actor(spec, cand), cand / VIDEO_FILE, seed=VIDEO_SEED, max_steps=VIDEO_STEPS)
    print(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}))
    return 0 if result.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
