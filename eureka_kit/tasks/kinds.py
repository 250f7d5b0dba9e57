"""Environment kinds: what the trainer, the trusted evaluator, the video recorder and the analyzer need from a task.

A task names its kind (:attr:`~eureka_kit.tasks.spec.TaskSpec.kind`); a new
family of environments (a grid world, a survival game) is one new
:class:`EnvKind` and one :func:`register_kind` call, not edits across the
stages. The task-specific pieces live in the spec itself
(:attr:`~eureka_kit.tasks.spec.TaskSpec.analysis`,
:attr:`~eureka_kit.tasks.spec.TaskSpec.draw_frame`); the kind holds what a whole
family shares:

- ``observations`` / ``actions``: the spaces the policy networks are built for
  (``vector``: a flat float vector, ``box``: bounded continuous actions,
  ``discrete``: one of n actions, the policy a categorical distribution whose
  deterministic action is the argmax of its logits);
- ``policy_family``: the network the backends build and the evaluator rebuilds;
- ``renderer``: how frames are made (``mujoco``: an offscreen OpenGL context,
  set up once; ``env``: the env's own ``render()``);
- ``batched_physics``: whether the batched engines (:mod:`eureka_kit.sim`) can
  simulate it (they also need a batched definition of the task).

::

    kind = get_kind(spec.kind)     # an unknown name lists the valid ones
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from eureka_kit.errors import UserError
from eureka_kit.registry import Registry

ObservationKind = Literal["vector"]
ActionKind = Literal["box", "discrete"]
PolicyFamily = Literal["mlp"]
Renderer = Literal["mujoco", "env"]


@dataclass(frozen=True)
class EnvKind:
    """One family of environments (see the module docstring)."""

    name: str
    description: str
    observations: ObservationKind
    actions: ActionKind
    policy_family: PolicyFamily
    renderer: Renderer
    batched_physics: bool


class UnknownKindError(UserError, KeyError):
    """A task names an environment kind that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


KINDS: Registry[EnvKind] = Registry("environment kind", error=UnknownKindError)


def register_kind(kind: EnvKind) -> EnvKind:
    """Add an environment kind; a different kind under a taken name is an error."""
    return KINDS.register(kind.name, kind)


def get_kind(name: str) -> EnvKind:
    """The registered kind ``name``; :class:`UnknownKindError` listing the valid ones otherwise."""
    return KINDS.get(name)


MUJOCO = register_kind(
    EnvKind(
        name="mujoco",
        description="continuous control on MuJoCo through gymnasium (vector observations, bounded actions)",
        observations="vector",
        actions="box",
        policy_family="mlp",
        renderer="mujoco",
        batched_physics=True,
    )
)
CLASSIC = register_kind(
    EnvKind(
        name="classic",
        description="gymnasium classic control (vector observations, bounded actions, drawn by the env)",
        observations="vector",
        actions="box",
        policy_family="mlp",
        renderer="env",
        batched_physics=False,
    )
)
GRID = register_kind(
    EnvKind(
        name="grid",
        description="grid-world puzzles (MiniGrid): symbolic vector observations, discrete actions, drawn by the env",
        observations="vector",
        actions="discrete",
        policy_family="mlp",
        renderer="env",
        batched_physics=False,
    )
)
SURVIVAL = register_kind(
    EnvKind(
        name="survival",
        description="open-world survival game (Crafter): symbolic local-map observations, discrete actions",
        observations="vector",
        actions="discrete",
        policy_family="mlp",
        renderer="env",
        batched_physics=False,
    )
)
