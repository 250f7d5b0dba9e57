"""Test-wide settings and markers.

- Internal errors (eureka-kit's own bugs) fail the test that meets them: a run contains an unexpected exception
  in one candidate as status ``internal_error`` so that users never lose a run to one candidate
  (:mod:`eureka_kit.run.containment`); in the tests the same exception must surface as a failure. Tests of
  containment itself unset the variable (``monkeypatch.delenv``).
- ``@pytest.mark.gpu`` tests need MuJoCo Warp and ``@pytest.mark.ray`` tests need Ray: they are skipped, saying
  what is missing, where the extra is not installed (``pip install -e '.[gpu]'`` / ``'.[ray]'``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator

import pytest

from eureka_kit.run.containment import RAISE_ENV

os.environ[RAISE_ENV] = "1"


def _missing(*modules: str) -> list[str]:
    out = []
    for m in modules:
        try:
            found = importlib.util.find_spec(m) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            out.append(m)
    return out


_EXTRAS = {"gpu": ("mujoco_warp", "warp"), "ray": ("ray",)}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, modules in _EXTRAS.items():
        missing = _missing(*modules)
        if not missing:
            continue
        skip = pytest.mark.skip(reason=f"{', '.join(missing)} not installed (pip install -e '.[{marker}]')")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """A tiny thread switch interval (1 us) for the test: threads interleave as often as CPython allows."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)
