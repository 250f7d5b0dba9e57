"""Game rules for the prompt: ``prompts/game_rules.j2`` rendered from a game's own tables into a task description.

The rules, the tech tree and the action list come from the game's data (e.g.
Crafter's ``collect`` / ``place`` / ``make`` tables), so the prompt and the game
cannot drift. The shipped template is used (with ``StrictUndefined``), since
task specs are built when the task pack is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import jinja2


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    import eureka_kit.templates

    folder = Path(eureka_kit.templates.__file__).resolve().parent
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("game_rules.j2")


def render_rules(game: str, rules: Sequence[str], actions: Sequence[str], tech_tree: Sequence[str] = ()) -> str:
    """The rules section of a game task's description."""
    listed = ", ".join(f"{i} {name}" for i, name in enumerate(actions))
    return _template().render(game=game, rules=list(rules), tech_tree=list(tech_tree), actions=listed).strip()


def describe(goal: str, rules_text: str) -> str:
    """A game task's description: the goal, then the rules."""
    return f"{goal.strip()}\n\n{rules_text}"
