"""Few-shot examples from the library, a user's own examples, and a run that starts from a user's program."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from tiny_runs import run_tiny, tiny_config, write_replay

from eureka_kit.cli import build_parser, config_from_args
from eureka_kit.loop.few_shot import ExampleError, first_prompt_blocks, load_example, load_examples, rank, task_family
from eureka_kit.reward.critic import check_program
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.spec import with_goal

LIBRARY = load_examples(get_task("HalfCheetah-Run-v1"))


def _names(task_id: str, goal: str | None = None) -> list[str]:
    spec = get_task(task_id)
    spec = with_goal(spec, goal) if goal else spec
    return [ex.name for ex in rank(spec, load_examples(spec))]


def test_relevance_picks_the_family_and_the_shared_state_names() -> None:
    by_name = {ex.name: ex for ex in LIBRARY}
    ant = _names("Ant-Run-v1")
    assert len(ant) == 2 and all(by_name[n].family == "locomotion" for n in ant)
    assert "ant_run" not in ant  # the task's own example would hand over its answer
    assert "humanoid_run" in ant  # every variable it reads (x_velocity, torso_height, upright, is_healthy) the ant has
    assert _names("HalfCheetah-Run-v1", goal="run backwards")[0] == "halfcheetah_run"  # a new goal: its own is fine
    derived = set(_names("gym:Ant-v5", goal="walk backwards"))  # no family: ranked by state names
    assert derived == {"ant_backwards_derived", "hopper_backflip_derived"}
    assert _names("gym:Ant-v5") == ["hopper_backflip_derived"]  # without a new goal, not the task's own example
    assert _names("LavaCrossing-Grid-v1") == ["doorkey_grid"]  # unrelated families are not shown
    assert task_family(get_task("Pusher-Push-v1")) == "manipulation" and task_family(get_task("gym:Ant-v5")) is None


@pytest.mark.parametrize("example", LIBRARY, ids=[ex.name for ex in LIBRARY])
def test_every_library_example_passes_the_critic_on_its_task(example: object) -> None:
    assert example.task is not None  # type: ignore[attr-defined]
    source = example.program  # type: ignore[attr-defined]
    report = check_program(get_task(example.task), source)  # type: ignore[attr-defined]
    assert report.ok, report.issues


def test_a_bad_example_is_reported_by_file(tmp_path: Path) -> None:
    spec = get_task("Hopper-Hop-v1")
    cases = {
        "syntax.py": ("def compute_reward(action:\n", "syntax.py: does not parse"),
        "unknown.py": (
            "import torch\n\ndef compute_reward(speed: torch.Tensor, action: torch.Tensor):\n"
            "    return speed, {'speed': speed}\n",
            "unknown.py: fails the critic's static checks for task Hopper-Hop-v1",
        ),
        "family.py": ('FAMILY = "racing"\n', "family.py: FAMILY 'racing' is not one of locomotion"),
        "task.py": ('TASK = "Hoper-Hop-v1"\n', "task.py: TASK 'Hoper-Hop-v1': Unknown task"),
    }
    for name, (text, message) in cases.items():
        folder = tmp_path / name.removesuffix(".py")
        folder.mkdir()
        (folder / name).write_text(text)
        with pytest.raises(ExampleError, match=message.replace("(", r"\(")):
            load_examples(spec, folder)
    with pytest.raises(ExampleError, match="holds no"):
        load_examples(spec, tmp_path)
    with pytest.raises(ValueError, match="--no-examples turns them off"):
        config_from_args(build_parser().parse_args(["run", "Hopper-Hop-v1", "--examples", ".", "--no-examples"]))


MINE = '''
"""My own hopper reward (no metadata: checked against the run's task)."""
import torch

ABOUT = "my hop with soft landings"


def compute_reward(x_velocity: torch.Tensor, foot_contact_force: torch.Tensor, action: torch.Tensor):
    forward = x_velocity
    soft = -0.001 * foot_contact_force
    return forward + soft, {"forward": forward, "soft": soft}
'''

START = """
import torch


def compute_reward(x_velocity: torch.Tensor, is_healthy: torch.Tensor, action: torch.Tensor):
    forward = 0.5 * x_velocity
    alive = 0.25 * is_healthy
    return forward + alive, {"forward": forward, "alive": alive}
"""

PROGRAM = textwrap.dedent(
    """
    ```python
    import torch

    def compute_reward(x_velocity: torch.Tensor, is_healthy: torch.Tensor, action: torch.Tensor):
        forward = x_velocity
        alive = 1.0 * is_healthy
        return forward + alive, {"forward": forward, "alive": alive}
    ```
    """
)


def test_user_examples_and_the_starting_program_reach_the_first_prompt(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "soft_hop.py").write_text(MINE)
    start = tmp_path / "start.py"
    start.write_text(START)
    assert load_example(mine / "soft_hop.py", "user", get_task("Hopper-Hop-v1")).uses[:2] == (
        "x_velocity",
        "foot_contact_force",
    )
    replay = write_replay(tmp_path / "replay.jsonl", [("*", PROGRAM)])
    run = run_tiny(
        tmp_path / "runs",
        replay,
        task="Hopper-Hop-v1",
        samples=1,
        generations=1,
        analyzer=False,
        trajectory_check=False,
        examples=str(mine),
        init_reward=str(start),
    )
    first = json.loads((run.run_dir / "gen_000" / "prompt.json").read_text())
    text = first[1]["content"]
    assert "Example 1: your own example `soft_hop`: my hop with soft landings" in text  # the user's own first
    assert "Example 2: task `" in text and "(locomotion)" in text  # then the library's best for the family
    assert "Start from this existing reward program (the user's own, `start.py`)" in text
    assert "alive = 0.25 * is_healthy" in text
    assert json.loads((run.run_dir / "gen_000" / "cand_00" / "candidate.json").read_text())["status"] == "ok"

    off = tiny_config(replay, task="Hopper-Hop-v1", use_examples=False)
    assert first_prompt_blocks(off, off.task_spec(), print) == ("", "")
