"""Trusted evaluation: fitness computed here, from policy weights only.

The training child is never trusted. :func:`evaluate_policy` builds the policy
network itself (from the task's training defaults and the job's overrides,
see :func:`eureka_kit.training.policy.build_policy`), loads *only tensors* from
``policy.safetensors`` (never a pickle or an SB3 zip), refuses a file that is
not a plain safetensors file or whose keys / shapes / dtypes do not match the
network, applies the stored observation normalization, and runs E
deterministic episodes on fixed seeds (``seed + i``). Each episode's fitness
is the task's :class:`~eureka_kit.tasks.spec.Fitness` computed from the states the
simulator reports; the run's fitness is the mean over episodes.

Optionally every episode's per-step states and env rewards (the rollouts, for
the trajectory analyzer) are saved as a compressed ``.npz`` (plain arrays,
bounded), read back with :func:`load_rollouts` as :class:`Rollout` records.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import torch

from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.tasks.state_capture import STATE_KEY, make_env, stack_states
from eureka_kit.training.runner import OBS_NORM_FILE, POLICY_FILE

EvalStatus = Literal["ok", "eval_error"]

MAX_WEIGHTS_BYTES = 512 * 1024 * 1024
MAX_ROLLOUT_STEPS = 50_000
"""At most this many steps (all episodes together) are saved as rollouts."""

ROLLOUTS_FILE = "rollouts.npz"


class WeightsError(ValueError):
    """Weights or normalization files are unusable; the message says why."""


@dataclass(frozen=True)
class EpisodeResult:
    """One evaluation episode: fitness, how it ended, the env's own return and a summary of the final state."""

    seed: int
    fitness: float
    length: int
    terminated: bool
    truncated: bool
    env_return: float
    final_state: Mapping[str, float | tuple[float, ...]]

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "fitness": self.fitness,
            "length": self.length,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "env_return": self.env_return,
            "final_state": {k: list(v) if isinstance(v, tuple) else v for k, v in self.final_state.items()},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> EpisodeResult:
        return cls(
            seed=int(d["seed"]),
            fitness=float(d["fitness"]),
            length=int(d["length"]),
            terminated=bool(d["terminated"]),
            truncated=bool(d["truncated"]),
            env_return=float(d["env_return"]),
            final_state=MappingProxyType(
                {
                    str(k): tuple(float(x) for x in v) if isinstance(v, list) else float(v)
                    for k, v in d.get("final_state", {}).items()
                }
            ),
        )


@dataclass(frozen=True)
class Evaluation:
    """The trusted result of evaluating one policy (``eval.json``). ``fitness`` is the mean over episodes."""

    status: EvalStatus
    message: str
    fitness: float | None
    fitness_std: float | None
    episodes: tuple[EpisodeResult, ...] = ()
    fitness_name: str = ""
    seed: int = 0
    wall_s: float = 0.0
    rollouts_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "fitness": self.fitness,
            "fitness_std": self.fitness_std,
            "fitness_name": self.fitness_name,
            "seed": self.seed,
            "wall_s": self.wall_s,
            "rollouts_file": self.rollouts_file,
            "episodes": [e.to_json() for e in self.episodes],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Evaluation:
        status = d["status"]
        if status not in ("ok", "eval_error"):
            raise ValueError(f"unknown evaluation status {status!r}")
        return cls(
            status=status,
            message=str(d.get("message", "")),
            fitness=None if d.get("fitness") is None else float(d["fitness"]),
            fitness_std=None if d.get("fitness_std") is None else float(d["fitness_std"]),
            episodes=tuple(EpisodeResult.from_json(e) for e in d.get("episodes", ())),
            fitness_name=str(d.get("fitness_name", "")),
            seed=int(d.get("seed", 0)),
            wall_s=float(d.get("wall_s", 0.0)),
            rollouts_file=d.get("rollouts_file"),
        )


# ----- weights ----------------------------------------------------------------------------------------


def _read_safetensors_bytes(path: Path) -> bytes:
    """The file's bytes, after refusing (with a clear reason) anything but a plain safetensors file."""
    try:
        size = path.stat().st_size
        if size > MAX_WEIGHTS_BYTES:
            raise WeightsError(f"{path.name} is {size} bytes; more than the {MAX_WEIGHTS_BYTES} allowed")
        with open(path, "rb") as f:
            raw = f.read(MAX_WEIGHTS_BYTES + 1)
    except OSError as e:
        raise WeightsError(f"{path.name} cannot be read: {e}") from None
    if raw[:1] == b"\x80" or raw[:2] == b"PK":
        raise WeightsError(
            f"{path.name} looks like a pickle or a torch.save/zip archive, not a safetensors file; "
            "only plain safetensors tensors are accepted"
        )
    if len(raw) < 10:
        raise WeightsError(f"{path.name} is not a safetensors file (too short)")
    n = int.from_bytes(raw[:8], "little")
    if not 2 <= n <= len(raw) - 8 or raw[8:9] != b"{":
        raise WeightsError(f"{path.name} is not a safetensors file (bad header)")
    return raw


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a plain safetensors file, read into memory (no mmap, no code executed); raises WeightsError."""
    from safetensors.torch import load

    raw = _read_safetensors_bytes(path)
    try:
        return load(raw)
    except Exception as e:  # SafetensorError and friends: the file is malformed
        raise WeightsError(f"{path.name} is not a valid safetensors file: {e}") from None


def check_state_dict(loaded: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> None:
    """Keys, shapes and dtypes must match the network exactly, and every value must be finite."""
    missing = sorted(set(expected) - set(loaded))
    unexpected = sorted(set(loaded) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"the weights do not match the policy network: missing {missing[:8]}, unexpected {unexpected[:8]}"
        )
    for k, want in expected.items():
        got = loaded[k]
        if tuple(got.shape) != tuple(want.shape) or got.dtype != want.dtype:
            raise WeightsError(
                f"weight {k!r} has shape {tuple(got.shape)} {got.dtype}; the network needs {tuple(want.shape)} "
                f"{want.dtype}"
            )
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise WeightsError(f"weight {k!r} contains non-finite values")


@dataclass(frozen=True)
class ObsNorm:
    """Observation normalization of VecNormalize: ``clip((obs - mean) / sqrt(var + epsilon), ±clip_obs)``."""

    mean: np.ndarray
    var: np.ndarray
    clip_obs: float
    epsilon: float

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        out = np.clip((obs - self.mean) / np.sqrt(self.var + self.epsilon), -self.clip_obs, self.clip_obs)
        return out.astype(np.float32)


def load_obs_norm(path: Path, obs_shape: tuple[int, ...]) -> ObsNorm:
    """Read and validate ``obs_norm.safetensors`` for observations of ``obs_shape``."""
    t = load_tensors(path)
    need = {"mean", "var", "clip_obs", "epsilon"}
    if not need <= set(t):
        raise WeightsError(f"{path.name} lacks {sorted(need - set(t))}")
    mean = t["mean"].to(torch.float64).numpy()
    var = t["var"].to(torch.float64).numpy()
    if mean.shape != obs_shape or var.shape != obs_shape:
        raise WeightsError(f"{path.name}: mean/var have shapes {mean.shape}/{var.shape}; observations are {obs_shape}")
    if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all()):
        raise WeightsError(f"{path.name}: mean/var must be finite and var >= 0")
    if t["clip_obs"].numel() != 1 or t["epsilon"].numel() != 1:
        raise WeightsError(f"{path.name}: clip_obs and epsilon must be single numbers")
    clip, eps = float(t["clip_obs"].reshape(-1)[0]), float(t["epsilon"].reshape(-1)[0])
    if not (0 < clip <= 1e6 and 0 < eps <= 1.0):
        raise WeightsError(f"{path.name}: clip_obs {clip} or epsilon {eps} out of range")
    return ObsNorm(mean=mean, var=var, clip_obs=clip, epsilon=eps)


def load_policy(
    spec: TaskSpec, weights_dir: Path, overrides: Mapping[str, Any] | None = None
) -> tuple[Any, ObsNorm | None, Any]:
    """Build the task's policy network, load and check weights; returns (policy, obs_norm or None, a probe env)."""
    from eureka_kit.training.policy import build_policy, resolve_config

    config = resolve_config(spec, overrides=overrides)
    env = make_env(spec)
    policy = build_policy(config, env.observation_space, env.action_space)
    path = Path(weights_dir) / POLICY_FILE
    if not path.is_file():
        env.close()
        raise WeightsError(f"no {POLICY_FILE} in {weights_dir}")
    try:
        tensors = load_tensors(path)
        check_state_dict(tensors, policy.state_dict())
        policy.load_state_dict(tensors, strict=True)
        norm = None
        if config.normalize_obs:
            norm_path = Path(weights_dir) / OBS_NORM_FILE
            if not norm_path.is_file():
                raise WeightsError(f"task {spec.id} normalizes observations but {OBS_NORM_FILE} is missing")
            norm = load_obs_norm(norm_path, tuple(env.observation_space.shape or ()))
    except BaseException:
        env.close()
        raise
    policy.set_training_mode(False)
    return policy, norm, env


def load_actor(
    spec: TaskSpec, weights_dir: Path, overrides: Mapping[str, Any] | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """The trusted deterministic policy as ``act(observation) -> action`` (for videos and trajectories).

    Same network, weight checks and observation normalization as
    :func:`evaluate_policy`; raises :class:`WeightsError` for unusable weights.
    """
    policy, norm, probe = load_policy(spec, weights_dir, overrides)
    probe.close()

    def act(observation: np.ndarray) -> np.ndarray:
        x = np.asarray(observation, dtype=np.float32)[None]
        if norm is not None:
            x = norm(x)
        with torch.no_grad():
            action, _ = policy.predict(x, deterministic=True)
        return np.asarray(action[0])

    return act


# ----- episodes ---------------------------------------------------------------------------------------


def _summary(state: Mapping[str, np.ndarray]) -> dict[str, float | tuple[float, ...]]:
    out: dict[str, float | tuple[float, ...]] = {}
    for k, v in state.items():
        a = np.asarray(v, dtype=np.float64)
        out[k] = float(f"{float(a):.6g}") if a.ndim == 0 else tuple(float(f"{x:.6g}") for x in a.reshape(-1)[:32])
    return out


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


@dataclass(frozen=True, eq=False)
class Rollout:
    """One evaluation episode step by step: ``states[name]`` is ``(T, *shape)``, ``env_rewards`` is ``(T,)``.

    Episodes longer than the rollout budget are cut (``cut=True``); the
    episode's own record (:class:`EpisodeResult`) keeps the whole episode.
    """

    seed: int
    states: Mapping[str, np.ndarray]
    env_rewards: np.ndarray
    terminated: bool
    truncated: bool
    cut: bool = False


def _save_rollouts(path: Path, rollouts: list[Rollout], budget: int = MAX_ROLLOUT_STEPS) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, r in enumerate(rollouts):
        if budget <= 0:
            break
        t = len(r.env_rewards)
        keep = min(t, budget)
        for k, v in r.states.items():
            arrays[f"ep{i:03d}/states/{k}"] = np.asarray(v[:keep], dtype=np.float32)
        arrays[f"ep{i:03d}/env_rewards"] = np.asarray(r.env_rewards[:keep], dtype=np.float32)
        arrays[f"ep{i:03d}/meta"] = np.array([r.seed, r.terminated, r.truncated, keep < t], dtype=np.int64)
        budget -= keep
    _atomic_savez(path, arrays)


def load_rollouts(path: Path) -> list[Rollout]:
    """Rollouts saved by :func:`evaluate_policy` (plain arrays only: ``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as z:
        eps: dict[str, dict[str, np.ndarray]] = {}
        for key in z.files:
            ep, rest = key.split("/", 1)
            eps.setdefault(ep, {})[rest] = z[key]
    out = []
    for ep in sorted(eps):
        d = eps[ep]
        seed, term, trunc, cut = (int(x) for x in d["meta"])
        states = {k.split("/", 1)[1]: v for k, v in d.items() if k.startswith("states/")}
        out.append(Rollout(seed, MappingProxyType(states), d["env_rewards"], bool(term), bool(trunc), bool(cut)))
    return out


def _error(spec: TaskSpec, message: str, seed: int, start: float) -> Evaluation:
    return Evaluation(
        "eval_error", message, None, None, fitness_name=spec.fitness.name, seed=seed, wall_s=time.monotonic() - start
    )


def evaluate_policy(
    spec: TaskSpec,
    weights_dir: Path,
    episodes: int = 5,
    seed: int = 0,
    *,
    overrides: Mapping[str, Any] | None = None,
    rollouts_path: Path | None = None,
) -> Evaluation:
    """Run ``episodes`` deterministic episodes (seeds ``seed + i``) of the policy in ``weights_dir``.

    ``overrides`` must be the training job's ``hyperparams`` when it changed
    the network (``policy_kwargs``, ``use_sde``). With ``rollouts_path``, the
    per-step states are saved there (compressed npz, at most
    :data:`MAX_ROLLOUT_STEPS` steps). Never raises for a bad policy: returns
    ``status="eval_error"`` with the reason.
    """
    start = time.monotonic()
    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    try:
        policy, norm, probe = load_policy(spec, weights_dir, overrides)
    except (WeightsError, ValueError) as e:
        return _error(spec, f"cannot load the policy: {e}", seed, start)
    probe.close()
    envs = [make_env(spec) for _ in range(episodes)]
    try:
        results, rollouts = _run_episodes(spec, policy, norm, envs, seed)
    except Exception as e:
        return _error(spec, f"evaluation failed: {type(e).__name__}: {e}", seed, start)
    finally:
        for env in envs:
            env.close()
    saved = None
    if rollouts_path is not None:
        _save_rollouts(Path(rollouts_path), rollouts)
        saved = str(rollouts_path)
    fits = np.array([r.fitness for r in results], dtype=np.float64)
    if not np.isfinite(fits).all():
        return _error(spec, f"fitness is not finite: {fits.tolist()}", seed, start)
    return Evaluation(
        status="ok",
        message="",
        fitness=float(fits.mean()),
        fitness_std=float(fits.std()),
        episodes=tuple(results),
        fitness_name=spec.fitness.name,
        seed=seed,
        wall_s=time.monotonic() - start,
        rollouts_file=saved,
    )


def _run_episodes(
    spec: TaskSpec, policy: Any, norm: ObsNorm | None, envs: list[Any], seed: int
) -> tuple[list[EpisodeResult], list[Rollout]]:
    """All episodes stepped together (one batched policy call per step); each env runs one episode."""
    n = len(envs)
    obs: list[np.ndarray] = []
    for i, env in enumerate(envs):
        o, _ = env.reset(seed=seed + i)
        obs.append(np.asarray(o))
    states: list[list[dict[str, np.ndarray]]] = [[] for _ in range(n)]
    rewards: list[list[float]] = [[] for _ in range(n)]
    ended: list[tuple[bool, bool] | None] = [None] * n
    while True:
        active = [i for i in range(n) if ended[i] is None]
        if not active:
            break
        batch = np.stack([obs[i] for i in active]).astype(np.float32)
        if norm is not None:
            batch = norm(batch)
        with torch.no_grad():
            actions, _ = policy.predict(batch, deterministic=True)
        for j, i in enumerate(active):
            o, r, term, trunc, info = envs[i].step(actions[j])
            states[i].append(info[STATE_KEY])
            rewards[i].append(float(r))
            obs[i] = np.asarray(o)
            if term or trunc:
                ended[i] = (bool(term), bool(trunc))
    results: list[EpisodeResult] = []
    rollouts: list[Rollout] = []
    for i in range(n):
        traj = stack_states(states[i])  # (T, ...) per state variable: the fitness is batched over time
        values = np.asarray(spec.fitness.step(traj), dtype=np.float64).reshape(-1)
        end = ended[i]
        assert end is not None
        fitness = spec.fitness.episode_value(values)
        results.append(
            EpisodeResult(
                seed=seed + i,
                fitness=fitness if math.isfinite(fitness) else float("nan"),
                length=len(states[i]),
                terminated=end[0],
                truncated=end[1],
                env_return=float(np.sum(rewards[i])),
                final_state=MappingProxyType(_summary(states[i][-1])),
            )
        )
        rollouts.append(Rollout(seed + i, MappingProxyType(traj), np.asarray(rewards[i]), end[0], end[1]))
    return results, rollouts


def write_evaluation(path: Path, evaluation: Evaluation) -> None:
    """Write ``eval.json`` atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(evaluation.to_json(), indent=1))
    os.replace(tmp, path)
