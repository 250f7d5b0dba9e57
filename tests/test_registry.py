"""The one generic registry behind tasks, kinds, backends, algorithms, executors and benchmark suites."""

from __future__ import annotations

import pytest

from eureka_kit.executors import EXECUTORS, make_executor
from eureka_kit.registry import Registry
from eureka_kit.tasks.kinds import UnknownKindError, get_kind
from eureka_kit.tasks.registry import UnknownTaskError, get_task
from eureka_kit.training.algorithms import get_algorithm
from eureka_kit.training.backends import get_backend
from eureka_kit.training.job import ConfigError


class _Missing(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def test_register_once_get_and_explain_unknown_names() -> None:
    colours: Registry[int] = Registry("colour", error=_Missing, more=", or none")
    assert colours.register("red", 1) == 1
    assert colours.register("red", 1) == 1  # the same entry again is fine
    colours.register("green", 2)
    with pytest.raises(ValueError, match="colour 'red' is already registered"):
        colours.register("red", 3)
    assert colours.get("green") == 2 and "red" in colours and len(colours) == 2
    assert colours.names() == ["green", "red"] and colours.values() == [2, 1] and list(colours) == ["green", "red"]
    with pytest.raises(_Missing, match=r"unknown colour 'gren'\. Did you mean 'green'\? Valid: green, red, or none"):
        colours.get("gren")


def test_every_registry_of_the_package_speaks_the_same_way() -> None:
    with pytest.raises(UnknownKindError, match="Did you mean 'mujoco'"):
        get_kind("mujocoo")
    with pytest.raises(ConfigError, match=r"unknown training backend 'sb4'\. Did you mean 'sb3'\?.*, or auto"):
        get_backend("sb4")
    with pytest.raises(ConfigError, match="unknown algorithm 'PP0'"):
        get_algorithm("PP0")
    with pytest.raises(ValueError, match=r"unknown executor 'rey'\. Did you mean 'ray'\?"):
        make_executor("rey", 1)
    with pytest.raises(UnknownTaskError, match="Did you mean 'Hopper-Hop-v1'"):
        get_task("Hopper-Hop-v2")
    assert EXECUTORS == ("local", "ray")
