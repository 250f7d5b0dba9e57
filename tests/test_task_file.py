"""Task files (TOML): every field checked, every error reported by field name; a valid file becomes run settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from eureka_kit.cli import build_parser, config_from_args, main
from eureka_kit.task_file import TaskFileError, load_task_file

GOOD = """
env = "Hopper-v5"
goal = "hop backwards"
fitness = "mean(-root_lin_vel_x)"

[train]
steps = 50_000
n_envs = 2
backend = "sb3"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "task.toml"
    path.write_text(text)
    return path


def test_a_valid_file_becomes_run_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tf = load_task_file(_write(tmp_path, GOOD))
    assert tf.config_values() == {
        "task": "gym:Hopper-v5",
        "goal": "hop backwards",
        "fitness": "mean(-root_lin_vel_x)",
        "steps": 50_000,
        "n_envs": 2,
        "backend": "sb3",
    }
    assert not tf.needs_a_person
    assert main(["tasks", "--validate", str(tf.path)]) == 0
    assert "OK (task gym:Hopper-v5, fitness mean(-root_lin_vel_x))" in capsys.readouterr().out
    # on the command line, explicit flags win over the file
    args = build_parser().parse_args(
        ["run", "--task-file", str(tf.path), "--steps", "1000", "--llm", "replay", "--replay-path", "r.jsonl"]
    )
    config = config_from_args(args)
    assert (config.task, config.steps, config.n_envs, config.fitness) == ("gym:Hopper-v5", 1000, 2, tf.fitness)


def test_a_registered_task_with_a_goal_and_no_fitness_needs_a_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, 'task = "Hopper-Hop-v1"\ngoal = "a backflip"\n')
    assert load_task_file(path).needs_a_person
    assert main(["tasks", "--validate", str(path)]) == 0
    assert "needs --human" in capsys.readouterr().out


def test_every_error_is_reported_by_field(tmp_path: Path) -> None:
    bad = """
env = "Hopper-v5"
task = "Hopper-Hop-v1"
goal = 3
speed = 2

[train]
steps = -5
n_envs = true
backend = "tpu"
epochs = 3
"""
    with pytest.raises(TaskFileError) as e:
        load_task_file(_write(tmp_path, bad))
    errors = "\n".join(e.value.errors)
    for expected in (
        "speed: unknown field",
        "env / task / mjcf: give exactly one",
        "goal: must be a non-empty string, got 3",
        "train.steps: must be a whole number >= 1, got -5",
        "train.n_envs: must be a whole number >= 1, got True",
        "train.backend: 'tpu' is not a training backend; valid: auto, cpu, gpu, sb3",
        "train.epochs: unknown field",
    ):
        assert expected in errors
    assert len(e.value.errors) == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('env = "CartPole-v1"\nfitness = "mean(x)"\n', "env: 'CartPole-v1' is not simulated by MuJoCo"),
        ('env = "Hopper-v5"\nfitness = "mean(speed)"\n', "fitness: unknown name 'speed'"),
        ('task = "Hoper-Hop-v1"\n', "task: Unknown task 'Hoper-Hop-v1'. Did you mean 'Hopper-Hop-v1'?"),
        ("env = [", "not valid TOML"),
    ],
)
def test_the_task_and_the_expression_are_checked(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TaskFileError) as e:
        load_task_file(_write(tmp_path, text))
    assert message in str(e.value)


def test_cli_reports_errors_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 'env = "Hopper-v5"\nfitness = "mean(open(1))"\n')
    assert main(["tasks", "--validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "1 error(s)" in err and "call of 'open' is not allowed" in err and "Traceback" not in err
