"""bench/games_throughput.py --smoke: every row runs and the table is printed (the figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_games_bench_smoke_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "games_throughput.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "env-steps/s" in out and "vs stock" in out and "per CPU-s" in out
    for row in (
        "MiniGrid DoorKey-8x8: stock env",
        "DoorKey-Grid-v1 env",
        "grid engine, 128 envs",
        "the same batched training, in-process",
        "Crafter (collect wood): stock",
        "Crafter-Wood-v1 env",
        "Crafter engine, 8 envs",
    ):
        assert row in out, out
