"""Child entry point of sandboxed training: ``python -P -m eureka_kit.training.child job.json``.

Started by :func:`eureka_kit.training.runner.train_candidate` through
:func:`eureka_kit.sandbox.runner.run_child`, in the candidate's folder. Reads
the job, looks up its training backend (:mod:`eureka_kit.training.backends`)
and lets it train; the backend calls back ``secure_reward`` once its envs
exist, which installs the seccomp filter and only then loads the untrusted
reward program. Writes into its working folder what the backend writes
(``policy.safetensors``, ``obs_norm.safetensors``) and ``stats.json``.

Failures follow the child protocol (:mod:`eureka_kit.sandbox.protocol`):
``error.json`` and :data:`~eureka_kit.sandbox.protocol.EXIT_REPORTED_ERROR`,
or :data:`~eureka_kit.sandbox.protocol.EXIT_OUT_OF_MEMORY` for a ``MemoryError``.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from eureka_kit.files import atomic_write_bytes
from eureka_kit.games.numba_cache import adopt_seeded_cache
from eureka_kit.sandbox.protocol import EXIT_OUT_OF_MEMORY, EXIT_REPORTED_ERROR, EXIT_USAGE, write_error
from eureka_kit.training.job import STATS_FILE, ConfigError, TrainJob

if TYPE_CHECKING:
    from eureka_kit.training.episode_stats import StatsRecorder

_OOM_TEXT = ("can't allocate memory", "not enough memory", "out of memory", "std::bad_alloc")
_TAG = "train_child"


def train(job: TrainJob, folder: Path = Path(".")) -> int:
    """Train the job in ``folder`` (the current one in the sandbox); returns the process exit code."""
    import torch

    from eureka_kit.sandbox.seccomp import lock_down
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.backends import get_backend
    from eureka_kit.training.episode_stats import StatsRecorder
    from eureka_kit.training.reward_sources import RewardSource, make_reward

    torch.set_num_threads(1)
    spec = get_task(job.task_id)
    if job.fitness is not None:
        from eureka_kit.tasks.fitness_expr import with_fitness

        spec = with_fitness(spec, job.fitness)
    backend = get_backend(job.backend)
    reason = backend.unavailable(spec, job.device)
    if reason is not None:
        raise ConfigError(f"training backend {job.backend!r} cannot train {spec.id}: {reason}")
    source = None
    filename = "reward.py"
    if job.reward_kind == "program":
        assert job.reward_path is not None
        path = Path(job.reward_path).resolve()
        source, filename = path.read_text(), str(path)

    def secure_reward() -> RewardSource:
        # the seccomp filter, after the envs exist (making one may run a subprocess: ctypes.util.find_library)
        # and before the untrusted program is loaded
        lock_down()
        return make_reward(job.reward_kind, spec, source, filename)

    if (job.resume_from is not None or job.checkpoint_to is not None) and not backend.resumable:
        raise ConfigError(f"training backend {job.backend!r} cannot save or resume checkpoints (successive halving)")
    recorder = StatsRecorder(job.total_steps or spec.train.total_steps)
    if job.resume_from is not None:  # the statistics so far: this child's stats.json covers the whole training
        _seed_recorder(recorder, folder / job.resume_from / STATS_FILE)
    stats = backend.train(job, spec, folder, secure_reward, recorder)
    data = json.dumps(stats.to_json()).encode()
    atomic_write_bytes(folder / STATS_FILE, data)
    if job.checkpoint_to is not None:
        atomic_write_bytes(folder / job.checkpoint_to / STATS_FILE, data)
    print(
        f"[{_TAG}] {backend.name}: trained {stats.total_steps} env-steps in {stats.wall_s:.1f} s "
        f"({stats.env_steps_per_s:.0f} steps/s)",
        flush=True,
    )
    return 0


def _seed_recorder(recorder: StatsRecorder, path: Path) -> None:
    """Start ``recorder`` with the samples of an earlier part of the training (a damaged file only loses them)."""
    from eureka_kit.training.job import StatsFormatError, read_stats

    try:
        earlier = read_stats(path)
    except (OSError, StatsFormatError):
        return
    recorder.samples = list(earlier.samples)
    recorder.episodes = max((s.episodes for s in earlier.samples), default=0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    adopt_seeded_cache()  # Crafter: the parent's compiled world noise, before anything imports numba
    if len(args) != 1:
        print("usage: python -P -m eureka_kit.training.child JOB.json", file=sys.stderr)
        return EXIT_USAGE
    try:
        job = TrainJob.from_json(json.loads(Path(args[0]).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        write_error("config_error", f"unreadable job file {args[0]}: {e}", tag=_TAG)
        return EXIT_REPORTED_ERROR
    try:
        from eureka_kit.training.reward_sources import RewardProgramError

        try:
            return train(job)
        except RewardProgramError as e:
            write_error("reward_error", str(e), tag=_TAG)
            return EXIT_REPORTED_ERROR
        except ConfigError as e:
            write_error("config_error", f"invalid training configuration: {e}", tag=_TAG)
            return EXIT_REPORTED_ERROR
    except MemoryError as e:
        write_error("memory_error", f"MemoryError: {e or 'the training process exceeded its memory limit'}", tag=_TAG)
        return EXIT_OUT_OF_MEMORY
    except RuntimeError as e:
        if any(s in str(e) for s in _OOM_TEXT):  # torch's allocator failing under the address-space limit
            write_error("memory_error", f"the training process exceeded its memory limit: {str(e)[:300]}", tag=_TAG)
            return EXIT_OUT_OF_MEMORY
        return _crashed(e)
    except Exception as e:
        return _crashed(e)


def _crashed(e: BaseException) -> int:
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-6))
    write_error("internal_error", f"training crashed: {type(e).__name__}: {e}\n{tb}", tag=_TAG)
    return EXIT_REPORTED_ERROR


if __name__ == "__main__":
    sys.exit(main())
