"""A local web page where a person ranks a generation's policies from their videos, and a run dashboard.

::

    ranker = HumanRanker(run_dir, timeout_s=600)
    ranking = ranker.rank(generation, load_items(run_dir, generation))   # blocks until submitted or timed out

    serve_dashboard(run_dir)                                              # the run's candidates, until Ctrl-C

:class:`RankServer` is a small threaded HTTP server on 127.0.0.1 (by
default) with a random port. Every request must carry the server's random
token as the ``token`` query parameter (the printed URL has it; the page's
script sends it along), else it is refused with 403. Routes:

- ``GET /rank``, ``GET /dashboard``: the pages (``eureka_kit/web/``);
  ``GET /static/<name>``: their scripts and stylesheet;
- ``GET /api/items``: the candidates to rank (name, video URL, fitness, program);
- ``GET /api/run``: the run as read from its folder (:func:`eureka_kit.web.report.load_run`);
- ``GET /files/<path>``: a video (``.mp4``) inside the run folder, with HTTP
  range requests; anything outside the run folder (``..``, absolute paths,
  symlinks that lead out) is refused;
- ``POST /api/ranking``: the person's ranking, JSON, validated strictly;
  a valid one is written atomically to ``gen_XXX/ranking.json`` with
  ``who="human"`` and wakes :meth:`RankServer.wait`.

Other methods get 405. Errors are JSON objects ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
import sys
import threading
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from eureka_kit.preferences.ranking import (
    MAX_COMMENT_BYTES,
    FitnessRanker,
    Ranking,
    RankingError,
    RankItem,
    save_ranking,
)

WEB_DIR = Path(__file__).with_name("static")
MAX_BODY_BYTES = 64 * 1024

HEADLESS_CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium, used headless by the browser tests and the docs' screenshots (scripts/setup_system.sh)."""
HEADLESS_CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Launch flags for it as root on a machine without network (no sandbox, no background connections)."""
"""Largest accepted POST body."""
VIDEO_SUFFIXES = frozenset({".mp4", ".webm"})
_STATIC = {"rank.js": "text/javascript", "dashboard.js": "text/javascript", "style.css": "text/css"}
_PAGES = {"/rank": "rank.html", "/dashboard": "dashboard.html"}
_SUBMISSION_KEYS = frozenset({"generation", "order", "best", "worst", "comments", "generation_comment"})
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_DRAIN_BYTES = 4 * 1024 * 1024
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RequestError(Exception):
    """A request is refused; ``status`` is the HTTP status and the message goes back as JSON."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


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


def _discard(stream: Any, n: int) -> None:
    """Read and drop ``n`` bytes (fewer if the stream ends)."""
    while n > 0:
        chunk = stream.read(min(65536, n))
        if not chunk:
            return
        n -= len(chunk)


def _token_ok(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


class RankServer:
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
        self.run_dir = Path(run_dir).resolve()
        if not self.run_dir.is_dir():
            raise FileNotFoundError(f"no run folder at {run_dir}")
        if generation is not None and not items:
            raise RankingError(f"generation {generation} has nothing to rank")
        names = [it.name for it in items]
        if len(set(names)) != len(names):
            raise RankingError(f"candidate names are not unique: {names}")
        self.generation = generation
        self.items = tuple(items)
        self.token = token or secrets.token_urlsafe(24)
        if not _TOKEN.match(self.token):
            raise ValueError("token must be at least 16 characters of letters, digits, '-' and '_'")
        self._lock = threading.Lock()
        self._submitted = threading.Event()
        self._ranking: Ranking | None = None
        self._closed_for_ranking = False
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = int(self._httpd.server_address[1])

    # -------------------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def page_url(self, page: str) -> str:
        """``base_url + page + ?token=...``."""
        return f"{self.base_url}{page}?token={quote(self.token)}"

    @property
    def url(self) -> str:
        return self.page_url("/rank" if self.generation is not None else "/dashboard")

    @property
    def dashboard_url(self) -> str:
        return self.page_url("/dashboard")

    def start(self) -> RankServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="rank-server", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> RankServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    # -------------------------------------------------------------------------------------- content

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

    def run_json(self) -> dict[str, Any]:
        """The dashboard's data: the run folder as :func:`eureka_kit.web.report.load_run` reads it."""
        from eureka_kit.web.report import fitness_svg, load_run

        view = load_run(self.run_dir)
        summary = dict(view.summary or {})
        return {
            "run_id": view.run_id,
            "task": view.task,
            "summary": {k: summary[k] for k in ("best", "status_counts", "llm", "wall_time_s") if k in summary},
            "notes": list(view.notes),
            "fitness_svg": fitness_svg(view.fitness_per_generation()),
            "generations": [
                {
                    "generation": g.generation,
                    "ranking": g.ranking.to_json() if g.ranking else None,
                    "ranking_error": g.ranking_error,
                    "candidates": [
                        {**c.to_json(), "video": "/files/" + quote(c.video) if c.video else None} for c in g.candidates
                    ],
                }
                for g in view.generations
            ],
        }

    def resolve_file(self, rel: str) -> Path:
        """The run file at URL path ``rel`` (already unquoted); refuses anything outside the run or not a video."""
        if not rel or "\x00" in rel or "\\" in rel or rel.startswith("/"):
            raise RequestError(HTTPStatus.FORBIDDEN, "invalid file path")
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise RequestError(HTTPStatus.FORBIDDEN, "file paths must not contain '.', '..' or empty parts")
        try:
            path = self.run_dir.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError):
            raise RequestError(HTTPStatus.NOT_FOUND, "no such file") from None
        if not path.is_relative_to(self.run_dir):
            raise RequestError(HTTPStatus.FORBIDDEN, "the file is outside the run folder")
        if path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
            raise RequestError(HTTPStatus.FORBIDDEN, "only the run's videos are served")
        return path


def _make_handler(app: RankServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        server_app = app

    return Handler


class _Handler(BaseHTTPRequestHandler):
    server_app: RankServer
    server_version = "eureka-kit"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send its request

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the run's progress output stays clean
        return

    # -------------------------------------------------------------------------------------- responses

    def _headers(self, status: HTTPStatus, ctype: str, length: int, extra: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", _CSP)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, status: HTTPStatus, body: bytes, ctype: str, extra: Mapping[str, str] | None = None) -> None:
        self._headers(status, ctype, len(body), extra)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, obj: Any) -> None:
        self._send(status, json.dumps(obj, allow_nan=False).encode(), "application/json; charset=utf-8")

    def _error(self, e: RequestError) -> None:
        self.close_connection = True  # a refused request's body may be unread: never reuse the connection
        self._json(e.status, {"error": str(e)})

    def _route(self, handler: Callable[[str, Mapping[str, list[str]]], None]) -> None:
        try:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            tokens = query.get("token", [])
            if len(tokens) != 1 or not _token_ok(tokens[0], self.server_app.token):
                raise RequestError(HTTPStatus.FORBIDDEN, "missing or wrong token: open the URL printed by eureka-kit")
            handler(url.path, query)
        except RequestError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug must not kill the server thread silently
            print(f"rank server: {type(e).__name__}: {e}", file=sys.stderr)
            self._error(RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(e).__name__}"))

    # -------------------------------------------------------------------------------------- methods

    def do_GET(self) -> None:
        self._route(self._get)

    def do_POST(self) -> None:
        self._route(self._post)

    def _not_allowed(self) -> None:
        self.close_connection = True
        body = json.dumps({"error": f"method {self.command} not allowed; use GET or POST"}).encode()
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, body, "application/json", {"Allow": "GET, POST"})

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _get(self, path: str, query: Mapping[str, list[str]]) -> None:
        app = self.server_app
        if path == "/":
            self._send(HTTPStatus.FOUND, b"", "text/plain", {"Location": app.url.replace(app.base_url, "")})
        elif path in _PAGES:
            if path == "/rank" and app.generation is None:
                raise RequestError(HTTPStatus.NOT_FOUND, "nothing to rank here; see /dashboard")
            page = (WEB_DIR / _PAGES[path]).read_text(encoding="utf-8").replace("__TOKEN__", app.token)
            self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")
        elif path.startswith("/static/"):
            name = path[len("/static/") :]
            if name not in _STATIC:
                raise RequestError(HTTPStatus.NOT_FOUND, "no such asset")
            self._send(HTTPStatus.OK, (WEB_DIR / name).read_bytes(), f"{_STATIC[name]}; charset=utf-8")
        elif path == "/api/items":
            self._json(HTTPStatus.OK, app.items_json())
        elif path == "/api/run":
            self._json(HTTPStatus.OK, app.run_json())
        elif path.startswith("/files/"):
            try:
                rel = unquote(path[len("/files/") :], errors="strict")
            except UnicodeDecodeError:
                raise RequestError(HTTPStatus.BAD_REQUEST, "invalid file path") from None
            self._file(app.resolve_file(rel))
        else:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no page {path}")

    def _file(self, path: Path) -> None:
        size = path.stat().st_size
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        start, end = 0, size - 1
        status = HTTPStatus.OK
        extra = {"Accept-Ranges": "bytes"}
        header = self.headers.get("Range")
        if header:
            m = _RANGE.match(header.strip())
            if m is None or (not m.group(1) and not m.group(2)):
                raise RequestError(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "only one byte range is supported")
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:  # suffix range: the last N bytes
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                self.close_connection = True
                self._send(
                    HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "text/plain", {"Content-Range": f"bytes */{size}"}
                )
                return
            status = HTTPStatus.PARTIAL_CONTENT
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        with path.open("rb") as f:
            f.seek(start)
            data = f.read(end - start + 1)
        self._send(status, data, ctype, extra)

    def _post(self, path: str, query: Mapping[str, list[str]]) -> None:
        if path != "/api/ranking":
            raise RequestError(HTTPStatus.NOT_FOUND, f"no endpoint {path}")
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the ranking as application/json")
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not a chunked body")
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        if not raw.strip().isdigit():
            raise RequestError(HTTPStatus.BAD_REQUEST, "invalid Content-Length")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            if length <= _DRAIN_BYTES:  # read and drop it: the client gets the answer rather than a broken pipe
                _discard(self.rfile, length)
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the ranking is {length} bytes; the limit is {MAX_BODY_BYTES}"
            )
        body = self.rfile.read(length)
        if len(body) != length:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is shorter than its Content-Length")
        ranking = self.server_app._submit(body)
        self._json(
            HTTPStatus.OK,
            {"ok": True, "path": f"gen_{ranking.generation:03d}/ranking.json", "ranking": ranking.to_json()},
        )


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


def serve_dashboard(
    run_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    open_browser: bool = False,
    block: bool = True,
    announce: Callable[[str], None] = print,
) -> RankServer:
    """Serve the run's dashboard; with ``block`` until Ctrl-C (then returns the closed server), else running."""
    server = RankServer(run_dir, host=host, port=port, token=token).start()
    announce(f"Dashboard of run {server.run_dir.name}: {server.dashboard_url}" + (" (Ctrl-C to stop)" if block else ""))
    if open_browser:
        webbrowser.open(server.dashboard_url)
    if not block:
        return server
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return server
