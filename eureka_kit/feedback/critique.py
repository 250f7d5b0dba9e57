"""The analyzer's findings as text: the critique for the next prompt, and an optional LLM summary of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from eureka_kit.feedback.findings import Analysis
from eureka_kit.prompting import render
from eureka_kit.tasks.spec import TaskSpec


def render_critique(analysis: Analysis, max_findings: int = 6) -> str:
    """The critique for the next prompt: the ``max_findings`` most important findings, numbers included."""
    shown = analysis.findings[: max(0, max_findings)]
    rows = [
        {"label": f.severity + (", reward hacking sign" if f.is_hacking_sign else ""), "message": f.message}
        for f in shown
    ]
    return render(
        "critique",
        task_id=analysis.task_id,
        episodes=analysis.episodes,
        findings=rows,
        omitted=len(analysis.findings) - len(shown),
    )


class SupportsSample(Protocol):
    """What :func:`llm_summary` needs of an LLM client (:class:`eureka_kit.llm.LLMClient` has it)."""

    def sample(
        self, messages: Sequence[Any], *, request_id: str, n: int = 1, params: Any | None = None
    ) -> list[Any]: ...


SUMMARY_MAX_CHARS = 2000


def summary_prompt(analysis: Analysis, spec: TaskSpec) -> str:
    """The user message of :func:`llm_summary` (``prompts/analyzer_summary.j2``)."""
    rows = [
        {
            "severity": f.severity,
            "kind": f.kind,
            "hacking": f.is_hacking_sign,
            "message": f.message,
            "evidence": json.dumps(dict(f.evidence), sort_keys=True),
        }
        for f in analysis.findings
    ]
    return render("analyzer_summary", task=spec, episodes=analysis.episodes, findings=rows)


def llm_summary(client: SupportsSample, analysis: Analysis, spec: TaskSpec, request_id: str, params: Any = None) -> str:
    """Ask the LLM for a short diagnosis of the findings (the ``--llm-analyzer`` option); returns its text, bounded.

    ``params`` are :class:`eureka_kit.llm.SamplingParams` (default: temperature
    0.2, at most 600 tokens). Errors of the client (budget, failed call)
    propagate: the caller decides to fall back to :func:`render_critique`.
    """
    from eureka_kit.llm import Message, SamplingParams

    if params is None:
        params = SamplingParams(temperature=0.2, max_tokens=600)
    (completion,) = client.sample(
        [Message("user", summary_prompt(analysis, spec))], request_id=request_id, n=1, params=params
    )
    text = str(completion.text).strip()
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 6] + " [...]"
