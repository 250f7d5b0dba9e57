"""The reward critic: the response table of tests/cases/responses/ through extraction and the critic,
the shipped examples, and the report's own behaviour (JSON, feedback, never raising)."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from eureka_kit.reward import check_child, smoke_test
from eureka_kit.reward.check_report import CheckIssue, CheckReport
from eureka_kit.reward.check_runner import CHECK_DIR, check_sandboxed
from eureka_kit.reward.critic import check_program
from eureka_kit.reward.extract import extract_program
from eureka_kit.reward.smoke_batches import REAL_STEPS, real_states
from eureka_kit.reward.smoke_test import SLOW_ERROR_MS
from eureka_kit.reward.static_checks import check_static
from eureka_kit.sandbox.protocol import ERROR_FILE, EXIT_REPORTED_ERROR, EXIT_USAGE, read_error
from eureka_kit.tasks.registry import get_task
from eureka_kit.tasks.spec import TaskSpec

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = Path(__file__).parent / "cases" / "responses"
HEADER_PREFIX = "<!-- expect: "
DEFAULT_TASK = "HalfCheetah-Run-v1"
TIMING_DEPENDENT = {"slow"}  # a loaded CI machine may slow any program down; never asserted unless expected


def load_case(path: Path) -> tuple[dict[str, Any], str]:
    header, _, response = path.read_text().partition("\n")
    assert header.startswith(HEADER_PREFIX) and header.endswith(" -->"), f"{path.name}: bad header"
    return json.loads(header[len(HEADER_PREFIX) : -len(" -->")]), response


CRITIC_CASES = [p for p in sorted(CASES_DIR.glob("*.md")) if load_case(p)[0]["extract"] == "ok"]


@pytest.fixture(scope="module")
def cheetah() -> TaskSpec:
    return get_task("HalfCheetah-Run-v1")


def _codes(issues: tuple[CheckIssue, ...]) -> set[str]:
    return {i.code for i in issues}


def test_table_covers_every_check() -> None:
    expected: set[str] = set()
    for p in CRITIC_CASES:
        e = load_case(p)[0]
        expected |= set(e.get("errors", [])) | set(e.get("warnings", []))
    assert len(CRITIC_CASES) >= 25
    assert {
        "unknown_argument", "bad_signature", "wrong_shape", "non_finite", "non_tensor", "bad_return",
        "input_mutated", "multiple_entry_points", "disallowed_import", "call_error", "load_error", "too_slow",
        "total_not_sum", "dominant_component", "unsupported_decorator", "no_components",
        "unused_term", "component_not_in_total",
    } <= expected  # fmt: skip


@pytest.mark.parametrize("path", CRITIC_CASES, ids=[p.stem for p in CRITIC_CASES])
def test_critic_table(path: Path) -> None:
    expect, response = load_case(path)
    ex = extract_program(response)
    assert ex.status == "ok" and ex.source is not None, ex.message
    report = check_program(get_task(expect.get("task", DEFAULT_TASK)), ex.source)
    text = report.feedback()
    assert _codes(report.errors) == set(expect["errors"]), text
    assert _codes(report.warnings) - (TIMING_DEPENDENT - set(expect.get("warnings", []))) == set(
        expect.get("warnings", [])
    ), text
    assert report.ok == (not expect["errors"])
    for part in expect.get("contains", []):
        assert part in text
    if "components" in expect:
        assert report.components == tuple(expect["components"])
    if report.ok:
        assert report.time_per_call_ms is not None and report.time_per_call_ms < SLOW_ERROR_MS
        assert text.startswith("The reward program passed") or text.startswith("The reward program works")
    else:
        assert text.startswith("The reward program was rejected")


def test_good_example_passes(cheetah: TaskSpec) -> None:
    report = check_program(cheetah, (ROOT / "examples" / "halfcheetah_reward.py").read_text())
    assert report.ok, report.feedback()
    assert _codes(report.issues) <= TIMING_DEPENDENT
    assert report.components == ("forward", "upright", "ctrl")


BAD_EXAMPLES = sorted((ROOT / "examples" / "bad").glob("*.py"))


@pytest.mark.parametrize("path", BAD_EXAMPLES, ids=[p.stem for p in BAD_EXAMPLES])
def test_bad_example_fails_with_its_own_error(path: Path, cheetah: TaskSpec) -> None:
    report = check_program(cheetah, path.read_text())
    assert not report.ok
    assert [i.code for i in report.errors] == [path.stem], report.feedback()


def test_bad_examples_fail_differently(cheetah: TaskSpec) -> None:
    assert len(BAD_EXAMPLES) >= 4
    messages = [check_program(cheetah, p.read_text()).errors[0].message for p in BAD_EXAMPLES]
    assert len(set(messages)) == len(messages)


def test_static_check_executes_nothing(cheetah: TaskSpec) -> None:
    source = (
        "import torch\nraise SystemExit('top level ran')\n\n"
        "def compute_reward(x_velocity):\n    return x_velocity, {}\n"
    )
    assert check_static(cheetah, source).ok
    report = check_program(cheetah, source)
    assert report.codes == ("load_error",)
    assert "SystemExit: top level ran" in report.errors[0].message and report.errors[0].line == 2


def test_static_flags_imports_calls_and_signature(cheetah: TaskSpec) -> None:
    source = (
        "import os, torch\nimport torch.nn.functional as F\nfrom math import pi\n\n"
        "def compute_reward(x_velocity, /, action, gain=2.0):\n"
        "    eval('1')\n    return x_velocity, {}\n"
    )
    report = check_static(cheetah, source)
    assert report.codes == ("disallowed_import", "forbidden_call", "bad_signature")
    assert report.issues[0].line == 1 and "`import os, torch`" in report.issues[0].message
    assert "positional-only" in report.issues[2].message


def test_unbound_argument_with_default_is_a_warning(cheetah: TaskSpec) -> None:
    source = "def compute_reward(x_velocity, gain=2.0):\n    f = gain * x_velocity\n    return f, {'forward': f}\n"
    report = check_program(cheetah, source)
    assert report.ok
    assert "unbound_argument" in report.codes and "'gain'" in report.warnings[0].message


def test_no_arguments_is_an_error(cheetah: TaskSpec) -> None:
    report = check_static(cheetah, "import torch\ndef compute_reward():\n    return torch.zeros(8), {}\n")
    assert report.codes == ("no_arguments",)


def test_main_guard_is_not_checked(cheetah: TaskSpec) -> None:
    source = (
        "def compute_reward(x_velocity):\n    return x_velocity.clone(), {'forward': x_velocity.clone()}\n\n"
        "if __name__ == '__main__':\n    import os\n    print(open(os.devnull))\n"
    )
    assert check_program(cheetah, source).ok


def test_hanging_program_hits_the_deadline(cheetah: TaskSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke_test, "CALL_DEADLINE_S", 0.2)
    source = "def compute_reward(x_velocity):\n    while True:\n        pass\n"
    start = time.perf_counter()
    report = check_program(cheetah, source)
    assert time.perf_counter() - start < 2.0
    assert report.codes == ("too_slow",)
    assert "did not finish within 0.2 s" in report.errors[0].message


def test_exception_swallowing_program_cannot_hide_the_deadline(
    cheetah: TaskSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smoke_test, "CALL_DEADLINE_S", 0.2)
    source = (
        "def compute_reward(x_velocity):\n    while True:\n"
        "        try:\n            pass\n        except Exception:\n            pass\n"
    )
    assert check_program(cheetah, source).codes == ("too_slow",)


@pytest.mark.parametrize(
    "source",
    [
        "",
        "x = 1",
        "def compute_reward(x_velocity):\n    return None",
        "def compute_reward(x_velocity):\n    return (x_velocity,)",
        "def compute_reward(x_velocity):\n    return x_velocity, [x_velocity]",
        "def compute_reward(x_velocity):\n    return x_velocity, {1: x_velocity}",
        "def compute_reward(x_velocity):\n    return x_velocity > 0, {}",
        "def compute_reward(x_velocity):\n    raise KeyError('boom')",
        "def compute_reward(x_velocity):\n    import sys\n    sys.exit(0)",
        "compute_reward = lambda x_velocity: (x_velocity, {})",
        "async def compute_reward(x_velocity):\n    return x_velocity, {}",
    ],
)
def test_never_raises_and_always_explains(cheetah: TaskSpec, source: str) -> None:
    report = check_program(cheetah, source)
    assert not report.ok
    assert all(i.message and i.code for i in report.errors)


def test_lambda_and_async_messages(cheetah: TaskSpec) -> None:
    lam = check_static(cheetah, "compute_reward = lambda x_velocity: (x_velocity, {})")
    assert lam.codes == ("no_entry_point",) and "assigned, not defined with `def`" in lam.errors[0].message
    asy = check_static(cheetah, "async def compute_reward(x_velocity):\n    return x_velocity, {}")
    assert asy.codes == ("bad_signature",) and "not `async def`" in asy.errors[0].message


def test_bool_total_is_wrong_dtype(cheetah: TaskSpec) -> None:
    report = check_program(cheetah, "def compute_reward(x_velocity):\n    return x_velocity > 0, {}\n")
    assert report.codes == ("wrong_dtype",) and ".float()" in report.errors[0].message


def test_large_magnitudes_give_only_a_warning(cheetah: TaskSpec) -> None:
    source = (
        "import torch\n\ndef compute_reward(x_velocity):\n"
        "    speed = torch.exp(x_velocity / 0.05)\n    return speed, {'speed': speed}\n"
    )
    report = check_program(cheetah, source)
    assert report.ok
    (issue,) = [i for i in report.issues if i.code == "non_finite"]
    assert issue.level == "warning" and "large magnitudes" in issue.message


def test_report_json_round_trip(cheetah: TaskSpec) -> None:
    report = check_program(cheetah, (CASES_DIR / "dominant.md").read_text().split("```python\n")[1].split("```")[0])
    assert report.ok and report.warnings
    data = json.loads(report.to_json())
    assert data["ok"] is True and data["components"] == ["forward", "ctrl"]
    assert CheckReport.from_json(report.to_json()) == report
    bad = CheckReport((CheckIssue("error", "syntax_error", "SyntaxError at line 3", 3),))
    assert CheckReport.from_json(bad.to_json()) == bad
    with pytest.raises(ValueError, match="unknown issue level"):
        CheckReport.from_dict({"issues": [{"level": "fatal", "code": "x", "message": "y"}]})


def test_feedback_lists_errors_before_warnings() -> None:
    report = CheckReport(
        (CheckIssue("warning", "slow", "a warning"), CheckIssue("error", "wrong_shape", "an error")), (), 1.0
    )
    lines = report.feedback().splitlines()
    assert lines[0].startswith("The reward program was rejected: fix the 1 error(s)")
    assert lines[1:] == ["- error [wrong_shape]: an error", "- warning [slow]: a warning"]
    assert "passed all checks" in CheckReport().feedback()


def test_real_states_are_cached_per_task(cheetah: TaskSpec) -> None:
    first = real_states(cheetah)
    assert real_states(cheetah) is first
    assert len(first) == REAL_STEPS and first[0]["x_velocity"].shape == (8,)
    assert not first[0]["joint_pos"].flags.writeable


def test_unavailable_env_falls_back_to_synthetic_states(cheetah: TaskSpec) -> None:
    broken = dataclasses.replace(cheetah, id="Broken-Critic-Test-v0", env_id="NoSuchEnv-v0")
    report = check_program(broken, (ROOT / "examples" / "halfcheetah_reward.py").read_text())
    assert report.ok
    assert "real_states_unavailable" in report.codes
    assert "tested on synthetic ones" in report.warnings[0].message


def test_alarm_handler_is_restored(cheetah: TaskSpec) -> None:
    before = signal.getsignal(signal.SIGALRM)
    check_program(cheetah, "def compute_reward(x_velocity):\n    return x_velocity * 1.0, {'f': x_velocity * 1.0}\n")
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_small_n_envs_is_a_caller_error(cheetah: TaskSpec) -> None:
    with pytest.raises(ValueError, match="n_envs >= 2"):
        check_program(cheetah, "", n_envs=1)


# ------------------------------------------------------------------------------------------ sandboxed check


def _check_tmp_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("eureka-check-*"))


def test_sandboxed_check_works_inside_the_candidate_folder(cheetah: TaskSpec, tmp_path: Path) -> None:
    cand = tmp_path / "cand_00"
    stale = cand / CHECK_DIR
    stale.mkdir(parents=True)
    (stale / "reward.py").write_text("left by a run killed during its check\n")
    before = _check_tmp_dirs()
    report = check_sandboxed(cheetah, (ROOT / "examples" / "halfcheetah_reward.py").read_text(), cand)
    assert report.ok, report.feedback()
    assert not (cand / CHECK_DIR).exists()  # the stale folder and this check's own are gone
    assert (cand / "check.log").is_file()
    assert _check_tmp_dirs() == before


def test_killed_check_leaves_its_folder_in_the_candidate_not_in_tmp(tmp_path: Path) -> None:
    """``kill -9`` of the run during a check: the work folder is in the candidate, which resume starts over."""
    cand = tmp_path / "cand_00"
    cand.mkdir()
    script = (
        "import sys\nfrom pathlib import Path\nfrom eureka_kit.reward.check_runner import check_sandboxed\n"
        "from eureka_kit.tasks.registry import get_task\n"
        "src = 'def compute_reward(x_velocity):\\n    while True:\\n        pass\\n'\n"
        "check_sandboxed(get_task('HalfCheetah-Run-v1'), src, Path(sys.argv[1]))\n"
    )
    before = _check_tmp_dirs()
    proc = subprocess.Popen([sys.executable, "-c", script, str(cand)])
    try:
        deadline = time.monotonic() + 120
        while not (cand / CHECK_DIR / "reward.py").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the check never started"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert (cand / CHECK_DIR).is_dir()
    assert _check_tmp_dirs() == before


def test_check_child_follows_the_child_protocol(tmp_path: Path) -> None:
    assert check_child.main(["only-one-argument"]) == EXIT_USAGE
    (tmp_path / "reward.py").write_text("def compute_reward(x_velocity):\n    return x_velocity, {}\n")
    code = check_child.main(["No-Such-Task-v0", str(tmp_path / "reward.py"), str(tmp_path / "out.json")])
    assert code == EXIT_REPORTED_ERROR
    error = read_error(tmp_path / ERROR_FILE)
    assert error is not None and error.kind == "internal_error" and "No-Such-Task-v0" in error.message, error
    assert not (tmp_path / "out.json").exists()
