"""The named state of N MiniGrid envs at once, read from the batched engine's arrays; the tasks it can run.

The same variables, meanings and edge cases as :func:`eureka_kit.games.minigrid_state.extractor`
reads from one MiniGrid env (an object is found at the first cell in MiniGrid's
row-major order; a carried object is at the agent's cell; a missing one, e.g. a
box toggled away, reports the agent's cell; no lava means a lava distance of
width + height), computed with numpy over all envs in one pass.
``tests/test_games_grid_batch.py`` checks them against the per-env extractor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eureka_kit.errors import UserError
from eureka_kit.games.minigrid_state import DIRECTIONS, TYPE_CODES, GridLayout

OBJECT_CODES = {"empty": 1, "wall": 2, "floor": 3, "door": 4, "key": 5, "ball": 6, "box": 7, "goal": 8, "lava": 9}
"""MiniGrid's ``OBJECT_TO_IDX`` for the objects the engine holds (an empty cell is 1, as MiniGrid encodes it)."""
DIR_VEC = np.asarray(DIRECTIONS, dtype=np.int64)
"""(4, 2): the cell step of each direction (right, down, left, up)."""


@dataclass(frozen=True)
class GridArrays:
    """What the state is read from: the grids and agents of N envs after a step (views, not copies)."""

    typ: np.ndarray
    """(N, W, H) int8: object type code per cell (:data:`OBJECT_CODES`; 1 for an empty cell)."""
    state: np.ndarray
    """(N, W, H) int8: door state per cell (0 open, 1 closed, 2 locked; 0 elsewhere)."""
    pos: np.ndarray
    """(N, 2) int64: the agent's cell [x, y]."""
    direction: np.ndarray
    """(N,) int64: the agent's direction 0..3."""
    carrying: np.ndarray
    """(N,) int64: type code of the carried object, 0 for nothing."""
    visits: np.ndarray
    """(N,) int64: times the agent has stood on its current cell this episode."""
    step_count: np.ndarray
    """(N,) int64: steps taken this episode."""


@dataclass(frozen=True)
class GridBatchDefinition:
    """A grid task the engine can run: the MiniGrid env that builds its worlds and the task's state layout."""

    task_id: str
    minigrid_id: str
    layout: GridLayout


class NoGridBatchError(UserError, KeyError):
    """The task has no batched grid definition."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_grid_batch(task_id: str) -> GridBatchDefinition:
    """The grid definition in ``task_id``'s registration (its ``engine``); :class:`NoGridBatchError` otherwise."""
    from eureka_kit.tasks.registry import engine_definition

    definition, valid = engine_definition(task_id, GridBatchDefinition)
    if definition is not None:
        return definition
    raise NoGridBatchError(
        f"task {task_id!r} has no batched grid definition (train it with the sb3 backend); tasks with one: "
        f"{', '.join(valid) or 'none'}"
    )


def _first_cell(typ_yx: np.ndarray, code: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(found (N,) bool, cell (N, 2)): the first cell of type ``code`` in row-major order."""
    hit = typ_yx == code
    found = hit.any(axis=1)
    first = hit.argmax(axis=1)
    return found, np.stack([first % width, first // width], axis=1)


def grid_state(layout: GridLayout, g: GridArrays, action: np.ndarray) -> dict[str, np.ndarray]:
    """The task's state variables for N envs (float64 arrays with a leading N), ``action`` included."""
    n, width, height = g.typ.shape
    rows = np.arange(n)
    ax, ay = g.pos[:, 0], g.pos[:, 1]
    front = g.pos + DIR_VEC[g.direction]
    inside = (front[:, 0] >= 0) & (front[:, 0] < width) & (front[:, 1] >= 0) & (front[:, 1] < height)
    fx, fy = np.clip(front[:, 0], 0, width - 1), np.clip(front[:, 1], 0, height - 1)
    front_typ = np.where(inside, g.typ[rows, fx, fy], 0)
    here = g.typ[rows, ax, ay]
    typ_yx = g.typ.transpose(0, 2, 1).reshape(n, -1)  # MiniGrid's order: index = y * W + x
    f64 = np.float64
    s: dict[str, np.ndarray] = {"agent_pos": g.pos.astype(f64), "agent_dir": g.direction.astype(f64)}
    if any(o in TYPE_CODES for o in layout.objects):
        s["carrying"] = g.carrying.astype(f64)
    dist: list[np.ndarray] = []
    facing: list[np.ndarray] = []
    for o in layout.objects:
        code = OBJECT_CODES[o]
        found, cell = _first_cell(typ_yx, code, width)
        cell = np.where(found[:, None], cell, g.pos)
        if o in TYPE_CODES:
            cell = np.where((g.carrying == code)[:, None], g.pos, cell)
        s[f"{o}_pos"] = cell.astype(f64)
        dist.append(np.abs(cell - g.pos).sum(axis=1).astype(f64))
        facing.append((front_typ == code).astype(f64))
    if "door" in layout.objects:
        door = s["door_pos"].astype(np.int64)
        is_door = g.typ[rows, door[:, 0], door[:, 1]] == OBJECT_CODES["door"]
        s["door_state"] = np.where(is_door, g.state[rows, door[:, 0], door[:, 1]], 0).astype(f64)
    if layout.lava:
        xs = np.arange(width)[None, :, None]
        ys = np.arange(height)[None, None, :]
        manhattan = np.abs(xs - ax[:, None, None]) + np.abs(ys - ay[:, None, None])
        lava = g.typ == OBJECT_CODES["lava"]
        near = np.where(lava, manhattan, width + height).reshape(n, -1).min(axis=1)
        dist.append(near.astype(f64))
        facing.append((front_typ == OBJECT_CODES["lava"]).astype(f64))
    s["distances"] = np.stack(dist, axis=1)
    s["facing"] = np.stack(facing, axis=1)
    s["visits"] = g.visits.astype(f64)
    s["step_count"] = g.step_count.astype(f64)
    if layout.success == "goal":
        s["success"] = (here == OBJECT_CODES["goal"]).astype(f64)
    else:
        s["success"] = (g.carrying == OBJECT_CODES["box"]).astype(f64)
    if layout.lava:
        s["in_lava"] = (here == OBJECT_CODES["lava"]).astype(f64)
    if "door" in layout.objects:
        s["past_door"] = (ax > s["door_pos"][:, 0]).astype(f64)
    s["action"] = np.asarray(action, dtype=f64).reshape(n)
    return s
