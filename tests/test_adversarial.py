"""Adversarial reward programs through the real sandboxed children (strict mode): every attack contained.

The table (``tests/adversarial/programs.py``) holds programs that misbehave or attack, each with its
expected verdict; ``tests/adversarial/good.py`` holds known-good programs for every task. The whole table
runs once per module (two worker threads); each test then judges one program:

- the verdict is the expected typed status, and its message says what went wrong;
- the parent (this process) survives, no file appears outside the candidate folder, the canary listener
  gets no connection, the canary secret file and the canary API key of the parent appear in no output,
  log, report or run file, no sandbox process survives, and time-outs are killed within 2x the limit;
- positive controls: attacks run WITHOUT the sandbox (a throwaway process) trip the same detectors.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from adversarial.good import GOOD
from adversarial.harness import ATTACK_LIMITS, TRAIN_LIMITS, SuiteResult, run_suite
from adversarial.programs import ATTACKS, Program

from eureka_kit.sandbox.runner import configure_sandbox, sandbox_mode
from eureka_kit.sandbox.verify import verify_isolation

STRICT = verify_isolation("strict")
pytestmark = pytest.mark.skipif(not STRICT.ok, reason=f"strict sandbox unavailable here: {STRICT.message}")


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteResult]:
    before = sandbox_mode()
    configure_sandbox("strict")
    try:
        yield run_suite(ATTACKS + GOOD, tmp_path_factory.mktemp("adversarial"), workers=2)
    finally:
        configure_sandbox(None if before == "strict" else before)


def test_the_table_covers_every_category() -> None:
    assert len(ATTACKS) >= 40 and len(GOOD) >= 20
    assert len({p.name for p in ATTACKS + GOOD}) == len(ATTACKS) + len(GOOD)
    counts = Counter(p.category for p in ATTACKS)
    assert set(counts) == {"correctness", "resources", "escape", "exfiltration", "parent", "integrity"}
    assert {p.task for p in GOOD} >= {
        "HalfCheetah-Run-v1",
        "MountainCar-Flag-v1",
        "Ant-Run-v1",
        "Hopper-Hop-v1",
        "Walker2d-Walk-v1",
        "Humanoid-Run-v1",
        "Pusher-Push-v1",
    }
    assert sum(1 for p in ATTACKS if p.control) >= 10


@pytest.mark.parametrize("program", ATTACKS, ids=[p.name for p in ATTACKS])
def test_attack_gets_its_verdict_and_is_contained(suite: SuiteResult, program: Program) -> None:
    o = suite.outcomes[program.name]
    assert o.verdict in program.expect, f"{o.verdict}: {o.message}"
    assert program.contains.lower() in o.message.lower(), o.message
    assert o.escapes == (), o.escapes
    if program.timed:
        assert o.seconds <= 2 * ATTACK_LIMITS.wall_s, f"killed after {o.seconds:.1f} s"
    limits = ATTACK_LIMITS if program.route == "check" else TRAIN_LIMITS
    assert o.log_bytes <= limits.max_output_bytes + 200  # the output cap held
    if program.claims_fitness is not None:
        assert o.stats_fitness == program.claims_fitness  # the forgery reached the (untrusted) statistics ...
        assert o.fitness is not None and o.fitness != program.claims_fitness  # ... never the trusted fitness


@pytest.mark.parametrize("program", GOOD, ids=[p.name for p in GOOD])
def test_good_program_is_accepted(suite: SuiteResult, program: Program) -> None:
    o = suite.outcomes[program.name]
    assert o.verdict == "check:ok", o.message
    assert o.escapes == ()


def test_positive_controls_trip_the_detectors(suite: SuiteResult) -> None:
    missing = {
        p.name: (p.control, suite.controls.get(p.name))
        for p in ATTACKS
        if p.control and not set(p.control) <= set(suite.controls.get(p.name, ()))
    }
    assert not missing, f"unsandboxed runs that did not trip their detector: {missing}"


def test_parent_survives_and_nothing_is_left(suite: SuiteResult) -> None:
    assert suite.parent_pid == os.getpid()
    assert suite.survivors == [], suite.survivors
    assert suite.stray_connections == 0
    assert suite.canary_intact
    assert not list(Path("/tmp").glob("eureka_pwned_*"))
