"""Every prompt template renders for every task, matches its stored snapshot, and fails on a missing variable.

Update the snapshots after an intended prompt change with: UPDATE_SNAPSHOTS=1 pytest tests/test_prompts.py
"""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest

from eureka_kit.feedback.reflection import make_series, render_reflection
from eureka_kit.loop.few_shot import load_examples, rank
from eureka_kit.preferences.history import ChosenChange
from eureka_kit.preferences.ranking import Ranking
from eureka_kit.prompting import TEMPLATES, arg_shapes, example_for, render, signature, state_table
from eureka_kit.run.notes import Note as _Note
from eureka_kit.tasks.registry import list_tasks
from eureka_kit.tasks.spec import TaskSpec

SNAPSHOTS = Path(__file__).parent / "snapshots"
TASKS = list_tasks()
LIBRARY = load_examples(TASKS[0])

EXAMPLE_SOURCE = (
    "import torch\n\ndef compute_reward(action):\n    c = -action.pow(2).sum(-1)\n    return c, {'ctrl': c}\n"
)


class _Best:
    generation = 0
    index = 2
    source = EXAMPLE_SOURCE
    comment = "moves smoothly"


def contexts(spec: TaskSpec) -> dict[str, dict[str, object]]:
    reflection = render_reflection(
        spec,
        {"ctrl": [-1.0, -0.5, -0.25], "fitness": [0.0, 0.1, 0.3], "episode_length": [10, 20, 40]},
        steps=1000,
        fitness=0.3,
        fitness_std=0.05,
        episodes=5,
        episode_length=40.0,
    )

    class Best(_Best):
        pass

    Best.reflection = reflection  # type: ignore[attr-defined]

    class Worst(_Best):
        index = 0
        comment = ""

    return {
        "system": {"task": spec, "signature": signature(spec), "arg_shapes": arg_shapes(spec)},
        "initial": {
            "task": spec,
            "state_table": state_table(spec),
            "example_task": example_for(spec)[0],
            "example_program": example_for(spec)[1],
        },
        "reflection": {
            "best": Best,
            "generation": 0,
            "failures": [{"index": 1, "status": "train_error", "message": "RuntimeError: shape mismatch"}],
        },
        "reward_reflection": {
            "series": [],
            "steps": 10,
            "n_points": 0,
            "fitness": "n/a",
            "fitness_std": None,
            "fitness_name": spec.fitness.name,
            "fitness_unit": spec.fitness.unit,
            "episodes": 0,
            "episode_length": "n/a",
        },
        "execution_error": {"status": "check_error", "message": "compute_reward returned NaN"},
        "failures": {
            "generation": 2,
            "failures": [{"index": 0, "status": "timeout", "message": "training exceeded 60 s"}],
        },
        "critic_repair": {
            "program": EXAMPLE_SOURCE,
            "feedback": "error: unknown argument 'speed'",
            "signature": signature(spec),
            "round": 1,
            "rounds": 2,
            "notes": ["line 5: component 'alive' was the Python number 1.0; the checker made it a tensor."],
        },
        "preference_feedback": {
            "ranker": "person",
            "generation": 1,
            "best": Best,
            "worst": Worst,
            "comment": "all of them hop",
        },
        "critique": {
            "task_id": spec.id,
            "episodes": 5,
            "findings": [
                {
                    "label": "critical, reward hacking sign",
                    "message": "The reward pays for failing: the policy stands still yet collects +950 per episode.",
                },
                {"label": "info", "message": "All 5 episodes ran until truncated (mean length 1000 steps)."},
            ],
            "omitted": 3,
        },
        "human_note": {"notes": [_Note(0, 0.0, "the hopper should land softly"), _Note(1, 1.0, "less flailing")]},
        "schedule_notes": {
            "generation": 1,
            "stopped": [
                {
                    "index": 2,
                    "message": "stopped early at rung 1 of 3 (fitness 0.12 vs kept 0.87, after 2,000 of 18,000 steps)",
                    "reflection": "forward: 0.1 0.2 0.2\nfitness: 0.05 0.12",
                }
            ],
            "equivalent": [
                {
                    "index": 3,
                    "message": "this reward equals candidate gen_000/cand_01 up to scale/shift/shaping",
                }
            ],
        },
        "examples": {"examples": rank(spec, LIBRARY) or LIBRARY[:1]},
        "init_reward": {"file_name": "my_reward.py", "program": EXAMPLE_SOURCE},
        "judge": {"task": spec, "state_table": state_table(spec)},
        "vlm_rank": {"goal": spec.description, "names": ["cand_00", "cand_02"], "frames": 6, "generation": 1},
        "vlm_rank_retry": {
            "error": '"order" leaves out cand_02; rank every candidate',
            "names": ["cand_00", "cand_02"],
        },
        "preference_history": {
            "history": [
                ChosenChange(0, "cand_02", "moves smoothly", "first chosen program; components: ctrl", ()),
                ChosenChange(1, "cand_00", "", "added speed; 2 changed line(s)", ("-    c = 1", "+    c = 2")),
            ],
            "omitted": 1,
            "reflection": [make_series("ctrl", [-1.0, -0.5, -0.25]), make_series("episode length", [10, 20, 40])],
            "steps": 1000,
            "n_points": 3,
            "chosen": Ranking(1, "synthetic", ("cand_00", "cand_01"), "cand_00", "cand_01"),
        },
        "analyzer_summary": {
            "task": spec,
            "episodes": 5,
            "findings": [
                {
                    "severity": "critical",
                    "kind": "paid_while_failing",
                    "hacking": True,
                    "message": "The reward pays for failing: the policy stands still yet collects +950 per episode.",
                    "evidence": '{"mean_return": 950.0, "top_component": "alive"}',
                },
                {
                    "severity": "info",
                    "kind": "episode_end",
                    "hacking": False,
                    "message": "All 5 episodes ran until truncated.",
                    "evidence": '{"terminated": 0.0}',
                },
            ],
        },
    }


@pytest.mark.parametrize("spec", TASKS, ids=[t.id for t in TASKS])
@pytest.mark.parametrize("template", TEMPLATES)
def test_template_matches_snapshot(spec: TaskSpec, template: str) -> None:
    text = render(template, **contexts(spec)[template])
    assert text.strip(), "rendered prompt is empty"
    assert "{{" not in text and "{%" not in text
    path = SNAPSHOTS / f"{spec.id}__{template}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


@pytest.mark.parametrize("template", TEMPLATES)
def test_missing_variable_is_an_error(template: str) -> None:
    with pytest.raises(jinja2.UndefinedError):
        render(template)


@pytest.mark.parametrize("spec", TASKS, ids=[t.id for t in TASKS])
def test_prompt_documents_every_state_variable(spec: TaskSpec) -> None:
    system = render("system", **contexts(spec)["system"])
    initial = render("initial", **contexts(spec)["initial"])
    for var in spec.state:
        assert f"{var.name}: torch.Tensor" in system
        assert f"`{var.name}` {var.batched_shape}" in initial


def test_unknown_template_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="system"):
        render("nope")
