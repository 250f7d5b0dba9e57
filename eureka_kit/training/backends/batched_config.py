"""Configuration of the batched backends (``cpu``, ``gpu``): per-task defaults, a job's overrides, the actor network.

Both sides of the sandbox use this module: the training child resolves the
PPO settings with :func:`resolve_batched_config`, and the trusted evaluator
builds the *same* actor network with :func:`build_actor` from the task's
defaults and the job's overrides (never from anything the child wrote) before
loading plain tensors into it.

The defaults (each task's ``batched`` row, set where the task registers in ``envs/``;
:data:`FALLBACK` for a task without one) are chosen for wall-clock time to a good policy with one physics
thread per candidate, not copied from step-based tables: many envs and short rollouts keep the physics batch
large and the policy calls few, so most of the time goes to simulation. ``bench/tune_batched.py`` measures a
row against changed settings; the measurements behind each row are in docs/benchmarks.md ("PPO defaults for
the batched engine").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from types import MappingProxyType
from typing import Any

from eureka_kit.tasks.engine import BatchedConfig
from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.job import ConfigError

OBS_GROUP = "policy"
"""The one observation group of the batched env as rsl-rl sees it (actor and critic read it)."""

ACTIVATIONS = ("elu", "selu", "relu", "crelu", "lrelu", "tanh", "sigmoid", "softplus", "gelu", "swish", "mish")
"""Activation names rsl-rl's MLP accepts."""


FALLBACK = BatchedConfig(total_steps=1_000_000, num_envs=64)
"""Defaults of a task whose registration sets no ``batched`` row."""

GPU_NUM_ENVS = 4096
"""Worlds per candidate on the ``gpu`` backend when the job does not set ``n_envs`` (the network stays the task's)."""

_BOUNDS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "num_steps_per_env": (1, 100_000),
        "num_learning_epochs": (1, 1000),
        "num_mini_batches": (1, 100_000),
        "learning_rate": (1e-8, 1.0),
        "desired_kl": (1e-6, 10.0),
        "gamma": (0.0, 1.0),
        "lam": (0.0, 1.0),
        "clip_param": (1e-4, 10.0),
        "entropy_coef": (0.0, 10.0),
        "value_loss_coef": (0.0, 100.0),
        "max_grad_norm": (1e-6, 1e6),
        "init_std": (1e-6, 100.0),
        "clip_obs": (1e-3, 1e6),
        "sim_threads": (1, 256),
    }
)
_NOT_OVERRIDABLE = frozenset({"total_steps", "num_envs"})  # the job's total_steps / n_envs set these


def valid_overrides() -> list[str]:
    """Keys a job's ``hyperparams`` may set for the batched backends."""
    return sorted(f.name for f in fields(BatchedConfig) if f.name not in _NOT_OVERRIDABLE)


def task_defaults(spec: TaskSpec) -> BatchedConfig:
    """The task's own row (``TaskSpec.batched``, set where it registers), or :data:`FALLBACK`."""
    return spec.batched if spec.batched is not None else FALLBACK


def _dims(key: str, value: Any) -> tuple[int, ...]:
    if (
        not isinstance(value, (list, tuple))
        or not 1 <= len(value) <= 8
        or not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 4096 for n in value)
    ):
        raise ConfigError(f"{key} must be a list of 1 to 8 layer sizes in [1, 4096], got {value!r}")
    return tuple(value)


def _checked(key: str, value: Any, default: Any) -> Any:
    """One override, type- and range-checked against the default's type."""
    if key in ("actor_hidden_dims", "critic_hidden_dims"):
        return _dims(key, value)
    if key == "activation":
        if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {value!r}; valid: {', '.join(ACTIVATIONS)}")
        return value.lower()
    if key == "schedule":
        if value not in ("adaptive", "fixed"):
            raise ConfigError(f"schedule must be 'adaptive' or 'fixed', got {value!r}")
        return value
    if key == "std_type":
        if value not in ("scalar", "log"):
            raise ConfigError(f"std_type must be 'scalar' or 'log', got {value!r}")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    lo, hi = _BOUNDS[key]
    if not lo <= value <= hi:
        raise ConfigError(f"{key} must be in [{lo}, {hi}], got {value!r}")
    return type(default)(value)


def resolve_batched_config(
    spec: TaskSpec,
    total_steps: int | None = None,
    num_envs: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> BatchedConfig:
    """The task's defaults with the job's budget, env count and ``hyperparams`` overrides applied and validated.

    An unknown key raises :class:`ConfigError` listing the valid ones (SB3's
    keywords, e.g. ``n_steps``, are not valid here: the batched backends run
    rsl-rl's PPO). Mini-batches are reduced so that each holds at least one
    transition.
    """
    base = task_defaults(spec)
    changes: dict[str, Any] = {}
    valid = valid_overrides()
    defaults = {f.name: getattr(base, f.name) for f in fields(BatchedConfig)}
    for key, value in (overrides or {}).items():
        if key not in valid:
            raise ConfigError(
                f"unknown hyperparameter {key!r} for the batched backends (rsl-rl PPO); valid: {', '.join(valid)}"
            )
        changes[key] = _checked(key, value, defaults[key])
    if total_steps is not None:
        changes["total_steps"] = int(total_steps)
    if num_envs is not None:
        changes["num_envs"] = int(num_envs)
    config = replace(base, **changes)
    if config.total_steps < 1 or not 1 <= config.num_envs <= 1_000_000:
        raise ConfigError(
            f"total_steps must be >= 1 and num_envs in [1, 1000000], got {config.total_steps} and {config.num_envs}"
        )
    if config.num_mini_batches > config.batch_size:
        config = replace(config, num_mini_batches=config.batch_size)
    return config


def build_models(
    config: BatchedConfig, obs_size: int, action_size: int, device: str = "cpu", n_actions: int | None = None
) -> tuple[Any, Any]:
    """Fresh rsl-rl actor and critic MLPs for observations of ``obs_size`` (already normalized).

    The actor has a Gaussian head over ``action_size`` continuous actions, or,
    with ``n_actions`` (discrete actions, ``action_size`` 1), a categorical head
    (:class:`~eureka_kit.training.backends.categorical.CategoricalDistribution`)
    whose output is one action id per env.
    """
    import torch
    from rsl_rl.models import MLPModel
    from tensordict import TensorDict

    obs = TensorDict({OBS_GROUP: torch.zeros(1, obs_size)}, batch_size=[1])
    groups = {"actor": [OBS_GROUP], "critic": [OBS_GROUP]}
    distribution: dict[str, Any] = {
        "class_name": "GaussianDistribution",
        "init_std": config.init_std,
        "std_type": config.std_type,
    }
    if n_actions is not None:
        from eureka_kit.training.backends.categorical import CategoricalDistribution

        distribution = {"class_name": CategoricalDistribution, "n_actions": n_actions}
    actor = MLPModel(
        obs,
        groups,
        "actor",
        action_size,
        hidden_dims=list(config.actor_hidden_dims),
        activation=config.activation,
        obs_normalization=False,  # normalized outside, with SB3's formula (obs_norm.safetensors)
        distribution_cfg=distribution,
    ).to(device)
    critic = MLPModel(
        obs,
        groups,
        "critic",
        1,
        hidden_dims=list(config.critic_hidden_dims),
        activation=config.activation,
        obs_normalization=False,
    ).to(device)
    return actor, critic


def build_actor(config: BatchedConfig, obs_size: int, action_size: int, n_actions: int | None = None) -> Any:
    """The actor network alone (CPU, eval mode): what the trusted side loads the weights into."""
    actor, _ = build_models(config, obs_size, action_size, n_actions=n_actions)
    actor.eval()
    return actor
