"""Prompts that small models follow: the contract checklist with every argument's shape, and a correct example
program for another task, generated from the task specs (the snapshots in tests/snapshots/ hold the rendered
text; tests/test_prompts.py compares them)."""

from __future__ import annotations

from functools import cache

import pytest

from eureka_kit.prompting import example_for, initial_prompt, system_prompt
from eureka_kit.reward.critic import check_program
from eureka_kit.reward.example import example_program, pick_example_task
from eureka_kit.reward.extract import extract_program
from eureka_kit.tasks.registry import get_task, list_tasks
from eureka_kit.tasks.spec import TaskSpec

TASKS = list_tasks()


@cache
def _example_passes(task_id: str) -> tuple[bool, str]:
    spec = get_task(task_id)
    report = check_program(spec, example_program(spec))
    return report.ok, report.feedback()


@pytest.mark.parametrize("spec", TASKS, ids=[t.id for t in TASKS])
def test_system_prompt_has_the_checklist_with_every_shape(spec: TaskSpec) -> None:
    text = system_prompt(spec)
    assert "Checklist" in text
    assert "One value per env per step" in text and "Never reduce over N" in text and "Torch operations only" in text
    for var in spec.state:
        assert f"`{var.name}` {var.batched_shape}" in text


@pytest.mark.parametrize("spec", TASKS, ids=[t.id for t in TASKS])
def test_initial_prompt_shows_a_correct_example_for_another_task(spec: TaskSpec) -> None:
    other, program = example_for(spec)
    assert other.id != spec.id or len(TASKS) == 1
    text = initial_prompt(spec)
    assert f"another task (`{other.id}`" in text and program.strip() in text
    extraction = extract_program(text)  # the example is a complete program, as an answer would be
    assert extraction.source is not None and extraction.source.strip() == program.strip()
    ok, feedback = _example_passes(other.id)
    assert ok, f"the example generated for {other.id} fails the critic:\n{feedback}"


def test_example_reduces_only_trailing_dimensions() -> None:
    program = example_program(get_task("Hopper-Hop-v1"))
    assert "forward = 1.0 * x_velocity" in program and "(N,): already one value per env" in program
    assert "torch.square(action).sum(dim=-1)" in program and "(N, 3) -> (N,)" in program
    assert ".mean(" not in program and "dim=0" not in program


def test_example_task_choice_is_stable_and_of_the_same_kind() -> None:
    cheetah = get_task("HalfCheetah-Run-v1")
    assert pick_example_task(cheetah, TASKS).id == "Hopper-Hop-v1"
    assert pick_example_task(cheetah, [cheetah]).id == cheetah.id
    for spec in TASKS:
        other = pick_example_task(spec, TASKS)
        if any(t.kind == spec.kind and t.id != spec.id and other.kind == spec.kind for t in TASKS):
            assert other.kind == spec.kind
