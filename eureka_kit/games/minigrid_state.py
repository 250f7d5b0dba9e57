"""Named state variables of MiniGrid tasks, read from the grid after every step.

A task declares its :class:`GridLayout` (which objects it names, whether it has
lava, what counts as success); :func:`state_vars` documents the variables and
:func:`extractor` reads them from the MiniGrid env. Positions are cells
``[x, y]`` (x to the right, y down); distances are Manhattan distances in cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from eureka_kit.games.minigrid_env import VISITS_KEY
from eureka_kit.tasks.spec import BaselineReward, State, StateExtractor, StateVar

TYPE_CODES = {"key": 5, "ball": 6, "box": 7}
"""MiniGrid's codes of the objects an agent can carry (``carrying``)."""
DIRECTIONS = ((1, 0), (0, 1), (-1, 0), (0, -1))
"""``agent_dir`` 0..3 as a cell step: right, down, left, up."""


@dataclass(frozen=True)
class GridLayout:
    """What a MiniGrid task names: its objects (MiniGrid types, e.g. ``key``, ``door``, ``goal``), lava, success."""

    objects: tuple[str, ...]
    lava: bool
    success: Literal["goal", "pickup_box"]
    max_steps: int
    """The env's own step limit (MiniGrid truncates there; its success reward decays with the step count)."""

    @property
    def targets(self) -> tuple[str, ...]:
        """The columns of ``distances`` and ``facing``: the objects, then ``lava`` when the task has lava."""
        return (*self.objects, *(("lava",) if self.lava else ()))


def state_vars(layout: GridLayout) -> tuple[StateVar, ...]:
    """The documented state variables of a task with this layout (``action`` last)."""
    cols = ", ".join(layout.targets)
    k = len(layout.targets)
    out = [
        StateVar("agent_pos", (2,), "cell", "the agent's cell [x, y]; x grows to the right, y grows downwards"),
        StateVar("agent_dir", (), "0..3", "the direction the agent faces: 0 right (+x), 1 down (+y), 2 left, 3 up"),
    ]
    if any(o in TYPE_CODES for o in layout.objects):
        out.append(
            StateVar("carrying", (), "type code", "what the agent carries: 0 nothing, 5 a key, 6 a ball, 7 a box")
        )
    for o in layout.objects:
        where = " (the agent's cell while it carries it)" if o in TYPE_CODES else ""
        out.append(StateVar(f"{o}_pos", (2,), "cell", f"the {o}'s cell [x, y]{where}"))
    if "door" in layout.objects:
        out.append(
            StateVar("door_state", (), "0/1/2", "the door: 0 open, 1 closed, 2 locked (a key of its colour opens it)")
        )
    out += [
        StateVar(
            "distances",
            (k,),
            "cells",
            f"Manhattan distance from the agent to [{cols}]"
            + ("; lava: the nearest lava cell" if layout.lava else "")
            + (" (0 for a carried object)" if any(o in TYPE_CODES for o in layout.objects) else ""),
        ),
        StateVar("facing", (k,), "bool as 0/1", f"1.0 where the cell right in front of the agent holds [{cols}]"),
        StateVar("visits", (), "count", "times the agent has stood on its current cell this episode (1 on the first)"),
        StateVar("step_count", (), "steps", f"steps taken this episode; the episode is cut at {layout.max_steps}"),
    ]
    what = "the agent steps onto the goal" if layout.success == "goal" else "the agent picks up the box"
    out.append(StateVar("success", (), "bool as 0/1", f"1.0 on the step the task is solved ({what}; the episode ends)"))
    if layout.lava:
        out.append(StateVar("in_lava", (), "bool as 0/1", "1.0 on the step the agent walks into lava (it dies)"))
    if "door" in layout.objects:
        out.append(StateVar("past_door", (), "bool as 0/1", "1.0 while the agent is beyond the door (x > door x)"))
    out.append(
        StateVar(
            "action",
            (),
            "action id",
            "the action taken: 0 turn left, 1 turn right, 2 forward, 3 pick up, 4 drop, 5 toggle (open), 6 done",
        )
    )
    return tuple(out)


def _scan(grid: Any) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    width = grid.width
    for i, obj in enumerate(grid.grid):
        if obj is not None and obj.type not in ("wall", "empty", "floor"):
            found.setdefault(obj.type, []).append((i % width, i // width))
    return found


def _door_state(door: Any) -> float:
    return 0.0 if door.is_open else (2.0 if door.is_locked else 1.0)


def extractor(layout: GridLayout) -> StateExtractor:
    """``extract(env.unwrapped, info, action) -> State`` for tasks with this layout."""

    def extract(env: Any, info: Mapping[str, Any], action: np.ndarray) -> State:
        grid = env.grid
        ax, ay = (int(v) for v in env.agent_pos)
        d = int(env.agent_dir)
        fx, fy = ax + DIRECTIONS[d][0], ay + DIRECTIONS[d][1]
        front = grid.get(fx, fy) if 0 <= fx < grid.width and 0 <= fy < grid.height else None
        here = grid.get(ax, ay)
        carried = env.carrying
        found = _scan(grid)
        s: State = {
            "agent_pos": np.array([ax, ay], dtype=np.float64),
            "agent_dir": np.asarray(float(d)),
        }
        if any(o in TYPE_CODES for o in layout.objects):
            s["carrying"] = np.asarray(float(TYPE_CODES.get(carried.type, 0)) if carried is not None else 0.0)
        dist: list[float] = []
        facing: list[float] = []
        for o in layout.objects:
            if carried is not None and carried.type == o:
                x, y = ax, ay
            else:
                x, y = found.get(o, [(ax, ay)])[0]
            s[f"{o}_pos"] = np.array([x, y], dtype=np.float64)
            dist.append(float(abs(x - ax) + abs(y - ay)))
            facing.append(float(front is not None and front.type == o))
        if "door" in layout.objects:
            door = grid.get(*(int(v) for v in s["door_pos"]))
            s["door_state"] = np.asarray(_door_state(door) if door is not None and door.type == "door" else 0.0)
        if layout.lava:
            lava = np.asarray(found.get("lava", []), dtype=np.float64).reshape(-1, 2)
            near = np.abs(lava - [ax, ay]).sum(axis=1).min() if len(lava) else float(grid.width + grid.height)
            dist.append(float(near))
            facing.append(float(front is not None and front.type == "lava"))
        s["distances"] = np.asarray(dist, dtype=np.float64)
        s["facing"] = np.asarray(facing, dtype=np.float64)
        s["visits"] = np.asarray(float(info.get(VISITS_KEY, 1)))
        s["step_count"] = np.asarray(float(env.step_count))
        if layout.success == "goal":
            solved = here is not None and here.type == "goal"
        else:
            solved = carried is not None and carried.type == "box"
        s["success"] = np.asarray(float(solved))
        if layout.lava:
            s["in_lava"] = np.asarray(float(here is not None and here.type == "lava"))
        if "door" in layout.objects:
            s["past_door"] = np.asarray(float(ax > s["door_pos"][0]))
        return s

    return extract


def baseline(layout: GridLayout) -> BaselineReward:
    """MiniGrid's own reward: ``1 - 0.9 * step_count / max_steps`` on the step of success, else 0."""

    def reward(s: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(s["success"]) * (1.0 - 0.9 * np.asarray(s["step_count"]) / layout.max_steps)

    return reward
