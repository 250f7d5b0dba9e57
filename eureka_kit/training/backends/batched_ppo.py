"""The training loop of the batched backends: rsl-rl's PPO on a :class:`~eureka_kit.sim.base.BatchedEnv`.

We drive rsl-rl's ``PPO`` algorithm class (``act`` / ``process_env_step`` /
``compute_returns`` / ``update``) in a small loop instead of its
``OnPolicyRunner`` because the runner does not fit the sandboxed child:

* it computes rewards inside the env's ``step``; here the reward program must
  be called once per batch step on the step's state (and its components
  recorded for reflection), and its failures become typed errors;
* it bootstraps time-outs from ``V(s_t)`` of the observation *before* the
  step; we add ``gamma * V(final_obs)`` ourselves (the observation the
  truncated episode reached, which the engine hands over before its reset);
* it writes its own logs and ``torch.save`` checkpoints (pickles) to a log
  folder and prints model summaries; the child writes plain tensors only.

Observations are normalized outside the networks with SB3 ``VecNormalize``'s
statistics and formula (:class:`RunningObsNorm`), so ``obs_norm.safetensors``
is the same file as the ``sb3`` backend's and the trusted
:class:`~eureka_kit.training.weights.ObsNorm` applies it identically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from eureka_kit.sim.base import BatchedEnv, BatchStep
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.backends.batched_config import OBS_GROUP, BatchedConfig, build_models
from eureka_kit.training.episode_stats import EpisodeAccumulator, StatsRecorder
from eureka_kit.training.reward_sources import ProgramReward, RewardSource

UpdateHook = Callable[[int, Any, "RunningObsNorm | None"], bool]
"""``hook(env_steps, actor, obs_norm) -> stop``: called after each PPO update (benchmarks evaluate there)."""

EPSILON = 1e-8
"""SB3 VecNormalize's ``epsilon``: ``(obs - mean) / sqrt(var + epsilon)``."""


class RunningObsNorm:
    """SB3's ``RunningMeanStd`` + ``VecNormalize`` observation normalization, on torch tensors (any device).

    Same initial values (mean 0, var 1, count 1e-4), same parallel update,
    same formula and clipping, so the saved statistics mean what SB3's mean.
    """

    def __init__(self, size: int, clip_obs: float, device: torch.device) -> None:
        self.mean = torch.zeros(size, dtype=torch.float64, device=device)
        self.var = torch.ones(size, dtype=torch.float64, device=device)
        self.count = 1e-4
        self.clip_obs = float(clip_obs)
        self.epsilon = EPSILON

    def update(self, x: torch.Tensor) -> None:
        """Add a batch (N, size) of observations to the statistics."""
        x = x.to(torch.float64)
        n = x.shape[0]
        batch_mean = x.mean(dim=0)
        batch_var = x.var(dim=0, unbiased=False)
        delta = batch_mean - self.mean
        total = self.count + n
        m2 = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.var = m2 / total
        self.count = total

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = (x.to(torch.float64) - self.mean) / torch.sqrt(self.var + self.epsilon)
        return out.clamp(-self.clip_obs, self.clip_obs).to(torch.float32)


def _numpy(x: torch.Tensor) -> np.ndarray:
    return np.asarray(x.detach().to("cpu", torch.float64).numpy())


class StepReward:
    """The job's reward source called once per batch step: the program on tensors, or the env / fitness reward."""

    def __init__(self, source: RewardSource, device: torch.device) -> None:
        self.source = source
        self.device = device
        self.program = source if isinstance(source, ProgramReward) else None

    def __call__(
        self, state: Mapping[str, torch.Tensor], state_np: dict[str, np.ndarray], env_reward: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(total (N,) float32 on the env's device, components by name)."""
        n = int(env_reward.shape[0])
        if self.program is not None:
            needed = {k: state[k] for k in self.program.arg_names}
            return self.program.on_tensors(needed, n, step, hint_state=state)
        total, comps = self.source(state_np, _numpy(env_reward), step)

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device)

        return t(total), {k: t(v) for k, v in comps.items()}


def _fast_adam(optimizer: torch.optim.Optimizer, learning_rate: float) -> torch.optim.Optimizer:
    """rsl-rl's Adam over the same parameters with the multi-tensor (``foreach``) update.

    rsl-rl builds ``torch.optim.Adam(params, lr=...)``, which on CPU tensors
    updates one parameter tensor at a time; with our small networks that
    per-tensor overhead was ~1 ms per mini-batch. The ``foreach`` update is
    the same algorithm in fewer kernel calls: +12 % training env-steps/s on
    HalfCheetah (64 envs, one core). Same hyperparameters, same state-dict
    layout (checkpoints load either way).
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    return torch.optim.Adam(params, lr=learning_rate, foreach=True)


def _obs(x: torch.Tensor) -> Any:
    from tensordict import TensorDict

    return TensorDict({OBS_GROUP: x}, batch_size=[x.shape[0]], device=x.device)


class BatchedPPO:
    """One candidate's PPO training on a batched env (see the module docstring)."""

    def __init__(self, env: BatchedEnv, config: BatchedConfig, spec: TaskSpec, seed: int) -> None:
        from rsl_rl.algorithms import PPO
        from rsl_rl.storage import RolloutStorage

        self.env = env
        self.config = config
        self.spec = spec
        self.device = env.device
        torch.manual_seed(seed)
        self.seed = seed
        n = env.num_envs
        dev = str(self.device)
        self.norm = RunningObsNorm(env.observation_size, config.clip_obs, self.device) if config.normalize_obs else None
        # discrete actions (the game engines): a categorical actor
        self.actor, self.critic = build_models(config, env.observation_size, env.action_size, dev, env.n_actions)
        storage = RolloutStorage(
            "rl", n, config.num_steps_per_env, _obs(torch.zeros(n, env.observation_size, device=self.device)),
            [env.action_size], dev,
        )  # fmt: skip
        self.alg = PPO(
            self.actor,
            self.critic,
            storage,
            num_learning_epochs=config.num_learning_epochs,
            num_mini_batches=config.num_mini_batches,
            clip_param=config.clip_param,
            gamma=config.gamma,
            lam=config.lam,
            value_loss_coef=config.value_loss_coef,
            entropy_coef=config.entropy_coef,
            learning_rate=config.learning_rate,
            max_grad_norm=config.max_grad_norm,
            use_clipped_value_loss=config.use_clipped_value_loss,
            schedule=config.schedule,
            desired_kl=config.desired_kl,
            device=dev,
        )
        self.alg.optimizer = _fast_adam(self.alg.optimizer, config.learning_rate)
        self.steps = 0

    def state(self) -> dict[str, Any]:
        """Everything needed to continue training: networks, optimizer, learning rate, obs statistics, random state."""
        norm = None
        if self.norm is not None:
            norm = {"mean": self.norm.mean, "var": self.norm.var, "count": self.norm.count}
        return {"alg": self.alg.save(), "norm": norm, "rng": torch.get_rng_state()}

    def restore(self, steps: int, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state` saved after ``steps`` env-steps (raises ``KeyError`` / ``RuntimeError``)."""
        self.alg.load(state["alg"], None, True)
        if self.norm is not None and state.get("norm") is not None:
            n = state["norm"]
            self.norm.mean = n["mean"].to(self.device, torch.float64)
            self.norm.var = n["var"].to(self.device, torch.float64)
            self.norm.count = float(n["count"])
        torch.set_rng_state(state["rng"].to(torch.uint8))
        self.steps = int(steps)

    def _normalized(self, obs: torch.Tensor, update: bool) -> torch.Tensor:
        if self.norm is None:
            return obs.to(torch.float32)
        if update:
            self.norm.update(obs)
        return self.norm(obs)

    def _bootstrap(self, rewards: torch.Tensor, step: BatchStep) -> torch.Tensor:
        """Add ``gamma * V(final_obs)`` to the reward of envs whose episode was truncated by the time limit."""
        trunc = step.truncated.to(self.device)
        if not bool(trunc.any()):
            return rewards
        idx = torch.nonzero(trunc).squeeze(1)
        values = self.critic(_obs(self._normalized(step.final_obs[idx], update=False))).squeeze(1)
        out = rewards.clone()
        out[idx] += self.config.gamma * values
        return out

    def train(self, reward: StepReward, recorder: StatsRecorder, hook: UpdateHook | None = None) -> int:
        """Train to the config's budget (whole rollouts; from :attr:`steps` on); returns the env-steps done in all."""
        cfg, env, n = self.config, self.env, self.env.num_envs
        episodes = EpisodeAccumulator(n, self.spec.fitness)
        start = self.steps  # > 0 when continuing from a checkpoint: new episodes, reset from another seed
        obs = self._normalized(env.reset(self.seed + start).to(self.device), update=True)
        iterations = max(0 if start else 1, -(-(cfg.total_steps - start) // cfg.batch_size))  # whole rollouts
        self.alg.train_mode()
        for _ in range(iterations):
            with torch.inference_mode():
                for _ in range(cfg.num_steps_per_env):
                    actions = self.alg.act(_obs(obs))
                    step = env.step(actions)
                    self.steps += n
                    state_np = {k: _numpy(v) for k, v in step.state.items()}
                    fitness = np.asarray(self.spec.fitness.step(state_np), dtype=np.float64).reshape(n)
                    env_r = _numpy(step.env_reward)
                    total, comps = reward(step.state, state_np, step.env_reward, self.steps)
                    done = step.terminated | step.truncated
                    rewards = self._bootstrap(total.to(self.device), step)
                    obs = self._normalized(step.obs.to(self.device), update=True)
                    self.alg.process_env_step(_obs(obs), rewards, done.to(self.device), {})
                    values = _numpy(torch.stack([total, *comps.values()])) if comps else _numpy(total[None])
                    names = list(comps)
                    finished = episodes.add(
                        values[0], {k: values[i + 1] for i, k in enumerate(names)}, fitness, env_r, _numpy(done) > 0
                    )
                    for _, sums in finished:
                        recorder.episode_ended(sums)
                    recorder.progress(self.steps, episodes.pop_step_means)
                self.alg.compute_returns(_obs(obs))
            self.alg.update()
            recorder.beat()
            if hook is not None and hook(self.steps, self.actor, self.norm):
                break
        recorder.steps = self.steps
        recorder.finish(episodes.pop_step_means)
        return self.steps
