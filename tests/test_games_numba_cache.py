"""Crafter children load the parent's compiled world noise from a cache seeded in their folder (no compile)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eureka_kit.games.numba_cache import CACHE_FOLDER, seed_numba_cache

pytest.importorskip("numba")

CHILD = """
import numpy as np, opensimplex
from eureka_kit.games.crafter_worldgen import _one_thread
_one_thread()
opensimplex.OpenSimplex(seed=3).noise3array(np.arange(4.0), np.arange(3.0), np.zeros(1))
"""


def test_seeded_cache_is_used_as_it_is(tmp_path: Path) -> None:
    env = seed_numba_cache(tmp_path)
    assert env == {"NUMBA_CACHE_DIR": str(tmp_path / CACHE_FOLDER)}
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / CACHE_FOLDER).rglob("*.nb[ic]")}
    assert any(p.suffix == ".nbi" for p in files) and any(p.suffix == ".nbc" for p in files)
    # a fresh process with that cache folder: numba would write a new index and data files if it compiled
    subprocess.run([sys.executable, "-c", CHILD], env={**os.environ, **env}, check=True, timeout=120)
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / CACHE_FOLDER).rglob("*.nb[ic]")}
    assert after == files, "the child compiled the noise instead of loading the seeded cache"
