"""The batched training backends: ``cpu`` (MuJoCo on ``mujoco.batch``) and ``gpu`` (MuJoCo Warp), rsl-rl's PPO.

Child side: the task's :class:`~eureka_kit.sim.base.BatchedEnv` with the
config's number of envs (:mod:`eureka_kit.training.backends.batched_config`),
``secure_reward()`` once it exists, then :class:`~eureka_kit.training.backends.batched_ppo.BatchedPPO`
for the budget; writes ``policy.safetensors`` (the actor's weights, plain
tensors) and ``obs_norm.safetensors`` (SB3's format).
Trusted side: :meth:`BatchedBackend.load_actor` builds the actor MLP from the
task and the job, checks and loads the plain tensors, applies the stored
observation normalization and returns the mean action clipped to the action
bounds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eureka_kit.sim.base import BatchedEnv
from eureka_kit.tasks.engine import EngineDevice, missing_modules
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.backends.base import Actor, SecureReward, TrainBudget
from eureka_kit.training.backends.batched_config import (
    GPU_NUM_ENVS,
    OBS_GROUP,
    BatchedConfig,
    build_actor,
    resolve_batched_config,
)
from eureka_kit.training.checkpoint import load_state, save_state
from eureka_kit.training.episode_stats import StatsRecorder
from eureka_kit.training.job import OBS_NORM_FILE, POLICY_FILE, ConfigError, TrainJob, TrainStats
from eureka_kit.training.weights import (
    WeightsError,
    check_state_dict,
    load_obs_norm,
    load_tensors,
    plain_state_dict,
    save_obs_norm,
    save_tensors,
)


def engine_unavailable(spec: TaskSpec, device: EngineDevice) -> str | None:
    """Why no batched engine runs ``spec`` on ``device`` (asked of the task's registration); ``None`` if one does."""
    if spec.engine is None:
        from eureka_kit.tasks.registry import list_tasks

        valid = ", ".join(t.id for t in list_tasks() if t.engine is not None) or "(none)"
        return (
            f"task {spec.id!r} has no batched engine, so the batched backends cannot run it (train it with the sb3 "
            f"backend). Tasks with one: {valid}"
        )
    return spec.engine.unavailable(spec, device)


class BatchedBackend:
    """What the ``cpu`` and ``gpu`` backends share; :meth:`make_env` and :meth:`unavailable` differ."""

    name = "batched"
    description = ""
    resumable = True
    """Saves a resumable checkpoint and continues from one (``TrainJob.checkpoint_to`` / ``resume_from``)."""

    def unavailable(self, spec: TaskSpec, device: str) -> str | None:
        reason = engine_unavailable(spec, "cuda" if device.startswith("cuda") else "cpu")
        if reason is not None:
            return reason
        missing = missing_modules("rsl_rl", "tensordict")
        if missing:
            return f"{', '.join(missing)} not installed (pip install rsl-rl-lib)"
        return None

    def make_env(self, spec: TaskSpec, config: BatchedConfig, device: str, seed: int) -> BatchedEnv:
        """The task's batched env of ``config.num_envs`` envs on ``device``, built by its registration's engine."""
        if spec.engine is None:
            raise ConfigError(engine_unavailable(spec, "cpu") or f"task {spec.id} has no batched engine")
        return spec.engine.make_env(spec, config.num_envs, device, seed, config.sim_threads)

    def config(self, spec: TaskSpec, job: TrainJob) -> BatchedConfig:
        return resolve_batched_config(spec, job.total_steps, job.n_envs, job.hyperparams)

    def budget(self, spec: TaskSpec) -> TrainBudget:
        config = self.config(spec, TrainJob(task_id=spec.id, reward_kind="baseline", backend=self.name))
        return TrainBudget(config.total_steps, config.num_envs)

    # ------------------------------------------------------------------------------------------ child side

    def train(
        self, job: TrainJob, spec: TaskSpec, out_dir: Path, secure_reward: SecureReward, recorder: StatsRecorder
    ) -> TrainStats:
        from eureka_kit.training.backends.batched_ppo import BatchedPPO, StepReward

        config = self.config(spec, job)
        env = self.make_env(spec, config, job.device, job.seed)
        try:
            ppo = BatchedPPO(env, config, spec, job.seed)
            source = secure_reward()  # after the envs exist, before anything untrusted runs
            if job.resume_from is not None:  # written by an earlier (as untrusted) child: read under the same lock
                ppo.restore(*load_state(out_dir / job.resume_from, self.name))
            recorder.total_steps = config.total_steps
            recorder.beat(force=True)
            start = time.monotonic()
            ppo.train(StepReward(source, env.device), recorder)
            wall = time.monotonic() - start
            save_tensors(out_dir / POLICY_FILE, plain_state_dict(ppo.actor))
            if ppo.norm is not None:
                n = ppo.norm
                save_obs_norm(
                    out_dir / OBS_NORM_FILE, _np(n.mean), _np(n.var), n.count, n.clip_obs, n.epsilon
                )  # fmt: skip
            if job.checkpoint_to is not None:
                save_state(out_dir / job.checkpoint_to, self.name, ppo.steps, ppo.state())
        finally:
            env.close()
        return recorder.stats(job.reward_kind, wall)

    # ------------------------------------------------------------------------------------------ trusted side

    def load_actor(self, spec: TaskSpec, job: TrainJob, weights_dir: Path) -> Actor:
        import gymnasium as gym

        config = self.config(spec, job)
        env = spec.make_env()
        try:
            obs_shape = tuple(env.observation_space.shape or ())
            space = env.action_space
            n_actions = int(space.n) if isinstance(space, gym.spaces.Discrete) else None
            if n_actions is not None:  # one action id per env
                low, high = np.zeros(1, np.float32), np.full(1, n_actions - 1, np.float32)
            else:
                low, high = np.asarray(space.low, np.float32), np.asarray(space.high, np.float32)
        finally:
            env.close()
        if len(obs_shape) != 1 or low.ndim != 1:
            raise ConfigError(f"task {spec.id}: the batched backends need flat observations and actions")
        actor = build_actor(config, obs_shape[0], low.shape[0], n_actions=n_actions)
        path = Path(weights_dir) / POLICY_FILE
        if not path.is_file():
            raise WeightsError(f"no {POLICY_FILE} in {weights_dir}")
        tensors = load_tensors(path)
        check_state_dict(tensors, actor.state_dict())
        actor.load_state_dict(tensors, strict=True)
        norm = None
        if config.normalize_obs:
            norm_path = Path(weights_dir) / OBS_NORM_FILE
            if not norm_path.is_file():
                raise WeightsError(f"task {spec.id} normalizes observations but {OBS_NORM_FILE} is missing")
            norm = load_obs_norm(norm_path, obs_shape)
        return policy_actor(actor, norm) if n_actions is not None else policy_actor(actor, norm, low, high)


def policy_actor(actor: Any, norm: Any, low: np.ndarray | None = None, high: np.ndarray | None = None) -> Actor:
    """``act(obs (N, obs_size)) -> actions``: numpy in and out, the trusted evaluator's deterministic policy.

    The actor's deterministic output: for a categorical actor (no bounds given) the argmax action ids (N,), else
    the mean action clipped to ``[low, high]``.
    """
    from tensordict import TensorDict

    def act(observations: np.ndarray) -> np.ndarray:
        x = np.asarray(observations, dtype=np.float32)
        if norm is not None:
            x = norm(x)
        t = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
        with torch.no_grad():
            out = actor(TensorDict({OBS_GROUP: t}, batch_size=[t.shape[0]])).numpy()
        if low is None or high is None:
            return out.reshape(-1).astype(np.int64)
        return np.clip(out, low, high)

    return act


def _np(x: torch.Tensor) -> np.ndarray:
    return np.asarray(x.detach().to("cpu").numpy())


class CpuBackend(BatchedBackend):
    """N MuJoCo envs per candidate on ``mujoco.batch`` (CPU threads), or N grid worlds on the numpy grid engine,
    or N Crafter worlds on the batched Crafter engine; rsl-rl's PPO on CPU tensors (a categorical policy for the
    games' discrete actions)."""

    name = "cpu"
    description = (
        "batched MuJoCo on CPU threads (mujoco.batch), the numpy grid engine or the batched Crafter engine, "
        "with rsl-rl PPO (MuJoCo, grid-world and Crafter tasks)"
    )

    def unavailable(self, spec: TaskSpec, device: str) -> str | None:
        if device != "cpu":
            return f"the cpu backend trains on the CPU only (asked for {device!r}; use the gpu backend)"
        return super().unavailable(spec, device)


class GpuBackend(BatchedBackend):
    """N MuJoCo Warp worlds per candidate on one CUDA device; policy, reward program and PPO on the GPU."""

    name = "gpu"
    description = "batched MuJoCo Warp worlds on a CUDA GPU with rsl-rl PPO (MuJoCo tasks)"

    def unavailable(self, spec: TaskSpec, device: str) -> str | None:
        if not device.startswith("cuda"):
            return f"the gpu backend needs a CUDA device (asked for {device!r})"
        reason = super().unavailable(spec, device)  # the engine first: it says which backend runs the task instead
        if reason is not None:
            return reason
        if not torch.cuda.is_available():
            return "torch sees no CUDA device (torch.cuda.is_available() is False)"
        return None

    def config(self, spec: TaskSpec, job: TrainJob) -> BatchedConfig:
        """The task's batched defaults with :data:`GPU_NUM_ENVS` worlds unless the job sets ``n_envs``."""
        n = job.n_envs if job.n_envs is not None else GPU_NUM_ENVS
        return resolve_batched_config(spec, job.total_steps, n, job.hyperparams)
