"""The algorithm registry: one entry per RL algorithm, with what each backend needs to build it.

::

    algo = get_algorithm("PPO")          # unknown names list the valid ones
    algo.sb3_class()                     # stable_baselines3.PPO
    hp = algo.clamp(hp, total_steps=2_000, n_envs=4)   # sensible settings for tiny budgets

Adding an algorithm is one :class:`Algorithm` and one :func:`register_algorithm`
call; the SB3 backend, its configuration check and the trusted evaluator's
network builder all read the entry, never a switch on the name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eureka_kit.registry import Registry
from eureka_kit.training.job import ConfigError

Clamp = Callable[[dict[str, Any], int, int], dict[str, Any]]
"""``clamp(hyperparams, total_steps, n_envs) -> hyperparams`` kept sensible when the budget is tiny."""


def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Algorithm:
    """One RL algorithm: its SB3 classes (as import paths, loaded on use) and its tiny-budget clamp."""

    name: str
    sb3_algorithm: str
    """Import path of the SB3 algorithm class, e.g. ``stable_baselines3.PPO``."""
    sb3_policy: str
    """Import path of the SB3 policy class the algorithm builds for ``"MlpPolicy"`` (the evaluator builds the same)."""
    clamp: Clamp
    on_policy: bool
    description: str

    def sb3_class(self) -> type[Any]:
        return _import(self.sb3_algorithm)

    def sb3_policy_class(self) -> type[Any]:
        return _import(self.sb3_policy)


def _clamp_on_policy(hp: dict[str, Any], total_steps: int, n_envs: int) -> dict[str, Any]:
    n_steps = int(hp.get("n_steps", 2048))
    n_steps = max(2, min(n_steps, total_steps // n_envs))
    hp["n_steps"] = n_steps
    hp["batch_size"] = max(2, min(int(hp.get("batch_size", 64)), n_steps * n_envs))
    return hp


def _clamp_off_policy(hp: dict[str, Any], total_steps: int, n_envs: int) -> dict[str, Any]:
    hp["learning_starts"] = min(int(hp.get("learning_starts", 100)), total_steps // 2)
    hp["buffer_size"] = max(1000, min(int(hp.get("buffer_size", 1_000_000)), total_steps))
    hp["batch_size"] = max(2, int(hp.get("batch_size", 256)))
    return hp


ALGORITHMS: Registry[Algorithm] = Registry("algorithm", error=ConfigError)


def register_algorithm(algo: Algorithm) -> Algorithm:
    """Add an algorithm; registering a different one under a taken name is an error."""
    return ALGORITHMS.register(algo.name, algo)


def get_algorithm(name: str) -> Algorithm:
    """The registered algorithm ``name``; :class:`ConfigError` naming the valid ones otherwise."""
    return ALGORITHMS.get(name)


register_algorithm(
    Algorithm(
        name="PPO",
        sb3_algorithm="stable_baselines3.PPO",
        sb3_policy="stable_baselines3.common.policies.ActorCriticPolicy",
        clamp=_clamp_on_policy,
        on_policy=True,
        description="proximal policy optimization (on-policy; every backend)",
    )
)
register_algorithm(
    Algorithm(
        name="SAC",
        sb3_algorithm="stable_baselines3.SAC",
        sb3_policy="stable_baselines3.sac.policies.SACPolicy",
        clamp=_clamp_off_policy,
        on_policy=False,
        description="soft actor-critic (off-policy; the sb3 backend)",
    )
)
