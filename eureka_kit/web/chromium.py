"""Debian's Chromium, headless: the one place for its launch settings (browser tests, the docs' screenshots)."""

from __future__ import annotations

from pathlib import Path

HEADLESS_CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium, used headless by the browser tests and the docs' screenshots (scripts/setup_system.sh)."""
HEADLESS_CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Launch flags for it as root on a machine without network (no sandbox, no background connections)."""
