"""A run folder's names are spelled in one place (eureka_kit/run/layout.py)."""

from __future__ import annotations

import re
from pathlib import Path

from eureka_kit.run.layout import candidate_dir, candidate_name

PACKAGE = Path(__file__).resolve().parent.parent / "eureka_kit"
_SPELLED = re.compile(
    r'"(reward\.py|candidate\.json|feedback\.md|check\.json|eval\.json|response\.md)"|f"(gen|cand)_\{'
)


def test_run_folder_names_are_spelled_only_in_the_layout() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "layout.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if _SPELLED.search(line) and "filename" not in line  # a program's file name in tracebacks, not a path
    ]
    assert not found, "use eureka_kit.run.layout for run-folder names:\n" + "\n".join(found)


def test_names_and_paths() -> None:
    assert candidate_name(7, 3) == "gen_007/cand_03"
    assert candidate_dir(Path("runs/x"), 12, 0) == Path("runs/x/gen_012/cand_00")
