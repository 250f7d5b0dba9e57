"""Physics parameters per task and the randomization config format: good configs read, bad ones named clearly."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest

from eureka_kit.errors import UsageError
from eureka_kit.sim.params import (
    EARTH_GRAVITY,
    FieldTarget,
    PhysicsParam,
    generic_params,
    legged_params,
    model_field,
)
from eureka_kit.sim.physics import get_physics
from eureka_kit.sim.randomization import (
    ParamRange,
    RandomizationConfig,
    RandomizationConfigError,
    parse_randomization,
    physics_generator,
)
from eureka_kit.tasks.registry import list_tasks

PARAMS = legged_params()


def _mujoco_tasks() -> list[str]:
    return [t.id for t in list_tasks() if t.engine is not None and t.engine.name == "mujoco"]


@pytest.mark.parametrize("task_id", _mujoco_tasks())
def test_every_mujoco_task_declares_parameters_that_fit_its_model(task_id: str) -> None:
    physics = get_physics(task_id)
    assert physics.params is not None, f"{task_id} declares no physics parameters"
    model = physics.model()
    names = [p.name for p in physics.parameters()]
    assert {"mass", "friction", "actuator_strength"} <= set(names)
    for p in physics.parameters():
        assert p.low <= p.nominal <= p.high
        for target in p.targets:
            values = target.view(model_field(model, target.field))
            assert values.size, f"{p.name}: {target.field} is empty"
            if p.operation == "set":  # the nominal value is the model's own
                np.testing.assert_allclose(values, p.nominal)


def test_generic_parameters_follow_the_model() -> None:
    xml = """<mujoco><option gravity="0 0 -3"/><worldbody><body><joint name="j" type="hinge" damping="0.5"/>
      <geom size="0.1" mass="1"/></body></worldbody><actuator><motor joint="j"/></actuator></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    params = {p.name: p for p in generic_params(model)}
    assert list(params) == ["mass", "friction", "actuator_strength", "joint_damping", "gravity"]
    assert params["gravity"].nominal == -3.0 and (params["gravity"].low, params["gravity"].high) == (-4.5, -1.5)
    bare_xml = '<mujoco><option gravity="0 0 0"/><worldbody><body><freejoint/><geom size="0.1"/></body></worldbody>'
    bare = mujoco.MjModel.from_xml_string(bare_xml + "</mujoco>")
    assert [p.name for p in generic_params(bare)] == ["mass", "friction"]


def test_a_good_config_in_toml_and_json() -> None:
    toml = """
mass = [0.8, 1.2]
friction = { range = [0.5, 2.0], distribution = "log_uniform" }
gravity = -9.0
actuator_strength = { value = 1.1 }
"""
    config = parse_randomization(toml, PARAMS)
    assert [r.param.name for r in config.ranges] == ["mass", "friction", "actuator_strength", "gravity"]
    by = {r.param.name: r for r in config.ranges}
    assert by["friction"] == ParamRange(by["friction"].param, 0.5, 2.0, "log_uniform")
    assert (by["gravity"].low, by["gravity"].high) == (-9.0, -9.0)
    again = parse_randomization(json.dumps(config.to_json()), PARAMS)
    assert again == config
    assert parse_randomization("{}", PARAMS) == RandomizationConfig()
    values = config.draw(physics_generator(0, 0))
    assert 0.8 <= values["mass"] <= 1.2 and 0.5 <= values["friction"] <= 2.0
    assert values["gravity"] == -9.0 and values["actuator_strength"] == 1.1
    assert config.draw(physics_generator(0, 0)) == values != config.draw(physics_generator(0, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"mas": [0.8, 1.2]}', "unknown parameter 'mas'. Did you mean 'mass'? Valid: mass, friction"),
        ('{"mass": [0.1, 1.2]}', "mass: [0.1, 1.2] is outside its limits [0.3, 3]"),
        ('{"gravity": -30}', "gravity: -30 is outside its limits"),
        ('{"mass": ["heavy", 1.2]}', "mass: 'heavy' is not a number"),
        ('{"mass": "heavy"}', "mass: 'heavy' is not a number"),
        ('{"mass": [true, 1.2]}', "mass: True is not a number"),
        ('{"mass": [1.2, 0.8]}', "mass: reversed range [1.2, 0.8]"),
        ('{"mass": [1, 2, 3]}', "mass: a range is [low, high], got 3 values"),
        ('{"mass": {"range": [0.8, 1.2], "distribution": "gaussian"}}', "mass: unknown distribution 'gaussian'"),
        ('{"mass": {"range": [0.8, 1.2], "distribution": "loguniform"}}', "Did you mean 'log_uniform'?"),
        ('{"mass": {"rnage": [0.8, 1.2]}}', "mass: unknown key 'rnage'. Did you mean 'range'?"),
        ('{"gravity": {"range": [-12, -8], "distribution": "log_uniform"}}', "log_uniform range must be positive"),
        ('{"mass": [0.8, 1.2],}', "not valid JSON"),
        ("mass = [0.8", "not valid TOML"),
        ("[1, 2]", "not valid TOML"),
    ],
)
def test_bad_configs_are_named(text: str, message: str) -> None:
    with pytest.raises(RandomizationConfigError) as info:
        parse_randomization(text, PARAMS)
    assert message in str(info.value)
    assert isinstance(info.value, UsageError)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(RandomizationConfigError) as info:
        parse_randomization('{"mass": [2, 1], "frction": [1, 2], "gravity": "down"}', PARAMS)
    assert len(info.value.problems) == 3
    assert "Did you mean 'friction'?" in str(info.value)


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="outside its limits"):
        PhysicsParam("x", (FieldTarget("body_mass"),), "scale", 1.0, 1.5, 3.0, "x", "bad")
    assert EARTH_GRAVITY == -9.81
