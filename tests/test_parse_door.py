"""Every parse of Python text in the package goes through :mod:`eureka_kit.python_parse` (one lock).

CPython 3.11's ``ast.parse`` is not safe across threads (an interpreter-wide recursion counter); the driver
parses untrusted programs from several candidate threads, so a stray ``ast.parse`` can end a run with
``SystemError: AST constructor recursion depth mismatch``. ``bench/parse_race.py`` shows the race and the door.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

from eureka_kit.python_parse import format_exception, parse_expression, parse_module

PACKAGE = Path(__file__).resolve().parent.parent / "eureka_kit"
DOOR = PACKAGE / "python_parse.py"
_STRAY = re.compile(
    r"\bast\s*\.\s*parse\s*\(|\bfrom\s+ast\s+import\s+[^\n]*\bparse\b|\bliteral_eval\s*\(|PyCF_ONLY_AST"
)


def test_no_parse_outside_the_door() -> None:
    stray = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != DOOR
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if _STRAY.search(line)
    ]
    assert not stray, "parse Python text with eureka_kit.python_parse (one lock), not:\n" + "\n".join(stray)


def test_the_pattern_sees_the_spellings() -> None:
    for text in (
        "tree = ast.parse(src)",
        "ast.literal_eval(x)",
        "from ast import parse",
        "compile(s, f, 'exec', ast.PyCF_ONLY_AST)",
    ):
        assert _STRAY.search(text), text
    assert not _STRAY.search("tree = parse_module(src)")


def test_door_parses_from_many_threads() -> None:
    source = (PACKAGE / "reward" / "extract.py").read_text()
    expected = len(parse_module(source).body)
    errors: list[BaseException] = []
    seen: list[int] = []

    def work() -> None:
        for _ in range(20):
            try:
                seen.append(len(parse_module(source).body))
                parse_expression("mean(x_velocity) + 1")
                try:
                    raise ValueError("boom")
                except ValueError as e:
                    assert "ValueError: boom" in format_exception(e)
            except BaseException as e:
                errors.append(e)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]
    assert seen == [expected] * 80
