"""Crafter's compiled world noise for sandboxed children: a numba cache seeded in the candidate's folder.

OpenSimplex's array noise (:mod:`eureka_kit.games.crafter_worldgen`) is compiled
by numba with ``cache=True``. The parent caches it in opensimplex's own
``__pycache__``; a sandboxed child sees that folder read-only, and numba only
uses a cache folder it can write, so every Crafter training child compiled the
noise again (seconds of CPU at start). :func:`seed_numba_cache` (parent) copies
the parent's cache files (compiled by the trusted parent, written once per
install) into ``<candidate>/numba_seed/<numba's sub-folder for opensimplex>``
and returns the child's environment: ``NUMBA_CACHE_DIR`` (``<candidate>/numba_cache``)
and :data:`SEED_VAR`. The sandbox binds what the folder held before the child
started read-only, so the child copies the seed into ``NUMBA_CACHE_DIR`` itself
(:func:`adopt_seeded_cache`, first thing in the training child); numba then
loads the compiled noise there (its index checks the source file's time stamp
and size, which the sandbox's read-only view keeps) instead of compiling it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CACHE_FOLDER = "numba_cache"
"""The candidate's sub-folder the child copies the seed into and numba uses (the child's ``NUMBA_CACHE_DIR``)."""
SEED_FOLDER = "numba_seed"
"""The candidate's sub-folder the parent copies its compiled files into (read-only for the child)."""
SEED_VAR = "EUREKA_NUMBA_SEED"
"""Environment variable naming the seed folder for :func:`adopt_seeded_cache`."""


def _opensimplex_cache() -> tuple[Path, str] | None:
    """(opensimplex's in-tree ``__pycache__``, numba's sub-folder name for it), or None without numba."""
    try:
        import opensimplex.internals as internals
        from numba.core.caching import _CacheLocator
    except ImportError:
        return None
    source = Path(internals.__file__).resolve()
    return source.parent / "__pycache__", _CacheLocator.get_suitable_cache_subpath(str(source))


def _warm() -> None:
    """Compile the noise in this (trusted) process, which writes numba's in-tree cache when it can."""
    import numpy as np
    import opensimplex

    from eureka_kit.games.crafter_worldgen import _one_thread

    _one_thread()
    opensimplex.OpenSimplex(seed=0).noise3array(np.zeros(2), np.zeros(2), np.zeros(1))


def seed_numba_cache(candidate_dir: Path) -> dict[str, str]:
    """Copy the compiled noise into ``candidate_dir``; the environment variables the child needs (or none).

    Compiles in the parent first when opensimplex's cache is empty (once per
    install). Returns ``{}`` when numba is not installed (opensimplex then runs
    in pure Python) or the parent cannot cache it either.
    """
    found = _opensimplex_cache()
    if found is None:
        return {}
    tree, subpath = found
    if not any(tree.glob("*.nbi")):
        _warm()
    files = sorted(p for p in tree.glob("*.nb[ic]") if p.is_file())
    if not files:
        return {}
    dest = Path(candidate_dir) / SEED_FOLDER / subpath
    dest.mkdir(parents=True, exist_ok=True)
    for p in files:
        shutil.copy2(p, dest / p.name)
    return {
        "NUMBA_CACHE_DIR": str(Path(candidate_dir) / CACHE_FOLDER),
        SEED_VAR: str(Path(candidate_dir) / SEED_FOLDER),
    }


def adopt_seeded_cache() -> None:
    """Child side, before numba is imported: copy the seed (:data:`SEED_VAR`) into ``NUMBA_CACHE_DIR``, if both set.

    Best effort: a missing or unreadable seed only means numba compiles, as it did without one.
    """
    seed, cache = os.environ.get(SEED_VAR), os.environ.get("NUMBA_CACHE_DIR")
    if not seed or not cache or not os.path.isdir(seed):
        return
    try:
        shutil.copytree(seed, cache, dirs_exist_ok=True)
    except OSError:
        pass
