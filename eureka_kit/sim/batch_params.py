"""Per-env physics on the CPU engine: parameter values written into ``mujoco.batch``'s per-simulation model fields.

``mujoco.batch.Batch.expand(field)`` gives a model field one row per simulation (a live ``(nsim, ...)`` array);
:class:`BatchParams` expands the fields its parameters act on, keeps the model's nominal values, and at
:meth:`BatchParams.apply` rewrites each given simulation's rows from nominal with that env's values, then runs
``set_const`` for those simulations where a field feeds ``mj_setConst`` (masses, inertias, gears, options) so
that derived constants (subtree masses, inverse weights) follow, as ``mj_setConst`` on a hand-edited
``MjModel`` would (:func:`~eureka_kit.sim.params.apply_to_model`).

Fields no parameter names stay shared, so an env with no parameters costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eureka_kit.sim.params import PhysicsParam, fields_of, model_field, needs_set_const
from eureka_kit.sim.randomization import RandomizationConfigError


class BatchParams:
    """The current physics parameter values of every simulation of a batch (see the module docstring)."""

    def __init__(self, batch: Any, model: Any, params: Sequence[PhysicsParam]) -> None:
        self.params = tuple(params)
        fields = fields_of(self.params)
        self._batch = batch
        self._nominal = {f: model_field(model, f).copy() for f in fields}
        self._arrays = {f: batch.expand(f) for f in fields}
        self._writers = {f: [p for p in self.params if f in p.fields] for f in fields}
        self._set_const = needs_set_const(fields)
        self._values = {p.name: np.full(batch.nsim, p.nominal, dtype=np.float64) for p in self.params}

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Each parameter's (nsim,) current values (copies)."""
        return {k: v.copy() for k, v in self._values.items()}

    def apply(self, ids: np.ndarray, values: Mapping[str, np.ndarray]) -> None:
        """Set the simulations ``ids`` to ``values`` (parameter name -> (len(ids),) values; parameters not named
        keep their values) and rewrite their model rows from nominal."""
        ids = np.asarray(ids, dtype=np.int64)
        for name, v in values.items():
            self._values[name][ids] = v
        for field, array in self._arrays.items():
            for i in ids:
                row = array[i]
                row[...] = self._nominal[field]
                for p in self._writers[field]:
                    p.write(field, row, float(self._values[p.name][i]))
        if self._set_const and ids.size:
            self._batch.set_const(ids)


def check_fixed(
    params: Sequence[PhysicsParam], values: Mapping[str, Sequence[float]], num_envs: int
) -> dict[str, np.ndarray]:
    """Per-env fixed values (parameter name -> one value per env), checked against the parameters and limits."""
    by_name = {p.name: p for p in params}
    problems: list[str] = []
    out: dict[str, np.ndarray] = {}
    for name, given in values.items():
        param = by_name.get(name)
        if param is None:
            problems.append(f"unknown parameter {name!r}. Valid: {', '.join(by_name)}")
            continue
        v = np.asarray(given, dtype=np.float64).reshape(-1)
        if v.size != num_envs:
            problems.append(f"{name}: {v.size} values for {num_envs} envs")
        elif not np.all(np.isfinite(v)) or v.min() < param.low or v.max() > param.high:
            problems.append(f"{name}: values outside its limits [{param.low:g}, {param.high:g}]")
        else:
            out[name] = v
    if problems:
        raise RandomizationConfigError(problems)
    return out
