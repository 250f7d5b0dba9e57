"""The adversarial program table: reward programs that misbehave or attack, each with its expected verdict.

Every program passes the critic's static checks where the attack needs to run (no ``import os``: dangerous
modules are reached through attribute paths such as ``np.f2py.os``, ``np.ctypeslib.ctypes``,
``torch.sys.modules`` or ``torch.__builtins__``), so the sandboxed child really executes it. Placeholders
(``string.Template``) are filled per program by the harness:

- ``$NAME``: the program's name (sent to the canary listener so a connection can be attributed);
- ``$PORT``: a TCP listener the test opens on 127.0.0.1;
- ``$WATCHED``: a host folder of this program, outside the candidate folder, that must stay empty;
- ``$SECRET_PATH``: a root-only (0600) canary file; ``$PKG``: the ``eureka_kit`` package folder.

A verdict is ``check:ok`` / ``check:<first error code>`` for the critic's sandboxed check, and
``train:<status>`` (``train:ok+eval:<status>`` after the trusted evaluator) for training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Route = Literal["check", "train"]
Detector = Literal["network", "write", "secret", "env"]

HEAD = "import torch\nimport numpy as np\n\n"
SIG = "def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):\n"
GOOD_BODY = (
    "    ctrl = -0.1 * (action ** 2).sum(dim=-1)\n    return x_velocity + ctrl, {'forward': x_velocity, 'ctrl': ctrl}\n"
)
MC_SIG = "def compute_reward(position: torch.Tensor, velocity: torch.Tensor):\n"
MC_BODY = "    return position + velocity.abs(), {'position': position, 'speed': velocity.abs()}\n"


@dataclass(frozen=True)
class Program:
    """One reward program of the table and what must happen to it."""

    name: str
    category: str
    source: str
    expect: tuple[str, ...]
    """Acceptable verdicts (usually one)."""
    contains: str = ""
    """A phrase the verdict's message must contain (case-insensitive): the message must be useful."""
    task: str = "HalfCheetah-Run-v1"
    route: Route = "check"
    control: tuple[Detector, ...] = ()
    """Detectors that must fire when the same program runs WITHOUT the sandbox (positive control)."""
    timed: bool = False
    """Expected to run into the wall-clock limit: its kill latency is measured."""
    claims_fitness: float | None = None
    """A fitness the program forges into its statistics; the trusted evaluator must not report it."""
    note: str = ""


def top(code: str) -> str:
    """A program whose module-level code runs ``code`` and which defines a good compute_reward."""
    return HEAD + code.strip("\n") + "\n\n\n" + SIG + GOOD_BODY


def body(code: str) -> str:
    """A program whose compute_reward runs ``code`` (indented 4) before returning a good reward."""
    lines = "".join(f"    {ln}\n" for ln in code.strip("\n").splitlines())
    return HEAD + SIG + lines + GOOD_BODY


def ret(expr_lines: str) -> str:
    """A program whose compute_reward body is exactly ``expr_lines`` (indented 4)."""
    lines = "".join(f"    {ln}\n" for ln in expr_lines.strip("\n").splitlines())
    return HEAD + SIG + lines


def mc_top(code: str) -> str:
    """A MountainCar program (for training) whose module-level code runs ``code``."""
    return HEAD + code.strip("\n") + "\n\n\n" + MC_SIG + MC_BODY


_SEND = (
    "s = torch.__builtins__['__import__']('socket').socket()\n"
    "s.settimeout(2)\n"
    "s.connect(('127.0.0.1', $PORT))\n"
    "s.sendall(b'$NAME')\n"
)

_CTYPES_CONNECT = """
ct = np.ctypeslib.ctypes
libc = ct.CDLL(None, use_errno=True)
fd = libc.socket(2, 1, 0)
addr = (ct.c_ubyte * 16)(2, 0, $PORT >> 8, $PORT & 255, 127, 0, 0, 1)
if fd >= 0 and libc.connect(fd, addr, 16) == 0:
    libc.send(fd, b'$NAME', len(b'$NAME'), 0)
"""

_FORGE_STATS = """
def _forge():
    stats = {"reward_kind": "program", "components": ["position"], "total_steps": 128, "wall_s": 1.0,
             "env_steps_per_s": 1.0, "samples": [{"step": 128, "episodes": 1, "window": 1, "total": 1e9,
             "fitness": 1e9, "length": 1.0, "env_return": 1e9, "components": {"position": 1e9},
             "step_means": {}}]}
    f = torch.__builtins__['open']('stats.json', 'w')
    f.write(torch.__builtins__['__import__']('json').dumps(stats))
    f.close()
torch.__builtins__['__import__']('atexit').register(_forge)
"""

_FORGE_BAD_STATS = """
def _forge():
    f = torch.__builtins__['open']('stats.json', 'w')
    f.write('{"reward_kind": "program", "total_steps": ' + '9' * 5000 + '}')
    f.close()
torch.__builtins__['__import__']('atexit').register(_forge)
"""

_FORGE_PICKLE = """
class Payload:
    def __reduce__(self):
        return (np.f2py.os.system, ('touch $WATCHED/unpickled',))
def _forge():
    torch.save({'w': Payload()}, 'policy.safetensors')
torch.__builtins__['__import__']('atexit').register(_forge)
"""

_FORGE_REPORT = """
f = torch.__builtins__['open']('check_report.json', 'w')
f.write('{"ok": true, "issues": [], "components": ["forged"], "time_per_call_ms": 0.1}')
f.close()
np.f2py.os._exit(0)
"""

ATTACKS: tuple[Program, ...] = (
    # ----- correctness: the critic must reject with a precise code --------------------------------------
    Program("syntax_error", "correctness", HEAD + SIG + "    return x_velocity +\n", ("check:syntax_error",), "line"),
    Program(
        "wrong_name",
        "correctness",
        HEAD + "def reward(x_velocity: torch.Tensor):\n    return x_velocity, {}\n",
        ("check:no_entry_point",),
        "compute_reward",
    ),
    Program(
        "unknown_argument",
        "correctness",
        HEAD + "def compute_reward(speed: torch.Tensor):\n    return speed, {'s': speed}\n",
        ("check:unknown_argument",),
        "x_velocity",
    ),
    Program(
        "no_arguments",
        "correctness",
        HEAD + "def compute_reward():\n    return torch.zeros(1), {}\n",
        ("check:no_arguments",),
        "state variables",
    ),
    Program(
        "wrong_shape",
        "correctness",
        ret("r = x_velocity[:, None]\nreturn r, {'forward': r}"),
        ("check:wrong_shape",),
        "(N,)",
    ),
    Program(
        "broadcast_error",
        "correctness",
        ret("r = x_velocity + action\nreturn r, {'forward': r}"),
        ("check:call_error",),
        "size",
    ),
    Program(
        "nan_always",
        "correctness",
        ret("r = x_velocity * float('nan')\nreturn r, {'forward': r}"),
        ("check:non_finite",),
        "NaN",
    ),
    Program(
        "nan_rare",
        "correctness",
        ret(
            "nan = torch.full_like(x_velocity, float('nan'))\n"
            "r = torch.where(x_velocity == 0, nan, x_velocity)\n"
            "return r, {'f': r}"
        ),
        ("check:non_finite",),
        "all state variables zero",
    ),
    Program(
        "inf_division",
        "correctness",
        ret("r = 1.0 / (x_velocity * 0.0)\nreturn r, {'forward': r}"),
        ("check:non_finite",),
        "inf",
    ),
    Program(
        "exp_blowup",
        "correctness",
        ret("r = torch.exp(1000.0 * x_velocity.abs() + 100.0)\nreturn r, {'forward': r}"),
        ("check:non_finite",),
        "clamp",
    ),
    Program(
        "non_numeric",
        "correctness",
        ret("return 'fast', {'forward': 'very'}"),
        ("check:non_tensor",),
        "torch tensors",
    ),
    Program(
        "inplace_mutation",
        "correctness",
        ret("x_velocity.mul_(2.0)\nreturn x_velocity.clone(), {'forward': x_velocity.clone()}"),
        ("check:input_mutated",),
        "in place",
    ),
    Program("import_static", "correctness", top("import scipy"), ("check:disallowed_import",), "may import only"),
    Program(
        "import_runtime",
        "correctness",
        top("torch.__builtins__['__import__']('scipy_missing_module_xyz')"),
        ("check:load_error",),
        "ModuleNotFoundError",
    ),
    Program(
        "import_runtime_importlib",
        "correctness",
        top("torch.sys.modules['importlib'].import_module('definitely_not_a_module')"),
        ("check:load_error",),
        "ModuleNotFoundError",
    ),
    Program(
        "recursion",
        "correctness",
        HEAD + "def f(n):\n    return f(n + 1)\n\n\n" + SIG + "    f(0)\n" + GOOD_BODY,
        ("check:call_error",),
        "RecursionError",
    ),
    # ----- resources: time, memory, processes, output -----------------------------------------------------
    Program("busy_loop_python", "resources", body("while True:\n    pass"), ("check:too_slow",), "did not finish"),
    Program(
        "big_integer_power",
        "resources",
        body("big = 10 ** 10 ** 8"),
        ("check:too_slow",),
        "did not finish",
        note="CPython's integer power checks for signals: the critic's 2 s alarm stops it",
    ),
    Program(
        "busy_loop_c_level",
        "resources",
        body("big = torch.linalg.matrix_power(torch.full((5000, 5000), 1e-4), 2**62)"),
        ("check:check_timeout",),
        "longer than",
        timed=True,
        note="one long C++ call (62 squarings of a 5000x5000 matrix, ~15 TFLOP: far past the wall clock on any CPU): "
        "the critic's SIGALRM cannot interrupt it; the wall clock kills the child",
    ),
    Program(
        "ignore_sigxcpu_and_sigalrm",
        "resources",
        body(
            "sig = torch.utils.data._utils.signal_handling.signal\n"
            "sig.signal(sig.SIGXCPU, sig.SIG_IGN)\n"
            "sig.signal(sig.SIGALRM, sig.SIG_IGN)\n"
            "while True:\n    pass"
        ),
        ("check:check_timeout",),
        "longer than",
        timed=True,
    ),
    Program(
        "sleep_forever",
        "resources",
        body("torch.sys.modules['time'].sleep(10 ** 6)"),
        ("check:too_slow",),
        "did not finish",
    ),
    Program(
        "sleep_forever_ignoring_alarm",
        "resources",
        top(
            "sig = torch.utils.data._utils.signal_handling.signal\n"
            "sig.signal(sig.SIGALRM, sig.SIG_IGN)\n"
            "sig.setitimer(sig.ITIMER_REAL, 0)\n"
            "torch.sys.modules['time'].sleep(10 ** 6)"
        ),
        ("check:check_timeout",),
        "longer than",
        timed=True,
    ),
    Program(
        "huge_allocation",
        "resources",
        body("big = torch.empty(2 ** 40)"),
        ("check:call_error",),
        "allocate",
    ),
    Program(
        "slow_memory_leak",
        "resources",
        HEAD + "_hoard = []\n\n\n" + SIG + "    _hoard.append(torch.empty(128 * 1024 * 1024))\n" + GOOD_BODY,
        ("check:call_error",),
        "memory",
    ),
    Program(
        "fork_bomb",
        "resources",
        top("os = np.f2py.os\nwhile True:\n    os.fork()"),
        ("check:load_error",),
        "PermissionError",
    ),
    Program(
        "thread_bomb",
        "resources",
        top(
            "threading = torch.threading\n"
            "while True:\n"
            "    threading.Thread(target=torch.sys.modules['time'].sleep, args=(60,), daemon=True).start()"
        ),
        ("check:load_error",),
        "thread",
    ),
    Program(
        "print_forever",
        "resources",
        body("while True:\n    np.f2py.os.write(1, b'spam ' * 200)"),
        ("check:too_slow",),
        "did not finish",
        note="the output pipe is capped; the log keeps max_output_bytes",
    ),
    Program(
        "file_too_large",
        "resources",
        top("torch.__builtins__['open']('big.bin', 'wb').write(b'x' * (100 * 1024 * 1024))"),
        ("check:load_error",),
        "File too large",
    ),
    Program(
        "open_files_exhaustion",
        "resources",
        top("_fds = [torch.__builtins__['open']('/dev/null') for _ in range(100000)]"),
        ("check:load_error",),
        "Too many open files",
    ),
    # ----- escape: programs, processes, network, files outside the folder --------------------------------
    Program(
        "os_system_via_f2py",
        "escape",
        top("np.f2py.os.system('touch $WATCHED/pwned_system')"),
        ("check:ok",),
        control=("write",),
        note="accepted: the fork is refused (os.system returns -1) and nothing happens",
    ),
    Program(
        "subprocess_via_sys_modules",
        "escape",
        top("torch.__builtins__['__import__']('subprocess').run(['sh', '-c', 'touch $WATCHED/pwned_subprocess'])"),
        ("check:load_error",),
        "PermissionError",
        control=("write",),
    ),
    Program(
        "ctypes_system",
        "escape",
        top("np.ctypeslib.ctypes.CDLL(None).system(b'touch $WATCHED/pwned_ctypes')"),
        ("check:ok",),
        control=("write",),
        note="accepted: libc system() cannot fork",
    ),
    Program(
        "ctypes_execv",
        "escape",
        top(
            "ct = np.ctypeslib.ctypes\n"
            "argv = (ct.c_char_p * 4)(b'/bin/sh', b'-c', b'touch $WATCHED/pwned_execv', None)\n"
            "ct.CDLL(None).execv(b'/bin/sh', argv)"
        ),
        ("check:ok",),
        control=("write",),
        note="accepted: execve fails with EPERM and the program carries on",
    ),
    Program(
        "network_socket",
        "escape",
        top(_SEND),
        ("check:load_error",),
        "PermissionError",
        control=("network",),
    ),
    Program(
        "network_ctypes",
        "escape",
        top(_CTYPES_CONNECT),
        ("check:ok",),
        control=("network",),
        note="accepted: socket() fails with EACCES, connect never happens",
    ),
    Program(
        "write_outside_np_save",
        "escape",
        top("np.save('$WATCHED/escaped.npy', np.zeros(3))"),
        ("check:load_error",),
        "No such file",
        control=("write",),
    ),
    Program(
        "write_outside_open",
        "escape",
        top("torch.__builtins__['open']('$WATCHED/escaped.txt', 'w').write('pwned')"),
        ("check:load_error",),
        "No such file",
        control=("write",),
    ),
    Program(
        "write_into_package",
        "escape",
        top("torch.__builtins__['open']('$PKG/_pwned_$NAME.py', 'w').write('x = 1')"),
        ("check:load_error",),
        "Read-only file system",
    ),
    Program(
        "write_tmp",
        "escape",
        top("torch.__builtins__['open']('/tmp/eureka_pwned_$NAME', 'w').write('pwned')"),
        ("check:ok",),
        note="accepted: /tmp of the child is a private tmpfs that vanishes with it",
    ),
    Program(
        "namespace_escape_ctypes",
        "escape",
        top(
            "libc = np.ctypeslib.ctypes.CDLL(None)\n"
            "assert libc.unshare(0x10000000) != 0\n"
            "assert libc.mount(b'none', b'/mnt', b'tmpfs', 0, None) != 0"
        ),
        ("check:ok",),
        note="accepted: unshare and mount fail (seccomp, no capabilities)",
    ),
    # ----- exfiltration: secrets of the parent --------------------------------------------------------------
    Program(
        "read_secret_file",
        "exfiltration",
        top("secret = torch.__builtins__['open']('$SECRET_PATH').read()\nprint(secret)\nraise ValueError(secret)"),
        ("check:load_error",),
        "No such file",
        control=("secret",),
    ),
    Program(
        "read_secret_ctypes",
        "exfiltration",
        top(
            "libc = np.ctypeslib.ctypes.CDLL(None)\n"
            "fd = libc.open(b'$SECRET_PATH', 0)\n"
            "buf = np.ctypeslib.ctypes.create_string_buffer(256)\n"
            "if fd >= 0 and libc.read(fd, buf, 255) > 0:\n"
            "    raise ValueError(buf.value.decode())"
        ),
        ("check:ok",),
        control=("secret",),
        note="accepted: the canary does not exist in the child's view",
    ),
    Program(
        "read_env_key",
        "exfiltration",
        top("key = np.f2py.os.environ['OPENAI_API_KEY']\nprint(key)\nraise ValueError(key)"),
        ("check:load_error",),
        "KeyError",
        control=("env",),
    ),
    Program(
        "read_parent_environ",
        "exfiltration",
        top(
            "os = np.f2py.os\n"
            "data = torch.__builtins__['open'](f'/proc/{os.getppid()}/environ', 'rb').read()\n"
            "raise ValueError([e for e in data.split(b'\\0') if e.startswith(b'OPENAI')])"
        ),
        ("check:load_error",),
        "Permission denied",
        control=("env",),
    ),
    Program(
        "scan_proc_environ",
        "exfiltration",
        top(
            "os = np.f2py.os\n"
            "found = []\n"
            "for pid in os.listdir('/proc'):\n"
            "    try:\n"
            "        found.append(torch.__builtins__['open'](f'/proc/{pid}/environ', 'rb').read())\n"
            "    except OSError:\n"
            "        pass\n"
            "leak = [v for e in found for v in e.split(b'\\0') if v.startswith(b'OPENAI')]\n"
            "if leak:\n"
            "    raise ValueError(leak[0])"
        ),
        ("check:ok",),
        control=("env",),
        note="accepted: the child sees only its own namespace, whose environments are clean",
    ),
    # ----- the parent and the process tree ---------------------------------------------------------------
    Program(
        "kill_parent",
        "parent",
        top("os = np.f2py.os\nos.kill(os.getppid(), 9)"),
        ("check:load_error",),
        "PermissionError",
    ),
    Program(
        "kill_parent_ctypes",
        "parent",
        top("libc = np.ctypeslib.ctypes.CDLL(None)\nlibc.kill(libc.getppid(), 9)"),
        ("check:ok",),
        note="accepted: kill() of another process fails with EPERM",
    ),
    Program(
        "kill_everything",
        "parent",
        top("np.f2py.os.kill(-1, 9)"),
        ("check:load_error",),
        "PermissionError",
        note="kill(-1) would signal every process the uid may signal",
    ),
    Program(
        "kill_own_group",
        "parent",
        top("np.f2py.os.killpg(0, 9)"),
        ("check:check_crashed",),
        "SIGKILL",
        note="allowed: it only reaches the child itself",
    ),
    Program(
        "segfault_ctypes",
        "parent",
        top("np.ctypeslib.ctypes.string_at(0)"),
        ("check:check_crashed",),
        "SIGSEGV",
    ),
    Program("exit_at_import", "parent", top("raise SystemExit(0)"), ("check:load_error",), "SystemExit"),
    Program(
        "os_exit_at_import",
        "parent",
        top("np.f2py.os._exit(0)"),
        ("check:check_crashed",),
        "exited without a report",
    ),
    # ----- integrity: forged results, tampered guards -----------------------------------------------------
    Program(
        "tamper_isfinite",
        "integrity",
        HEAD
        + "torch.isfinite = lambda t: torch.ones_like(t, dtype=torch.bool)\n\n\n"
        + ret("r = x_velocity * float('nan')\nreturn r, {'forward': r}")[len(HEAD) :],
        ("check:non_finite", "check:tampering"),
        "",
    ),
    Program(
        "tamper_tensor_method",
        "integrity",
        HEAD
        + "torch.Tensor.all = lambda self, *a, **k: torch.tensor(True)\n\n\n"
        + ret("r = x_velocity * float('nan')\nreturn r, {'forward': r}")[len(HEAD) :],
        ("check:tampering",),
        "replaced library functions",
    ),
    Program(
        "forge_check_report",
        "integrity",
        top(_FORGE_REPORT),
        ("check:ok",),
        note="accepted as forged: one process cannot be protected from itself; harmless, since the program is "
        "then trained in the sandbox and judged by the trusted evaluator (see forge_check_report_then_train)",
    ),
    Program(
        "forge_check_report_then_train",
        "integrity",
        mc_top(_FORGE_REPORT),
        ("train:train_error",),
        "without writing policy weights",
        task="MountainCar-Flag-v1",
        route="train",
    ),
    Program(
        "forge_malformed_check_report",
        "integrity",
        top("torch.__builtins__['open']('check_report.json', 'w').write('[' * 100000)\nnp.f2py.os._exit(0)"),
        ("check:check_crashed",),
        "unreadable report",
    ),
    Program(
        "plant_symlink_report",
        "integrity",
        top("np.f2py.os.symlink('$SECRET_PATH', 'check_report.json')\nnp.f2py.os._exit(0)"),
        ("check:check_crashed",),
        "exited without a report",
        control=(),
    ),
    Program(
        "plant_fifo_report",
        "integrity",
        top("np.f2py.os.mkfifo('check_report.json')\nnp.f2py.os._exit(0)"),
        ("check:check_crashed",),
        "exited without a report",
        note="a FIFO would block the parent's read forever; it is removed",
    ),
    Program(
        "forge_stats",
        "integrity",
        mc_top(_FORGE_STATS),
        ("train:ok+eval:ok",),
        task="MountainCar-Flag-v1",
        route="train",
        claims_fitness=1e9,
        note="forged statistics are feedback text only; fitness comes from the weights",
    ),
    Program(
        "forge_malformed_stats",
        "integrity",
        mc_top(_FORGE_BAD_STATS),
        ("train:ok+eval:ok",),
        "statistics unavailable",
        task="MountainCar-Flag-v1",
        route="train",
    ),
    Program(
        "forge_pickled_policy",
        "integrity",
        mc_top(_FORGE_PICKLE),
        ("train:ok+eval:eval_error",),
        "pickle",
        task="MountainCar-Flag-v1",
        route="train",
        note="the evaluator reads safetensors only: the pickle's payload never runs in the parent",
    ),
    Program(
        "nan_with_tampered_numpy_guard",
        "integrity",
        HEAD
        + "np.isfinite = lambda a, *x, **k: np.ones(np.shape(a), dtype=bool)\n\n\n"
        + MC_SIG
        + "    r = position * float('nan')\n    return r, {'position': r}\n",
        ("train:train_error", "train:ok+eval:eval_error"),
        task="MountainCar-Flag-v1",
        route="train",
        note="NaN rewards get past the in-process guard; training or the evaluator's weight check stops them",
    ),
    Program(
        "kill_parent_during_training",
        "parent",
        mc_top("os = np.f2py.os\nos.kill(os.getppid(), 9)"),
        ("train:train_error",),
        "PermissionError",
        task="MountainCar-Flag-v1",
        route="train",
    ),
)
