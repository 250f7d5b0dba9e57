"""Replay backend: answers read from a JSONL file, for tests and offline demos.

Each line is ``{"key": "...", "text": "..."}`` (other fields are ignored;
blank lines are skipped). A request is answered deterministically from its
``request_id``, so a resumed run gets the same answers:

1. the records whose key equals the request id (``"gen_001/initial"``);
2. else the records whose key is the request *kind*: the last path part
   with a trailing ``_<digits>`` removed (``"gen_000/cand_02/repair_1"`` ->
   ``"repair"``, ``"gen_001/reflection"`` -> ``"reflection"``);
3. else the records with key ``"*"``.

Sample i of a request takes record ``i % len(group)`` of the matched group,
in file order. Token counts are estimates (chars / 4); the model is
``"replay"``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eureka_kit.llm.base import (
    BatchMode,
    Completion,
    Message,
    SamplingParams,
    estimate_prompt_tokens,
    estimate_tokens,
)
from eureka_kit.llm.errors import ReplayError

_TRAILING_NUMBER = re.compile(r"_\d+$")
_LINE_EXAMPLE = '{"key": "initial", "text": "..."}'


def request_kind(request_id: str) -> str:
    """The kind of a request id: its last ``/`` part without a trailing ``_<digits>``."""
    last = request_id.rstrip("/").rsplit("/", 1)[-1]
    return _TRAILING_NUMBER.sub("", last)


class ReplayBackend:
    """Recorded answers from a JSONL file (see the module docstring for the lookup rules)."""

    kind = "replay"
    model = "replay"
    batch_mode: BatchMode = "n"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            raw = self.path.read_bytes()
        except OSError as e:
            raise ReplayError(f"cannot read replay file {self.path}: {e.strerror or e}") from None
        self.file_sha256 = hashlib.sha256(raw).hexdigest()
        self.groups: dict[str, list[str]] = {}
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ReplayError(f"replay file {self.path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, answer = self._parse_line(line, lineno)
            self.groups.setdefault(key, []).append(answer)
        if not self.groups:
            raise ReplayError(f"replay file {self.path} has no records; each line must look like {_LINE_EXAMPLE}")

    def _parse_line(self, line: str, lineno: int) -> tuple[str, str]:
        where = f"replay file {self.path}, line {lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ReplayError(
                f"{where}: not valid JSON ({e.msg} at column {e.colno}); each line must look like {_LINE_EXAMPLE}"
            ) from None
        if not isinstance(record, dict):
            raise ReplayError(f"{where}: expected a JSON object like {_LINE_EXAMPLE}, got {type(record).__name__}")
        for field in ("key", "text"):
            if field not in record:
                raise ReplayError(f"{where}: missing {field!r}; each line must look like {_LINE_EXAMPLE}")
            if not isinstance(record[field], str):
                raise ReplayError(f"{where}: {field!r} must be a string, got {type(record[field]).__name__}")
        if not record["key"]:
            raise ReplayError(f"{where}: 'key' is empty (use '*' for a catch-all answer)")
        return record["key"], record["text"]

    def __repr__(self) -> str:
        return f"ReplayBackend(path={str(self.path)!r}, keys={len(self.groups)})"

    def resolve(self, request_id: str) -> tuple[str, list[str]]:
        """The matched key and its answers for ``request_id``; :class:`ReplayError` if none matches."""
        tried = list(dict.fromkeys([request_id, request_kind(request_id), "*"]))
        for key in tried:
            if key in self.groups:
                return key, self.groups[key]
        available = sorted(self.groups)
        shown = ", ".join(repr(k) for k in available[:30]) + (
            f", ... ({len(available)} in all)" if len(available) > 30 else ""
        )
        raise ReplayError(
            f"replay file {self.path} has no answer for request {request_id!r}: "
            f"tried keys {', '.join(repr(k) for k in tried)}. Keys available: {shown}"
        )

    def cache_identity(self, request_id: str) -> Mapping[str, Any]:
        return {"kind": self.kind, "request_id": request_id, "file_sha256": self.file_sha256}

    def describe(self) -> Mapping[str, Any]:
        return {"llm": self.kind, "model": self.model, "replay_path": str(self.path), "file_sha256": self.file_sha256}

    def complete(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        sample_indices: Sequence[int],
        request_id: str,
    ) -> list[Completion]:
        _, group = self.resolve(request_id)
        prompt_tokens = estimate_prompt_tokens(messages)
        out = []
        for i in sample_indices:
            text = group[i % len(group)]
            out.append(
                Completion(
                    text=text,
                    model=self.model,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=estimate_tokens(text),
                    finish_reason="stop",
                    sample_index=i,
                    usage_estimated=True,
                )
            )
        return out
