"""A task's batched engine and the defaults of the batched backends: what its one registration says about them.

A task registers once (:func:`eureka_kit.tasks.registry.register`), and its :class:`~eureka_kit.tasks.spec.TaskSpec`
carries everything the stages ask of it: its spec, its environment kind, its batched engine
(:attr:`TaskSpec.engine <eureka_kit.tasks.spec.TaskSpec.engine>`: MuJoCo physics, the grid engine, the Crafter
engine, a task pack's own, or none) and the PPO defaults of the batched backends
(:attr:`TaskSpec.batched <eureka_kit.tasks.spec.TaskSpec.batched>`). Which engine runs a task is asked of the
task here, in one place (:meth:`BatchedEngine.unavailable`), by the training backends and the trusted evaluator.

::

    register(TaskSpec(..., engine=mujoco_engine(physics.HOPPER), batched=BatchedConfig(total_steps=1_000_000, ...)))
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol


class _Task(Protocol):
    """What the engine reads of a :class:`~eureka_kit.tasks.spec.TaskSpec` (which imports this module)."""

    @property
    def id(self) -> str: ...

    @property
    def env_kwargs(self) -> Mapping[str, Any]: ...


EngineDevice = Literal["cpu", "cuda"]
"""Where an engine simulates: CPU threads or a CUDA device (the ``cpu`` and ``gpu`` training backends)."""

EnvFactory = Callable[[Any, int, str, int, int], Any]
"""``make_env(spec, num_envs, device, seed, threads)`` (``spec`` a ``TaskSpec``) -> a ``BatchedEnv``."""


@dataclass(frozen=True)
class BatchedEngine:
    """The batched engine that runs one task (part of the task's registration).

    ``make_env`` builds N envs of the task (the :class:`~eureka_kit.sim.base.BatchedEnv` contract) on ``device``
    (``cpu``, ``cuda`` or ``cuda:K``, ``warp-cpu``); ``definition`` is the engine's own data for the task (the
    MuJoCo engines' ``TaskPhysics``, a grid world's layout), read by the engine only.
    """

    name: str
    """``mujoco``, ``grid``, ``crafter``, or a task pack's own name (shown in messages)."""
    make_env: EnvFactory
    devices: tuple[EngineDevice, ...] = ("cpu",)
    """Where it can simulate: ``cpu`` (the ``cpu`` backend) and/or ``cuda`` (the ``gpu`` backend)."""
    cpu_requires: tuple[str, ...] = ()
    """Modules the CPU engine imports (e.g. ``mujoco.batch``); a missing one makes the engine unavailable."""
    cuda_requires: tuple[str, ...] = ()
    """Modules the CUDA engine imports (e.g. ``warp``, ``mujoco_warp``)."""
    install_hint: str = ""
    """How to install what a device needs (``pip install 'eureka-kit[gpu]'``), shown when a module is missing."""
    env_kwargs: frozenset[str] = frozenset()
    """The env keyword arguments the engine honours; a task setting any other cannot run on it."""
    definition: Any = None
    batched_eval: bool = False
    """The trusted evaluator may run evaluation episodes on its CPU engine (bit-identical to the gymnasium env)."""

    def unavailable(self, spec: _Task, device: EngineDevice) -> str | None:
        """Why this engine cannot run ``spec`` on ``device``; ``None`` when it can."""
        if device not in self.devices:
            names = {"cpu": "the CPU", "cuda": "the GPU"}
            backends = {"cpu": "cpu", "cuda": "gpu"}
            where = " or ".join(f"{names[d]} {self.name} engine (backend {backends[d]})" for d in self.devices)
            return f"{spec.id} runs on {where}, not on {device}"
        other = sorted(set(spec.env_kwargs) - self.env_kwargs)
        if other:
            return (
                f"task {spec.id} sets env_kwargs {other} that its batched {self.name} engine does not follow "
                "(train it with the sb3 backend)"
            )
        missing = missing_modules(*(self.cpu_requires if device == "cpu" else self.cuda_requires))
        if missing:
            hint = f"; {self.install_hint}" if self.install_hint else ""
            return f"{', '.join(missing)} not installed (the {self.name} engine on {device} needs it{hint})"
        return None


def missing_modules(*modules: str) -> list[str]:
    """The ones of ``modules`` that cannot be imported here (found without importing them)."""

    def importable(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a missing parent package
            return False

    return [m for m in modules if not importable(m)]


@dataclass(frozen=True)
class BatchedConfig:
    """Everything the batched backends need to train one candidate (task defaults plus a job's overrides).

    The PPO fields are the keyword arguments of ``rsl_rl.algorithms.PPO`` of
    the same name; the network fields those of ``rsl_rl.models.MLPModel``.
    """

    total_steps: int
    """Env-steps of the whole training (all envs together)."""
    num_envs: int
    """Envs simulated together for one candidate."""
    num_steps_per_env: int = 32
    """Steps of each env per rollout: a PPO batch is ``num_envs * num_steps_per_env`` transitions."""
    num_learning_epochs: int = 5
    num_mini_batches: int = 4
    learning_rate: float = 1e-3
    schedule: Literal["adaptive", "fixed"] = "adaptive"
    """``adaptive``: rsl-rl adapts the learning rate to keep the KL near ``desired_kl``."""
    desired_kl: float = 0.01
    gamma: float = 0.99
    lam: float = 0.95
    clip_param: float = 0.2
    entropy_coef: float = 0.0
    value_loss_coef: float = 1.0
    max_grad_norm: float = 1.0
    use_clipped_value_loss: bool = True
    actor_hidden_dims: tuple[int, ...] = (64, 64)
    critic_hidden_dims: tuple[int, ...] = (64, 64)
    activation: str = "elu"
    init_std: float = 1.0
    std_type: Literal["scalar", "log"] = "scalar"
    normalize_obs: bool = True
    """Normalize observations with running statistics (saved as ``obs_norm.safetensors``, as SB3's VecNormalize)."""
    clip_obs: float = 10.0
    sim_threads: int = 1
    """Threads of the CPU engine's physics pool (one per core the candidate may use)."""

    @property
    def batch_size(self) -> int:
        """Transitions per PPO update."""
        return self.num_envs * self.num_steps_per_env
