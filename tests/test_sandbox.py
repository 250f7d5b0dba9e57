"""The process boundary: statuses, limits, clean-up of the whole tree, no leaked environment; strict isolation.

Most behaviour is tested in both modes (``basic``: rlimits; ``strict``: bubblewrap namespaces, a fresh uid).
Attacks that must fail under strict mode come with a positive control: the same attack in basic mode (or
without the filter) succeeds, which proves that the detector (listener, outside file, canary) works.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from eureka_kit.sandbox import bwrap, launch, view
from eureka_kit.sandbox import runner as sandbox
from eureka_kit.sandbox.bwrap import IsolationUnavailable
from eureka_kit.sandbox.mode import MODE_VAR, default_mode
from eureka_kit.sandbox.protocol import EXIT_OUT_OF_MEMORY
from eureka_kit.sandbox.runner import (
    ChildOutcome,
    Limits,
    SandboxMode,
    configure_sandbox,
    run_child,
    sandbox_mode,
)
from eureka_kit.sandbox.seccomp import seccomp_program, seccomp_supported
from eureka_kit.sandbox.supervise import TOKEN_VAR
from eureka_kit.sandbox.verify import BASIC_MODE_WARNING, verify_isolation

FAST = Limits(wall_s=20.0, cpu_s=20.0, address_space_mb=None, max_output_bytes=64_000)
STRICT = verify_isolation("strict")
ROOT = os.geteuid() == 0

strict_only = pytest.mark.skipif(not STRICT.ok, reason=f"strict sandbox unavailable here: {STRICT.message}")
root_only = pytest.mark.skipif(not ROOT, reason="the fresh-uid path runs only when eureka-kit runs as root")
MODES = [pytest.param("basic", id="basic"), pytest.param("strict", id="strict", marks=strict_only)]


def _py(tmp_path: Path, code: str, limits: Limits = FAST, mode: SandboxMode = "basic", **kw: object) -> ChildOutcome:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    argv = [sys.executable, "-I", str(script)]
    return run_child(argv, tmp_path, limits, tmp_path / "child.log", mode=mode, **kw)  # type: ignore[arg-type]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _survivors(token: str) -> list[psutil.Process]:
    """Processes that still carry a child's token in their environment (any mode, any namespace)."""
    out = []
    for p in psutil.process_iter():
        try:
            if p.environ().get(TOKEN_VAR) == token and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (psutil.Error, OSError):
            continue
    return out


# ----- statuses and limits, in both modes ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_exit_zero_is_ok(tmp_path: Path, mode: SandboxMode) -> None:
    out = _py(tmp_path, "print('hello from the child')", mode=mode)
    assert out.status == "ok" and out.returncode == 0
    assert "hello from the child" in (tmp_path / "child.log").read_text()
    assert out.wall_s < 10


@pytest.mark.parametrize("mode", MODES)
def test_exception_is_error_with_the_traceback_tail(tmp_path: Path, mode: SandboxMode) -> None:
    out = _py(tmp_path, "raise ValueError('bad reward scale 42')", mode=mode)
    assert out.status == "error" and out.returncode == 1
    assert "ValueError: bad reward scale 42" in out.message
    assert len(out.message) <= 2000


@pytest.mark.parametrize("mode", MODES)
def test_sleep_forever_times_out_and_the_tree_is_gone(tmp_path: Path, mode: SandboxMode) -> None:
    (tmp_path / "daemonize.py").write_text(
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
        "open('orphan.pid', 'w').write(str(p.pid))\n"
        "os._exit(0)\n"
    )
    code = """
    import os, subprocess, sys, time
    open("token.txt", "w").write(os.environ["EUREKA_SANDBOX_TOKEN"])
    # a grandchild in a session of its own, and one that left the process tree entirely (double fork)
    g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    subprocess.run([sys.executable, "daemonize.py"], check=True)
    open("pids.txt", "w").write(str(g.pid))
    print("started", flush=True)
    time.sleep(600)
    """
    limits = Limits(wall_s=2.0, cpu_s=20.0, address_space_mb=None)
    t0 = time.monotonic()
    out = _py(tmp_path, code, limits, mode=mode)
    elapsed = time.monotonic() - t0
    assert out.status == "timeout", out
    assert "wall-clock limit of 2 s" in out.message
    assert elapsed < 2 * limits.wall_s + 1.0
    assert (tmp_path / "pids.txt").exists() and (tmp_path / "orphan.pid").exists()
    assert _survivors((tmp_path / "token.txt").read_text()) == []
    if mode == "basic":  # pids of the host (under strict mode they are pids of the child's namespace)
        assert _gone(int((tmp_path / "pids.txt").read_text())) and _gone(int((tmp_path / "orphan.pid").read_text()))


@pytest.mark.parametrize("mode", MODES)
def test_leftover_descendants_of_a_normal_exit_are_killed(tmp_path: Path, mode: SandboxMode) -> None:
    code = """
    import os, subprocess, sys
    open("token.txt", "w").write(os.environ["EUREKA_SANDBOX_TOKEN"])
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    open("pids.txt", "w").write(str(p.pid))
    """
    out = _py(tmp_path, code, mode=mode)
    assert out.status == "ok"
    assert _survivors((tmp_path / "token.txt").read_text()) == []
    if mode == "basic":
        assert _gone(int((tmp_path / "pids.txt").read_text()))


@pytest.mark.parametrize("mode", MODES)
def test_unbounded_allocation_is_out_of_memory(tmp_path: Path, mode: SandboxMode) -> None:
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
    out = _py(tmp_path, code, limits, mode=mode)
    assert out.status == "out_of_memory", out
    assert "256 MB" in out.message
    assert out.wall_s < 2 * limits.wall_s


@pytest.mark.parametrize("mode", MODES)
def test_uncaught_memory_error_is_recognised(tmp_path: Path, mode: SandboxMode) -> None:
    out = _py(tmp_path, "x = bytearray(1024 ** 3)", Limits(wall_s=10.0, address_space_mb=256), mode=mode)
    assert out.status == "out_of_memory", out


@pytest.mark.parametrize("mode", MODES)
def test_endless_output_is_capped(tmp_path: Path, mode: SandboxMode) -> None:
    code = """
    import sys
    line = "x" * 1023 + "\\n"
    for _ in range(50 * 1024):
        sys.stdout.write(line)
    """
    out = _py(tmp_path, code, Limits(wall_s=30.0, address_space_mb=None, max_output_bytes=100_000), mode=mode)
    assert out.status == "ok"
    assert out.output_truncated
    size = (tmp_path / "child.log").stat().st_size
    assert 100_000 <= size < 100_000 + 200


@pytest.mark.parametrize("mode", MODES)
def test_cpu_limit_is_a_timeout(tmp_path: Path, mode: SandboxMode) -> None:
    out = _py(tmp_path, "while True: pass", Limits(wall_s=20.0, cpu_s=1.0, address_space_mb=None), mode=mode)
    assert out.status == "timeout", out
    assert "CPU time limit" in out.message


@pytest.mark.parametrize("mode", MODES)
def test_ignoring_sigxcpu_ends_at_the_hard_cpu_limit(tmp_path: Path, mode: SandboxMode) -> None:
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass\n"
    limits = Limits(wall_s=30.0, cpu_s=1.0, address_space_mb=None)
    out = _py(tmp_path, code, limits, mode=mode)
    assert out.status == "timeout", out
    assert "ignored SIGXCPU" in out.message
    assert out.wall_s < 15
    if mode == "basic":
        assert out.cpu_s is not None and out.cpu_s >= 1.0


@pytest.mark.parametrize("mode", MODES)
def test_parent_environment_does_not_leak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: SandboxMode) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-" + "fake-key-that-must-not-leak-000000")
    monkeypatch.setenv("SOME_PARENT_VAR", "1")
    code = """
    import json, os
    json.dump(dict(os.environ), open("env.json", "w"))
    """
    out = _py(tmp_path, code, mode=mode)
    assert out.status == "ok"
    env = json.loads((tmp_path / "env.json").read_text())
    assert "OPENAI_API_KEY" not in env and "SOME_PARENT_VAR" not in env
    assert "sk-fake" not in json.dumps(env)
    assert env["HOME"] == str(tmp_path.resolve())
    assert env["OMP_NUM_THREADS"] == "1"
    assert TOKEN_VAR in env


@pytest.mark.parametrize("mode", MODES)
def test_stale_heartbeat_is_a_timeout(tmp_path: Path, mode: SandboxMode) -> None:
    code = """
    import os, pathlib, time
    hb = pathlib.Path(os.environ["EUREKA_HEARTBEAT"])
    for _ in range(3):
        hb.touch()
        time.sleep(0.3)
    time.sleep(600)  # hung
    """
    limits = Limits(wall_s=30.0, address_space_mb=None, heartbeat_s=1.5)
    out = _py(tmp_path, code, limits, mode=mode, heartbeat_path=tmp_path / "heartbeat")
    assert out.status == "timeout", out
    assert "heartbeat" in out.message
    assert out.wall_s < 6


@pytest.mark.parametrize("mode", MODES)
def test_killed_by_signal_names_it(tmp_path: Path, mode: SandboxMode) -> None:
    out = _py(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", mode=mode)
    assert out.status == "killed" and "SIGSEGV" in out.message


# ----- the mode setting ---------------------------------------------------------------------------------


def test_mode_setting_and_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODE_VAR, "basic")
    assert default_mode() == "basic"
    monkeypatch.delenv(MODE_VAR)
    assert default_mode() == ("strict" if sys.platform.startswith("linux") else "basic")
    try:
        configure_sandbox("basic")
        assert sandbox_mode() == "basic"
        configure_sandbox("strict")
        assert sandbox_mode() == "strict"
        with pytest.raises(ValueError, match="unknown sandbox mode"):
            configure_sandbox("loose")  # type: ignore[arg-type]
    finally:
        configure_sandbox(None)
    monkeypatch.setenv(MODE_VAR, "nope")
    with pytest.raises(ValueError, match="EUREKA_SANDBOX"):
        default_mode()


def test_basic_mode_reports_its_weakness() -> None:
    report = verify_isolation("basic")
    assert report.ok and report.mode == "basic"
    assert report.message == BASIC_MODE_WARNING and "could read files" in report.message


@strict_only
def test_verify_isolation_proves_every_property() -> None:
    assert STRICT.ok, STRICT.summary()
    names = {c.name for c in STRICT.checks}
    assert {"network", "outside_write", "secret_read", "own_folder_write", "capabilities", "pid_namespace"} <= names
    assert all(c.passed for c in STRICT.checks), STRICT.summary()
    if ROOT:
        assert STRICT.uid_strategy == "setuid" and "uid" in names
    if seccomp_supported():
        assert STRICT.seccomp and "seccomp" in names


def test_strict_mode_refuses_without_bubblewrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_access = os.access
    monkeypatch.setattr(bwrap.shutil, "which", lambda name: None)
    monkeypatch.setattr(bwrap.os, "access", lambda p, m: False if str(p).endswith("bwrap") else real_access(p, m))
    monkeypatch.setattr(sandbox, "_verified", {})
    bwrap.find_tools.cache_clear()
    try:
        report = verify_isolation("strict")
        assert not report.ok
        assert "bubblewrap not found" in report.message and "apt-get install bubblewrap" in report.message
        assert "--sandbox basic" in report.message
        with pytest.raises(IsolationUnavailable, match="bubblewrap not found"):
            _py(tmp_path, "print('must not run')", mode="strict")
        assert not (tmp_path / "child.log").exists() or "must not run" not in (tmp_path / "child.log").read_text()
    finally:
        bwrap.find_tools.cache_clear()


@strict_only
def test_bwrap_command_lines_for_both_identity_strategies(tmp_path: Path) -> None:
    (tmp_path / "reward.py").write_text("x")
    argv = ["python", "-c", "pass"]
    protect = view.protected_entries(tmp_path, [tmp_path / "tmp"])
    as_root = bwrap.bwrap_argv(argv, tmp_path, uid=1_900_000_123, processes=64, protect=protect)
    as_user = bwrap.bwrap_argv(argv, tmp_path, uid=None, processes=64, protect=protect)
    for cmd in (as_root, as_user):
        assert cmd[-3:] == argv
        for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session", "--chdir"):
            assert flag in cmd
        i = cmd.index("--bind")
        assert cmd[i + 1 : i + 3] == [str(tmp_path), str(tmp_path)]
        assert ["--ro-bind", str(tmp_path / "reward.py"), str(tmp_path / "reward.py")] == cmd[
            cmd.index(str(tmp_path / "reward.py")) - 1 : cmd.index(str(tmp_path / "reward.py")) + 2
        ]
    assert "--unshare-user" not in as_root and "--reuid" in as_root and "--no-new-privs" in as_root
    assert "--bounding-set" in as_root and "--clear-groups" in as_root
    assert "--unshare-user" in as_user and "ALL" in as_user and "--reuid" not in as_user
    assert any(a.startswith("--nproc=64") for a in as_user)


# ----- strict isolation, each with a positive control in basic mode --------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_network_is_unreachable_under_strict_only(tmp_path: Path, mode: SandboxMode) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = f"""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", {port}))
        s.sendall(b"hello")
        print("CONNECTED")
    except OSError as e:
        print("BLOCKED", e)
    """
    try:
        out = _py(tmp_path, code, mode=mode)
        try:
            conn, _ = listener.accept()
            conn.close()
            received = True
        except OSError:
            received = False
    finally:
        listener.close()
    assert out.status == "ok", out
    log = (tmp_path / "child.log").read_text()
    if mode == "strict":
        assert "BLOCKED" in log and not received
    else:  # positive control: the listener does see a plain child
        assert "CONNECTED" in log and received


@pytest.mark.parametrize("mode", MODES)
def test_writes_outside_the_folder_fail_under_strict_only(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, mode: SandboxMode
) -> None:
    cand = tmp_path / "cand"
    cand.mkdir()
    outside = tmp_path_factory.mktemp("watched")
    os.chmod(outside, 0o777)
    target = outside / "escaped.txt"
    code = f"""
    for p in [{str(target)!r}, {str(view.package_root() / "eureka_kit" / "escaped.py")!r}, "/tmp/escaped.txt"]:
        try:
            open(p, "w").write("x")
            print("WROTE", p)
        except OSError as e:
            print("BLOCKED", p, e.strerror)
    open("inside.txt", "w").write("fine")
    """
    out = _py(cand, code, mode=mode)
    assert out.status == "ok", out
    assert (cand / "inside.txt").read_text() == "fine"
    assert not (view.package_root() / "eureka_kit" / "escaped.py").exists() or mode == "basic"
    (view.package_root() / "eureka_kit" / "escaped.py").unlink(missing_ok=True)
    if mode == "strict":
        assert list(outside.iterdir()) == []
        assert not Path("/tmp/escaped.txt").exists()
    else:  # positive control
        assert target.read_text() == "x"
        Path("/tmp/escaped.txt").unlink(missing_ok=True)


@strict_only
@root_only
def test_root_only_canary_is_unreadable_even_when_visible(tmp_path: Path) -> None:
    cand = tmp_path / "cand"
    cand.mkdir()
    canary = tmp_path / "secret.txt"
    canary.write_text("sk-" + "canary-0600-root-only")
    os.chmod(canary, 0o600)
    code = f"""
    for p in [{str(canary)!r}, "/run/canary/secret.txt", "/etc/shadow", "/root/.bashrc"]:
        try:
            print("READ", p, open(p).read())
        except OSError as e:
            print("BLOCKED", p, e.strerror)
    """
    (cand / "child.py").write_text(textwrap.dedent(code))
    out = launch.launch_child(
        [sys.executable, "-I", str(cand / "child.py")],
        cand,
        FAST,
        cand / "child.log",
        mode="strict",
        extra_ro_binds=[(canary, "/run/canary/secret.txt")],
    )
    log = (cand / "child.log").read_text()
    assert out.status == "ok", out
    assert "sk-canary" not in log and "READ" not in log
    assert "BLOCKED /run/canary/secret.txt Permission denied" in log  # visible, but the uid may not read it


@strict_only
def test_inputs_in_the_folder_are_read_only_and_new_files_are_allowed(tmp_path: Path) -> None:
    (tmp_path / "reward.py").write_text("original")
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "data.txt").write_text("original")
    code = """
    import os
    for what, f in [
        ("write", lambda: open("reward.py", "w").write("forged")),
        ("unlink", lambda: os.unlink("reward.py")),
        ("rename", lambda: os.rename("reward.py", "moved.py")),
        ("write-in-dir", lambda: open("inputs/data.txt", "w").write("forged")),
        ("new-in-dir", lambda: open("inputs/new.txt", "w").write("forged")),
    ]:
        try:
            f()
            print("DID", what)
        except OSError as e:
            print("BLOCKED", what, e.strerror)
    open("stats.json", "w").write("{}")
    """
    out = _py(tmp_path, code, mode="strict")
    log = (tmp_path / "child.log").read_text()
    assert out.status == "ok", out
    assert "DID" not in log, log
    assert (tmp_path / "reward.py").read_text() == "original"
    assert (tmp_path / "inputs" / "data.txt").read_text() == "original"
    assert not (tmp_path / "inputs" / "new.txt").exists()
    assert (tmp_path / "stats.json").read_text() == "{}"
    if ROOT:  # the child's files are given back to the parent
        assert (tmp_path / "stats.json").stat().st_uid == 0 and tmp_path.stat().st_uid == 0


@strict_only
def test_private_inputs_are_lent_for_reading_and_their_modes_restored(tmp_path: Path) -> None:
    (tmp_path / "reward.py").write_text("the program")
    os.chmod(tmp_path / "reward.py", 0o600)  # how the run store writes its files
    out = _py(tmp_path, "print('READ', open('reward.py').read())", mode="strict")
    assert out.status == "ok", out
    assert "READ the program" in (tmp_path / "child.log").read_text()
    assert stat.S_IMODE((tmp_path / "reward.py").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", MODES)
def test_planted_links_and_fifos_are_removed_and_setuid_bits_cleared(tmp_path: Path, mode: SandboxMode) -> None:
    code = """
    import os
    os.symlink("/etc/passwd", "stats.json")
    os.mkfifo("policy.safetensors")
    open("tool", "w").write("#!/bin/sh\\n")
    os.chmod("tool", 0o4755)
    os.mkdir("sub")
    os.symlink("/", "sub/root")
    """
    out = _py(tmp_path, code, mode=mode)
    assert out.status == "ok", out
    assert not os.path.lexists(tmp_path / "stats.json")
    assert not os.path.lexists(tmp_path / "policy.safetensors")
    assert not os.path.lexists(tmp_path / "sub" / "root")
    mode_bits = (tmp_path / "tool").stat().st_mode
    assert not mode_bits & (stat.S_ISUID | stat.S_ISGID)


@strict_only
def test_process_cap_stops_a_fork_bomb(tmp_path: Path) -> None:
    code = """
    import os, time
    open("token.txt", "w").write(os.environ["EUREKA_SANDBOX_TOKEN"])
    n = 0
    try:
        for _ in range(500):
            if os.fork() == 0:
                time.sleep(600)
                os._exit(0)
            n += 1
    except OSError as e:
        print("FORK REFUSED after", n, e.strerror, flush=True)
    open("forks.txt", "w").write(str(n))
    time.sleep(600)
    """
    limits = Limits(wall_s=4.0, cpu_s=20.0, address_space_mb=None, processes=24)
    out = _py(tmp_path, code, limits, mode="strict")
    assert out.status == "timeout", out
    assert int((tmp_path / "forks.txt").read_text()) < 24
    assert "FORK REFUSED" in (tmp_path / "child.log").read_text()
    assert _survivors((tmp_path / "token.txt").read_text()) == []


_PARENT = """
import sys, pathlib
from eureka_kit.sandbox.runner import Limits, run_child
cand = pathlib.Path(sys.argv[1])
(cand / "child.py").write_text(sys.argv[3])
out = run_child([sys.executable, "-I", str(cand / "child.py")], cand, Limits(wall_s=60.0, address_space_mb=None),
                cand / "child.log", mode=sys.argv[2])
print("PARENT SURVIVED", out.status, flush=True)
"""


@pytest.mark.parametrize("mode", MODES)
def test_children_die_with_a_killed_parent(tmp_path: Path, mode: SandboxMode) -> None:
    code = "import os, time\nopen('token.txt', 'w').write(os.environ['EUREKA_SANDBOX_TOKEN'])\ntime.sleep(600)\n"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(tmp_path), mode, code])
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "token.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        token = (tmp_path / "token.txt").read_text()
        assert _survivors(token), "the child should be running"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _survivors(token) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _survivors(token) == []
    finally:
        parent.kill()


@pytest.mark.parametrize("mode", MODES)
def test_killing_the_parent_fails_under_strict_only(tmp_path: Path, mode: SandboxMode) -> None:
    code = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('tried')\n"
    r = subprocess.run([sys.executable, "-c", _PARENT, str(tmp_path), mode, code], capture_output=True, text=True)
    if mode == "strict":
        assert r.returncode == 0 and "PARENT SURVIVED" in r.stdout, r.stderr
    else:  # positive control: a plain child kills its parent
        assert r.returncode == -signal.SIGKILL


@pytest.mark.parametrize("mode", MODES)
def test_parent_environment_in_proc_is_out_of_reach(tmp_path: Path, mode: SandboxMode) -> None:
    code = """
    try:
        import os
        print("ENVIRON", open(f"/proc/{os.getppid()}/environ", "rb").read())
    except OSError as e:
        print("BLOCKED", e.strerror)
    """
    env = {**os.environ, "OPENAI_API_KEY": "sk-canary-environ-4711"}
    r = subprocess.run([sys.executable, "-c", _PARENT, str(tmp_path), mode, textwrap.dedent(code)], env=env)
    assert r.returncode == 0
    log = (tmp_path / "child.log").read_text()
    if mode == "strict":
        assert "sk-canary-environ-4711" not in log
    elif ROOT:  # positive control: a plain child of a root parent reads the parent's environment
        assert "sk-canary-environ-4711" in log


# ----- the seccomp filter (both modes; the children install it after their trusted imports) ---------------


def test_seccomp_program_jumps_are_short_and_it_ends_in_returns() -> None:
    prog = seccomp_program(1234)
    assert 20 < len(prog) < 200
    for i, (code, jt, jf, _k) in enumerate(prog):
        assert 0 <= jt < 256 and 0 <= jf < 256
        if code & 0x07 == 0x05:  # a jump stays inside the program
            assert i + 1 + max(jt, jf) < len(prog)
    assert prog[-1][0] == 0x06


@pytest.mark.skipif(not seccomp_supported(), reason="the seccomp filter exists for x86-64 only")
@pytest.mark.parametrize("mode", MODES)
def test_seccomp_refuses_programs_processes_sockets_and_signals(tmp_path: Path, mode: SandboxMode) -> None:
    code = """
    import os, signal, socket, subprocess, threading, sys
    sys.path.insert(0, os.environ["PYTHONPATH"])
    from eureka_kit.sandbox.seccomp import lock_down
    assert lock_down("require")
    def attempt(what, f):
        try:
            f()
            print("ALLOWED", what)
        except OSError as e:
            print("DENIED", what, e.strerror)
    attempt("socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    attempt("unix", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    attempt("exec", lambda: subprocess.run(["/bin/true"]))
    attempt("system", lambda: os.system("true") == 0 or (_ for _ in ()).throw(OSError(1, "system failed")))
    attempt("fork", os.fork)
    attempt("kill", lambda: os.kill(os.getppid(), 0))
    t = threading.Thread(target=lambda: print("THREAD RAN"))
    t.start(); t.join()
    os.kill(os.getpid(), 0)
    print("SELF SIGNAL OK")
    """
    out = _py(tmp_path, code, mode=mode)
    log = (tmp_path / "child.log").read_text()
    assert out.status == "ok", (out, log)
    assert "ALLOWED" not in log, log
    for what in ("socket", "unix", "exec", "system", "fork", "kill"):
        assert f"DENIED {what}" in log, log
    assert "THREAD RAN" in log and "SELF SIGNAL OK" in log


_LINKED_PARENT = """
import json, sys, pathlib
from eureka_kit.sandbox.runner import Limits, run_child
cand = pathlib.Path(sys.argv[1])
code = "import json, sys, psutil; print(json.dumps([sys.executable, sys.prefix, psutil.__name__]))"
out = run_child([sys.executable, "-P", "-c", code], cand, Limits(wall_s=60.0, address_space_mb=None, heartbeat_s=None),
                cand / "child.log", mode="strict")
print(json.dumps([out.status, out.message, sys.executable, sys.prefix]), flush=True)
"""


@strict_only
def test_an_interpreter_reached_through_symbolic_links_runs_in_strict_mode(tmp_path: Path) -> None:
    """Regression: a venv reached through links (``/tmp/x/venv -> .venv``) used to fail with ``setpriv: failed to
    execute .../bin/python: No such file or directory``: the view bound the real path only, the child was started
    through the linked one. Here the parent is started as ``../alias/venv/bin/python`` from ``side/`` (Python keeps
    the ``side/..`` in ``sys.executable``, and ``side`` is not in the view either), through a chain of links:
    ``alias -> real`` (relative), then ``real/venv -> sys.prefix``."""
    (tmp_path / "side").mkdir()
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "venv").symlink_to(Path(sys.prefix).resolve())
    (tmp_path / "alias").symlink_to("real")
    python = Path("..") / "alias" / "venv" / "bin" / Path(sys.executable).name
    assert (tmp_path / "side" / python).exists()
    cand = tmp_path / "cand"
    cand.mkdir()
    parent = subprocess.run(
        [str(python), "-c", _LINKED_PARENT, str(cand)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path / "side",
    )
    assert parent.returncode == 0, parent.stderr
    status, message, parent_exe, parent_prefix = json.loads(parent.stdout.strip().splitlines()[-1])
    assert "/alias/venv/bin/" in parent_exe  # the parent really runs through the links
    assert status == "ok", (message, (cand / "child.log").read_text())
    exe, prefix, module = json.loads((cand / "child.log").read_text().strip().splitlines()[-1])
    assert os.path.normpath(exe) == os.path.normpath(parent_exe)  # the same interpreter path ...
    assert (prefix, module) == (parent_prefix, "psutil")  # ... the same venv, whose packages import


@strict_only
def test_private_tmp_is_mounted_before_the_view(tmp_path: Path) -> None:
    """A project, venv or run folder that lives under /tmp (CI clones there) must stay visible in the child."""
    argv = bwrap.bwrap_argv(["true"], tmp_path, uid=None, processes=None)
    tmpfs = argv.index("--tmpfs")
    binds = [i for i, a in enumerate(argv) if a in ("--ro-bind", "--bind", "--ro-bind-try")]
    assert binds and tmpfs < min(binds), "a bind placed before the private /tmp would be hidden by it"


def test_gpu_binds_only_nvidia_devices_and_read_only_driver_info(tmp_path: Path) -> None:
    """A CUDA child's view gains the NVIDIA device files (as devices) and read-only driver info; nothing else."""
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "sda", "kvm", "nvme0n1"):
        (tmp_path / name).touch()
    args = bwrap.gpu_binds(tmp_path)
    dev_binds = [args[i + 1] for i, a in enumerate(args) if a == "--dev-bind"]
    assert sorted(Path(p).name for p in dev_binds) == ["nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl"]
    others = [a for a in args if a.startswith("--") and a != "--dev-bind"]
    assert set(others) == {"--ro-bind-try"}
    assert "--bind" not in args and "/proc/driver/nvidia" in args


def test_cuda_job_gets_the_gpu_and_no_address_space_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train_candidate turns a CUDA job's limits into GPU limits; a CPU job's stay as they are."""
    from eureka_kit.training import runner as train_runner
    from eureka_kit.training.job import DEFAULT_LIMITS, TrainJob

    seen: list[Limits] = []

    def fake_run_child(argv: list[str], cwd: Path, limits: Limits, log_path: Path, **kw: object) -> object:
        seen.append(limits)
        raise RuntimeError("stop here")

    monkeypatch.setattr(train_runner, "run_child", fake_run_child)
    for device in ("cuda", "cpu"):
        job = TrainJob("HalfCheetah-Run-v1", "baseline", total_steps=64, backend="cpu", device=device)
        with pytest.raises(RuntimeError, match="stop here"):
            train_runner.train_candidate(job, tmp_path / device, DEFAULT_LIMITS)
    assert seen[0].gpu and seen[0].address_space_mb is None
    assert not seen[1].gpu and seen[1].address_space_mb == DEFAULT_LIMITS.address_space_mb
