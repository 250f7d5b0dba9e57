"""Crafter children load the parent's compiled world noise from a seeded cache (no compile)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eureka_kit.games.numba_cache import CACHE_FOLDER, SEED_FOLDER, SEED_VAR, seed_numba_cache

pytest.importorskip("numba")

CHILD = """
from eureka_kit.games.numba_cache import adopt_seeded_cache
adopt_seeded_cache()  # as the training child does first
import numpy as np, opensimplex
from eureka_kit.games.crafter_worldgen import _one_thread
_one_thread()
opensimplex.OpenSimplex(seed=3).noise3array(np.arange(4.0), np.arange(3.0), np.zeros(1))
"""


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.nb[ic]")}


def test_seeded_cache_is_adopted_and_used_as_it_is(tmp_path: Path) -> None:
    env = seed_numba_cache(tmp_path)
    assert env == {"NUMBA_CACHE_DIR": str(tmp_path / CACHE_FOLDER), SEED_VAR: str(tmp_path / SEED_FOLDER)}
    seed = _files(tmp_path / SEED_FOLDER)
    assert any(p.endswith(".nbi") for p in seed) and any(p.endswith(".nbc") for p in seed)
    # a fresh process: it copies the seed into NUMBA_CACHE_DIR; numba would write new files there if it compiled
    subprocess.run([sys.executable, "-c", CHILD], env={**os.environ, **env}, check=True, timeout=120)
    assert _files(tmp_path / CACHE_FOLDER) == seed, "the child compiled the noise instead of loading the seed"
