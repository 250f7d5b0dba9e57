"""Prompt rendering: jinja2 templates in ``prompts/`` with ``StrictUndefined``.

The state-variable documentation, the reward signature, the checklist's
argument shapes and the example program (written for another task,
:mod:`eureka_kit.reward.example`) shown to the LLM are generated from the task
specs (:func:`state_table`, :func:`signature`, :func:`arg_shapes`,
:func:`example_for`), so prompt and code cannot drift. A missing template variable is an error, never
an empty string.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from eureka_kit.tasks.spec import TaskSpec

TEMPLATES = (
    "system",
    "initial",
    "reflection",
    "reward_reflection",
    "execution_error",
    "critic_repair",
    "preference_feedback",
    "failures",
    "critique",
    "analyzer_summary",
    "human_note",
    "schedule_notes",
    "examples",
    "init_reward",
    "preference_history",
    "judge",
    "vlm_rank",
    "vlm_rank_retry",
)


def prompts_dir() -> Path:
    """The templates: ``$EUREKA_KIT_PROMPTS`` or the shipped ``prompts/`` (package ``eureka_kit.templates``)."""
    override = os.environ.get("EUREKA_KIT_PROMPTS")
    if override:
        return Path(override)
    import eureka_kit.templates

    return Path(eureka_kit.templates.__file__).resolve().parent


@lru_cache(maxsize=4)
def _environment(folder: str) -> jinja2.Environment:
    if not Path(folder, "system.j2").is_file():
        raise FileNotFoundError(f"prompt templates not found in {folder} (set EUREKA_KIT_PROMPTS to their folder)")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: Any) -> str:
    """Render ``prompts/<name>.j2``; a variable the template uses but ``context`` lacks raises."""
    if name not in TEMPLATES:
        raise ValueError(f"unknown prompt template {name!r}; templates: {', '.join(TEMPLATES)}")
    return _environment(str(prompts_dir())).get_template(f"{name}.j2").render(**context).strip() + "\n"


def signature(spec: TaskSpec) -> str:
    """The ``compute_reward`` signature with every state variable of the task."""
    args = ", ".join(f"{v.name}: torch.Tensor" for v in spec.state)
    return f"def compute_reward({args}) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:"


def state_table(spec: TaskSpec) -> str:
    """Markdown list documenting each state variable: name, batched shape, unit, meaning."""
    return "\n".join(f"- `{v.name}` {v.batched_shape} [{v.unit}]: {v.doc}" for v in spec.state)


def arg_shapes(spec: TaskSpec) -> str:
    """``x_velocity (N,), action (N, 6)``: every argument with its batched shape (the prompt's checklist)."""
    return ", ".join(f"`{v.name}` {v.batched_shape}" for v in spec.state)


def example_for(spec: TaskSpec) -> tuple[TaskSpec, str]:
    """Another registered task and the example reward program generated from its spec (the prompt's example)."""
    from eureka_kit.reward.example import example_program, pick_example_task
    from eureka_kit.tasks.registry import list_tasks

    other = pick_example_task(spec, list_tasks())
    return other, example_program(other)


def system_prompt(spec: TaskSpec) -> str:
    return render("system", task=spec, signature=signature(spec), arg_shapes=arg_shapes(spec))


def initial_prompt(spec: TaskSpec) -> str:
    other, program = example_for(spec)
    return render("initial", task=spec, state_table=state_table(spec), example_task=other, example_program=program)
