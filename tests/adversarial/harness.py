"""Run the adversarial table through the real sandboxed children and judge containment.

Used by ``tests/test_adversarial.py`` (CI) and ``bench/adversarial_report.py`` (the table in
``docs/sandbox.md``). For each program: the verdict, its message, the wall time, and the escapes the
detectors saw (a payload at the canary listener, a file in the program's watched folder, in the package or
in the host's ``/tmp``, the canary secret or the canary API key in any output, log, report or run file).
Positive controls run a program WITHOUT the sandbox, in a throwaway process, to prove the detectors fire.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import psutil

from eureka_kit.evaluation.evaluator import evaluate_policy
from eureka_kit.reward.check_runner import check_sandboxed
from eureka_kit.sandbox.bwrap import UID_RANGE
from eureka_kit.sandbox.runner import Limits
from eureka_kit.sandbox.supervise import TOKEN_VAR
from eureka_kit.sandbox.view import package_root
from eureka_kit.tasks.registry import get_task
from eureka_kit.training.job import TrainJob
from eureka_kit.training.runner import train_candidate

from .programs import Program

ATTACK_LIMITS = Limits(
    wall_s=15.0,
    cpu_s=15.0,
    address_space_mb=3072,
    file_size_mb=64,
    max_output_bytes=200_000,
    heartbeat_s=None,
    processes=64,
)
"""Limits of the critic's check in the suite: short, so that kill latency is measured on a small scale, yet long
enough that a check child on a loaded 2-core machine (imports, rollout, the 2 s alarm, the shape trace) finishes:
at 8 s the slow-program verdicts turned into wall-clock kills under load."""

TRAIN_LIMITS = Limits(wall_s=90.0, address_space_mb=4096, file_size_mb=64, heartbeat_s=45.0, processes=64)
TRAIN_STEPS = 128
ENV_KEY = "OPENAI_API_KEY"
MAX_SCAN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Canaries:
    """What the detectors watch: a root-only secret file, a secret API key in the parent's environment, a port."""

    root: Path
    secret_path: Path
    secret: str
    env_secret: str
    port: int

    def watched(self, name: str, control: bool = False) -> Path:
        return self.root / ("watched_control" if control else "watched") / name


class Listener(threading.Thread):
    """The canary TCP listener on 127.0.0.1: records every connection and its first bytes."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="canary-listener")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.payloads: list[bytes] = []
        self.connections = 0
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(2.0)
            try:
                data = conn.recv(256)
            except OSError:
                data = b""
            conn.close()
            with self._lock:
                self.connections += 1
                self.payloads.append(data)

    def received(self, name: str) -> bool:
        with self._lock:
            return any(p == name.encode() for p in self.payloads)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2.0)
        self.sock.close()


@dataclass(frozen=True)
class Outcome:
    """What happened to one program of the table."""

    program: Program
    verdict: str
    message: str
    seconds: float
    escapes: tuple[str, ...] = ()
    fitness: float | None = None
    stats_fitness: float | None = None
    log_bytes: int = 0
    """Size of the child's log in the candidate folder (the output cap must hold)."""

    @property
    def name(self) -> str:
        return self.program.name

    @property
    def as_expected(self) -> bool:
        return self.verdict in self.program.expect and self.program.contains.lower() in self.message.lower()


@dataclass
class SuiteResult:
    """The whole table's outcomes, the positive controls and the clean-up checks."""

    outcomes: dict[str, Outcome]
    controls: dict[str, tuple[str, ...]] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)
    stray_connections: int = 0
    canary_intact: bool = True
    parent_pid: int = 0
    seconds: float = 0.0


def make_canaries(root: Path, port: int) -> Canaries:
    root.mkdir(parents=True, exist_ok=True)
    secret = "sk-canary-file-" + secrets.token_hex(16)
    env_secret = "sk-canary-env-" + secrets.token_hex(16)
    secret_path = root / "canary_secret.txt"
    secret_path.write_text(secret)
    os.chmod(secret_path, 0o600)
    return Canaries(root, secret_path, secret, env_secret, port)


def source_for(program: Program, canaries: Canaries, control: bool = False) -> str:
    return Template(program.source).safe_substitute(
        NAME=program.name + ("-control" if control else ""),
        PORT=str(canaries.port),
        WATCHED=str(canaries.watched(program.name, control)),
        SECRET_PATH=str(canaries.secret_path),
        PKG=str(package_root() / "eureka_kit"),
    )


def _scan(paths: Iterable[Path], texts: Iterable[str], needles: dict[str, str]) -> list[str]:
    """``kind:where`` for each needle found in a text or in a file (recursively, regular files only)."""
    found: list[str] = []
    for kind, needle in needles.items():
        for i, t in enumerate(texts):
            if needle in t:
                found.append(f"{kind}:message{i}")
    raw = {k: v.encode() for k, v in needles.items()}
    for top in paths:
        files = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file() and not p.is_symlink()]
        for f in files:
            try:
                with open(f, "rb") as fh:
                    data = fh.read(MAX_SCAN_BYTES)
            except OSError:
                continue
            for kind, blob in raw.items():
                if blob in data:
                    found.append(f"{kind}:{f.name}")
    return found


def _written(program: Program, canaries: Canaries, control: bool = False) -> list[str]:
    out = []
    watched = canaries.watched(program.name, control)
    if watched.exists():
        out += [f"write:{p.name}" for p in watched.iterdir()]
    suffix = program.name + ("-control" if control else "")
    for p in (package_root() / "eureka_kit" / f"_pwned_{suffix}.py", Path(f"/tmp/eureka_pwned_{suffix}")):
        if os.path.lexists(p):
            out.append(f"write:{p}")
    return out


def run_program(program: Program, canaries: Canaries, listener: Listener) -> Outcome:
    """Run one program through the real sandboxed child of its route and look for escapes."""
    cand = canaries.root / "cand" / program.name
    cand.mkdir(parents=True, exist_ok=True)
    watched = canaries.watched(program.name)
    watched.mkdir(parents=True, exist_ok=True)
    os.chmod(watched, 0o777)  # writable by anyone: only the sandbox's view can keep a child out
    source = source_for(program, canaries)
    spec = get_task(program.task)
    fitness = stats_fitness = None
    start = time.monotonic()
    if program.route == "check":
        report = check_sandboxed(spec, source, workdir=cand, limits=ATTACK_LIMITS)
        verdict = "check:ok" if report.ok else f"check:{report.errors[0].code}"
        message = report.feedback()
    else:
        (cand / "reward.py").write_text(source)
        job = TrainJob(program.task, "program", cand / "reward.py", total_steps=TRAIN_STEPS, n_envs=1, seed=0)
        result = train_candidate(job, cand, TRAIN_LIMITS)
        verdict, message = f"train:{result.status}", result.message
        if result.stats is not None:
            fits = [s.fitness for s in result.stats.samples if s.fitness is not None]
            stats_fitness = max(fits) if fits else None
        if result.status == "ok":
            evaluation = evaluate_policy(spec, cand, episodes=1, seed=1_000_000)
            verdict += f"+eval:{evaluation.status}"
            message = (message + "\n" + evaluation.message).strip()
            fitness = evaluation.fitness if evaluation.status == "ok" else None
    seconds = time.monotonic() - start
    escapes = _written(program, canaries)
    if listener.received(program.name):
        escapes.append("network")
    escapes += _scan([cand], [message], {"secret": canaries.secret, "env": canaries.env_secret})
    logs = [cand / "check.log", cand / "train.log"]
    log_bytes = max((p.stat().st_size for p in logs if p.is_file()), default=0)
    return Outcome(program, verdict, message, seconds, tuple(escapes), fitness, stats_fitness, log_bytes)


def run_control(program: Program, canaries: Canaries, listener: Listener) -> tuple[str, ...]:
    """Run the program's check WITHOUT the sandbox (a plain throwaway process); the detectors that fired."""
    work = canaries.root / "control" / program.name
    work.mkdir(parents=True, exist_ok=True)
    watched = canaries.watched(program.name, control=True)
    watched.mkdir(parents=True, exist_ok=True)
    (work / "reward.py").write_text(source_for(program, canaries, control=True))
    env = {**os.environ, ENV_KEY: canaries.env_secret, "PYTHONPATH": str(package_root())}
    env.pop("EUREKA_SECCOMP", None)
    # an intermediate shell (its environment block holds the key) stays the program's parent
    argv = ["sh", "-c", '"$@"; true', "sh", sys.executable, "-P", "-m", "eureka_kit.reward.check_child"]
    argv += [program.task, "reward.py", "out.json"]
    try:
        r = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=60)
        texts = [r.stdout, r.stderr]
    except subprocess.TimeoutExpired as e:
        texts = [str(e.stdout or ""), str(e.stderr or "")]
    time.sleep(0.3)  # let the listener record a late payload
    fired = [e.split(":")[0] for e in _written(program, canaries, control=True)]
    if listener.received(program.name + "-control"):
        fired.append("network")
    fired += [e.split(":")[0] for e in _scan([work], texts, {"secret": canaries.secret, "env": canaries.env_secret})]
    shutil.rmtree(watched, ignore_errors=True)
    return tuple(sorted(set(fired)))


def sandbox_processes(root: Path) -> list[str]:
    """Processes of this suite still alive: children of this process, and sandbox processes of its folders.

    A sandbox process carries a sandbox token or runs as a sandbox uid; it belongs to this suite when its
    ``HOME`` (the runner sets it to the candidate folder) lies under ``root``, or when it has no ``HOME``.
    Sandboxes that other test runs on the same machine start meanwhile are not counted.
    """
    lo, n = UID_RANGE
    found = []
    me = psutil.Process()
    kids = {c.pid for c in me.children(recursive=True)}
    root = root.resolve()
    for p in psutil.process_iter(["pid", "name", "uids"]):
        try:
            uids = p.info["uids"]
            env = p.environ()
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            sandboxed = TOKEN_VAR in env or (uids is not None and lo <= uids.real < lo + n)
            home = env.get("HOME")
            ours = home is None or Path(home) == root or root in Path(home).parents
            if (sandboxed and ours) or p.pid in kids:
                found.append(f"{p.pid} {p.info['name']} (HOME={home})")
        except (psutil.Error, OSError):
            continue
    return found


def run_suite(programs: Sequence[Program], root: Path, *, workers: int = 2, controls: bool = True) -> SuiteResult:
    """Run every program (and the positive controls) with ``workers`` threads; check clean-up and canaries."""
    listener = Listener()
    listener.start()
    canaries = make_canaries(root, listener.port)
    before = canaries.secret_path.stat()
    old_key = os.environ.get(ENV_KEY)
    os.environ[ENV_KEY] = canaries.env_secret  # the parent holds a key: it must reach no child
    start = time.monotonic()
    try:
        order = sorted(programs, key=lambda p: (not p.timed, p.route != "train"))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(lambda p: run_program(p, canaries, listener), order))
            sandboxed_connections = listener.connections
            with_control = [p for p in programs if p.control] if controls else []
            fired = list(pool.map(lambda p: run_control(p, canaries, listener), with_control))
    finally:
        if old_key is None:
            os.environ.pop(ENV_KEY, None)
        else:
            os.environ[ENV_KEY] = old_key
        listener.stop()
    after = canaries.secret_path.stat()
    intact = (
        canaries.secret_path.read_text() == canaries.secret
        and stat.S_IMODE(after.st_mode) == 0o600
        and after.st_mtime_ns == before.st_mtime_ns
    )
    return SuiteResult(
        outcomes={o.name: o for o in outcomes},
        controls={p.name: f for p, f in zip(with_control, fired, strict=True)},
        survivors=sandbox_processes(root),
        stray_connections=sandboxed_connections,
        canary_intact=intact,
        parent_pid=os.getpid(),
        seconds=time.monotonic() - start,
    )
