"""The ``sb3`` training backend: stable-baselines3 on the task's gymnasium envs (one process, ``DummyVecEnv``).

Child side: ``DummyVecEnv`` of the task's envs (with state capture), optional
``VecNormalize`` (observations only), :class:`EurekaRewardWrapper` (the reward
source called once per vector step on the batched state) and the SB3 learner
built from the task's defaults (:mod:`eureka_kit.training.backends.sb3_config`).
Trusted side: the same SB3 policy network, built from the task and the job's
overrides, loaded with plain tensors.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.tasks.state_capture import STATE_KEY, make_env, stack_states
from eureka_kit.training.backends.base import Actor, SecureReward, TrainBudget
from eureka_kit.training.backends.sb3_config import build_policy, resolve_config, sb3_policy_kwargs
from eureka_kit.training.episode_stats import EpisodeAccumulator, EpisodeSums, StatsRecorder
from eureka_kit.training.job import OBS_NORM_FILE, POLICY_FILE, TrainJob, TrainStats
from eureka_kit.training.reward_sources import RewardSource
from eureka_kit.training.weights import (
    WeightsError,
    check_state_dict,
    load_obs_norm,
    load_tensors,
    plain_state_dict,
    save_obs_norm,
    save_tensors,
)

SB3_MODEL_FILE = "sb3_model.zip"
SB3_NORM_FILE = "vecnormalize.pkl"

EPISODE_KEY = "eureka_episode"
"""Info key of a finished episode's sums (:class:`~eureka_kit.training.episode_stats.EpisodeSums`)."""


class EurekaRewardWrapper(VecEnvWrapper):
    """Replaces rewards by ``reward`` and reports each finished episode's sums in ``info["eureka_episode"]``.

    ``DummyVecEnv`` keeps the info of an env that just ended, so terminal
    steps are paid and counted too.
    """

    def __init__(self, venv: VecEnv, spec: TaskSpec, reward: RewardSource) -> None:
        super().__init__(venv)
        self.spec = spec
        self.reward = reward
        self.steps = 0  # env-steps so far (all envs)
        self.episodes = EpisodeAccumulator(self.num_envs, spec.fitness)

    def reset(self) -> Any:
        obs = self.venv.reset()
        self.episodes.reset()
        return obs

    def step_wait(self) -> Any:
        obs, env_rewards, dones, infos = self.venv.step_wait()
        n = self.num_envs
        try:
            states = [info[STATE_KEY] for info in infos]
        except KeyError:
            raise RuntimeError("env infos lack 'eureka_state': build the envs with state_capture.make_env") from None
        batch = stack_states(states)
        env_r = np.asarray(env_rewards, dtype=np.float64)
        total, comps = self.reward(batch, env_r, self.steps + n)
        self.steps += n
        fit = np.asarray(self.spec.fitness.step(batch), dtype=np.float64).reshape(n)
        for i, sums in self.episodes.add(total, comps, fit, env_r, np.asarray(dones, dtype=bool)):
            infos[i][EPISODE_KEY] = sums
        return obs, total.astype(np.float32), dones, infos


class RewardStatsCallback(BaseCallback):
    """Feeds SB3's steps and finished episodes to a :class:`StatsRecorder` (samples + heartbeat)."""

    def __init__(self, recorder: StatsRecorder) -> None:
        super().__init__(verbose=0)
        self.recorder = recorder

    def _wrapper(self) -> EurekaRewardWrapper | None:
        env: Any = self.training_env
        while env is not None:
            if isinstance(env, EurekaRewardWrapper):
                return env
            env = getattr(env, "venv", None)
        return None

    def _step_means(self) -> dict[str, float]:
        w = self._wrapper()
        return w.episodes.pop_step_means() if w is not None else {}

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            ep = info.get(EPISODE_KEY)
            if isinstance(ep, EpisodeSums):
                self.recorder.episode_ended(ep)
        self.recorder.progress(self.num_timesteps, self._step_means)
        return True

    def _on_rollout_end(self) -> None:
        self.recorder.beat()

    def _on_training_end(self) -> None:
        self.recorder.steps = int(self.num_timesteps)
        self.recorder.finish(self._step_means)


class SB3Backend:
    """stable-baselines3 (PPO, SAC) on the task's gymnasium envs; every task, CPU."""

    name = "sb3"
    description = "stable-baselines3 on gymnasium envs (every task; one env step at a time)"
    resumable = True
    """Saves SB3's own checkpoint (``model.save``, ``VecNormalize.save``) and continues from it, in the child only."""

    def unavailable(self, spec: TaskSpec, device: str) -> str | None:
        if device != "cpu":
            return f"the sb3 backend trains on the CPU only (asked for {device!r})"
        return None

    def budget(self, spec: TaskSpec) -> TrainBudget:
        return TrainBudget(spec.train.total_steps, spec.train.n_envs)

    def train(
        self, job: TrainJob, spec: TaskSpec, out_dir: Path, secure_reward: SecureReward, recorder: StatsRecorder
    ) -> TrainStats:
        from stable_baselines3.common.logger import Logger
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        from eureka_kit.training.algorithms import get_algorithm

        config = resolve_config(spec, job.total_steps, job.n_envs, job.hyperparams)
        venv: Any = DummyVecEnv([lambda: make_env(spec) for _ in range(config.n_envs)])
        venv.seed(job.seed)
        reward = secure_reward()  # after the envs exist, before anything untrusted runs
        venv = EurekaRewardWrapper(venv, spec, reward)
        norm: VecNormalize | None = None
        if config.normalize_obs:
            norm = VecNormalize(venv, norm_obs=True, norm_reward=False)
            venv = norm
        sb3_class = get_algorithm(config.algo).sb3_class()
        if job.resume_from is not None:  # SB3's own files, written by an earlier (as untrusted) child of this job
            ckpt = out_dir / job.resume_from
            if norm is not None:
                norm = VecNormalize.load(str(ckpt / SB3_NORM_FILE), venv.venv)
                venv = norm
            model = sb3_class.load(str(ckpt / SB3_MODEL_FILE), env=venv, device="cpu")
        else:
            model = sb3_class(
                "MlpPolicy",
                venv,
                seed=job.seed,
                device="cpu",
                verbose=0,
                policy_kwargs=sb3_policy_kwargs(config.policy_kwargs),
                **dict(config.hyperparams),
            )
        model.set_logger(Logger(folder=None, output_formats=[]))  # no log folder, no stdout tables
        recorder.total_steps = config.total_steps
        recorder.beat(force=True)
        start = time.monotonic()
        remaining = config.total_steps - int(model.num_timesteps)  # <= 0: the checkpoint already reached the budget
        callback = RewardStatsCallback(recorder)
        if remaining > 0 or job.resume_from is None:
            model.learn(max(1, remaining), callback=callback, reset_num_timesteps=job.resume_from is None)
        else:
            recorder.steps = int(model.num_timesteps)
            recorder.finish(dict)
        wall = time.monotonic() - start
        if job.checkpoint_to is not None:
            ckpt = out_dir / job.checkpoint_to
            ckpt.mkdir(parents=True, exist_ok=True)
            model.save(str(ckpt / SB3_MODEL_FILE))
            if norm is not None:
                norm.save(str(ckpt / SB3_NORM_FILE))
        save_tensors(out_dir / POLICY_FILE, plain_state_dict(model.policy))
        if norm is not None:
            rms: Any = norm.obs_rms  # one RunningMeanStd (Box observations)
            save_obs_norm(out_dir / OBS_NORM_FILE, rms.mean, rms.var, rms.count, norm.clip_obs, norm.epsilon)
        return recorder.stats(job.reward_kind, wall)

    def load_actor(self, spec: TaskSpec, job: TrainJob, weights_dir: Path) -> Actor:
        config = resolve_config(spec, overrides=job.hyperparams)
        env = make_env(spec)
        try:
            policy = build_policy(config, env.observation_space, env.action_space)
            obs_shape = tuple(env.observation_space.shape or ())
        finally:
            env.close()
        path = Path(weights_dir) / POLICY_FILE
        if not path.is_file():
            raise WeightsError(f"no {POLICY_FILE} in {weights_dir}")
        tensors = load_tensors(path)
        check_state_dict(tensors, policy.state_dict())
        policy.load_state_dict(tensors, strict=True)
        policy.set_training_mode(False)
        norm = None
        if config.normalize_obs:
            norm_path = Path(weights_dir) / OBS_NORM_FILE
            if not norm_path.is_file():
                raise WeightsError(f"task {spec.id} normalizes observations but {OBS_NORM_FILE} is missing")
            norm = load_obs_norm(norm_path, obs_shape)

        def act(observations: np.ndarray) -> np.ndarray:
            x = np.asarray(observations, dtype=np.float32)
            if norm is not None:
                x = norm(x)
            with torch.no_grad():
                actions, _ = policy.predict(x, deterministic=True)
            return np.asarray(actions)

        return act
