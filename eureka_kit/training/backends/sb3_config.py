"""SB3 training configuration resolved from a task's defaults, and the SB3 policy network built from plain data.

Both sides of the sandbox use this module: the training child builds the SB3
algorithm from :func:`resolve_config`, and the trusted evaluator builds the
*same* policy network with :func:`build_policy` (from the task's defaults and
the job's overrides, never from anything the child wrote) before loading
weights into it. Hyperparameters are data: activation functions are named
(``"relu"``, ``"tanh"``), never evaluated from strings.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from torch import nn

from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.algorithms import get_algorithm
from eureka_kit.training.job import ConfigError

__all__ = ["ConfigError", "TrainConfig", "algo_class", "build_policy", "resolve_config", "sb3_policy_kwargs"]

ACTIVATIONS: Mapping[str, type[nn.Module]] = MappingProxyType(
    {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "elu": nn.ELU,
        "leaky_relu": nn.LeakyReLU,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "sigmoid": nn.Sigmoid,
    }
)
"""Activation functions a task or job may name in ``policy_kwargs["activation_fn"]``."""

_FORBIDDEN_HYPERPARAMS = frozenset(
    {"policy", "env", "device", "seed", "verbose", "tensorboard_log", "_init_setup_model", "policy_kwargs"}
)
_POLICY_KWARGS = frozenset(
    {
        "net_arch",
        "activation_fn",
        "ortho_init",
        "log_std_init",
        "full_std",
        "use_expln",
        "squash_output",
        "share_features_extractor",
        "normalize_images",
        "clip_mean",
        "n_critics",
    }
)


def _thaw(x: Any) -> Any:
    """Mapping proxies and tuples (frozen task data) -> plain dicts and lists, recursively."""
    if isinstance(x, Mapping):
        return {str(k): _thaw(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_thaw(v) for v in x]
    return x


def algo_class(algo: str) -> type[Any]:
    """The SB3 algorithm class of a registered algorithm (``"PPO"``, ``"SAC"``)."""
    return get_algorithm(algo).sb3_class()


def _valid_hyperparams(algo: str) -> list[str]:
    params = inspect.signature(algo_class(algo).__init__).parameters
    return sorted(p for p in params if p not in _FORBIDDEN_HYPERPARAMS and p != "self")


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to build the learner: resolved from task defaults plus a job's overrides.

    ``hyperparams`` are SB3 constructor keywords (already clamped for tiny
    budgets); ``policy_kwargs`` stay plain data (see :func:`sb3_policy_kwargs`).
    """

    algo: Literal["PPO", "SAC"]
    total_steps: int
    n_envs: int
    normalize_obs: bool
    hyperparams: Mapping[str, Any] = field(default_factory=dict)
    policy_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def use_sde(self) -> bool:
        return bool(self.hyperparams.get("use_sde", False))


def resolve_config(
    spec: TaskSpec,
    total_steps: int | None = None,
    n_envs: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """The task's training defaults with a job's overrides applied and validated.

    ``overrides`` may hold any keyword of the algorithm's constructor and a
    ``policy_kwargs`` mapping merged over the task's; an unknown key raises
    :class:`ConfigError` listing the valid ones.
    """
    d = spec.train
    steps = int(total_steps if total_steps is not None else d.total_steps)
    envs = int(n_envs if n_envs is not None else d.n_envs)
    if steps < 1 or envs < 1:
        raise ConfigError(f"total_steps and n_envs must be >= 1, got {steps} and {envs}")
    hp = _thaw(d.hyperparams)
    pk = _thaw(d.policy_kwargs)
    valid = _valid_hyperparams(d.algo)
    for key, value in (overrides or {}).items():
        if key == "policy_kwargs":
            if not isinstance(value, Mapping):
                raise ConfigError("override 'policy_kwargs' must be a mapping")
            pk.update(_thaw(value))
        elif key in valid:
            hp[key] = _thaw(value)
        else:
            raise ConfigError(f"unknown hyperparameter {key!r} for {d.algo}; valid: {', '.join(valid)}")
    unknown_pk = sorted(set(pk) - _POLICY_KWARGS)
    if unknown_pk:
        raise ConfigError(f"unknown policy_kwargs {unknown_pk}; valid: {', '.join(sorted(_POLICY_KWARGS))}")
    sb3_policy_kwargs(pk)  # validate early
    return TrainConfig(
        algo=d.algo,
        total_steps=steps,
        n_envs=envs,
        normalize_obs=d.normalize_obs,
        hyperparams=get_algorithm(d.algo).clamp(hp, steps, envs),
        policy_kwargs=pk,
    )


def sb3_policy_kwargs(policy_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Plain-data policy kwargs -> SB3's: activation names become ``nn.Module`` classes, net_arch plain lists."""
    out = _thaw(policy_kwargs)
    act = out.get("activation_fn")
    if act is not None:
        if not isinstance(act, str) or act.lower() not in ACTIVATIONS:
            raise ConfigError(f"unknown activation_fn {act!r}; valid: {', '.join(ACTIVATIONS)}")
        out["activation_fn"] = ACTIVATIONS[act.lower()]
    arch = out.get("net_arch")
    if arch is not None:
        ok_list = isinstance(arch, list) and all(isinstance(n, int) and 0 < n <= 4096 for n in arch)
        ok_dict = isinstance(arch, dict) and all(
            isinstance(v, list) and all(isinstance(n, int) and 0 < n <= 4096 for n in v) for v in arch.values()
        )
        if not (ok_list or ok_dict):
            raise ConfigError(f"net_arch must be a list of layer sizes or a dict of such lists, got {arch!r}")
    return out


def build_policy(config: TrainConfig, observation_space: Any, action_space: Any) -> Any:
    """A fresh SB3 policy network, constructed exactly as the algorithm constructs it (untrained, CPU)."""
    policy_cls = get_algorithm(config.algo).sb3_policy_class()
    policy = policy_cls(
        observation_space,
        action_space,
        lambda _: 0.0,
        use_sde=config.use_sde,
        **sb3_policy_kwargs(config.policy_kwargs),
    )
    policy.set_training_mode(False)
    return policy
