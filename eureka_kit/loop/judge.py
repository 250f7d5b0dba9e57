"""``--judge llm``: the LLM proposes the run's fitness expression from the goal; it is used once the user accepts it.

The proposal is an expression in the ``--fitness`` language
(:mod:`eureka_kit.tasks.fitness_expr`), asked for with ``prompts/judge.j2``
(request id ``judge``: a replay file answers it with a ``"judge"`` record) and
checked by the same parser as a user's expression. It is shown, then used only
when the user accepts it: ``--yes``, or ``y`` typed at the prompt when stdin is
a terminal. Otherwise the run stops before any work with a message that gives
the expression, so it can be passed as ``--fitness`` after reading it.
An accepted proposal becomes the run's ``fitness`` (``config.json``) and
``judge.json`` records the goal, the expression, the model's answer and who
accepted it. The trusted evaluator then computes it like any expression: the
judge never sees a policy, a reward program or an episode.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eureka_kit.errors import UserError
from eureka_kit.llm import LLMClient, Message
from eureka_kit.prompting import render, state_table
from eureka_kit.run.store import atomic_write_json
from eureka_kit.tasks.fitness_expr import FitnessExprError, parse_fitness
from eureka_kit.tasks.spec import TaskSpec

JUDGE_FILE = "judge.json"
REQUEST_ID = "judge"
AcceptedBy = Literal["--yes", "terminal"]
_BLOCK = re.compile(r"```[a-zA-Z]*\s*\n(.*?)```", re.DOTALL)


class JudgeError(UserError, ValueError):
    """The judge's answer holds no valid expression, or the user did not accept it."""


@dataclass(frozen=True)
class Proposal:
    """The judge's expression (checked against the task) and the answer it came from."""

    expression: str
    response: str


def judge_messages(spec: TaskSpec) -> list[Message]:
    return [Message("user", render("judge", task=spec, state_table=state_table(spec)))]


def extract_expression(text: str) -> str:
    """The expression of an answer: the first line of its first code block, else its last non-empty line."""
    block = _BLOCK.search(text)
    body = block.group(1) if block else text
    lines = [line.strip().strip("`").strip() for line in body.splitlines() if line.strip().strip("`").strip()]
    if not lines:
        raise JudgeError("the LLM judge answered nothing that could be a fitness expression")
    line = lines[0] if block else lines[-1]
    return line.removeprefix("fitness:").removeprefix("fitness =").strip()


def propose(client: LLMClient, spec: TaskSpec) -> Proposal:
    """Ask the LLM for an expression and check it; :class:`JudgeError` quotes a proposal outside the grammar."""
    (completion,) = client.sample(judge_messages(spec), n=1, request_id=REQUEST_ID)
    expression = extract_expression(completion.text)
    try:
        parse_fitness(expression, spec)
    except FitnessExprError as e:
        raise JudgeError(
            f"the LLM judge proposed {expression!r}, which is not a valid fitness expression: {e}"
        ) from None
    return Proposal(expression, completion.text)


def accept(
    proposal: Proposal, *, yes: bool, is_tty: bool, ask: Callable[[str], str], show: Callable[[str], None]
) -> AcceptedBy:
    """Show the proposal; accepted with ``yes`` or a ``y`` answer on a terminal, else :class:`JudgeError`."""
    show(f"LLM judge: proposed fitness expression: {proposal.expression}")
    if yes:
        return "--yes"
    if is_tty and ask("use it as the run's fitness? [y/N] ").strip().lower() in ("y", "yes"):
        return "terminal"
    raise JudgeError(
        f"the LLM judge proposed the fitness {proposal.expression!r}; a run uses it only once you accept it. "
        f"Accept it with --yes (or answer y on a terminal), or give it, or your own, with --fitness "
        f"{proposal.expression!r}"
    )


def judge_fitness(
    client: LLMClient,
    spec: TaskSpec,
    goal: str,
    run_dir: Path,
    *,
    yes: bool,
    show: Callable[[str], None] = print,
    ask: Callable[[str], str] = input,
    is_tty: bool | None = None,
) -> str:
    """The accepted expression, recorded in ``judge.json``; :class:`JudgeError` when invalid or not accepted."""
    proposal = propose(client, spec)
    accepted_by = accept(proposal, yes=yes, is_tty=sys.stdin.isatty() if is_tty is None else is_tty, ask=ask, show=show)
    atomic_write_json(
        Path(run_dir) / JUDGE_FILE,
        {
            "goal": goal,
            "expression": proposal.expression,
            "accepted_by": accepted_by,
            "model": client.model,
            "response": proposal.response,
        },
    )
    return proposal.expression
