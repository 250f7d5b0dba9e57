"""A content-addressed response cache on disk: one JSON file per sampled answer.

The key of a completion is the sha256 of a canonical JSON of everything that
decides the answer: the backend's identity (kind and model; for replay also
the request id and the replay file's hash), the messages, the sampling
parameters and the sample index. So the same request gives the same answer
with no new call, and asking for K=3 samples after K=2 calls the backend only
for sample 2. The ``base_url`` is *not* part of the key: the model name is the
identity, so the same model behind another proxy or gateway hits the cache.
Use a separate ``cache_dir`` if two servers give different models the same
name.

Files are ``<dir>/<key>.json``, written atomically (temporary file, then
``os.replace``), so a crash never leaves half a file. They hold the request
(for inspection) and the completion; never an API key. An unreadable file is
treated as a miss and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eureka_kit.files import atomic_write_text
from eureka_kit.llm.base import Completion

log = logging.getLogger(__name__)

CACHE_FORMAT = 1


def cache_key(material: Mapping[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON of ``material``."""
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """A directory of cached completions, keyed by :func:`cache_key`. Safe to share between threads and processes."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> Completion | None:
        """The cached completion (with ``cached=False``, as stored) or ``None``."""
        p = self.path(key)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            c = data["completion"]
            return Completion(
                text=str(c["text"]),
                model=str(c["model"]),
                prompt_tokens=int(c["prompt_tokens"]),
                completion_tokens=int(c["completion_tokens"]),
                finish_reason=c.get("finish_reason"),
                sample_index=int(c.get("sample_index", 0)),
                usage_estimated=bool(c.get("usage_estimated", False)),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("ignoring unreadable cache file %s (%s); it will be rewritten", p, e)
            return None

    def put(self, key: str, material: Mapping[str, Any], completion: Completion) -> Path:
        """Store ``completion`` under ``key`` (atomically) and return the file's path."""
        record = {
            "format": CACHE_FORMAT,
            "key": key,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "request": dict(material),
            "completion": {
                "text": completion.text,
                "model": completion.model,
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "finish_reason": completion.finish_reason,
                "sample_index": completion.sample_index,
                "usage_estimated": completion.usage_estimated,
            },
        }
        target = self.path(key)
        atomic_write_text(target, json.dumps(record, ensure_ascii=False, indent=1))
        return target
