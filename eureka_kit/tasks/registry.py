"""The task registry and task packs.

Tasks are registered once, Gymnasium-style, and looked up by id; an unknown id
lists the valid ones. Task *packs* are Python modules whose import registers
tasks: the shipped pack is :mod:`eureka_kit.envs`; other distributions add
theirs through the ``eureka_kit.tasks`` entry-point group (Gymnasium's plugin
convention)::

    # pyproject.toml of a task pack
    [project.entry-points."eureka_kit.tasks"]
    my_robots = "my_robots.eureka_tasks"

Packs load lazily on the first lookup, in the parent and in every sandboxed
child alike (the children look tasks up by id), so a pack's tasks are
available everywhere the shipped ones are.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from typing import TypeVar

from eureka_kit.errors import UserError
from eureka_kit.registry import Registry, did_you_mean
from eureka_kit.tasks.spec import TaskSpec

ENTRY_POINT_GROUP = "eureka_kit.tasks"
BUILTIN_PACK = "eureka_kit.envs"


class UnknownTaskError(UserError, KeyError):
    """Raised by :func:`get_task` for an id that is not registered."""

    def __init__(self, task_id: str, valid: list[str]) -> None:
        msg = (
            f"Unknown task {task_id!r}.{did_you_mean(task_id, valid)} "
            f"Valid tasks: {', '.join(valid) or '(none registered)'}; "
            "or gym:<ENV_ID> for any gymnasium MuJoCo env (state derived from its model), or mjcf:<PATH> for a bare "
            "MuJoCo model"
        )
        super().__init__(msg)
        self.task_id = task_id
        self.valid = valid

    def __str__(self) -> str:
        return str(self.args[0])


TASKS: Registry[TaskSpec] = Registry("task", same=lambda a, b: a is b)
"""Every registered task by id (filled by the task packs; :func:`get_task` also derives ``gym:``/``mjcf:`` tasks)."""


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task to the registry: its one registration (spec, kind, batched engine, training defaults).

    Registering another spec under a taken id is an error.
    """
    return TASKS.register(spec.id, spec)


_loaded_packs: dict[str, str] = {}
"""Pack name -> module, of the packs imported so far."""


def load_packs() -> dict[str, str]:
    """Import the shipped pack and every pack of the ``eureka_kit.tasks`` entry-point group (once each).

    A pack that fails to import is reported on stderr and skipped: one broken
    third-party pack must not hide the other tasks.
    """
    packs = {"builtin": BUILTIN_PACK}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        packs.setdefault(ep.name, ep.value)
    for name, module in packs.items():
        if name in _loaded_packs:
            continue
        try:
            importlib.import_module(module)
        except Exception as e:  # a third-party pack's bug; the shipped pack must import
            if module == BUILTIN_PACK:
                raise
            print(f"eureka-kit: task pack {name!r} ({module}) failed to import: {e}", file=sys.stderr)
            continue
        _loaded_packs[name] = module
    return dict(_loaded_packs)


def _load_builtin() -> None:
    load_packs()


def list_tasks() -> list[TaskSpec]:
    """All registered tasks, sorted by id."""
    _load_builtin()
    return TASKS.values()


def get_task(task_id: str) -> TaskSpec:
    """Look up a task by id; raises :class:`UnknownTaskError` listing the valid ids."""
    _load_builtin()
    if task_id in TASKS:
        return TASKS.get(task_id)
    from eureka_kit.tasks.derived import derive_task, is_derived

    if is_derived(task_id):
        return derive_task(task_id)
    from eureka_kit.tasks.mjcf import derive_mjcf_task, is_mjcf

    if is_mjcf(task_id):
        return derive_mjcf_task(task_id)
    raise UnknownTaskError(task_id, TASKS.names())


D = TypeVar("D")


def engine_definition(task_id: str, kind: type[D]) -> tuple[D | None, list[str]]:
    """The ``kind`` definition in ``task_id``'s batched engine (``None`` without one), and the registered tasks
    whose engine has a definition of that kind (for the error that names them)."""
    engine = get_task(task_id).engine
    found = engine.definition if engine is not None and isinstance(engine.definition, kind) else None
    having = [t.id for t in list_tasks() if t.engine is not None and isinstance(t.engine.definition, kind)]
    return found, having
