"""A small local HTTP server for eureka-kit's pages: a random token on every request, quiet about clients.

:class:`AppServer` is a threaded HTTP server on 127.0.0.1 (by default) with
a random port. Every request must carry the server's random token as the
``token`` query parameter (the printed URL has it; the pages' scripts send it
along), else it is refused with 403. Subclasses (the dashboard,
:mod:`eureka_kit.web.dashboard`, and the ranking page,
:mod:`eureka_kit.web.rank_server`) answer in :meth:`AppServer.get` and
:meth:`AppServer.post` with the helpers of :class:`Handler`: pages and
assets from ``eureka_kit/web/static``, JSON, files with HTTP range requests.

Errors are JSON objects ``{"error": "..."}``; methods other than GET and POST
get 405. A client that goes away mid-answer (a browser cancelling a video
load: ``BrokenPipeError``, ``ConnectionResetError``) is no error: nothing is
printed. Any other failure of a request prints one line on stderr, never a
traceback in the run's output.
"""

from __future__ import annotations

import errno
import json
import mimetypes
import re
import secrets
import sys
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlsplit

STATIC_DIR = Path(__file__).with_name("static")
"""The pages, scripts and stylesheet."""
STATIC_TYPES = {"rank.js": "text/javascript", "dashboard.js": "text/javascript", "style.css": "text/css"}
"""The assets served under ``/static/<name>``, with their content types."""
MAX_BODY_BYTES = 64 * 1024
"""Largest accepted POST body."""
DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
"""What a client going away looks like to the server: handled quietly."""

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


def token_ok(given: str | None, token: str) -> bool:
    """Constant-time comparison of a request's token with the server's."""
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


def _is_disconnect(e: BaseException | None) -> bool:
    return isinstance(e, DISCONNECTS) or (
        isinstance(e, OSError) and e.errno in (errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED)
    )


class _QuietHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` whose failed requests print one line (nothing for a client gone), no traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        e = sys.exc_info()[1]
        if _is_disconnect(e):
            return
        print(
            f"eureka-kit web server: request from {client_address[0]} failed: {type(e).__name__}: {e}", file=sys.stderr
        )


class AppServer:
    """A token-protected local HTTP server; subclasses answer requests in :meth:`get` and :meth:`post`.

    Use as a context manager or call :meth:`start` and :meth:`close`.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(24)
        if not _TOKEN.match(self.token):
            raise ValueError("token must be at least 16 characters of letters, digits, '-' and '_'")
        self._httpd = _QuietHTTPServer((host, port), _make_handler(self))
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = int(self._httpd.server_address[1])

    # ----------------------------------------------------------------------------------------- routes

    def get(self, h: Handler, path: str, query: Mapping[str, list[str]]) -> None:
        """Answer ``GET path`` (the token already checked); raise :class:`RequestError` to refuse."""
        raise RequestError(HTTPStatus.NOT_FOUND, f"no page {path}")

    def post(self, h: Handler, path: str, query: Mapping[str, list[str]]) -> None:
        """Answer ``POST path`` (the token already checked); raise :class:`RequestError` to refuse."""
        raise RequestError(HTTPStatus.NOT_FOUND, f"no endpoint {path}")

    @property
    def url(self) -> str:
        """The address to print (with the token)."""
        return self.page_url("/")

    # ----------------------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def page_url(self, page: str) -> str:
        """``base_url + page + ?token=...``."""
        return f"{self.base_url}{page}?token={quote(self.token)}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="web-server", daemon=True
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_handler(app: AppServer) -> type[BaseHTTPRequestHandler]:
    class BoundHandler(Handler):
        server_app = app

    return BoundHandler


def _discard(stream: Any, n: int) -> None:
    """Read and drop ``n`` bytes (fewer if the stream ends)."""
    while n > 0:
        chunk = stream.read(min(65536, n))
        if not chunk:
            return
        n -= len(chunk)


class Handler(BaseHTTPRequestHandler):
    """One request: checks the token, hands it to the app, and offers the answers the apps send."""

    server_app: AppServer
    server_version = "eureka-kit"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send its request

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the run's progress output stays clean
        return

    def handle(self) -> None:
        try:
            super().handle()
        except DISCONNECTS:
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except DISCONNECTS:
            pass

    # ----------------------------------------------------------------------------------------- answers

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

    def send(self, status: HTTPStatus, body: bytes, ctype: str, extra: Mapping[str, str] | None = None) -> None:
        """Answer with ``body`` (and the security headers every answer carries)."""
        self._headers(status, ctype, len(body), extra)
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: HTTPStatus, obj: Any) -> None:
        self.send(status, json.dumps(obj, allow_nan=False).encode(), "application/json; charset=utf-8")

    def send_page(self, name: str) -> None:
        """A page of ``static/`` with the server's token filled in for its script."""
        page = (STATIC_DIR / name).read_text(encoding="utf-8").replace("__TOKEN__", self.server_app.token)
        self.send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")

    def send_static(self, name: str) -> None:
        """An asset of :data:`STATIC_TYPES`; anything else is 404."""
        if name not in STATIC_TYPES:
            raise RequestError(HTTPStatus.NOT_FOUND, "no such asset")
        self.send(HTTPStatus.OK, (STATIC_DIR / name).read_bytes(), f"{STATIC_TYPES[name]}; charset=utf-8")

    def send_file(self, path: Path) -> None:
        """A file, honouring one HTTP byte range (videos seek with them)."""
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
                self.send(
                    HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "text/plain", {"Content-Range": f"bytes */{size}"}
                )
                return
            status = HTTPStatus.PARTIAL_CONTENT
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        with path.open("rb") as f:
            f.seek(start)
            data = f.read(end - start + 1)
        self.send(status, data, ctype, extra)

    def read_json_body(self) -> bytes:
        """The body of a JSON POST, at most :data:`MAX_BODY_BYTES`, with a ``Content-Length`` (no chunks)."""
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise RequestError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
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
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is {length} bytes; the limit is {MAX_BODY_BYTES}"
            )
        body: bytes = self.rfile.read(length)
        if len(body) != length:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is shorter than its Content-Length")
        return body

    def _error(self, e: RequestError) -> None:
        self.close_connection = True  # a refused request's body may be unread: never reuse the connection
        self.send_json(e.status, {"error": str(e)})

    # ----------------------------------------------------------------------------------------- methods

    def _route(self, post: bool) -> None:
        app = self.server_app
        try:
            try:
                url = urlsplit(self.path)
                query = parse_qs(url.query, keep_blank_values=True)
                tokens = query.get("token", [])
                if len(tokens) != 1 or not token_ok(tokens[0], app.token):
                    raise RequestError(
                        HTTPStatus.FORBIDDEN, "missing or wrong token: open the URL printed by eureka-kit"
                    )
                (app.post if post else app.get)(self, url.path, query)
            except RequestError as e:
                self._error(e)
            except DISCONNECTS:
                raise
            except Exception as e:  # a bug must not kill the server thread silently, nor flood the console
                print(
                    f"eureka-kit web server: {self.command} {self.path[:100]}: {type(e).__name__}: {e}", file=sys.stderr
                )
                self._error(RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(e).__name__}"))
        except DISCONNECTS:  # the client went away, maybe while we answered an error
            self.close_connection = True

    def do_GET(self) -> None:
        self._route(post=False)

    def do_POST(self) -> None:
        self._route(post=True)

    def _not_allowed(self) -> None:
        self.close_connection = True
        body = json.dumps({"error": f"method {self.command} not allowed; use GET or POST"}).encode()
        self.send(HTTPStatus.METHOD_NOT_ALLOWED, body, "application/json", {"Allow": "GET, POST"})

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed
