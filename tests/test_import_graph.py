"""The shape of the package: imports flow one way (no cycles), modules stay small, each sub-package imports alone.

The graph is read with ``ast`` from the files (nothing is imported): every ``import eureka_kit...`` and
``from eureka_kit... import`` (and relative import), at module level or inside a function, is an edge. The
folders installed under the package through ``package-dir`` (``envs/`` as ``eureka_kit.envs``...) are read
from ``pyproject.toml``, so the graph is the installed package's.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "eureka_kit"
MAX_LINES = 500
DATA_FOLDERS = {"eureka_kit.examples.bad", "eureka_kit.examples.responses"}
"""Package data that happens to be Python: example reward programs, the demo's answer generator."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str  # file:line of the import


def _package_dirs() -> dict[str, Path]:
    """Package name -> folder: ``eureka_kit`` and the folders ``package-dir`` maps under it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapped = config["tool"]["setuptools"].get("package-dir", {})
    return {PACKAGE: ROOT / PACKAGE, **{name: ROOT / folder for name, folder in mapped.items()}}


@cache
def modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name (a package by its ``__init__.py``)."""
    dirs = _package_dirs()
    out: dict[str, Path] = {}
    for package, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([package, *parts])
            if any(name == d or name.startswith(d + ".") for d in DATA_FOLDERS):
                continue
            out[name] = path
    return out


def _resolve(name: str) -> str | None:
    """The module that an import of ``name`` loads last: the name itself or its closest package."""
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module != PACKAGE and not module.startswith(PACKAGE + "."):
                continue
            for alias in node.names:  # `from eureka_kit.x import y` may import the module eureka_kit.x.y
                sub = f"{module}.{alias.name}"
                yield (sub if sub in modules() else module), node.lineno


@cache
def edges() -> tuple[Edge, ...]:
    out = []
    for name, path in modules().items():
        for imported, line in _imports(name, path):
            target = _resolve(imported)
            if target is not None and target != name:
                out.append(Edge(name, target, f"{path.relative_to(ROOT)}:{line}"))
    return tuple(out)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def _describe(cycle: list[str], level: str) -> str:
    steps = []
    for a, b in itertools.pairwise(cycle):
        where = sorted({e.where for e in edges() if _node(e.source, level) == a and _node(e.target, level) == b})
        steps.append(f"  {a} -> {b}  ({', '.join(where)})")
    return f"import cycle between {level}s:\n" + "\n".join(steps)


def _node(module: str, level: str) -> str:
    """A module's node in the graph of ``level``: itself, or its sub-package (``eureka_kit.<sub>``)."""
    return module if level == "module" else ".".join(module.split(".")[:2])


def _graph(level: str) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for e in edges():
        a, b = _node(e.source, level), _node(e.target, level)
        if a != b:
            graph.setdefault(a, set()).add(b)
    return graph


def test_the_graph_sees_the_package() -> None:
    names = set(modules())
    for expected in ("eureka_kit.cli", "eureka_kit.loop", "eureka_kit.envs", "eureka_kit.tasks.registry"):
        assert expected in names, f"{expected} not found; the graph would miss its imports"
    assert any(e.source == "eureka_kit.cli" and e.target == "eureka_kit.config" for e in edges())
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("level", ["module", "sub-package"])
def test_no_import_cycles(level: str) -> None:
    cycle = find_cycle(_graph(level))
    assert cycle is None, _describe(cycle, level) if cycle else ""


def test_modules_are_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    big = {name: n for name, n in sorted(sizes.items(), key=lambda kv: -kv[1]) if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split by concern): " + ", ".join(
        f"{modules()[n].relative_to(ROOT)} ({k})" for n, k in big.items()
    )


def _sub_packages() -> list[str]:
    return sorted({".".join(name.split(".")[:2]) for name in modules() if name != PACKAGE})


def test_each_sub_package_imports_alone(tmp_path: Path) -> None:
    """``python -c "import eureka_kit.<sub>"`` in a fresh process, from outside the checkout, for each one."""

    def one(name: str) -> tuple[str, int, str]:
        proc = subprocess.run(
            [sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True, timeout=180
        )
        return name, proc.returncode, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, _sub_packages()))
    assert len(results) >= 12
    failed = [f"{name}: {err}" for name, rc, err in results if rc != 0]
    assert not failed, "sub-packages that fail to import alone:\n" + "\n".join(failed)


ENGINE_FLOORS = ("eureka_kit.training", "eureka_kit.evaluation", "eureka_kit.sim")
"""Sub-packages that serve every task through its registration (``TaskSpec.engine``, ``batched``, ...)."""


def test_engine_floors_name_no_task() -> None:
    """No module of training/, evaluation/ or sim/ names a registered task id: a task is one registration in envs/."""
    from eureka_kit.tasks.registry import list_tasks

    ids = [t.id for t in list_tasks()]
    named = [
        f"{path.relative_to(ROOT)} names {task_id}"
        for name, path in modules().items()
        if name.startswith(ENGINE_FLOORS)
        for task_id in ids
        if task_id in path.read_text()
    ]
    assert len(ids) > 10
    assert not named, "the engines learn about a task from its registration, not its id:\n" + "\n".join(named)
