"""The ranking page: a person ranks a generation's policies from their videos (ICPL).

::

    ranker = HumanRanker(run_dir, timeout_s=600)
    ranking = ranker.rank(generation, load_items(run_dir, generation))   # blocks until submitted or timed out

:class:`RankServer` is the run dashboard (:class:`~eureka_kit.web.dashboard.DashboardServer`:
``/dashboard``, ``/api/run``, the run's videos under ``/files/``, behind a
token, see :mod:`eureka_kit.web.http_base`) plus the ranking of one generation:

- ``GET /rank``: the page (``static/rank.html``);
- ``GET /api/items``: the candidates to rank (name, video URL, fitness, program);
- ``POST /api/ranking``: the person's ranking, JSON, validated strictly
  (:func:`parse_submission`); a valid one is written atomically to
  ``gen_XXX/ranking.json`` with ``who="human"`` and wakes :meth:`RankServer.wait`.
"""

from __future__ import annotations

import json
import threading
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eureka_kit.preferences.ranking import (
    MAX_COMMENT_BYTES,
    FitnessRanker,
    Ranking,
    RankingError,
    RankItem,
    save_ranking,
)
from eureka_kit.run.layout import gen_name
from eureka_kit.web.dashboard import DashboardServer
from eureka_kit.web.http_base import Handler, RequestError

_SUBMISSION_KEYS = frozenset({"generation", "order", "best", "worst", "comments", "generation_comment"})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_submission(body: bytes, generation: int, names: Sequence[str]) -> Ranking:
    """Validate a submitted ranking (the POST body) for ``generation`` and its candidate ``names``.

    The body is a JSON object with ``order`` (every candidate once, best
    first), ``best``, ``worst``, optional ``comments`` (name -> text, at most
    :data:`MAX_COMMENT_BYTES` each), ``generation_comment`` and
    ``generation`` (must match). Anything else raises :class:`RequestError` (400).
    """
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"malformed JSON: {e}") from None
    if not isinstance(data, dict):
        raise RequestError(HTTPStatus.BAD_REQUEST, "the ranking must be a JSON object")
    extra = sorted(set(data) - _SUBMISSION_KEYS)
    if extra:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"unknown fields: {', '.join(extra)}")
    if "generation" in data and (type(data["generation"]) is not int or data["generation"] != generation):
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"this page ranks generation {generation}, not {data['generation']!r}"
        )
    order = data.get("order")
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        raise RequestError(HTTPStatus.BAD_REQUEST, "order must be a list of candidate names")
    for key in ("best", "worst"):
        if not isinstance(data.get(key), str):
            raise RequestError(HTTPStatus.BAD_REQUEST, f"{key} must be a candidate name")
    comments = data.get("comments", {})
    if not isinstance(comments, dict) or not all(isinstance(v, str) for v in comments.values()):
        raise RequestError(HTTPStatus.BAD_REQUEST, "comments must map candidate names to strings")
    general = data.get("generation_comment", "")
    if not isinstance(general, str):
        raise RequestError(HTTPStatus.BAD_REQUEST, "generation_comment must be a string")
    unknown = sorted({n for n in [*order, data["best"], data["worst"], *comments] if n not in names})
    if unknown:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"unknown candidates: {', '.join(unknown)}; this generation has {', '.join(names)}"
        )
    try:
        ranking = Ranking(
            generation=generation,
            who="human",
            order=tuple(order),
            best=data["best"],
            worst=data["worst"],
            comments={k: v.strip() for k, v in comments.items() if v.strip()},
            generation_comment=general.strip(),
        )
        ranking.check_candidates(names)
    except RankingError as e:
        raise RequestError(HTTPStatus.BAD_REQUEST, str(e)) from None
    return ranking


class RankServer(DashboardServer):
    """The ranking page of one generation (if ``generation`` is given) and the run dashboard.

    Use as a context manager or call :meth:`start` and :meth:`close`.
    :attr:`url` is the ranking page's address with the token (or the
    dashboard's when there is nothing to rank).
    """

    def __init__(
        self,
        run_dir: Path,
        generation: int | None = None,
        items: Sequence[RankItem] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
    ) -> None:
        if generation is not None and not items:
            raise RankingError(f"generation {generation} has nothing to rank")
        names = [it.name for it in items]
        if len(set(names)) != len(names):
            raise RankingError(f"candidate names are not unique: {names}")
        self.generation = generation
        self.items = tuple(items)
        self._lock = threading.Lock()
        self._submitted = threading.Event()
        self._ranking: Ranking | None = None
        self._closed_for_ranking = False
        super().__init__(run_dir, host=host, port=port, token=token)

    @property
    def url(self) -> str:
        return self.page_url("/rank" if self.generation is not None else "/dashboard")

    # -------------------------------------------------------------------------------------- routes

    def get(self, h: Handler, path: str, query: Mapping[str, list[str]]) -> None:
        if path == "/rank":
            if self.generation is None:
                raise RequestError(HTTPStatus.NOT_FOUND, "nothing to rank here; see /dashboard")
            h.send_page("rank.html")
        elif path == "/api/items":
            h.send_json(HTTPStatus.OK, self.items_json())
        else:
            super().get(h, path, query)

    def post(self, h: Handler, path: str, query: Mapping[str, list[str]]) -> None:
        if path != "/api/ranking":
            super().post(h, path, query)
            return
        ranking = self._submit(h.read_json_body())
        h.send_json(
            HTTPStatus.OK,
            {"ok": True, "path": f"{gen_name(ranking.generation)}/ranking.json", "ranking": ranking.to_json()},
        )

    # -------------------------------------------------------------------------------------- ranking

    @property
    def ranking(self) -> Ranking | None:
        """The submitted ranking, once there is one."""
        return self._ranking

    def wait(self, timeout_s: float | None = None) -> Ranking | None:
        """Block until a ranking is submitted (returns it) or ``timeout_s`` passes (returns ``None``)."""
        self._submitted.wait(timeout_s)
        return self._ranking

    def close_ranking(self) -> Ranking | None:
        """Accept no more submissions; returns the ranking if one arrived before (no race with a late one)."""
        with self._lock:
            self._closed_for_ranking = True
            return self._ranking

    def _submit(self, body: bytes) -> Ranking:
        if self.generation is None:
            raise RequestError(HTTPStatus.NOT_FOUND, "this server has no generation to rank")
        ranking = parse_submission(body, self.generation, [it.name for it in self.items])
        with self._lock:
            if self._ranking is not None:
                raise RequestError(HTTPStatus.CONFLICT, "this generation was already ranked")
            if self._closed_for_ranking:
                raise RequestError(HTTPStatus.CONFLICT, "ranking closed: the wait timed out and the run went on")
            save_ranking(self.run_dir, ranking)
            self._ranking = ranking
        self._submitted.set()
        return ranking

    def items_json(self) -> dict[str, Any]:
        """What the ranking page shows: the generation and, per candidate, video URL, fitness and program."""
        out = []
        for it in self.items:
            video = None
            if it.video is not None:
                try:
                    video = "/files/" + quote(Path(it.video).resolve().relative_to(self.run_dir).as_posix())
                except ValueError:
                    video = None  # outside the run folder: never served
            out.append({"name": it.name, "video": video, "fitness": it.fitness, "source": it.source})
        return {
            "run_id": self.run_dir.name,
            "generation": self.generation,
            "items": out,
            "max_comment_bytes": MAX_COMMENT_BYTES,
            "submitted": self._ranking is not None,
        }


class HumanRanker:
    """Asks a person: serves the ranking page, prints its URL and waits for the submission.

    Without an answer within ``timeout_s`` seconds (``None``: wait forever)
    it says so and falls back to :class:`~eureka_kit.preferences.ranking.FitnessRanker`
    (``who="fitness"``, with a note). ``on_start`` is called with the running
    server (tests use it to submit). ``announce`` prints the messages.
    """

    def __init__(
        self,
        run_dir: Path,
        timeout_s: float | None,
        open_browser: bool = False,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        announce: Callable[[str], None] = print,
        on_start: Callable[[RankServer], None] | None = None,
    ) -> None:
        if timeout_s is not None and timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0 or None, got {timeout_s}")
        self.run_dir = Path(run_dir)
        self.timeout_s = timeout_s
        self.open_browser = open_browser
        self.host = host
        self.port = port
        self.announce = announce
        self.on_start = on_start

    def rank(self, generation: int, items: Sequence[RankItem]) -> Ranking:
        with RankServer(self.run_dir, generation, items, host=self.host, port=self.port) as server:
            limit = "" if self.timeout_s is None else f" (within {self.timeout_s:g} s, else ranked by fitness)"
            self.announce(f"Rank the {len(items)} policies of generation {generation}{limit}: {server.url}")
            if self.open_browser:
                webbrowser.open(server.url)
            if self.on_start is not None:
                self.on_start(server)
            ranking = server.wait(self.timeout_s)
            if ranking is None:
                ranking = server.close_ranking()
        if ranking is not None:
            self.announce(f"Ranking of generation {generation} received: best {ranking.best}, worst {ranking.worst}")
            return ranking
        note = f"no ranking from a person within {self.timeout_s:g} s; ordered by fitness instead"
        self.announce(f"Generation {generation}: {note}")
        return FitnessRanker(note=note).rank(generation, items)
