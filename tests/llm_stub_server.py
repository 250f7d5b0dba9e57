"""A tiny OpenAI-compatible HTTP server for the LLM client tests.

Serves ``POST /v1/chat/completions`` on 127.0.0.1 (a free port) from a thread,
with faults injected per request, in order::

    with StubServer() as server:
        server.faults.extend([Fault("status", status=429, retry_after="2"), Fault("drop")])
        backend = OpenAIBackend(model="gpt-4o-mini", base_url=server.base_url)

Every request is counted and its JSON body and headers kept in
:attr:`StubServer.requests`, so tests can assert how many HTTP calls were made.
A normal answer has ``len(choices) == n`` (or 1 when ``ignore_n``) and a fixed
``usage``: :data:`PROMPT_TOKENS` prompt tokens and :data:`COMPLETION_TOKENS`
per choice.

Vision requests: :func:`image_parts` decodes the ``image_url`` content parts of a
request (base64 data URLs) back to bytes, and :attr:`StubServer.script` answers
the next normal requests with scripted texts, or with a function of the request
body (e.g. a ranking of the candidates the request names).
"""

from __future__ import annotations

import base64
import collections
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

PROMPT_TOKENS = 100
COMPLETION_TOKENS = 50

FaultKind = Literal["status", "slow", "drop", "malformed"]


@dataclass(frozen=True)
class Fault:
    """One injected fault, consumed by the next request.

    - ``status``: answer with HTTP ``status`` (and ``Retry-After: retry_after`` when given)
      and an OpenAI-style error body with ``message`` and ``code``;
    - ``slow``: sleep ``delay_s`` before a normal answer (beyond the client timeout);
    - ``drop``: read the request, then close the socket without any response;
    - ``malformed``: HTTP 200 with a body that is not JSON.
    """

    kind: FaultKind
    status: int = 500
    retry_after: str | None = None
    delay_s: float = 0.0
    message: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class SeenRequest:
    """A request as the server received it."""

    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: dict[str, Any]
    fault: Fault | None


@dataclass
class StubServer:
    """An OpenAI-compatible chat completions server with injectable faults (a context manager)."""

    ignore_n: bool = False
    script: collections.deque[str | Callable[[dict[str, Any]], str]] = field(default_factory=collections.deque)
    """Texts (or functions of the request body) of the next normal answers, in order; then the default text."""
    faults: collections.deque[Fault] = field(default_factory=collections.deque)
    requests: list[SeenRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> StubServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw or b"{}")
                with stub._lock:
                    fault = stub.faults.popleft() if stub.faults else None
                    index = len(stub.requests)
                    stub.requests.append(
                        SeenRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body, fault)
                    )
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault is not None and fault.kind == "status":
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                    message = fault.message or (
                        "Rate limit reached" if fault.status == 429 else f"stub error {fault.status}"
                    )
                    error = {"message": message, "type": "stub", "code": fault.code}
                    self._send(fault.status, {"error": error}, headers)
                    return
                if fault is not None and fault.kind == "malformed":
                    self._send_raw(200, b'{"id": "x", "choices": [ this is not json')
                    return
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.delay_s)
                self._send(200, stub.answer(body, index))

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._send_raw(status, json.dumps(payload).encode(), headers)

            def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, body: dict[str, Any], index: int) -> dict[str, Any]:
        """A normal chat completion: one choice per requested sample, text naming the request number."""
        n = 1 if self.ignore_n else int(body.get("n") or 1)
        last = body["messages"][-1]["content"]
        with self._lock:
            scripted = self.script.popleft() if self.script else None
        if scripted is not None:
            text = scripted(body) if callable(scripted) else scripted
        choices = [
            {
                "index": i,
                "message": {
                    "role": "assistant",
                    "content": text if scripted is not None else f"answer {index}.{i} to: {last}",
                },
                "finish_reason": "stop",
            }
            for i in range(n)
        ]
        return {
            "id": f"chatcmpl-{index}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body["model"],
            "choices": choices,
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS * n,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS * n,
            },
        }


DATA_URL_PREFIX = "data:image/png;base64,"


def image_parts(body: dict[str, Any]) -> list[bytes]:
    """The images of a chat request, decoded from their ``image_url`` data URLs, in message and part order."""
    out = []
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            continue
        for part in content:
            if part["type"] == "image_url":
                url = part["image_url"]["url"]
                assert url.startswith(DATA_URL_PREFIX), url[:40]
                out.append(base64.b64decode(url[len(DATA_URL_PREFIX) :], validate=True))
    return out


def text_of(body: dict[str, Any]) -> str:
    """All the text of a chat request's messages (plain content and text parts), joined by newlines."""
    texts = []
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            texts.append(content)
        else:
            texts += [part["text"] for part in content if part["type"] == "text"]
    return "\n".join(texts)
