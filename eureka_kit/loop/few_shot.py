"""Few-shot examples (Text2Reward-style) and a user's starting program for the first prompt.

The example library (``examples/library/``, installed as ``eureka_kit.examples.library``)
holds good reward programs per task family, hand-written by the project. Each
file is a reward program with three metadata constants, read with ``ast``
(nothing is executed)::

    FAMILY = "locomotion"            # locomotion, manipulation, classic, game
    TASK = "Ant-Run-v1"              # the task it was written for
    ABOUT = "run forward on four legs: ..."

The state variables an example uses are its ``compute_reward`` arguments.
:func:`rank` picks the most relevant few for a task: a user's own examples
(``--examples DIR``) first, then those of the task's family, then by how many
of the variables they use the task also has; an example of another family
that shares no variable name with the task is not shown. An example written
for the run's own task is left out when the run asks for the task's own goal
(the LLM writes the task's reward; it is not handed it), and shown when
``--goal`` gives a new one. Every example passes the critic's static checks
against its own task (against the run's task when it names none), so a broken
file is reported by name before the run starts.

``--init-reward FILE``: the run starts from a user's existing program. It is
checked statically against the run's task and put in generation 0's prompt as
"improve this program" (:func:`init_reward_prompt`); later generations improve
the elite as usual.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from eureka_kit.errors import UserError
from eureka_kit.files import UntrustedFileError, read_bounded_text
from eureka_kit.prompting import render
from eureka_kit.python_parse import parse_module
from eureka_kit.reward.static_checks import check_static
from eureka_kit.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from eureka_kit.config import RunConfig

META = ("FAMILY", "TASK", "ABOUT")
FAMILIES = ("locomotion", "manipulation", "classic", "game")
SHOWN = 2
"""Examples the first prompt carries."""
MAX_EXAMPLE_BYTES = 50_000
ExampleOrigin = Literal["library", "user"]


class ExampleError(UserError, ValueError):
    """An example (or starting program) that does not parse, lacks metadata or fails the static checks."""


@dataclass(frozen=True)
class Example:
    """One example reward program and what it is about."""

    name: str
    family: str | None
    task: str | None
    about: str
    program: str
    """The source shown in the prompt: the file without its docstring and metadata constants."""
    uses: tuple[str, ...]
    """The state variables it reads (its ``compute_reward`` arguments)."""
    origin: ExampleOrigin


def library_dir() -> Path:
    """The shipped library's folder (package data: read as files, no code of it is imported)."""
    from importlib.resources import files

    return Path(str(files("eureka_kit.examples.library")))


def task_family(spec: TaskSpec) -> str | None:
    """The task's family from its tags; ``None`` for derived tasks (their examples are ranked by state names)."""
    tags = set(spec.tags)
    if "game" in tags:
        return "game"
    return next((f for f in FAMILIES if f in tags), None)


def _metadata(tree: ast.Module, path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            if name in META:
                if not (isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
                    raise ExampleError(f"{path}: {name} must be a plain string")
                out[name] = stmt.value.value
    if "FAMILY" in out and out["FAMILY"] not in FAMILIES:
        raise ExampleError(f"{path}: FAMILY {out['FAMILY']!r} is not one of {', '.join(FAMILIES)}")
    return out


def _shown_source(source: str, tree: ast.Module) -> str:
    """The program without its module docstring and metadata lines (what the LLM needs to see)."""
    drop: set[int] = set()
    for i, stmt in enumerate(tree.body):
        is_doc = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        is_meta = isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id in META for t in stmt.targets)
        if is_doc or is_meta:
            drop.update(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    lines = [line for n, line in enumerate(source.splitlines(), start=1) if n not in drop]
    text = "\n".join(lines).strip()
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text


def _read(path: Path) -> tuple[str, ast.Module]:
    try:
        source = read_bounded_text(path, MAX_EXAMPLE_BYTES)
    except (OSError, UntrustedFileError) as e:
        raise ExampleError(f"{path}: cannot read it: {e}") from None
    try:
        return source, parse_module(source, str(path))
    except SyntaxError as e:
        raise ExampleError(f"{path}: does not parse: line {e.lineno}: {e.msg}") from None


def _check(path: Path, spec: TaskSpec, source: str) -> None:
    report = check_static(spec, source)
    if not report.ok:
        found = "; ".join(i.message for i in report.issues if i.level == "error")
        raise ExampleError(f"{path}: fails the critic's static checks for task {spec.id}: {found}")


def load_example(path: Path, origin: ExampleOrigin, run_spec: TaskSpec) -> Example:
    """Read, check and describe one example file; :class:`ExampleError` names the file and what is wrong."""
    from eureka_kit.tasks.registry import get_task

    path = Path(path)
    source, tree = _read(path)
    meta = _metadata(tree, path)
    if origin == "library" and set(META) - set(meta):
        raise ExampleError(f"{path}: a library example needs {', '.join(META)}")
    task = meta.get("TASK")
    try:
        spec = get_task(task) if task else run_spec
    except (KeyError, ValueError) as e:
        raise ExampleError(f"{path}: TASK {task!r}: {e.args[0] if e.args else e}") from None
    _check(path, spec, source)
    fn = next(s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == "compute_reward")
    return Example(
        name=path.stem,
        family=meta.get("FAMILY"),
        task=task,
        about=meta.get("ABOUT", "an example reward program"),
        program=_shown_source(source, tree),
        uses=tuple(a.arg for a in fn.args.args),
        origin=origin,
    )


def load_examples(spec: TaskSpec, user_dir: Path | None = None) -> list[Example]:
    """The library's examples and, with ``user_dir``, every ``*.py`` in it (the user's own), all checked."""
    out = [load_example(p, "library", spec) for p in sorted(library_dir().glob("*.py")) if p.name != "__init__.py"]
    if user_dir is not None:
        user_dir = Path(user_dir)
        if not user_dir.is_dir():
            raise ExampleError(f"--examples {user_dir}: not a folder of example reward programs (*.py)")
        files = sorted(user_dir.glob("*.py"))
        if not files:
            raise ExampleError(f"--examples {user_dir}: holds no *.py example reward programs")
        out += [load_example(p, "user", spec) for p in files]
    return out


def rank(spec: TaskSpec, examples: list[Example], k: int = SHOWN) -> list[Example]:
    """The ``k`` most relevant examples for ``spec`` (see the module docstring); ties by name."""
    family = task_family(spec)
    names = set(spec.state_names) - {"action"}

    def key(ex: Example) -> tuple[int, int, float, int, str]:
        used = set(ex.uses) - {"action"}
        overlap = len(used & names)
        same_family = int(family is not None and ex.family == family)
        return (-int(ex.origin == "user"), -same_family, -overlap / max(1, len(used)), -overlap, ex.name)

    def relevant(ex: Example) -> bool:
        same_family = family is not None and ex.family == family
        return ex.origin == "user" or same_family or bool((set(ex.uses) - {"action"}) & names)

    own_goal = _asks_own_goal(spec)
    eligible = [ex for ex in examples if not (own_goal and ex.task == spec.id) and relevant(ex)]
    return sorted(eligible, key=key)[:k]


def _asks_own_goal(spec: TaskSpec) -> bool:
    """The run asks for the task's own goal (its registered description), not a new one given with ``--goal``."""
    from eureka_kit.tasks.registry import get_task

    try:
        return get_task(spec.id).description == spec.description
    except (KeyError, ValueError):
        return False


def examples_prompt(examples: list[Example]) -> str:
    """The few-shot block of the first prompt (``prompts/examples.j2``); empty without examples."""
    return render("examples", examples=examples) if examples else ""


def init_reward_prompt(spec: TaskSpec, path: Path) -> str:
    """Generation 0's "improve this program" block (``prompts/init_reward.j2``) for the user's program."""
    path = Path(path)
    source, tree = _read(path)
    _check(path, spec, source)
    return render("init_reward", file_name=path.name, program=_shown_source(source, tree))


def first_prompt_blocks(config: RunConfig, spec: TaskSpec, log: Callable[[str], None]) -> tuple[str, str]:
    """The run's few-shot block and its starting-program block (each ``""`` when off); errors name the file."""
    examples = ""
    if config.use_examples:
        chosen = rank(spec, load_examples(spec, Path(config.examples) if config.examples else None))
        examples = examples_prompt(chosen)
        log(f"first prompt: {len(chosen)} example(s): {', '.join(ex.name for ex in chosen) or 'none'}")
    start = init_reward_prompt(spec, Path(config.init_reward)) if config.init_reward else ""
    if start:
        log(f"generation 0 starts from {config.init_reward}")
    return examples, start
