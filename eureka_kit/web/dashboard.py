"""The run dashboard: a local page with a run's generations, candidates, programs and videos.

::

    serve_dashboard(run_dir)            # until Ctrl-C; NotARunError when run_dir is not a run

Routes of :class:`DashboardServer` (every one needs the token, see
:mod:`eureka_kit.web.http_base`):

- ``GET /dashboard``: the page (``static/dashboard.html``); ``GET /static/<name>``: its assets;
- ``GET /api/run``: the run as read from its folder (:func:`eureka_kit.web.run_view.load_run`);
- ``GET /files/<path>``: a video (``.mp4``, ``.webm``) inside the run folder, with HTTP
  range requests; anything outside the run folder (``..``, absolute paths,
  symlinks that lead out) or not a video is refused.

The ranking page (:class:`eureka_kit.web.rank_server.RankServer`) is this
server plus the routes of the ranking.
"""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from eureka_kit.errors import UserError
from eureka_kit.run.store import RunStore
from eureka_kit.web.http_base import AppServer, Handler, RequestError
from eureka_kit.web.run_view import load_run
from eureka_kit.web.svg_charts import fitness_svg

VIDEO_SUFFIXES = frozenset({".mp4", ".webm"})


class NotARunError(UserError, FileNotFoundError):
    """The folder given as a run is missing or is not a eureka-kit run; the message names it and what is missing."""


def check_run_folder(run_dir: Path) -> Path:
    """``run_dir`` resolved, when it is a run folder (a folder with ``config.json``); else :class:`NotARunError`."""
    path = Path(run_dir)
    if not path.exists():
        raise NotARunError(f"no run folder at {path}: the folder does not exist")
    if not path.is_dir():
        raise NotARunError(f"{path} is not a eureka-kit run: it is a file, not a run folder")
    config = RunStore(path).config_path
    if not config.is_file():
        raise NotARunError(
            f"{path} is not a eureka-kit run (no {config.name}): give the folder of a run, such as runs/<run-id>, "
            "made by `eureka-kit run`"
        )
    return path.resolve()


class DashboardServer(AppServer):
    """The dashboard of the run in ``run_dir``, and the run's videos.

    It serves any existing folder (a run being created has no ``config.json``
    yet); :func:`serve_dashboard` checks that the folder is a run first.
    """

    def __init__(self, run_dir: Path, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> None:
        self.run_dir = Path(run_dir).resolve()
        if not self.run_dir.is_dir():
            raise FileNotFoundError(f"no run folder at {run_dir}")
        super().__init__(host=host, port=port, token=token)

    @property
    def url(self) -> str:
        return self.dashboard_url

    @property
    def dashboard_url(self) -> str:
        return self.page_url("/dashboard")

    def get(self, h: Handler, path: str, query: Mapping[str, list[str]]) -> None:
        if path == "/":
            h.send(HTTPStatus.FOUND, b"", "text/plain", {"Location": self.url.replace(self.base_url, "")})
        elif path == "/dashboard":
            h.send_page("dashboard.html")
        elif path.startswith("/static/"):
            h.send_static(path[len("/static/") :])
        elif path == "/api/run":
            h.send_json(HTTPStatus.OK, self.run_json())
        elif path.startswith("/files/"):
            try:
                rel = unquote(path[len("/files/") :], errors="strict")
            except UnicodeDecodeError:
                raise RequestError(HTTPStatus.BAD_REQUEST, "invalid file path") from None
            h.send_file(self.resolve_file(rel))
        else:
            super().get(h, path, query)

    def run_json(self) -> dict[str, Any]:
        """The dashboard's data: the run folder as :func:`eureka_kit.web.run_view.load_run` reads it."""
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


def serve_dashboard(
    run_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    open_browser: bool = False,
    block: bool = True,
    announce: Callable[[str], None] = print,
) -> DashboardServer:
    """Serve the run's dashboard; with ``block`` until Ctrl-C (then returns the closed server), else running.

    Raises :class:`NotARunError` (a ``FileNotFoundError``) when ``run_dir`` is not a run folder.
    """
    server = DashboardServer(check_run_folder(run_dir), host=host, port=port, token=token).start()
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
