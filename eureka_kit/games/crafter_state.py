"""Named state variables of Crafter tasks, read from the world after every step.

Distances are in cells (Manhattan: the steps a walk takes) to the nearest
cell of each kind within :data:`RADIUS` cells of the player;
:data:`NOT_FOUND` when there is none that close. Directions are unit vectors
``[dx, dy]`` (x to the right, y down) towards it, zero when there is none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from eureka_kit.tasks.spec import State, StateVar

RADIUS = 8
NOT_FOUND = float(2 * RADIUS + 1)
MATERIALS = ("tree", "water", "stone", "coal", "iron", "diamond", "table", "lava")
CREATURES = ("cow", "zombie", "skeleton")
TARGETS = (*MATERIALS, *CREATURES)
"""The columns of ``nearest_distance``, ``nearest_direction`` and ``facing_target``."""
VITALS = ("health", "food", "drink", "energy")
ITEMS = (
    "sapling",
    "wood",
    "stone",
    "coal",
    "iron",
    "diamond",
    "wood_pickaxe",
    "stone_pickaxe",
    "iron_pickaxe",
    "wood_sword",
    "stone_sword",
    "iron_sword",
)
ACHIEVEMENTS = (
    "collect_coal",
    "collect_diamond",
    "collect_drink",
    "collect_iron",
    "collect_sapling",
    "collect_stone",
    "collect_wood",
    "defeat_skeleton",
    "defeat_zombie",
    "eat_cow",
    "eat_plant",
    "make_iron_pickaxe",
    "make_iron_sword",
    "make_stone_pickaxe",
    "make_stone_sword",
    "make_wood_pickaxe",
    "make_wood_sword",
    "place_furnace",
    "place_plant",
    "place_stone",
    "place_table",
    "wake_up",
)
ACTIONS = (
    "noop",
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "do",
    "sleep",
    "place_stone",
    "place_table",
    "place_furnace",
    "place_plant",
    "make_wood_pickaxe",
    "make_stone_pickaxe",
    "make_iron_pickaxe",
    "make_wood_sword",
    "make_stone_sword",
    "make_iron_sword",
)


def _listing(names: tuple[str, ...]) -> str:
    return ", ".join(f"{i} {n}" for i, n in enumerate(names))


STATE: tuple[StateVar, ...] = (
    StateVar("inventory", (len(ITEMS),), "count 0..9", f"items carried, columns: {_listing(ITEMS)}"),
    StateVar("vitals", (4,), "0..9", "health, food, drink, energy; health 0 is death, food/drink/energy 0 hurt health"),
    StateVar("vitals_change", (4,), "per step", "change of [health, food, drink, energy] on this step"),
    StateVar(
        "achievements", (len(ACHIEVEMENTS),), "bool as 0/1", f"unlocked so far this episode: {_listing(ACHIEVEMENTS)}"
    ),
    StateVar(
        "unlocked",
        (len(ACHIEVEMENTS),),
        "bool as 0/1",
        "1.0 where an achievement is unlocked for the first time this episode on this step (same columns)",
    ),
    StateVar(
        "nearest_distance",
        (len(TARGETS),),
        "cells",
        f"Manhattan distance to the nearest {_listing(TARGETS)}; {NOT_FOUND:g} when none within {RADIUS} cells",
    ),
    StateVar(
        "nearest_direction",
        (len(TARGETS), 2),
        "unit vector",
        "direction [dx, dy] to each of them (same rows); zeros when none is near",
    ),
    StateVar(
        "facing_target",
        (len(TARGETS),),
        "bool as 0/1",
        "1.0 where the cell the player faces holds that material or creature (same columns)",
    ),
    StateVar(
        "lava_adjacent",
        (),
        "bool as 0/1",
        "1.0 when lava is in one of the 4 cells next to the player (one step from death)",
    ),
    StateVar("daylight", (), "0..1", "daylight: 1 at noon, near 0 at night (zombies spawn more in the dark)"),
    StateVar("position", (2,), "cell", "the player's cell [x, y] in the 64x64 world; it starts at [32, 32]"),
    StateVar("facing", (2,), "unit step", "the direction the player faces [dx, dy]"),
    StateVar(
        "sleeping", (), "bool as 0/1", "1.0 while the player sleeps (energy recovers; it wakes when energy is full)"
    ),
    StateVar("died", (), "bool as 0/1", "1.0 on the step the player dies (health 0; the episode ends)"),
    StateVar("action", (), "action id", f"the action taken: {_listing(ACTIONS)}"),
)


def _nearest(env: Any) -> tuple[np.ndarray, np.ndarray]:
    world = env.world
    px, py = (int(v) for v in env.player.pos)
    ax, ay = world.area
    x0, x1, y0, y1 = max(px - RADIUS, 0), min(px + RADIUS + 1, ax), max(py - RADIUS, 0), min(py + RADIUS + 1, ay)
    mats = world._mat_map[x0:x1, y0:y1]
    objs = world._obj_map[x0:x1, y0:y1]
    dx = np.arange(x0, x1)[:, None] - px
    dy = np.arange(y0, y1)[None, :] - py
    manhattan = (np.abs(dx) + np.abs(dy)).astype(np.float64)
    dist = np.full(len(TARGETS), NOT_FOUND)
    offset = np.zeros((len(TARGETS), 2))
    ids = [world._mat_ids.get(name, -1) for name in MATERIALS]
    present = set(np.unique(mats).tolist())
    for k, mid in enumerate(ids):
        if mid not in present:
            continue
        masked = np.where(mats == mid, manhattan, np.inf)
        flat = int(np.argmin(masked))
        i, j = divmod(flat, masked.shape[1])
        dist[k] = masked[i, j]
        offset[k] = (dx[i, 0], dy[0, j])
    for i, j in zip(*np.nonzero(objs), strict=True):
        kind = type(world._objects[objs[i, j]]).__name__.lower()
        if kind in CREATURES:
            k = len(MATERIALS) + CREATURES.index(kind)
            d = manhattan[i, j]
            if d < dist[k]:
                dist[k] = d
                offset[k] = (dx[i, 0], dy[0, j])
    norm = np.hypot(offset[:, 0], offset[:, 1])
    direction = np.divide(offset, norm[:, None], out=np.zeros_like(offset), where=norm[:, None] > 0)
    return dist, direction


def _cell(env: Any, x: int, y: int) -> str | None:
    material, obj = env.world[(x, y)]
    if obj is not None:
        kind = type(obj).__name__.lower()
        if kind in CREATURES:
            return kind
    return material if isinstance(material, str) else None


def extract(env: Any, info: Mapping[str, Any], action: np.ndarray) -> State:
    """``extract(env.unwrapped, info, action) -> State`` for every Crafter task (a :class:`CrafterGame`)."""
    player = env.player
    inv = player.inventory
    px, py = (int(v) for v in player.pos)
    fx, fy = (int(v) for v in player.facing)
    dist, direction = _nearest(env)
    front = _cell(env, px + fx, py + fy)
    around = [env.world[(px + dx, py + dy)][0] for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    return {
        "inventory": np.array([inv[k] for k in ITEMS], dtype=np.float64),
        "vitals": env.vitals(),
        "vitals_change": np.asarray(env.vitals_change, dtype=np.float64),
        "achievements": np.array([float(player.achievements[a] > 0) for a in ACHIEVEMENTS]),
        "unlocked": np.array([float(a in env.unlocked_now) for a in ACHIEVEMENTS]),
        "nearest_distance": dist,
        "nearest_direction": direction,
        "facing_target": np.array([float(front == t) for t in TARGETS]),
        "lava_adjacent": np.asarray(float("lava" in around)),
        "daylight": np.asarray(float(env.world.daylight)),
        "position": np.array([px, py], dtype=np.float64),
        "facing": np.array([fx, fy], dtype=np.float64),
        "sleeping": np.asarray(float(player.sleeping)),
        "died": np.asarray(float(inv["health"] <= 0)),
    }


def baseline(s: Mapping[str, np.ndarray]) -> np.ndarray:
    """Crafter's own reward: +1 on a step that unlocks any new achievement, plus the health change / 10."""
    unlocked = np.asarray(s["unlocked"])
    return (unlocked.sum(axis=-1) > 0).astype(np.float64) + np.asarray(s["vitals_change"])[..., 0] / 10.0


def achievement_step(name: str) -> Any:
    """The per-step fitness of a target achievement: 1.0 on the step it is unlocked."""
    col = ACHIEVEMENTS.index(name)

    def step(s: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(s["unlocked"])[..., col]

    return step


def death_cause(s: Mapping[str, np.ndarray]) -> str:
    """Why the player died, from the state of the step it died: lava, hunger, thirst, fatigue or a creature."""
    food, drink, energy = (float(x) for x in np.asarray(s["vitals"])[1:4])
    near = np.asarray(s["nearest_distance"])
    if near[TARGETS.index("lava")] == 0:
        return "walked into lava"
    if food <= 0:
        return "starved"
    if drink <= 0:
        return "dehydrated"
    if energy <= 0:
        return "exhausted"
    if near[TARGETS.index("zombie")] <= 1:
        return "killed by a zombie"
    if near[TARGETS.index("skeleton")] <= 4:
        return "shot by a skeleton"
    return "killed (cause unclear)"
