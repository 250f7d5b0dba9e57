"""Configurations of a benchmark: named sets of run options, from a TOML file or from command-line flags.

A configuration is what ``--compare`` sets side by side (two models, two search strategies, halving on or
off). Its options are :class:`~eureka_kit.config.RunConfig` fields, checked by name (an unknown one lists the
valid ones); the benchmark sets ``task`` and ``seed`` itself::

    # fast.toml
    model = "gpt-4o-mini"
    schedule = "halving"

    options_from_toml(Path("fast.toml"))          # {"model": "gpt-4o-mini", "schedule": "halving"}
    options_from_flags("--schedule halving --no-analyzer")   # {"schedule": "halving", "analyzer": False}
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from eureka_kit.config import RunConfig
from eureka_kit.errors import UsageError
from eureka_kit.files import read_bounded_text
from eureka_kit.registry import did_you_mean

SET_BY_BENCHMARK = frozenset({"task", "seed"})
"""Run options the benchmark sets per run (task of the suite, search seed)."""

MAX_OPTIONS_BYTES = 64_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Configuration:
    """A named set of run options; ``name`` is its folder under ``configs/`` of the benchmark folder."""

    name: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "command line"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UsageError(f"configuration name {self.name!r}: letters, digits, '.', '_' and '-' only")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "options": dict(self.options)}


def _fields() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(RunConfig) if f.name not in SET_BY_BENCHMARK}


def _check_name(name: str, where: str) -> str:
    key = name.replace("-", "_")
    if key in SET_BY_BENCHMARK:
        raise UsageError(f"{where}: {name!r} is set by the benchmark for each run; leave it out")
    valid = _fields()
    if key not in valid:
        hint = did_you_mean(key, list(valid))
        raise UsageError(f"{where}: unknown run option {name!r}.{hint} Valid: {', '.join(sorted(valid))}")
    return key


def check_options(options: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``options`` with names normalized (``-`` to ``_``); a ``ValueError`` naming ``where`` for a wrong one.

    The values are checked with the rest of a run's options, when the benchmark builds its runs' configs
    (before any work starts)."""
    return {_check_name(k, where): v for k, v in options.items()}


def options_from_toml(path: Path) -> dict[str, Any]:
    """The run options of a TOML file (top-level keys, RunConfig field names, ``-`` or ``_``)."""
    try:
        data = tomllib.loads(read_bounded_text(path, MAX_OPTIONS_BYTES))
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML ({e})") from None
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise UsageError(f"{path}: run options are top-level keys; found table(s) {', '.join(nested)}")
    return check_options(data, str(path))


def _convert(name: str, type_name: str, text: str, where: str) -> Any:
    try:
        if type_name.startswith("int"):
            return int(text)
        if type_name.startswith("float"):
            return float(text)
    except ValueError:
        raise UsageError(f"{where}: --{name.replace('_', '-')} takes a number, got {text!r}") from None
    return text


def options_from_flags(text: str) -> dict[str, Any]:
    """Run options from flags as ``eureka-kit run`` takes them: ``--samples 2 --no-videos --schedule halving``."""
    where = f"flags {text!r}"
    tokens = shlex.split(text)
    fields = _fields()
    out: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--"):
            raise UsageError(f"{where}: expected a --option, got {token!r}")
        name, eq, value = token[2:].partition("=")
        if name in ("no-examples", "no_examples"):
            out["use_examples"] = False
            i += 1
            continue
        negated = name.startswith("no-") and name[3:].replace("-", "_") in fields
        key = _check_name(name[3:] if negated else name, where)
        if fields[key].type == "bool":
            if eq:
                raise UsageError(f"{where}: --{name} is a switch (--{name} or --no-{name}), not --{name}=VALUE")
            out[key] = not negated
            i += 1
            continue
        if not eq:
            if i + 1 >= len(tokens):
                raise UsageError(f"{where}: --{name} needs a value")
            value = tokens[i + 1]
            i += 1
        out[key] = _convert(key, str(fields[key].type), value, where)
        i += 1
    return check_options(out, where)


def configuration_from_file(path: Path) -> Configuration:
    """A configuration named after the file (``fast.toml`` -> ``fast``) with its run options."""
    return Configuration(path.stem, options_from_toml(path), source=str(path))
