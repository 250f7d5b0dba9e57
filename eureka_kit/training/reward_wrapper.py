"""Reward replacement for SB3 vector envs, and the training-statistics callback.

:class:`EurekaRewardWrapper` replaces the env's reward by a :class:`RewardSource`
computed ONCE per vector step for all N envs from the batched named state
(``info["eureka_state"]`` of each env; ``DummyVecEnv`` keeps the info of an
env that just ended, so terminal steps are covered). It keeps running sums of
every component and of the total per env and, when an env's episode ends,
puts the episode's sums into that env's info as ``info["eureka_episode"]``.

Reward sources (the ``reward_kind`` of a job):

- :class:`ProgramReward`: the LLM's ``compute_reward``, called under
  ``torch.no_grad()`` and validated at every step (shape ``(N,)``, finite);
  any failure raises :class:`RewardProgramError` whose message names the
  component and the step, fit to send back to the LLM;
- :class:`EnvReward` (``baseline``): the env's own reward, unchanged;
- :class:`SparseReward` (``sparse``): the task's per-step fitness value.

:class:`RewardStatsCallback` samples Eureka's reward-reflection values at
about ten evenly spaced points along training and touches the heartbeat file.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from eureka_kit.reward.program import BoundProgram, ProgramError, load_program
from eureka_kit.sandbox.runner import HEARTBEAT_VAR
from eureka_kit.tasks.spec import BatchedState, TaskSpec
from eureka_kit.tasks.state_capture import STATE_KEY, stack_states, to_torch
from eureka_kit.training.runner import MAX_COMPONENTS, MAX_SAMPLES, RewardKind, StatsSample, TrainStats

EPISODE_KEY = "eureka_episode"
"""Info key of a finished episode's sums: ``{"components", "total", "fitness", "length", "env_return"}``."""

_MAX_MESSAGE = 1500


class RewardProgramError(RuntimeError):
    """The reward program failed during training; the message is fit to send back to the LLM."""


class RewardSource(Protocol):
    """Computes the training reward of N envs at one step from their batched state."""

    kind: RewardKind

    def __call__(
        self, state: BatchedState, env_reward: np.ndarray, step: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Return (total of shape (N,), components name -> (N,)), as float64 numpy arrays."""
        ...


def _describe_bad(values: np.ndarray) -> str:
    bad = ~np.isfinite(values)
    idx = int(np.flatnonzero(bad)[0])
    v = float(values.reshape(-1)[idx])
    kind = "NaN" if v != v else ("+inf" if v > 0 else "-inf")
    return f"{kind} (first at env {idx}, {int(bad.sum())} of {values.size} values non-finite)"


def _state_hint(state: BatchedState, env: int, limit: int = 400) -> str:
    parts = []
    for k, v in state.items():
        x = np.asarray(v)[env]
        parts.append(f"{k}={np.array2string(x, precision=3, threshold=8)}" if x.ndim else f"{k}={float(x):.4g}")
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


class ProgramReward:
    """An LLM-written reward program, validated at every call."""

    kind: RewardKind = "program"

    def __init__(self, program: BoundProgram, filename: str = "reward.py") -> None:
        self.program = program
        self.filename = filename

    @classmethod
    def from_source(cls, source: str, spec: TaskSpec, filename: str = "reward.py") -> ProgramReward:
        """Compile and bind; any failure (syntax, module-level exception, unknown argument) -> RewardProgramError."""
        try:
            return cls(load_program(source, spec, filename), filename)
        except ProgramError as e:
            raise RewardProgramError(f"the reward program could not be loaded: {e}") from None
        except MemoryError:
            raise
        except Exception as e:
            _raise_if_oom(e, "the reward program, while loading")
            where = _program_frames(e, filename)
            raise RewardProgramError(
                f"the reward program failed while loading: {type(e).__name__}: {e}{where}"
            ) from None

    def __call__(
        self, state: BatchedState, env_reward: np.ndarray, step: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        n = len(env_reward)
        tensors = to_torch({k: state[k] for k in self.program.arg_names})  # only what the program reads
        try:
            with torch.no_grad():
                out = self.program(tensors)
        except (MemoryError, KeyboardInterrupt):
            raise
        except BaseException as e:  # SystemExit from a program is a bug of the program too
            _raise_if_oom(e, f"compute_reward at training step {step}")
            where = _program_frames(e, self.filename)
            raise RewardProgramError(
                f"compute_reward raised {type(e).__name__}: {str(e)[:300]} at training step {step}{where}"
            ) from None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise RewardProgramError(
                f"compute_reward must return (total, components_dict); got {type(out).__name__} at step {step}"
            )
        total, comps = out
        if not isinstance(comps, Mapping):
            raise RewardProgramError(
                f"the second return value of compute_reward must be a dict of components, got {type(comps).__name__}"
            )
        if len(comps) > MAX_COMPONENTS:
            raise RewardProgramError(f"compute_reward returned {len(comps)} components; at most {MAX_COMPONENTS}")
        # components first: a NaN total is best explained by the component that caused it
        items: list[tuple[str, torch.Tensor]] = []
        for name, value in comps.items():
            if not isinstance(name, str):
                raise RewardProgramError(f"component names must be strings, got {name!r}")
            items.append((f"component {name!r}", self._check_tensor(f"component {name!r}", value, n, step)))
        items.append(("the total reward", self._check_tensor("the total reward", total, n, step)))
        # one conversion and one finiteness test for all of them (per-tensor checks cost ~15 us each)
        arr = torch.stack([v for _, v in items]).to("cpu", torch.float64).numpy()
        finite = np.isfinite(arr)
        if not finite.all():
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            env = int(np.flatnonzero(~finite[row])[0])
            raise RewardProgramError(
                f"{items[row][0]} is {_describe_bad(arr[row])} at training step {step}; "
                f"state of that env: {_state_hint(state, env)}"
            )
        comps_np = {name: arr[i] for i, name in enumerate(comps)}
        return arr[-1], comps_np

    @staticmethod
    def _check_tensor(what: str, value: object, n: int, step: int) -> torch.Tensor:
        if not isinstance(value, torch.Tensor):
            raise RewardProgramError(f"{what} must be a torch.Tensor of shape ({n},), got {type(value).__name__}")
        if tuple(value.shape) != (n,):
            raise RewardProgramError(
                f"{what} has shape {tuple(value.shape)} at training step {step}; expected ({n},) (one value per env)"
            )
        if value.is_complex():
            raise RewardProgramError(f"{what} must be real-valued, got dtype {value.dtype}")
        return value.detach() if value.dtype == torch.float32 else value.detach().to(torch.float32)


_OOM_TEXT = ("can't allocate memory", "not enough memory", "out of memory", "std::bad_alloc")


def _raise_if_oom(e: BaseException, where: str) -> None:
    """torch reports a failed allocation as RuntimeError: turn it into MemoryError (-> out_of_memory)."""
    if isinstance(e, RuntimeError) and any(s in str(e) for s in _OOM_TEXT):
        raise MemoryError(f"{where} could not allocate memory: {str(e)[:300]}") from None


def _program_frames(e: BaseException, filename: str, limit: int = 4) -> str:
    """The traceback frames inside the reward program, e.g. ``reward.py, line 7, in compute_reward: x / y``."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == filename]
    if not frames:
        return ""
    name = Path(filename).name
    lines = [f"  {name}, line {f.lineno}, in {f.name}: {(f.line or '').strip()[:160]}" for f in frames[-limit:]]
    return "\n" + "\n".join(lines)


class EnvReward:
    """``baseline``: the env's own (human-written) reward, unchanged."""

    kind: RewardKind = "baseline"

    def __call__(
        self, state: BatchedState, env_reward: np.ndarray, step: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        r = np.asarray(env_reward, dtype=np.float64)
        return r, {"env_reward": r}


class SparseReward:
    """``sparse``: the task's per-step fitness value as the reward."""

    kind: RewardKind = "sparse"

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def __call__(
        self, state: BatchedState, env_reward: np.ndarray, step: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        r = np.asarray(self.spec.fitness.step(state), dtype=np.float64).reshape(len(env_reward))
        return r, {"fitness_step": r}


def make_reward(
    kind: RewardKind, spec: TaskSpec, source: str | None = None, filename: str = "reward.py"
) -> RewardSource:
    """The reward source of a job's ``reward_kind``; ``program`` needs the program's ``source``."""
    if kind == "program":
        if source is None:
            raise ValueError("reward kind 'program' needs the program's source")
        return ProgramReward.from_source(source, spec, filename)
    if kind == "baseline":
        return EnvReward()
    if kind == "sparse":
        return SparseReward(spec)
    raise ValueError(f"unknown reward kind {kind!r}; valid: program, baseline, sparse")


class EurekaRewardWrapper(VecEnvWrapper):
    """Replaces rewards by ``reward`` and reports per-episode component sums in ``info["eureka_episode"]``."""

    def __init__(self, venv: VecEnv, spec: TaskSpec, reward: RewardSource) -> None:
        super().__init__(venv)
        self.spec = spec
        self.reward = reward
        self.steps = 0  # env-steps so far (all envs)
        n = self.num_envs
        self._comp_sums: dict[str, np.ndarray] = {}
        self._total = np.zeros(n)
        self._env_return = np.zeros(n)
        self._length = np.zeros(n, dtype=np.int64)
        self._fitness: list[list[float]] = [[] for _ in range(n)]
        # per-step means since the last call of pop_step_means()
        self._interval_sums: dict[str, float] = {}
        self._interval_steps = 0

    def reset(self) -> Any:
        obs = self.venv.reset()
        n = self.num_envs
        self._comp_sums = {k: np.zeros(n) for k in self._comp_sums}
        self._total[:] = 0.0
        self._env_return[:] = 0.0
        self._length[:] = 0
        self._fitness = [[] for _ in range(n)]
        return obs

    def step_wait(self) -> Any:
        obs, env_rewards, dones, infos = self.venv.step_wait()
        n = self.num_envs
        try:
            states = [info[STATE_KEY] for info in infos]
        except KeyError:
            raise RuntimeError(
                "env infos lack 'eureka_state': build the envs with eureka_kit.tasks.state_capture.make_env"
            ) from None
        batch = stack_states(states)
        total, comps = self.reward(batch, np.asarray(env_rewards), self.steps + n)
        self.steps += n
        fit = np.asarray(self.spec.fitness.step(batch), dtype=np.float64).reshape(n)

        for name, value in comps.items():
            if name not in self._comp_sums:
                self._comp_sums[name] = np.zeros(n)
            self._comp_sums[name] += value
            self._interval_sums[name] = self._interval_sums.get(name, 0.0) + float(value.sum())
        self._interval_sums["total"] = self._interval_sums.get("total", 0.0) + float(total.sum())
        self._interval_steps += n
        self._total += total
        self._env_return += np.asarray(env_rewards, dtype=np.float64)
        self._length += 1
        for i in range(n):
            self._fitness[i].append(float(fit[i]))
            if dones[i]:
                infos[i][EPISODE_KEY] = {
                    "components": {k: float(v[i]) for k, v in self._comp_sums.items()},
                    "total": float(self._total[i]),
                    "fitness": self.spec.fitness.episode_value(np.asarray(self._fitness[i])),
                    "length": int(self._length[i]),
                    "env_return": float(self._env_return[i]),
                }
                for v in self._comp_sums.values():
                    v[i] = 0.0
                self._total[i] = 0.0
                self._env_return[i] = 0.0
                self._length[i] = 0
                self._fitness[i] = []
        return obs, total.astype(np.float32), dones, infos

    def pop_step_means(self) -> dict[str, float]:
        """Per-step means of each component and of ``total`` since the last call; resets the interval."""
        if self._interval_steps == 0:
            return {}
        out = {k: v / self._interval_steps for k, v in self._interval_sums.items()}
        self._interval_sums = {}
        self._interval_steps = 0
        return out


_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/ ()\[\]+\-]")


def safe_name(name: str, taken: set[str] | None = None) -> str:
    """A component name as written to ``stats.json``: allowed characters only, at most 64, unique."""
    base = _UNSAFE.sub("_", name)[:60] or "_"
    out, k = base, 2
    while taken is not None and out in taken:
        out, k = f"{base}_{k}", k + 1
    return out


def _mean(xs: list[float]) -> float | None:
    finite = [x for x in xs if np.isfinite(x)]
    return float(np.mean(finite)) if finite else None


class RewardStatsCallback(BaseCallback):
    """Samples reward-reflection values at ``n_points`` evenly spaced steps; touches the heartbeat file.

    At each point it records the means over the last ``window`` finished
    episodes (component sums, total, fitness, length, env return) and the
    per-step means since the previous point (see :class:`StatsSample`).
    """

    def __init__(
        self,
        total_steps: int,
        n_points: int = 10,
        window: int = 10,
        heartbeat_path: Path | None = None,
        heartbeat_every_s: float = 2.0,
    ) -> None:
        super().__init__(verbose=0)
        self.total_steps = max(1, int(total_steps))
        self.n_points = max(1, min(int(n_points), MAX_SAMPLES))
        self.recent: deque[dict[str, Any]] = deque(maxlen=max(1, window))
        self.episodes = 0
        self.samples: list[StatsSample] = []
        self.names: dict[str, str] = {}  # program's component name -> safe name
        self._next = 1
        env_hb = os.environ.get(HEARTBEAT_VAR)
        self.heartbeat_path = heartbeat_path if heartbeat_path is not None else (Path(env_hb) if env_hb else None)
        self.heartbeat_every_s = heartbeat_every_s
        self._last_beat = 0.0

    def beat(self, force: bool = False) -> None:
        """Touch the heartbeat file (at most every ``heartbeat_every_s`` unless ``force``)."""
        now = time.monotonic()
        if self.heartbeat_path is not None and (force or now - self._last_beat >= self.heartbeat_every_s):
            self._last_beat = now
            try:
                self.heartbeat_path.touch()
            except OSError:
                pass

    def _threshold(self) -> float:
        return self.total_steps * self._next / self.n_points

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            ep = info.get(EPISODE_KEY)
            if ep is not None:
                self.recent.append(ep)
                self.episodes += 1
        if self.num_timesteps >= self._threshold() and self._next <= self.n_points:
            self._record()
            while self._next <= self.n_points and self.num_timesteps >= self._threshold():
                self._next += 1
        self.beat()
        return True

    def _on_rollout_end(self) -> None:
        self.beat()

    def _on_training_end(self) -> None:
        if not self.samples or self.samples[-1].step < self.num_timesteps:
            self._record()
        self.beat(force=True)

    def _safe(self, name: str) -> str:
        if name not in self.names:
            if len(self.names) >= MAX_COMPONENTS:
                return ""
            self.names[name] = safe_name(name, set(self.names.values()) | {"total"})
        return self.names[name]

    def _reward_wrapper(self) -> EurekaRewardWrapper | None:
        env: Any = self.training_env
        while env is not None:
            if isinstance(env, EurekaRewardWrapper):
                return env
            env = getattr(env, "venv", None)
        return None

    def _record(self) -> None:
        if len(self.samples) >= MAX_SAMPLES:
            return
        eps = list(self.recent)
        comps: dict[str, float | None] = {}
        for ep in eps:
            for name in ep["components"]:
                safe = self._safe(name)
                if safe and safe not in comps:
                    comps[safe] = _mean([e["components"].get(name, 0.0) for e in eps])
        wrapper = self._reward_wrapper()
        step_means: dict[str, float | None] = {}
        for name, v in (wrapper.pop_step_means() if wrapper is not None else {}).items():
            safe = "total" if name == "total" else self._safe(name)
            if safe:
                step_means[safe] = v if np.isfinite(v) else None
        self.samples.append(
            StatsSample(
                step=int(self.num_timesteps),
                episodes=self.episodes,
                window=len(eps),
                total=_mean([e["total"] for e in eps]),
                fitness=_mean([e["fitness"] for e in eps]),
                length=_mean([float(e["length"]) for e in eps]),
                env_return=_mean([e["env_return"] for e in eps]),
                components=comps,
                step_means=step_means,
            )
        )

    def stats(self, reward_kind: RewardKind, wall_s: float) -> TrainStats:
        """The record written to ``stats.json``."""
        steps = int(self.num_timesteps)
        return TrainStats(
            reward_kind=reward_kind,
            components=tuple(self.names.values()),
            samples=tuple(self.samples),
            total_steps=steps,
            wall_s=float(wall_s),
            env_steps_per_s=float(steps / wall_s) if wall_s > 0 else 0.0,
        )
