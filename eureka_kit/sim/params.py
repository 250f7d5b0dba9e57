"""Randomizable physics parameters of a MuJoCo model: what domain randomization may change, and within what limits.

A :class:`PhysicsParam` names one physical quantity (``mass``, ``friction``, ``actuator_strength``,
``joint_damping``, ``gravity``), the MuJoCo model field(s) it acts on and how (:class:`FieldTarget`: a ``scale``
multiplies the model's own values, a ``set`` writes the value), its nominal value (the model as compiled), the
hard limits any randomization or robustness sweep must stay within, its unit and a description (shown to the
user, and later to the LLM that writes randomization configs).

Each shipped MuJoCo task declares its parameters with its physics (``TaskPhysics.params``, part of the task's
one registration); a task that declares none gets :func:`generic_params` of its model, which any MuJoCo model
has. The functions here only read and write model arrays (numpy); the engines apply values with them
(:mod:`eureka_kit.sim.cpu` through ``mujoco.batch``'s per-simulation fields) and :func:`apply_to_model` edits a
single ``MjModel`` the same way.

::

    LEGGED = legged_params()                                   # mass, friction, actuator_strength, ...
    HOPPER = TaskPhysics(..., params=LEGGED)
    generic_params(mujoco.MjModel.from_xml_path("robot.xml"))  # any model
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Operation = Literal["scale", "set"]
"""``scale``: the field's nominal values times the parameter's value; ``set``: the field takes the value."""

EARTH_GRAVITY = -9.81
"""m/s², the z component of MuJoCo's default gravity (the shipped models keep it)."""


@dataclass(frozen=True)
class FieldTarget:
    """One MuJoCo model field a parameter acts on: all its rows, one column of it or all columns.

    ``field`` is named as ``mujoco.batch.Batch.expand`` names it: an ``MjModel`` array (``body_mass``,
    ``geom_friction``) or an option as ``opt.<name>`` (``opt.gravity``).
    """

    field: str
    column: int | None = None
    """The column of a 2-D field (``geom_friction``'s 0 is sliding friction), or of a vector option
    (``opt.gravity``'s 2 is z); ``None``: every element."""

    def view(self, array: np.ndarray) -> np.ndarray:
        """The elements this target covers, as a view of ``array`` (one model's field, without a batch axis)."""
        if self.column is None:
            return array
        return array[..., self.column]


@dataclass(frozen=True)
class PhysicsParam:
    """One randomizable physical quantity of a model (see the module docstring)."""

    name: str
    """The name configs and reports use (``mass``); unique within a task."""
    targets: tuple[FieldTarget, ...]
    """The model fields it acts on, all with the same operation."""
    operation: Operation
    nominal: float
    """The value that leaves the model as compiled: 1.0 for a ``scale``, the model's own value for a ``set``."""
    low: float
    """Hard lower limit: no randomization config or robustness sweep goes below it."""
    high: float
    """Hard upper limit."""
    unit: str
    """``x`` for a scale factor, else the physical unit (``m/s²``)."""
    description: str

    def __post_init__(self) -> None:
        if not self.low <= self.nominal <= self.high:
            raise ValueError(f"{self.name}: nominal {self.nominal} outside its limits [{self.low}, {self.high}]")
        if not self.targets:
            raise ValueError(f"{self.name}: no model field to act on")

    @property
    def fields(self) -> tuple[str, ...]:
        """The model fields it writes."""
        return tuple(t.field for t in self.targets)

    def write(self, field: str, out: np.ndarray, value: float) -> None:
        """Apply this parameter at ``value`` to ``out``, one model's ``field`` holding its nominal values.

        A ``scale`` multiplies what ``out`` holds, so parameters that scale the same elements compose; a
        ``set`` overwrites. Reset ``out`` to the nominal values before applying a new set of values.
        """
        for target in self.targets:
            if target.field != field:
                continue
            view = target.view(out)
            if self.operation == "scale":
                view *= value
            else:
                view[...] = value

    def summary(self) -> str:
        """``mass: body mass scale, x, nominal 1, limits [0.3, 3]`` (one line, for messages and prompts)."""
        limits = f"limits [{self.low:g}, {self.high:g}]"
        return f"{self.name}: {self.description}, {self.unit}, nominal {self.nominal:g}, {limits}"


# ---------------------------------------------------------------------------------------------- the standard set


def mass(low: float = 0.3, high: float = 3.0) -> PhysicsParam:
    """Every body's mass and rotational inertia times one factor (a uniformly denser or lighter robot)."""
    targets = (FieldTarget("body_mass"), FieldTarget("body_inertia"))
    return PhysicsParam("mass", targets, "scale", 1.0, low, high, "x", "scale of every body's mass and inertia")


def friction(low: float = 0.1, high: float = 3.0) -> PhysicsParam:
    """Every geom's sliding friction times one factor (so every contact's, MuJoCo taking the larger of two geoms')."""
    targets = (FieldTarget("geom_friction", 0),)
    return PhysicsParam("friction", targets, "scale", 1.0, low, high, "x", "scale of every geom's sliding friction")


def actuator_strength(low: float = 0.5, high: float = 1.5) -> PhysicsParam:
    """Every actuator's gear times one factor: a motor's force (torque) per unit of control.

    For direct motors (every shipped task) this scales the actuator force exactly; for position or velocity
    servos it also scales the gain of the feedback, as a stronger transmission would.
    """
    targets = (FieldTarget("actuator_gear", 0),)
    desc = "scale of every actuator's gear (force per unit of control)"
    return PhysicsParam("actuator_strength", targets, "scale", 1.0, low, high, "x", desc)


def joint_damping(low: float = 0.2, high: float = 5.0) -> PhysicsParam:
    """Every degree of freedom's passive damping times one factor (stiffer or looser joints)."""
    targets = (FieldTarget("dof_damping"),)
    return PhysicsParam("joint_damping", targets, "scale", 1.0, low, high, "x", "scale of every joint's damping")


def gravity(nominal: float = EARTH_GRAVITY, low: float | None = None, high: float | None = None) -> PhysicsParam:
    """The z component of gravity (negative: down), set; limits by default half and one and a half times nominal."""
    ends = sorted((nominal * 0.5, nominal * 1.5))
    return PhysicsParam(
        "gravity",
        (FieldTarget("opt.gravity", 2),),
        "set",
        nominal,
        ends[0] if low is None else low,
        ends[1] if high is None else high,
        "m/s²",
        "vertical component of gravity (negative points down)",
    )


def legged_params() -> tuple[PhysicsParam, ...]:
    """The parameters of a legged robot on flat ground under Earth gravity (the shipped locomotion tasks)."""
    return (mass(), friction(), actuator_strength(), joint_damping(), gravity())


def generic_params(model: Any) -> tuple[PhysicsParam, ...]:
    """The parameters any MuJoCo model has, with the standard limits, for a task that declares none.

    Only what the model can feel: ``joint_damping`` where some joint is damped, ``actuator_strength`` where it
    has actuators, ``friction`` where it has geoms, ``gravity`` (around the model's own) where it is not zero.
    """
    out = [mass()]
    if model.ngeom:
        out.append(friction())
    if model.nu:
        out.append(actuator_strength())
    if np.any(np.asarray(model.dof_damping) != 0):
        out.append(joint_damping())
    gz = float(model.opt.gravity[2])
    if gz != 0.0:
        out.append(gravity(gz))
    return tuple(out)


def check_unique(params: Sequence[PhysicsParam]) -> tuple[PhysicsParam, ...]:
    """``params`` as a tuple; a ``ValueError`` when two share a name."""
    names = [p.name for p in params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"physics parameters declared twice: {', '.join(twice)}")
    return tuple(params)


# ---------------------------------------------------------------------------------------------- model arrays


def model_field(model: Any, field: str) -> np.ndarray:
    """A live array of one ``MjModel``'s ``field`` (``body_mass``, ``opt.gravity``)."""
    if field.startswith("opt."):
        return np.asarray(getattr(model.opt, field[4:]))
    return np.asarray(getattr(model, field))


def fields_of(params: Iterable[PhysicsParam]) -> tuple[str, ...]:
    """The model fields the parameters write, each once, in order."""
    return tuple(dict.fromkeys(f for p in params for f in p.fields))


def needs_set_const(fields: Iterable[str]) -> bool:
    """Whether writing ``fields`` calls for ``mj_setConst`` (constants derived from them, e.g. subtree masses)."""
    import mujoco

    inputs = set(mujoco.MjModel._setconst_inputs)
    return any(f in inputs or f.startswith("opt.") for f in fields)


def apply_to_model(model: Any, params: Sequence[PhysicsParam], values: Mapping[str, float]) -> None:
    """Edit one ``MjModel`` holding its nominal values in place: each parameter named in ``values`` at its value,
    then ``mj_setConst`` where needed. ``values`` may name only some of ``params``."""
    import mujoco

    chosen = [p for p in params if p.name in values]
    unknown = sorted(set(values) - {p.name for p in params})
    if unknown:
        raise KeyError(f"no such physics parameter: {', '.join(unknown)}")
    fields = fields_of(chosen)
    for p in chosen:
        for f in p.fields:
            p.write(f, model_field(model, f), float(values[p.name]))
    if needs_set_const(fields):
        mujoco.mj_setConst(model, mujoco.MjData(model))
