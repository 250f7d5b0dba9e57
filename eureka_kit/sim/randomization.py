"""Domain-randomization configs: per physics parameter, a range and a distribution, checked against the task.

A config is JSON or TOML text (written by a user, later by an LLM) mapping parameter names to what each env
draws at every reset. Each entry is one of::

    mass = [0.8, 1.2]                                        # uniform over the range
    friction = { range = [0.5, 1.5], distribution = "log_uniform" }
    gravity = -9.0                                           # a fixed value (also { value = -9.0 })

or in JSON ``{"mass": [0.8, 1.2], "friction": {"range": [0.5, 1.5], "distribution": "log_uniform"}}``.
Parameters a config does not name keep their nominal values; an empty config is the nominal physics.

:func:`parse_randomization` checks the text against the task's declared parameters
(:attr:`TaskPhysics.params <eureka_kit.sim.physics.TaskPhysics.params>`) and reports every problem at once in a
:class:`RandomizationConfigError` (a :class:`~eureka_kit.errors.UsageError`: the CLI shows it as the user's
error): an unknown parameter (with the closest name), a value that is not a number, a range that is reversed
or outside the parameter's hard limits, an unknown distribution, a log-uniform range that is not positive.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from eureka_kit.errors import UsageError
from eureka_kit.registry import did_you_mean
from eureka_kit.sim.params import PhysicsParam

Distribution = Literal["uniform", "log_uniform"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("uniform", "log_uniform")
"""``uniform`` over ``[low, high]``; ``log_uniform``: its logarithm uniform (ranges of positive scales)."""

_ENTRY_KEYS = ("range", "distribution", "value")

_STREAM = 0x0D0E
"""Spawn key of the randomization streams, apart from the reset-noise streams (``env_generator``)."""


class RandomizationConfigError(UsageError):
    """A randomization config is not valid for its task; :attr:`problems` lists every problem found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid randomization config: " + "; ".join(self.problems))


@dataclass(frozen=True)
class ParamRange:
    """What every env draws for one parameter at each reset: a value in ``[low, high]`` (checked)."""

    param: PhysicsParam
    low: float
    high: float
    distribution: Distribution = "uniform"

    def draw(self, rng: np.random.Generator) -> float:
        """One value from ``rng`` (a fixed value, ``low == high``, draws nothing)."""
        if self.low == self.high:
            return self.low
        if self.distribution == "log_uniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def to_json(self) -> Any:
        """The entry in the config format (a number for a fixed value)."""
        if self.low == self.high:
            return self.low
        if self.distribution == "uniform":
            return [self.low, self.high]
        return {"range": [self.low, self.high], "distribution": self.distribution}


@dataclass(frozen=True)
class RandomizationConfig:
    """A checked randomization config (:func:`parse_randomization`): one range per randomized parameter."""

    ranges: tuple[ParamRange, ...] = ()

    @property
    def params(self) -> tuple[PhysicsParam, ...]:
        """The parameters it randomizes."""
        return tuple(r.param for r in self.ranges)

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        """One env's values, parameter by parameter in the config's order."""
        return {r.param.name: r.draw(rng) for r in self.ranges}

    def to_json(self) -> dict[str, Any]:
        """The config as a JSON object of the config format (:func:`parse_randomization` reads it back)."""
        return {r.param.name: r.to_json() for r in self.ranges}

    @classmethod
    def fixed(cls, params: Sequence[PhysicsParam], values: Mapping[str, float]) -> RandomizationConfig:
        """Every env at the same ``values`` (checked against ``params`` like a parsed config)."""
        return parse_mapping(dict(values), params)


def physics_generator(seed: int, index: int) -> np.random.Generator:
    """The generator env ``index`` of a batch reset with ``seed`` draws its physics from (its own stream)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index, _STREAM))))


def parse_randomization(
    text: str, params: Sequence[PhysicsParam], fmt: Literal["json", "toml"] | None = None
) -> RandomizationConfig:
    """Read a config (see the module docstring) from ``text`` and check it against ``params``.

    ``fmt`` ``None``: JSON when the text starts with ``{``, else TOML.
    """
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "toml"
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise RandomizationConfigError([f"not valid {fmt.upper()}: {e}"]) from None
    if not isinstance(data, dict):
        raise RandomizationConfigError([f"the config must be a {fmt.upper()} object (table) of parameters"])
    return parse_mapping(data, params)


def parse_mapping(data: Mapping[str, Any], params: Sequence[PhysicsParam]) -> RandomizationConfig:
    """Check an already parsed config (parameter name -> entry) against ``params``."""
    by_name = {p.name: p for p in params}
    problems: list[str] = []
    ranges: list[ParamRange] = []
    for name, entry in data.items():
        param = by_name.get(name)
        if param is None:
            valid = ", ".join(by_name) or "(none)"
            problems.append(f"unknown parameter {name!r}.{did_you_mean(name, list(by_name))} Valid: {valid}")
            continue
        found = _entry(param, entry, problems)
        if found is not None:
            ranges.append(found)
    if problems:
        raise RandomizationConfigError(problems)
    order = list(by_name)
    return RandomizationConfig(tuple(sorted(ranges, key=lambda r: order.index(r.param.name))))


def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _entry(param: PhysicsParam, entry: Any, problems: list[str]) -> ParamRange | None:
    """One entry checked; its problems appended (prefixed with the parameter's name)."""
    name = param.name
    distribution: Any = "uniform"
    if isinstance(entry, dict):
        other = [k for k in entry if k not in _ENTRY_KEYS]
        for key in other:
            hint = did_you_mean(str(key), list(_ENTRY_KEYS))
            problems.append(f"{name}: unknown key {key!r}.{hint} Valid: {', '.join(_ENTRY_KEYS)}")
        if "value" in entry and "range" in entry:
            problems.append(f"{name}: give either 'range' or 'value', not both")
            return None
        distribution = entry.get("distribution", "uniform")
        if distribution not in DISTRIBUTIONS:
            hint = did_you_mean(str(distribution), list(DISTRIBUTIONS))
            problems.append(f"{name}: unknown distribution {distribution!r}.{hint} Valid: {', '.join(DISTRIBUTIONS)}")
            return None
        if "value" in entry:
            entry = entry["value"]
        elif "range" in entry:
            entry = entry["range"]
        else:
            problems.append(f"{name}: give a 'range' [low, high] or a 'value'")
            return None
        if other:
            return None
    if isinstance(entry, list):
        if len(entry) != 2:
            problems.append(f"{name}: a range is [low, high], got {len(entry)} values")
            return None
        low, high = _number(entry[0]), _number(entry[1])
        bad = [repr(x) for x, v in zip(entry, (low, high), strict=True) if v is None]
        if bad:
            problems.append(f"{name}: {', '.join(bad)} is not a number (range {entry!r})")
            return None
    else:
        low = high = _number(entry)
        if low is None:
            problems.append(f"{name}: {entry!r} is not a number, a [low, high] range or a table with a 'range'")
            return None
    assert low is not None and high is not None
    if low > high:
        problems.append(f"{name}: reversed range [{low:g}, {high:g}] (low must not exceed high)")
        return None
    if low < param.low or high > param.high:
        shown = f"[{low:g}, {high:g}]" if low != high else f"{low:g}"
        problems.append(f"{name}: {shown} is outside its limits [{param.low:g}, {param.high:g}] ({param.description})")
        return None
    if distribution == "log_uniform" and low <= 0:
        problems.append(f"{name}: a log_uniform range must be positive, got [{low:g}, {high:g}]")
        return None
    return ParamRange(param, low, high, distribution)
