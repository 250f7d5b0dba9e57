"""The process boundary: statuses, limits, clean-up of the whole tree, no leaked environment."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from eureka_kit.sandbox import EXIT_OUT_OF_MEMORY, TOKEN_VAR, Limits, run_child

FAST = Limits(wall_s=20.0, cpu_s=20.0, address_space_mb=None, max_output_bytes=64_000)


def _py(tmp_path: Path, code: str, limits: Limits = FAST, **kw: object):  # type: ignore[no-untyped-def]
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    return run_child([sys.executable, "-I", str(script)], tmp_path, limits, tmp_path / "child.log", **kw)  # type: ignore[arg-type]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_exit_zero_is_ok(tmp_path: Path) -> None:
    out = _py(tmp_path, "print('hello from the child')")
    assert out.status == "ok" and out.returncode == 0
    assert "hello from the child" in (tmp_path / "child.log").read_text()
    assert out.wall_s < 10


def test_exception_is_error_with_the_traceback_tail(tmp_path: Path) -> None:
    out = _py(tmp_path, "raise ValueError('bad reward scale 42')")
    assert out.status == "error" and out.returncode == 1
    assert "ValueError: bad reward scale 42" in out.message
    assert len(out.message) <= 2000


def test_sleep_forever_times_out_and_the_tree_is_gone(tmp_path: Path) -> None:
    (tmp_path / "daemonize.py").write_text(
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
        "open('orphan.pid', 'w').write(str(p.pid))\n"
        "os._exit(0)\n"
    )
    code = """
    import subprocess, sys, time
    # a grandchild in a session of its own, and one that left the process tree entirely (double fork)
    g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    subprocess.run([sys.executable, "daemonize.py"], check=True)
    open("pids.txt", "w").write(str(g.pid))
    print("started", flush=True)
    time.sleep(600)
    """
    limits = Limits(wall_s=2.0, cpu_s=20.0, address_space_mb=None)
    t0 = time.monotonic()
    out = _py(tmp_path, code, limits)
    elapsed = time.monotonic() - t0
    assert out.status == "timeout", out
    assert "wall-clock limit of 2 s" in out.message
    assert elapsed < 2 * limits.wall_s + 1.0
    grandchild = int((tmp_path / "pids.txt").read_text())
    orphan = int((tmp_path / "orphan.pid").read_text())
    assert _gone(grandchild) and _gone(orphan)


def test_leftover_descendants_of_a_normal_exit_are_killed(tmp_path: Path) -> None:
    code = """
    import subprocess, sys
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    open("pids.txt", "w").write(str(p.pid))
    """
    out = _py(tmp_path, code)
    assert out.status == "ok"
    assert _gone(int((tmp_path / "pids.txt").read_text()))


def test_unbounded_allocation_is_out_of_memory(tmp_path: Path) -> None:
    code = f"""
    import sys
    chunks = []
    try:
        while True:
            chunks.append(bytearray(16 * 1024 * 1024))
    except MemoryError:
        chunks.clear()
        sys.exit({EXIT_OUT_OF_MEMORY})
    """
    limits = Limits(wall_s=10.0, cpu_s=20.0, address_space_mb=256)
    out = _py(tmp_path, code, limits)
    assert out.status == "out_of_memory", out
    assert "256 MB" in out.message
    assert out.wall_s < 2 * limits.wall_s


def test_uncaught_memory_error_is_recognised(tmp_path: Path) -> None:
    out = _py(tmp_path, "x = bytearray(1024 ** 3)", Limits(wall_s=10.0, address_space_mb=256))
    assert out.status == "out_of_memory", out


def test_endless_output_is_capped(tmp_path: Path) -> None:
    code = """
    import sys
    line = "x" * 1023 + "\\n"
    for _ in range(50 * 1024):
        sys.stdout.write(line)
    """
    out = _py(tmp_path, code, Limits(wall_s=30.0, address_space_mb=None, max_output_bytes=100_000))
    assert out.status == "ok"
    assert out.output_truncated
    size = (tmp_path / "child.log").stat().st_size
    assert 100_000 <= size < 100_000 + 200


def test_cpu_limit_is_a_timeout(tmp_path: Path) -> None:
    out = _py(tmp_path, "while True: pass", Limits(wall_s=20.0, cpu_s=1.0, address_space_mb=None))
    assert out.status == "timeout", out
    assert "CPU time limit" in out.message


def test_parent_environment_does_not_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-that-must-not-leak-000000")
    monkeypatch.setenv("SOME_PARENT_VAR", "1")
    code = """
    import json, os
    json.dump(dict(os.environ), open("env.json", "w"))
    """
    out = _py(tmp_path, code)
    assert out.status == "ok"
    env = json.loads((tmp_path / "env.json").read_text())
    assert "OPENAI_API_KEY" not in env and "SOME_PARENT_VAR" not in env
    assert "sk-fake" not in json.dumps(env)
    assert env["HOME"] == str(tmp_path.resolve())
    assert env["OMP_NUM_THREADS"] == "1"
    assert TOKEN_VAR in env


def test_stale_heartbeat_is_a_timeout(tmp_path: Path) -> None:
    code = """
    import os, pathlib, time
    hb = pathlib.Path(os.environ["EUREKA_HEARTBEAT"])
    for _ in range(3):
        hb.touch()
        time.sleep(0.3)
    time.sleep(600)  # hung
    """
    limits = Limits(wall_s=30.0, address_space_mb=None, heartbeat_s=1.5)
    out = _py(tmp_path, code, limits, heartbeat_path=tmp_path / "heartbeat")
    assert out.status == "timeout", out
    assert "heartbeat" in out.message
    assert out.wall_s < 6


def test_killed_by_signal_names_it(tmp_path: Path) -> None:
    out = _py(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert out.status == "killed" and "SIGSEGV" in out.message
