"""Repair as a conversation: extract, check, and send the model its own program with the critic's findings.

:func:`check_with_repairs` takes a candidate's first answer through
extraction and the critic; while the program is rejected and rounds are
left (``repair_rounds``, R), it asks the LLM again with the conversation so
far: the original prompt, the model's last answer, and a repair prompt
(``prompts/critic_repair.j2``) that shows the model's *own last program* and
the critic's findings (line, expression, shapes, fix). Before asking, the safe
mechanical normalizations of :mod:`eureka_kit.reward.normalize` are tried
(only where meaning cannot change); one that makes the program pass ends the
repair, and every one applied is recorded and told to the model.

When the model returns the same program again (compared as code, comments and
formatting aside), the same request is asked once more at a higher temperature
(:func:`hotter`: ``min(2.0, t + 0.4)``, request ``<candidate>/reask_<k>``);
if that answer is the same program too, the repair stops (``same_program``)
and the candidate fails. Every round is written to the candidate folder
(``response_repair_<k>.md``, ``repair_<k>_prompt.md``) and summarized in
``repairs.json``; the number of LLM repair calls is the candidate's ``repairs``.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from eureka_kit.files import atomic_write_text
from eureka_kit.llm import LLMClient, Message, SamplingParams
from eureka_kit.llm.errors import ReplayError
from eureka_kit.prompting import render, signature
from eureka_kit.python_parse import parse_module
from eureka_kit.reward.check_report import CheckReport
from eureka_kit.reward.extract import extract_program
from eureka_kit.reward.normalize import Normalization, normalize
from eureka_kit.run.layout import REWARD_FILE
from eureka_kit.tasks.spec import TaskSpec

RepairStop = Literal["passed", "normalized", "same_program", "rounds_exhausted", "extract_error"]
REPAIRS_FILE = "repairs.json"
REASK_TEMPERATURE_STEP = 0.4
MAX_TEMPERATURE = 2.0


@dataclass(frozen=True)
class RepairRound:
    """One answer of the conversation (round 0 is the first answer) and what the critic said of it."""

    round: int
    status: Literal["passed", "rejected", "extract_error", "same_program"]
    errors: tuple[str, ...] = ()
    """Codes of the critic's errors."""
    line: int | None = None
    """The line the first error points at."""
    normalizations: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepairOutcome:
    """Where the conversation ended: the program to train (``source`` with an ok ``report``) or why not."""

    stop: RepairStop
    source: str | None
    report: CheckReport | None
    message: str
    repairs: int
    rounds: tuple[RepairRound, ...]
    normalizations: tuple[Normalization, ...] = ()
    reasks: int = 0
    """Re-asks at a higher temperature after the same program came back (LLM calls besides ``repairs``)."""

    @property
    def ok(self) -> bool:
        return self.stop in ("passed", "normalized")


def hotter(temperature: float) -> float:
    """The temperature of a re-ask after the same program came back: ``min(2.0, t + 0.4)``."""
    return min(MAX_TEMPERATURE, temperature + REASK_TEMPERATURE_STEP)


def same_program(a: str, b: str) -> bool:
    """The same code, comments, blank lines and formatting aside."""
    try:
        return ast.dump(parse_module(a)) == ast.dump(parse_module(b))
    except (SyntaxError, ValueError, RecursionError):
        return a.strip() == b.strip()


def repair_prompt(
    spec: TaskSpec, source: str, report: CheckReport, round_: int, rounds: int, notes: Sequence[Normalization] = ()
) -> str:
    """The repair prompt of round ``round_``: the model's own program, the critic's findings, what was adjusted."""
    return render(
        "critic_repair",
        program=source,
        feedback=report.feedback(),
        signature=signature(spec),
        round=round_,
        rounds=rounds,
        notes=[n.note for n in notes],
    )


def check_with_repairs(
    spec: TaskSpec,
    response: str,
    messages: Sequence[Message],
    *,
    check: Callable[[str], CheckReport],
    ask: Callable[[list[Message], str], str],
    rounds: int,
    folder: Path,
    name: str,
    reask: Callable[[list[Message], str], str | None] | None = None,
) -> RepairOutcome:
    """Extract and check ``response``; repair through the LLM (``ask(conversation, request_id)``) up to ``rounds``.

    ``check`` is the critic (sandboxed in the loop); ``folder`` the candidate folder, where every round and
    the final ``reward.py`` are written. ``reask(conversation, request_id)`` asks the same conversation again at a
    higher temperature when the model returned the same program (``None``: no answer; without it, no re-ask).
    """
    history: list[RepairRound] = []
    applied: list[Normalization] = []
    previous: str | None = None
    conversation: list[Message] = []
    last_feedback = ""
    repairs = 0
    reasks = 0
    reasked_round = -1

    def done(stop: RepairStop, source: str | None, report: CheckReport | None, message: str) -> RepairOutcome:
        outcome = RepairOutcome(stop, source, report, message, repairs, tuple(history), tuple(applied), reasks)
        summary = {"stop": stop, "repairs": repairs, "reasks": reasks, "rounds": [asdict(r) for r in history]}
        summary["normalizations"] = [asdict(n) for n in applied]
        atomic_write_text(folder / REPAIRS_FILE, json.dumps(summary, indent=2))
        return outcome

    while True:
        extraction = extract_program(response)
        if extraction.status != "ok" or extraction.source is None:
            history.append(RepairRound(repairs, "extract_error"))
            return done("extract_error", None, None, extraction.message)
        source = extraction.source
        atomic_write_text(folder / REWARD_FILE, source)
        if previous is not None and same_program(source, previous):
            history.append(RepairRound(repairs, "same_program"))
            if reask is not None and reasked_round != repairs:  # once per round, at a higher temperature
                reasked_round = repairs
                again = reask(conversation, f"{name}/reask_{repairs}")
                if again is not None:
                    reasks += 1
                    response = again
                    atomic_write_text(folder / f"response_reask_{repairs}.md", response)
                    continue
            message = f"the model returned the same program again in repair round {repairs}; " + last_feedback
            return done("same_program", source, None, message)
        report = check(source)
        if report.ok:
            history.append(RepairRound(repairs, "passed"))
            return done("passed", source, report, "")
        fixed, notes = normalize(spec, source, report)
        fixed_report = check(fixed) if fixed is not None else None
        kinds = tuple(n.kind for n in notes)
        history.append(RepairRound(repairs, "rejected", tuple(i.code for i in report.errors), _line(report), kinds))
        new_notes: tuple[Normalization, ...] = ()
        if fixed is not None and fixed_report is not None:  # same meaning: keep the edit, pass or not
            applied.extend(notes)
            new_notes = notes
            atomic_write_text(folder / f"reward_as_written_{repairs}.py", source)
            atomic_write_text(folder / REWARD_FILE, fixed)
            source, report = fixed, fixed_report
            if report.ok:
                return done("normalized", source, report, "; ".join(n.note for n in notes))
        last_feedback = report.feedback()
        if repairs >= rounds:
            return done("rounds_exhausted", source, report, last_feedback)
        repairs += 1
        prompt = repair_prompt(spec, source, report, repairs, rounds, new_notes)
        atomic_write_text(folder / f"repair_{repairs}_prompt.md", prompt)
        conversation = [*messages, Message("assistant", response), Message("user", prompt)]
        previous = source
        response = ask(conversation, f"{name}/repair_{repairs}")
        atomic_write_text(folder / f"response_repair_{repairs}.md", response)


def _line(report: CheckReport) -> int | None:
    return report.errors[0].line if report.errors else None


def ask_with(
    client: LLMClient, params: SamplingParams, after_call: Callable[[], None]
) -> Callable[[list[Message], str], str]:
    """``ask`` for :func:`check_with_repairs`: one sample of ``client`` per repair round."""

    def ask(conversation: list[Message], request_id: str) -> str:
        (completion,) = client.sample(conversation, n=1, params=params, request_id=request_id)
        after_call()
        return completion.text

    return ask


def reask_with(
    client: LLMClient, params: SamplingParams, after_call: Callable[[], None]
) -> Callable[[list[Message], str], str | None]:
    """``reask`` for :func:`check_with_repairs`: one sample at :func:`hotter`'s temperature.

    A replay file without an answer for the re-ask (:class:`~eureka_kit.llm.errors.ReplayError`) gives ``None``:
    the repair ends as it would without the re-ask.
    """
    hot = dataclasses.replace(params, temperature=hotter(1.0 if params.temperature is None else params.temperature))
    ask = ask_with(client, hot, after_call)

    def reask(conversation: list[Message], request_id: str) -> str | None:
        try:
            return ask(conversation, request_id)
        except ReplayError:
            return None

    return reask
