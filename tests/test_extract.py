"""Extraction of reward programs from LLM responses: a table of stubbed responses plus targeted tests.

Each file in tests/cases/responses/ is one LLM response; its first line is an
HTML comment with the expected outcome as JSON (``extract``: the status;
``extract_contains``: parts of the message; ``merged``/``source_contains`` for
successful extractions). test_critic.py runs the critic on the same table.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from eureka_kit.reward.extract import Extraction, extract_program

CASES_DIR = Path(__file__).parent / "cases" / "responses"
HEADER_PREFIX = "<!-- expect: "


def load_case(path: Path) -> tuple[dict[str, Any], str]:
    """(expectations, response text) of one case file."""
    header, _, response = path.read_text().partition("\n")
    assert header.startswith(HEADER_PREFIX) and header.endswith(" -->"), f"{path.name}: bad header"
    return json.loads(header[len(HEADER_PREFIX) : -len(" -->")]), response


CASE_FILES = sorted(CASES_DIR.glob("*.md"))


def test_table_is_large_enough() -> None:
    assert len(CASE_FILES) >= 30
    statuses = {load_case(p)[0]["extract"] for p in CASE_FILES}
    assert statuses == {"ok", "no_code", "no_entry_point", "ambiguous", "truncated", "syntax_error"}


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_extract_table(path: Path) -> None:
    expect, response = load_case(path)
    ex = extract_program(response)
    assert ex.status == expect["extract"], ex.message
    for part in expect.get("extract_contains", []):
        assert part in ex.message
    if ex.status == "ok":
        assert ex.source is not None
        ast.parse(ex.source)
        assert "def compute_reward(" in ex.source
        for part in expect.get("source_contains", []):
            assert part in ex.source
        assert sorted(ex.merged) == sorted(expect.get("merged", []))
    else:
        assert ex.source is None
        assert ex.message


def _body(code: str) -> str:
    return f"Some prose.\n\n```python\n{code}```\n\nMore prose.\n"


def test_helper_before_and_nested_function_are_kept() -> None:
    """Eureka kept only the text after the last `def`: here that would be the nested function's body."""
    code = (
        "import torch\n\n"
        "def helper(v):\n"
        "    return 2.0 * v\n\n"
        "def compute_reward(x_velocity, action):\n"
        "    def inner(a):\n"
        "        return (a ** 2).sum(dim=-1)\n"
        "    forward = helper(x_velocity)\n"
        "    ctrl = -0.1 * inner(action)\n"
        "    return forward + ctrl, {'forward': forward, 'ctrl': ctrl}\n"
    )
    ex = extract_program(_body(code))
    assert ex.status == "ok"
    assert ex.source == code
    namespace: dict[str, Any] = {}
    exec(compile(ex.source, "<test>", "exec"), namespace)
    import torch

    total, parts = namespace["compute_reward"](torch.ones(3), torch.ones(3, 6))
    assert torch.allclose(total, torch.full((3,), 2.0 - 0.6))
    assert set(parts) == {"forward", "ctrl"}


def test_merge_puts_helpers_after_imports_and_resolves_transitively() -> None:
    response = (
        "```python\nimport torch\n\ndef compute_reward(x_velocity):\n    f = scaled(x_velocity)\n"
        "    return f, {'forward': f}\n```\n\n"
        "```python\nimport math\n\nGAIN = math.sqrt(4.0)\n\ndef scaled(v):\n    return GAIN * v\n```\n"
    )
    ex = extract_program(response)
    assert ex.status == "ok"
    assert ex.source is not None
    assert set(ex.merged) == {"scaled", "GAIN", "math"}
    lines = ex.source.splitlines()
    assert lines.index("import torch") < lines.index("import math") < lines.index("GAIN = math.sqrt(4.0)")
    assert lines.index("GAIN = math.sqrt(4.0)") < lines.index("def compute_reward(x_velocity):")
    namespace: dict[str, Any] = {}
    exec(compile(ex.source, "<test>", "exec"), namespace)
    assert namespace["compute_reward"](3.0)[0] == 6.0


def test_locals_and_parameters_are_not_merged() -> None:
    """Names that are parameters or locals of compute_reward are not pulled from other blocks."""
    response = (
        "```python\ndef compute_reward(x_velocity):\n    speed = x_velocity\n    return speed, {'speed': speed}\n```\n"
        "```python\nspeed = 3\nx_velocity = 4\n```\n"
    )
    ex = extract_program(response)
    assert ex.status == "ok" and ex.merged == ()


def test_identical_duplicates_choose_the_fullest_block() -> None:
    fn = "def compute_reward(x_velocity):\n    return h(x_velocity), {}\n"
    response = f"```python\n{fn}```\n\n```python\ndef h(v):\n    return v\n\n\n{fn}```\n"
    ex = extract_program(response)
    assert ex.status == "ok" and ex.source is not None
    assert "def h(v)" in ex.source and ex.merged == ()
    assert "block 2 of 2" in ex.message


def test_unfenced_code_after_prose() -> None:
    response = "Here it is:\nimport torch\n\ndef compute_reward(x_velocity):\n    return x_velocity, {}\n"
    ex = extract_program(response)
    assert ex.status == "ok" and ex.source is not None and ex.source.startswith("import torch")


def test_broken_and_valid_definitions_report_the_syntax_error() -> None:
    response = (
        "```python\ndef compute_reward(x_velocity):\n    return x_velocity +\n```\n"
        "```python\ndef compute_reward(x_velocity):\n    return x_velocity, {}\n```\n"
    )
    ex = extract_program(response)
    assert ex.status == "syntax_error"
    assert "block 1" in ex.message and "block(s) 2 also define" in ex.message


def test_empty_trailing_fence_is_not_truncation() -> None:
    response = "```python\ndef compute_reward(x_velocity):\n    return x_velocity, {}\n```\n```\n"
    assert extract_program(response).status == "ok"


@pytest.mark.parametrize(
    "response",
    ["", "   \n", "Sure", "```", "```python\n```", "~~~~\n~~~", "\x00", "(" * 500, "def compute_reward(:\n" * 3],
)
def test_never_raises(response: str) -> None:
    ex = extract_program(response)
    assert isinstance(ex, Extraction)
    assert ex.status != "ok"
    assert ex.message
