"""Proof that the strict sandbox isolates a child on this machine: :func:`verify_isolation` and its probe.

:func:`verify_isolation` runs a probe child under strict mode (through
:func:`eureka_kit.sandbox.launch.launch_child`) that tries to connect to a
listener the parent opens on ``127.0.0.1``, to write outside its folder, to
read a root-only canary file, and checks its uid, capabilities, pid namespace
and the seccomp filter. :func:`eureka_kit.sandbox.runner.ensure_isolation` calls
it once per process before the first strict child; the command-line tool
calls it at start-up (``eureka-kit sandbox``).

The probe is this module run as ``python -P -m eureka_kit.sandbox.verify probe ARGS.json``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eureka_kit.files import UntrustedFileError, atomic_write_json, read_bounded, read_bounded_json
from eureka_kit.sandbox.bwrap import BASIC_HINT, IsolationUnavailable, UidStrategy, find_tools, uid_strategy
from eureka_kit.sandbox.launch import Limits, launch_child
from eureka_kit.sandbox.mode import SandboxMode, sandbox_mode
from eureka_kit.sandbox.protocol import EXIT_USAGE, child_argv
from eureka_kit.sandbox.seccomp import SECCOMP_VAR, lock_down, seccomp_supported
from eureka_kit.sandbox.view import package_root

BASIC_MODE_WARNING = (
    "warning: sandbox mode 'basic': reward programs run as plain child processes under resource limits and a "
    "seccomp filter, without namespaces: a program could read files your user can read and, where the filter is "
    "unavailable, reach the network. Use the default strict mode (bubblewrap) when you can."
)
"""What the command-line tool prints on every run in basic mode."""

PROBE_MODULE = "eureka_kit.sandbox.verify"
_MAX_PROBE_BYTES = 64_000


@dataclass(frozen=True)
class IsolationCheck:
    """One property of the sandbox, tested by the probe child."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class IsolationReport:
    """What :func:`verify_isolation` found. ``ok`` False means strict mode must refuse; ``message`` says why."""

    mode: SandboxMode
    ok: bool
    message: str
    checks: tuple[IsolationCheck, ...] = ()
    uid_strategy: UidStrategy = "none"
    seccomp: bool = False
    bwrap_version: str | None = None

    @property
    def failed(self) -> tuple[IsolationCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def summary(self) -> str:
        """Multi-line text: the message, then one line per check."""
        lines = [self.message]
        lines += [f"  [{'ok' if c.passed else 'FAILED'}] {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


_NAMESPACE_ERRORS = (
    "No permissions to create new namespace",
    "Creating new namespace failed",
    "setting up uid map",
    "Operation not permitted",
    "unshare",
    "loopback",
)


def _unavailable(detail: str) -> str:
    if any(s in detail for s in _NAMESPACE_ERRORS):
        return (
            "strict sandbox unavailable: bubblewrap cannot create namespaces here (user namespaces disabled? "
            "check the sysctls user.max_user_namespaces, kernel.unprivileged_userns_clone and "
            "kernel.apparmor_restrict_unprivileged_userns, or a container that forbids them), "
            f"{BASIC_HINT}. bubblewrap said: {detail}"
        )
    return f"strict sandbox unavailable: the probe child failed: {detail}; {BASIC_HINT}"


def verify_isolation(mode: SandboxMode | None = None, *, timeout_s: float = 30.0) -> IsolationReport:
    """Prove that ``mode`` (default: the configured one) isolates a child on this machine.

    ``basic``: nothing to prove; the report is ok and its message is
    :data:`BASIC_MODE_WARNING`. ``strict``: a probe child runs under the
    strict sandbox and tries to connect to a listener opened here on
    127.0.0.1, to write outside its folder (a host temp folder and the
    package), to read a root-only canary (invisible, and, as root, visible
    but ``0600``); it checks its uid, capabilities, pid namespace and the
    seccomp filter. Any success of an attack, or a missing tool, gives
    ``ok=False`` with a message naming the missing piece.
    """
    mode = mode or sandbox_mode()
    if mode == "basic":
        return IsolationReport("basic", True, BASIC_MODE_WARNING, seccomp=seccomp_supported())
    try:
        tools = find_tools()
    except IsolationUnavailable as e:
        return IsolationReport("strict", False, str(e))
    version = ".".join(map(str, tools.bwrap_version))
    strategy = uid_strategy()
    with tempfile.TemporaryDirectory(prefix="eureka-probe-") as tmp:
        base = Path(tmp)
        os.chmod(base, 0o700)
        cand = base / "cand"
        cand.mkdir()
        secret = base / "canary_secret"
        canary = "eureka-canary-" + secrets.token_hex(12)
        secret.write_text(canary)
        os.chmod(secret, 0o600)
        outside = base / "outside_write.txt"
        inside_pkg = package_root() / "eureka_kit" / f".probe_{secrets.token_hex(4)}"
        visible_secret = "/run/eureka-canary/secret"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        args = {
            "port": port,
            "outside": [str(outside), str(inside_pkg)],
            "secrets": [str(secret)] + ([visible_secret] if strategy == "setuid" else []),
            "out": str(cand / "probe.json"),
            "host_pid": os.getpid(),
        }
        atomic_write_json(cand / "probe_args.json", args)
        limits = Limits(wall_s=timeout_s, address_space_mb=None, heartbeat_s=None, max_output_bytes=20_000)
        argv = child_argv(PROBE_MODULE, "probe", "probe_args.json")
        try:
            outcome = launch_child(
                argv,
                cand,
                limits,
                cand / "probe.log",
                mode="strict",
                extra_env={SECCOMP_VAR: "require"} if seccomp_supported() else {SECCOMP_VAR: "off"},
                extra_ro_binds=[(secret, visible_secret)] if strategy == "setuid" else [],
            )
        finally:
            connected = _accepted(listener)
            listener.close()
        try:
            log = read_bounded(cand / "probe.log", _MAX_PROBE_BYTES).decode("utf-8", errors="replace")
        except UntrustedFileError:
            log = ""
        for p in (outside, inside_pkg):
            if p.exists():
                p.unlink()
        wrote = [str(p) for p in (outside, inside_pkg) if p.exists()]
        try:
            data = read_bounded_json(cand / "probe.json", _MAX_PROBE_BYTES)
        except UntrustedFileError:
            data = {}
        found: dict[str, Any] = data if isinstance(data, dict) else {}
        leaked = canary in log or canary in json.dumps(found)
    if not found:
        tail = log.strip().splitlines()[-3:] if log.strip() else [outcome.message]
        return IsolationReport("strict", False, _unavailable(" | ".join(tail)), uid_strategy=strategy)
    checks = _judge(found, connected, wrote, leaked, strategy, outcome.returncode)
    failed = [c for c in checks if not c.passed]
    seccomp_ok = any(c.name == "seccomp" and c.passed for c in checks)
    if failed:
        names = ", ".join(f"{c.name} ({c.detail})" for c in failed)
        message = f"strict sandbox check failed: {names}; refusing to run untrusted code, {BASIC_HINT}"
        return IsolationReport("strict", False, message, tuple(checks), strategy, seccomp_ok, version)
    who = "a fresh unprivileged uid" if strategy == "setuid" else "your uid in a user namespace, no capabilities"
    message = (
        f"strict sandbox ok (bubblewrap {version}): no network, own pid namespace, read-only system view, writes "
        f"only to the candidate folder, runs as {who}, seccomp filter {'on' if seccomp_ok else 'off (not x86-64)'}"
    )
    return IsolationReport("strict", True, message, tuple(checks), strategy, seccomp_ok, version)


def _accepted(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except (BlockingIOError, OSError):
        return False
    conn.close()
    return True


def _judge(
    found: Mapping[str, Any],
    connected: bool,
    wrote: Sequence[str],
    leaked: bool,
    strategy: UidStrategy,
    returncode: int | None,
) -> list[IsolationCheck]:
    checks = [
        IsolationCheck(
            "network",
            not connected and not str(found.get("network", "")).startswith("connected"),
            f"connect to a listener on the host's 127.0.0.1: {found.get('network', '?')}",
        ),
        IsolationCheck(
            "outside_write",
            not wrote and all(v != "written" for v in found.get("outside", {}).values()),
            "writes outside the folder: "
            + ", ".join(f"{Path(k).name}: {v}" for k, v in found.get("outside", {}).items()),
        ),
        IsolationCheck(
            "secret_read",
            not leaked and all(v != "read" for v in found.get("secrets", {}).values()),
            "root-only canary: " + ", ".join(f"{k}: {v}" for k, v in found.get("secrets", {}).items()),
        ),
        IsolationCheck(
            "own_folder_write", found.get("own_folder") == "written", f"own folder: {found.get('own_folder')}"
        ),
        IsolationCheck(
            "capabilities", found.get("cap_eff") == "0000000000000000", f"effective capabilities {found.get('cap_eff')}"
        ),
        IsolationCheck(
            "pid_namespace",
            bool(found.get("pid_namespace")),
            f"sees {found.get('processes')} process(es); host parent visible: {not found.get('pid_namespace')}",
        ),
    ]
    if strategy == "setuid":
        uid = found.get("uid")
        checks.append(IsolationCheck("uid", isinstance(uid, int) and uid != 0, f"runs as uid {uid}"))
    if seccomp_supported():
        sc = found.get("seccomp") or {}
        ok = (
            returncode == 0
            and all(str(sc.get(k, "")).startswith("denied") for k in ("socket", "exec", "fork"))
            and sc.get("thread") == "allowed"
        )
        detail = ", ".join(f"{k}: {v}" for k, v in sc.items()) if sc else f"not installed (exit code {returncode})"
        checks.append(IsolationCheck("seccomp", ok, detail))
    return checks


def _probe(args_path: str) -> int:
    """The probe child: try each attack, record what happened (never the canary itself), then test seccomp."""
    args = json.loads(Path(args_path).read_text())
    found: dict[str, Any] = {}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(("127.0.0.1", int(args["port"])))
        found["network"] = "connected"
    except OSError as e:
        found["network"] = f"blocked ({e.strerror or e})"
    finally:
        s.close()
    outside = {}
    for p in args["outside"]:
        try:
            with open(p, "w") as f:
                f.write("probe")
            outside[p] = "written"
        except OSError as e:
            outside[p] = f"blocked ({e.strerror})"
    found["outside"] = outside
    read = {}
    for p in args["secrets"]:
        try:
            with open(p) as f:
                f.read()
            read[p] = "read"
        except OSError as e:
            read[p] = f"blocked ({e.strerror})"
    found["secrets"] = read
    try:
        Path("own_write.txt").write_text("ok")
        found["own_folder"] = "written"
    except OSError as e:
        found["own_folder"] = f"blocked ({e.strerror})"
    found["uid"] = os.getuid()
    status = Path("/proc/self/status").read_text()
    m = re.search(r"^CapEff:\s*(\S+)", status, re.M)
    found["cap_eff"] = m.group(1) if m else None
    pids = [d for d in os.listdir("/proc") if d.isdigit()]
    found["processes"] = len(pids)
    found["pid_namespace"] = len(pids) <= 4 and os.getpid() != int(args["host_pid"])
    atomic_write_json(Path(args["out"]), found)
    if lock_down():
        found["seccomp"] = _seccomp_probe()
    atomic_write_json(Path(args["out"]), found)
    return 0


def _seccomp_probe() -> dict[str, str]:
    """Under the filter: a socket, a program and a process must all be refused."""
    out: dict[str, str] = {}
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        out["socket"] = "allowed"
    except OSError as e:
        out["socket"] = f"denied ({errno.errorcode.get(e.errno or 0, e.errno)})"
    try:
        rc = subprocess.run(["/bin/true"], check=False).returncode
        out["exec"] = f"allowed (exit code {rc})"
    except OSError as e:
        out["exec"] = f"denied ({errno.errorcode.get(e.errno or 0, e.errno)})"
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        out["fork"] = "allowed"
    except OSError as e:
        out["fork"] = f"denied ({errno.errorcode.get(e.errno or 0, e.errno)})"
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    out["thread"] = "allowed"
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "probe":
        sys.exit(_probe(sys.argv[2]))
    print(f"usage: python -P -m {PROBE_MODULE} probe ARGS.json", file=sys.stderr)
    sys.exit(EXIT_USAGE)
