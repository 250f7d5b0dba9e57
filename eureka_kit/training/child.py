"""Child entry point of sandboxed training: ``python -m eureka_kit.training.child job.json``.

Started by :func:`eureka_kit.training.runner.train_candidate` through
:func:`eureka_kit.sandbox.runner.run_child`, in the candidate's folder. Reads the job,
builds ``DummyVecEnv`` of the task's envs (with state capture), optional
``VecNormalize`` (observations only), the reward wrapper and the SB3 learner
from the task's defaults, trains, and writes into its working folder:

- ``policy.safetensors``: the policy's ``state_dict`` as plain tensors;
- ``obs_norm.safetensors``: ``mean``, ``var``, ``count``, ``clip_obs``, ``epsilon`` (when observations are normalized);
- ``stats.json``: the reward-reflection samples and throughput (:class:`eureka_kit.training.runner.TrainStats`).

On failure it writes ``error.json`` (``{"kind": ..., "message": ...}``) and exits
with :data:`eureka_kit.sandbox.runner.EXIT_REPORTED_ERROR` (or
:data:`eureka_kit.sandbox.runner.EXIT_OUT_OF_MEMORY` for a ``MemoryError``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from eureka_kit.sandbox.runner import EXIT_OUT_OF_MEMORY, EXIT_REPORTED_ERROR
from eureka_kit.training.runner import (
    ERROR_FILE,
    OBS_NORM_FILE,
    POLICY_FILE,
    STATS_FILE,
    ErrorKind,
    TrainJob,
    bounded,
)

_OOM_TEXT = ("can't allocate memory", "not enough memory", "out of memory", "std::bad_alloc")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_error(kind: ErrorKind, message: str) -> None:
    payload = json.dumps({"kind": kind, "message": bounded(message)}).encode()
    try:
        _atomic_write_bytes(Path(ERROR_FILE), payload)
    except OSError:
        pass
    print(f"[train_child] {kind}: {bounded(message, 500)}", file=sys.stderr, flush=True)


def _save_tensors(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


def train(job: TrainJob) -> int:
    """Train the job in the current folder; returns the process exit code."""
    import numpy as np
    import torch
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from eureka_kit.sandbox.isolation import lock_down
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.tasks.state_capture import make_env
    from eureka_kit.training.policy import algo_class, plain_state_dict, resolve_config, sb3_policy_kwargs
    from eureka_kit.training.reward_wrapper import EurekaRewardWrapper, RewardStatsCallback, make_reward

    torch.set_num_threads(1)
    spec = get_task(job.task_id)
    config = resolve_config(spec, job.total_steps, job.n_envs, job.hyperparams)
    source = None
    filename = "reward.py"
    if job.reward_kind == "program":
        assert job.reward_path is not None
        path = Path(job.reward_path).resolve()
        source, filename = path.read_text(), str(path)

    venv: Any = DummyVecEnv([lambda: make_env(spec) for _ in range(config.n_envs)])
    venv.seed(job.seed)
    # the seccomp filter, after the envs exist (making one may run a subprocess: ctypes.util.find_library)
    # and before the untrusted program is loaded
    lock_down()
    reward = make_reward(job.reward_kind, spec, source, filename)
    venv = EurekaRewardWrapper(venv, spec, reward)
    norm: VecNormalize | None = None
    if config.normalize_obs:
        norm = VecNormalize(venv, norm_obs=True, norm_reward=False)
        venv = norm
    model = algo_class(config.algo)(
        "MlpPolicy",
        venv,
        seed=job.seed,
        device="cpu",
        verbose=0,
        policy_kwargs=sb3_policy_kwargs(config.policy_kwargs),
        **dict(config.hyperparams),
    )
    model.set_logger(Logger(folder=None, output_formats=[]))  # no log folder, no stdout tables
    callback = RewardStatsCallback(config.total_steps)
    callback.beat(force=True)
    start = time.monotonic()
    model.learn(total_timesteps=config.total_steps, callback=callback)
    wall = time.monotonic() - start

    _save_tensors(Path(POLICY_FILE), plain_state_dict(model.policy))
    if norm is not None:
        rms: Any = norm.obs_rms  # one RunningMeanStd (Box observations)
        _save_tensors(
            Path(OBS_NORM_FILE),
            {
                "mean": torch.as_tensor(np.asarray(rms.mean, dtype=np.float64)),
                "var": torch.as_tensor(np.asarray(rms.var, dtype=np.float64)),
                "count": torch.tensor([float(rms.count)], dtype=torch.float64),
                "clip_obs": torch.tensor([float(norm.clip_obs)], dtype=torch.float64),
                "epsilon": torch.tensor([float(norm.epsilon)], dtype=torch.float64),
            },
        )
    stats = callback.stats(job.reward_kind, wall)
    _atomic_write_bytes(Path(STATS_FILE), json.dumps(stats.to_json()).encode())
    print(
        f"[train_child] trained {stats.total_steps} env-steps in {wall:.1f} s ({stats.env_steps_per_s:.0f} steps/s)",
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m eureka_kit.training.child JOB.json", file=sys.stderr)
        return 2
    try:
        job = TrainJob.from_json(json.loads(Path(args[0]).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        _write_error("config_error", f"unreadable job file {args[0]}: {e}")
        return EXIT_REPORTED_ERROR
    try:
        from eureka_kit.training.policy import ConfigError
        from eureka_kit.training.reward_wrapper import RewardProgramError

        try:
            return train(job)
        except RewardProgramError as e:
            _write_error("reward_error", str(e))
            return EXIT_REPORTED_ERROR
        except ConfigError as e:
            _write_error("config_error", f"invalid training configuration: {e}")
            return EXIT_REPORTED_ERROR
    except MemoryError as e:
        _write_error("memory_error", f"MemoryError: {e or 'the training process exceeded its memory limit'}")
        return EXIT_OUT_OF_MEMORY
    except RuntimeError as e:
        if any(s in str(e) for s in _OOM_TEXT):  # torch's allocator failing under the address-space limit
            _write_error("memory_error", f"the training process exceeded its memory limit: {str(e)[:300]}")
            return EXIT_OUT_OF_MEMORY
        return _crashed(e)
    except Exception as e:
        return _crashed(e)


def _crashed(e: BaseException) -> int:
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-6))
    _write_error("internal_error", f"training crashed: {type(e).__name__}: {e}\n{tb}")
    return EXIT_REPORTED_ERROR


if __name__ == "__main__":
    sys.exit(main())
