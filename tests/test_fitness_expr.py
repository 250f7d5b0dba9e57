"""Fitness expressions (``--fitness``): the grammar, what it refuses and why, and the values it computes."""

from __future__ import annotations

import numpy as np
import pytest

from eureka_kit.config import RunConfig
from eureka_kit.tasks.fitness_expr import FitnessExprError, parse_fitness, with_fitness
from eureka_kit.tasks.registry import get_task
from eureka_kit.training.job import TrainJob

HC = "HalfCheetah-Run-v1"
HOP = "Hopper-Hop-v1"


def _state(n: int = 4, **values: np.ndarray) -> dict[str, np.ndarray]:
    return {"action": np.zeros((n, 3)), **values}


@pytest.mark.parametrize(
    ("text", "aggregate", "steps", "expected"),
    [
        ("mean(x_velocity)", "mean", [1.0, 2.0, 3.0], 2.0),
        ("sum(x_velocity * 0.5)", "sum", [1.0, 2.0, 3.0], 3.0),
        ("max(-abs(x_velocity))", "max", [-1.0, 2.0, 3.0], -1.0),
        ("last(x_velocity > 1)", "last", [3.0, 2.0, 0.5], 0.0),
        ("any(x_velocity >= 3)", "any", [1.0, 2.0, 3.0], 1.0),
        ("fraction(x_velocity > 1.5)", "mean", [1.0, 2.0, 3.0, 4.0], 0.75),
        ("fraction(0 < x_velocity < 2 or x_velocity > 3.5)", "mean", [1.0, 2.0, 3.0, 4.0], 0.5),
        ("mean(not (x_velocity > 1) and 1)", "mean", [1.0, 2.0], 0.5),
        ("mean(sqrt(x_velocity ** 2) + exp(0) - log(1))", "mean", [-2.0, 2.0], 3.0),
    ],
)
def test_values_per_episode(text: str, aggregate: str, steps: list[float], expected: float) -> None:
    """Each step value is computed on a batch of envs; the episode aggregate follows the named aggregate."""
    fitness = parse_fitness(text, get_task(HC)).to_fitness()
    assert fitness.aggregate == aggregate and fitness.name == f"expr: {text}"
    per_step = [fitness.step(_state(2, x_velocity=np.array([v, v]))) for v in steps]
    assert all(s.shape == (2,) for s in per_step)
    assert fitness.episode_value(np.array([s[0] for s in per_step])) == pytest.approx(expected)


def test_norm_of_a_vector_variable_matches_numpy() -> None:
    spec = get_task("Pusher-Push-v1")
    vector = next(v for v in spec.state if len(v.shape) == 1 and v.name != "action")
    fitness = parse_fitness(f"mean(norm({vector.name}))", spec).to_fitness()
    x = np.random.default_rng(0).normal(size=(5, *vector.shape))
    np.testing.assert_allclose(fitness.step(_state(5, **{vector.name: x})), np.linalg.norm(x, axis=-1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x_velocity", "one aggregate over the episode"),
        ("mean(x_velocity) + 1", "one aggregate over the episode"),
        ("median(x_velocity)", "one aggregate over the episode"),
        ("mean(x_velocity.real)", "attribute access ('x_velocity.real') is not allowed"),
        ("mean(action[:, 0])", "subscripts"),
        ("mean(__import__('os'))", "call of '__import__' is not allowed: the per-step functions are abs, sqrt"),
        ("mean(open('x'))", "call of 'open' is not allowed"),
        ("mean(x_velocity.__class__)", "attribute access"),
        ("mean(speed)", "unknown name 'speed': the task's one-value-per-env state variables are"),
        ("mean(action)", "'action' has shape (N, 6): one value per env is needed; use norm(action)"),
        ("mean(mean(x_velocity))", "a fitness has one aggregate, outermost"),
        ("mean('fast')", "only numbers are allowed"),
        ("mean(lambda: 1)", "lambdas"),
        ("mean(x_velocity if x_velocity else 0)", "if-else"),
        ("mean(x_velocity // 2)", "operator in 'x_velocity // 2' is not allowed"),
        ("mean(x_velocity, action)", "takes exactly one per-step expression"),
        ("mean(norm(x_velocity))", "norm(...) takes the name of a vector state variable"),
        ("mean(x_velocity", "not an expression"),
        ("", "empty"),
        ("mean(" + "x_velocity + " * 40 + "0)", "longer than"),
    ],
)
def test_refused_with_a_message_that_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(FitnessExprError) as e:
        parse_fitness(text, get_task(HC))
    assert message in str(e.value)


def test_values_stay_finite() -> None:
    """Division by zero, sqrt/log of negatives and huge exponents give finite values, never NaN or inf."""
    fitness = parse_fitness(
        "mean(x_velocity / 0 + sqrt(-x_velocity) + log(-x_velocity) + exp(x_velocity))", get_task(HC)
    )
    v = fitness.step(_state(3, x_velocity=np.array([1e3, 0.0, -5.0])))
    assert np.isfinite(v).all()


def test_run_config_builds_the_task_with_goal_and_expression() -> None:
    """--goal with --fitness needs no person; the run, its training children and final eval use the expression."""
    config = RunConfig(task=HOP, goal="hop backwards", fitness="mean(-x_velocity)", llm="replay", replay_path="x")
    spec = config.task_spec()
    assert spec.id == HOP and spec.fitness.name == "expr: mean(-x_velocity)" and "hop backwards" in spec.description
    assert not spec.free_form  # the elite is chosen by the expression, not by rankings
    value = spec.fitness.step(_state(2, x_velocity=np.array([-1.0, 2.0])))
    np.testing.assert_allclose(value, [1.0, -2.0])
    with pytest.raises(ValueError, match="give one with --fitness EXPR, rank the policies yourself"):
        RunConfig(task=HOP, goal="hop backwards", llm="replay", replay_path="x")
    with pytest.raises(FitnessExprError, match="unknown name"):
        RunConfig(task=HOP, fitness="mean(nope)", llm="replay", replay_path="x").task_spec()
    job = TrainJob(HOP, "baseline", fitness=config.fitness)
    assert TrainJob.from_json(job.to_json()).fitness == "mean(-x_velocity)"
    assert with_fitness(get_task(HOP), "max(x_velocity)").fitness.aggregate == "max"
