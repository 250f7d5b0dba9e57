"""A vision-language model ranks a generation's policies from frames of their videos (``--ranker vlm``).

Each generation, :class:`VLMRanker` turns every successful candidate's
``rollout.mp4`` into one grid image (:func:`~eureka_kit.preferences.frames.frame_grid`),
sends the task's goal and the images, each labelled with its candidate's
name, to an OpenAI-compatible vision model in one chat request
(``prompts/vlm_rank.j2``), and reads back a small JSON answer: the order best
first, the best, the worst, one comment per candidate and a summary. The
answer is stored as the generation's :class:`~eureka_kit.preferences.ranking.Ranking`
with ``who="vlm"``, exactly like a person's, so the next prompt carries it.

A reply that is not a valid ranking (not JSON, a candidate missing or named
twice, an unknown name) is re-asked once with the error
(``prompts/vlm_rank_retry.j2``); if the second reply fails too, or the model
cannot be reached, the generation is ordered by fitness and a warning is
logged: the run goes on. The replies are cached and replayable like every
LLM answer (request ids ``gen_XXX/vlm_rank`` and ``gen_XXX/vlm_rank_retry``).

The ranking is the model's judgement of a few still frames, not a measurement.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from eureka_kit.llm import ImagePart, LLMClient, LLMError, Message, SamplingParams, TextPart
from eureka_kit.preferences.frames import DEFAULT_FRAMES, MAX_IMAGE_BYTES, MAX_SIDE, FrameGrid, frame_grid
from eureka_kit.preferences.ranking import FitnessRanker, Ranking, RankingError, RankItem, _check_items
from eureka_kit.prompting import render
from eureka_kit.run.containment import raise_internal_errors
from eureka_kit.run.layout import gen_name

log = logging.getLogger(__name__)

DEFAULT_MAX_IMAGES = 8
"""Images per generation request (one grid per candidate); candidates beyond it are not shown."""
MAX_COMMENT_CHARS = 1_000
"""Longest comment kept from the model (per candidate, and the summary)."""
VLM_PARAMS = SamplingParams(temperature=0.0, max_tokens=2000)

AnswerStatus = Literal["ok", "invalid"]
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


@dataclass(frozen=True)
class VLMAnswer:
    """A parsed reply (:func:`parse_answer`): the ranking of the shown candidates, or the ``error`` that names
    what is wrong with it."""

    status: AnswerStatus
    order: tuple[str, ...] = ()
    best: str = ""
    worst: str = ""
    comments: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    summary: str = ""
    error: str = ""


def _invalid(error: str) -> VLMAnswer:
    return VLMAnswer("invalid", error=error)


def _json_object(text: str) -> Any:
    """The JSON object of a reply: in a ```json fence, else from its first ``{`` to its last ``}``."""
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text[text.find("{") : text.rfind("}") + 1]
    if not candidate:
        raise ValueError("the reply holds no JSON object")
    return json.loads(candidate)


def parse_answer(text: str, names: Sequence[str]) -> VLMAnswer:
    """Read a reply as a ranking of exactly ``names``; an ``"invalid"`` answer says what is wrong."""
    try:
        data = _json_object(text)
    except ValueError as e:
        return _invalid(f"no JSON object could be read ({e})")
    if not isinstance(data, dict):
        return _invalid("the answer must be one JSON object")
    order = data.get("order")
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        return _invalid('"order" must be a list of candidate names')
    unknown = [n for n in order if n not in names]
    dups = sorted({n for n in order if order.count(n) > 1})
    missing = [n for n in names if n not in order]
    if unknown:
        return _invalid(f'"order" names unknown candidates {", ".join(unknown)}; the candidates are {", ".join(names)}')
    if dups:
        return _invalid(f'"order" names {", ".join(dups)} more than once; name each candidate exactly once')
    if missing:
        return _invalid(f'"order" leaves out {", ".join(missing)}; rank every candidate')
    roles = {"best": data.get("best", order[0]), "worst": data.get("worst", order[-1])}
    for role, value in roles.items():
        if not isinstance(value, str) or value not in order:
            return _invalid(f'"{role}" must be one of the candidates ({", ".join(names)}), got {value!r}')
    best, worst = str(roles["best"]), str(roles["worst"])
    if len(order) > 1 and order.index(best) >= order.index(worst):
        return _invalid(f'"best" ({best}) must be ranked above "worst" ({worst}) in "order"')
    comments = data.get("comments", {})
    if not isinstance(comments, dict) or not all(isinstance(v, str) for v in comments.values()):
        return _invalid('"comments" must be an object mapping candidate names to text')
    stray = [k for k in comments if k not in names]
    if stray:
        return _invalid(f'"comments" names unknown candidates {", ".join(map(str, stray))}')
    summary = data.get("summary", "")
    return VLMAnswer(
        "ok",
        tuple(order),
        best,
        worst,
        MappingProxyType({k: _clip(v) for k, v in comments.items()}),
        _clip(summary if isinstance(summary, str) else ""),
    )


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_COMMENT_CHARS else text[: MAX_COMMENT_CHARS - 3] + "..."


def _fitness_key(item: RankItem) -> tuple[float, str]:
    f = item.fitness
    return (-(f if f is not None and math.isfinite(f) else -math.inf), item.name)


@dataclass(frozen=True)
class Shown:
    """The candidates a generation's request shows (name order) with their grids, and those it leaves out, why."""

    grids: Mapping[str, FrameGrid]
    left_out: Mapping[str, str]


class VLMRanker:
    """Ranks a generation's candidates by asking a vision-language model about frames of their videos.

    ``client`` is the model's :class:`LLMClient` (its cache and call log are
    the run's); ``goal`` what the policies should do (the task's description).
    ``frames`` frames per candidate go into one grid image; at most
    ``max_images`` candidates are shown per generation (the best by fitness
    when there are more; the rest, and those without a video, are ranked
    after the shown ones, by fitness). ``announce`` receives the warnings
    (the run's log).
    """

    def __init__(
        self,
        client: LLMClient,
        goal: str,
        *,
        frames: int = DEFAULT_FRAMES,
        max_images: int = DEFAULT_MAX_IMAGES,
        max_side: int = MAX_SIDE,
        max_bytes: int = MAX_IMAGE_BYTES,
        announce: Callable[[str], None] = print,
    ) -> None:
        if max_images < 2:
            raise ValueError(f"max_images must be >= 2 (a ranking compares candidates), got {max_images}")
        self.client = client
        self.goal = goal
        self.frames = frames
        self.max_images = max_images
        self.max_side = max_side
        self.max_bytes = max_bytes
        self.announce = announce

    def shown(self, items: Sequence[RankItem]) -> Shown:
        """The grid image of each candidate to show, and why the others are left out."""
        grids: dict[str, FrameGrid] = {}
        left_out: dict[str, str] = {}
        for item in sorted(items, key=_fitness_key):
            if len(grids) >= self.max_images:
                left_out[item.name] = f"not shown to the vision model (image budget of {self.max_images})"
                continue
            grid = frame_grid(item.video, frames=self.frames, max_side=self.max_side, max_bytes=self.max_bytes)
            if grid.status == "ok":
                grids[item.name] = grid
            else:
                left_out[item.name] = f"not shown to the vision model ({grid.message})"
        return Shown(MappingProxyType(dict(sorted(grids.items()))), MappingProxyType(left_out))

    def messages(self, generation: int, shown: Shown) -> list[Message]:
        """The request: the goal and the answer format, then each candidate's name and grid image."""
        names = list(shown.grids)
        first = next(iter(shown.grids.values()))
        text = render("vlm_rank", goal=self.goal, names=names, frames=first.frames, generation=generation)
        parts: list[TextPart | ImagePart] = []
        for name, grid in shown.grids.items():
            parts += [TextPart(f"Candidate {name}:"), ImagePart(grid.png)]
        return [Message("user", text, tuple(parts))]

    def rank(self, generation: int, items: Sequence[RankItem]) -> Ranking:
        """The model's ranking of ``items`` (``who="vlm"``), or a fitness ranking when it gives none."""
        _check_items(items)
        try:
            return self._rank(generation, items)
        except (LLMError, RankingError) as e:
            return self._fallback(generation, items, f"{type(e).__name__}: {e}")
        except Exception as e:  # contained like any candidate's fault: the loop goes on (run/containment.py)
            if raise_internal_errors():
                raise
            return self._fallback(generation, items, f"internal error {type(e).__name__}: {e}")

    def _rank(self, generation: int, items: Sequence[RankItem]) -> Ranking:
        shown = self.shown(items)
        names = list(shown.grids)
        if len(names) < 2:
            reasons = "; ".join(f"{k}: {v}" for k, v in shown.left_out.items())
            return self._fallback(generation, items, f"fewer than 2 candidates have frames to show ({reasons})")
        messages = self.messages(generation, shown)
        request = f"{gen_name(generation)}/vlm_rank"
        reply = self.client.sample(messages, request_id=request, params=VLM_PARAMS)[0].text
        answer = parse_answer(reply, names)
        if answer.status != "ok":
            log.info("gen %d: the vision model's ranking is invalid (%s); asking again", generation, answer.error)
            retry = render("vlm_rank_retry", error=answer.error, names=names)
            messages += [Message("assistant", reply), Message("user", retry)]
            reply = self.client.sample(messages, request_id=f"{request}_retry", params=VLM_PARAMS)[0].text
            second = parse_answer(reply, names)
            if second.status != "ok":
                why = f"invalid answer twice (first: {answer.error}; then: {second.error})"
                return self._fallback(generation, items, why)
            answer = second
        by_name = {it.name: it for it in items}
        rest = sorted((by_name[n] for n in shown.left_out), key=_fitness_key)
        comments = {**dict(answer.comments), **dict(shown.left_out)}
        pixels = sum(g.size[0] * g.size[1] for g in shown.grids.values())
        note = (
            f"ranked by the vision model {self.client.model} from {len(names)} grid images of {self.frames} frames "
            f"({sum(len(g.png) for g in shown.grids.values())} PNG bytes, {pixels} pixels)"
            + (f"; {len(rest)} candidate(s) not shown, ranked after by fitness" if rest else "")
        )
        order = (*answer.order, *(it.name for it in rest))
        return Ranking(generation, "vlm", order, answer.best, answer.worst, comments, answer.summary, note=note)

    def _fallback(self, generation: int, items: Sequence[RankItem], why: str) -> Ranking:
        message = f"gen {generation}: no ranking from the vision model ({why}); ordered by fitness"
        log.warning("%s", message)
        self.announce(f"  warning: {message}")
        return FitnessRanker(note=f"vision model gave no ranking: {why}"[:2000]).rank(generation, items)
