"""A run's files and identity outside the loop: its id, lock, config file, versions and result record."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eureka_kit import __version__
from eureka_kit.config import RunConfig
from eureka_kit.errors import UserError
from eureka_kit.files import UntrustedFileError, read_bounded_json
from eureka_kit.run.layout import REWARD_FILE
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.store import RunStore
from eureka_kit.tasks.mjcf import run_label

MAX_RUN_FILE_BYTES = 16_000_000


class RunFileError(UserError, ValueError):
    """A run file the loop needs (``config.json``, ``summary.json``) is missing or damaged; the message names it."""


@dataclass(frozen=True)
class RunResult:
    """What a finished (or cleanly stopped) run returns."""

    run_dir: Path
    best: CandidateRecord | None
    stopped: str | None
    summary: dict[str, Any]

    @property
    def best_program(self) -> Path | None:
        if self.best is None:
            return None
        return self.run_dir / self.best.name / REWARD_FILE


def package_versions() -> dict[str, str]:
    """Versions of eureka-kit and the packages that decide its results, for config.json."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"eureka-kit": __version__}
    for pkg in ("torch", "gymnasium", "mujoco", "stable-baselines3", "openai", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def new_run_id(config: RunConfig) -> str:
    """``<task>__<time>__s<seed>``: the run folder's name."""
    return f"{run_label(config.task)}__{time.strftime('%Y%m%d-%H%M%S')}__s{config.seed}"


@contextmanager
def run_lock(store: RunStore) -> Iterator[None]:
    """Hold the run folder's lock for the block: a second process on the same run fails at once, naming it."""
    store.root.mkdir(parents=True, exist_ok=True)
    with (store.root / ".lock").open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"run {store.root} is in use by another eureka-kit process") from None
        yield


def read_run_config(store: RunStore) -> RunConfig:
    """The config of an existing run; a missing, truncated or binary ``config.json`` is a clear error naming it."""
    try:
        data = read_bounded_json(store.config_path, MAX_RUN_FILE_BYTES)
        return RunConfig.from_json(data["config"])
    except UntrustedFileError as e:
        raise RunFileError(f"cannot resume: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise RunFileError(f"cannot resume: {store.config_path} does not hold a valid run config ({e})") from None
