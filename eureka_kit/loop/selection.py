"""Selection and the next prompt: the elite so far, and the messages that start the next generation.

Generation 0 sees the system prompt and the task. Later generations see, in
order of precedence: the ranking of the previous generation (ICPL: best and
worst programs with the person's comments, no fitness values, after the
history of the chosen programs and the last one's training statistics,
:mod:`eureka_kit.preferences.history`) when a ranker is on; else the elite
program and its reflection and critique (Eureka); else, when nothing has
worked yet, one failed program and its error (Eureka's
execution-error feedback). Failures of the previous generation are listed too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from eureka_kit.llm import Message
from eureka_kit.preferences.history import history_prompt
from eureka_kit.preferences.ranking import load_ranking
from eureka_kit.preferences.steer import preference_prompt
from eureka_kit.prompting import initial_prompt, render, system_prompt
from eureka_kit.run.layout import FEEDBACK_FILE, REWARD_FILE
from eureka_kit.run.records import CandidateRecord, short
from eureka_kit.tasks.spec import TaskSpec

PROMPT_FAILURE_CHARS = 400
PROMPT_STOPPED_FEEDBACK_CHARS = 1200
NOT_FAILURES = ("ok", "stopped_early", "equivalent", "internal_error")
"""Statuses the next prompt does not list as the program's failures: stopped early (successive halving) and
equivalent programs get notes of their own; ``internal_error`` was eureka-kit's fault, not the program's."""


@dataclass(frozen=True)
class Elite:
    """The best candidate so far, as the next prompt shows it."""

    record: CandidateRecord
    source: str
    reflection: str

    @property
    def generation(self) -> int:
        return self.record.generation

    @property
    def index(self) -> int:
        return self.record.index


def find_elite(spec: TaskSpec, run_dir: Path, history: list[CandidateRecord]) -> Elite | None:
    """Best candidate by trusted fitness over all generations so far (ties: earliest).

    A free-form goal has no fitness: the elite is the best of the latest ranking.
    """
    ok = [r for r in history if r.status == "ok" and r.fitness is not None and math.isfinite(r.fitness)]
    if not ok:
        return None
    if spec.free_form:
        rankings = [load_ranking(run_dir, g) for g in sorted({r.generation for r in ok})]
        latest = [x for x in rankings if x is not None]
        if not latest:
            return None
        ranking = latest[-1]
        best = next(r for r in ok if r.generation == ranking.generation and r.name.endswith(ranking.best))
    else:
        best = max(ok, key=lambda r: (r.fitness, -r.generation, -r.index))
    d = run_dir / best.name
    return Elite(record=best, source=(d / REWARD_FILE).read_text(), reflection=(d / FEEDBACK_FILE).read_text())


def base_messages(spec: TaskSpec) -> list[Message]:
    return [Message("system", system_prompt(spec)), Message("user", initial_prompt(spec))]


def next_messages(
    spec: TaskSpec, run_dir: Path, generation: int, history: list[CandidateRecord], *, ranked: bool
) -> list[Message]:
    """The messages of ``generation``'s request (see the module docstring); ``ranked``: a ranker is on.

    Candidates of the previous generation stopped early by successive halving (with their feedback) and programs
    found equivalent to earlier ones are noted at the end of the last message.
    """
    messages = _next_messages(spec, run_dir, generation, history, ranked=ranked)
    notes = schedule_notes(run_dir, generation, history)
    if notes and messages[-1].role == "user":
        last = messages[-1]
        messages[-1] = Message(last.role, f"{last.content.rstrip()}\n\n{notes}")
    return messages


def schedule_notes(run_dir: Path, generation: int, history: list[CandidateRecord]) -> str:
    """The ``schedule_notes`` text for the previous generation's stopped and equivalent candidates ("" if none)."""
    last = [r for r in history if r.generation == generation - 1]
    stopped = [
        {"index": r.index, "message": r.message, "reflection": _feedback(run_dir / r.name / FEEDBACK_FILE)}
        for r in last
        if r.status == "stopped_early"
    ]
    equivalent = [{"index": r.index, "message": r.message} for r in last if r.status == "equivalent"]
    if generation == 0 or not (stopped or equivalent):
        return ""
    return render("schedule_notes", stopped=stopped, equivalent=equivalent, generation=generation - 1).strip()


def _feedback(path: Path) -> str:
    if not path.is_file():
        return ""
    text = path.read_text().strip()
    if len(text) <= PROMPT_STOPPED_FEEDBACK_CHARS:
        return text
    return text[:PROMPT_STOPPED_FEEDBACK_CHARS].rstrip() + "\n[...]"


def _next_messages(
    spec: TaskSpec, run_dir: Path, generation: int, history: list[CandidateRecord], *, ranked: bool
) -> list[Message]:
    messages = base_messages(spec)
    if generation == 0:
        return messages
    elite = find_elite(spec, run_dir, history)
    last = [r for r in history if r.generation == generation - 1]
    failures = [
        {"index": r.index, "status": r.status, "message": short(r.message, PROMPT_FAILURE_CHARS)}
        for r in last
        if r.status not in NOT_FAILURES
    ]
    ranking = load_ranking(run_dir, generation - 1) if ranked else None
    if ranking is not None:  # ICPL: the LLM sees the ranking (best and worst programs), not fitness values
        changes = history_prompt(run_dir, generation - 1)  # ICPL: how the chosen program changed, its statistics
        text = (f"{changes.rstrip()}\n\n" if changes else "") + preference_prompt(run_dir, ranking)
        if failures:
            text += "\n" + render("failures", failures=failures, generation=generation - 1)
        messages.append(Message("user", text))
        return messages
    if elite is not None:
        messages.append(Message("assistant", f"```python\n{elite.source.strip()}\n```"))
        messages.append(Message("user", render("reflection", best=elite, failures=failures, generation=generation - 1)))
        return messages
    # nothing worked yet: show one failed program and its error (Eureka's execution-error feedback)
    failed = next((r for r in last if r.status != "internal_error" and (run_dir / r.name / REWARD_FILE).exists()), None)
    if failed is not None:
        source = (run_dir / failed.name / REWARD_FILE).read_text()
        messages.append(Message("assistant", f"```python\n{source.strip()}\n```"))
        messages.append(
            Message("user", render("execution_error", status=failed.status, message=short(failed.message, 1500)))
        )
    return messages
