"""Test-wide settings: internal errors (eureka-kit's own bugs) fail the test that meets them.

A run contains an unexpected exception in one candidate as status ``internal_error`` so that users never lose a
run to one candidate (:mod:`eureka_kit.run.containment`); in the tests the same exception must surface as a failure.
Tests of containment itself unset the variable (``monkeypatch.delenv``).
"""

from __future__ import annotations

import os

from eureka_kit.run.containment import RAISE_ENV

os.environ[RAISE_ENV] = "1"
