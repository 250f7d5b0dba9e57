"""Crafter's world generation with the noise computed for the whole map at once.

Crafter 1.8 (``crafter/worldgen.py``) calls OpenSimplex noise once per cell and
noise field (about 130,000 calls per world, 2 s in pure Python). This module
evaluates every field over the 64x64 map in one ``noise3array`` call each (the
same noise function on the same coordinates), then applies Crafter's decision
tree: the branches that draw no random number with numpy for all cells, and
the ``cond and uniform() > threshold`` chains (ores, trees, creatures) cell by
cell in Crafter's order, on numbers drawn from the world's ``RandomState`` in
one block, after which the generator is left exactly where Crafter's one-by-one
draws leave it. So the world is the one Crafter would generate for that seed
(checked against Crafter's own generator in tests/test_games_crafter.py).
A world costs ~6 ms of CPU here (~20 ms with the cell-by-cell Python loop).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _field(
    simplex: Any, xs: np.ndarray, ys: np.ndarray, z: float, sizes: dict[float, float], normalize: bool = True
) -> Any:
    """``crafter.worldgen._simplex`` for every cell: shape (len(xs), len(ys)) indexed [x, y]."""
    value: Any = 0
    for size, weight in sizes.items():
        noise = simplex.noise3array(xs / size, ys / size, np.array([float(z)]))[0].T
        value = value + weight * noise
    if normalize:
        value = value / sum(sizes.values())
    return value


def _one_thread() -> None:
    """OpenSimplex's array noise is a parallel numba loop: on one thread it is ~15x faster for one 64x64 map.

    Numba's own thread pool (``workqueue``), not OpenMP: with numba's OpenMP runtime loaded next to torch's,
    a categorical policy's forward pass took 13 ms instead of ~0.5 ms (measured in one training process).
    """
    try:
        import numba
    except ImportError:  # opensimplex then runs its pure-Python loops (same values, slower)
        return
    numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]
    numba.set_num_threads(1)


def generate_world(world: Any, player: Any) -> None:
    """Fill ``world`` (freshly reset) around ``player`` as ``crafter.worldgen.generate_world`` does."""
    import opensimplex
    from crafter import constants, objects

    _one_thread()
    simplex = opensimplex.OpenSimplex(seed=world.random.randint(0, 2**31 - 1))
    w, h = world.area
    x = np.arange(w, dtype=np.float64)
    y = np.arange(h, dtype=np.float64)
    gx, gy = np.meshgrid(np.arange(w), np.arange(h), indexing="ij")
    px, py = player.pos
    dist = np.sqrt((gx - px) ** 2 + (gy - py) ** 2)
    start = 4 - dist
    start = start + 2 * _field(simplex, x, y, 8, {3: 1})
    start = 1 / (1 + np.exp(-start))
    water = _field(simplex, x, y, 3, {15: 1, 5: 0.15}, False) + 0.1
    water = water - 2 * start
    mountain = _field(simplex, x, y, 0, {15: 1, 5: 0.3})
    mountain = mountain - (4 * start + 0.3 * water)
    fields = {
        "cave": _field(simplex, x, y, 6, {7: 1}),
        "htunnel": _field(simplex, 2 * x, y / 5, 7, {3: 1}),
        "vtunnel": _field(simplex, x / 5, 2 * y, 7, {3: 1}),
        "coal": _field(simplex, x, y, 1, {8: 1}),
        "iron": _field(simplex, x, y, 2, {6: 1}),
        "lava": _field(simplex, x, y, 6, {5: 1}),
        "sand": _field(simplex, x, y, 4, {9: 1}),
        "tree": _field(simplex, x, y, 5, {7: 1}),
    }
    materials = _materials(world, start, water, mountain, fields)
    ids = world._mat_ids
    world._mat_map[:, :] = materials
    grass, path = ids["grass"], ids["path"]
    walkable = np.isin(materials, [ids[n] for n in constants.walkable])
    tunnels = _tunnels(start, mountain, fields)
    kinds = _draw_chains(
        world.random,
        walkable,
        (
            (walkable & (dist > 3) & (materials == grass), 0.985),
            (walkable & (dist > 10), 0.993),
            (walkable & (materials == path) & tunnels, 0.95),
        ),
    )
    for flat, kind in kinds:
        i, j = divmod(flat, h)
        if kind == 0:
            world.add(objects.Cow(world, (i, j)))
        elif kind == 1:
            world.add(objects.Zombie(world, (i, j), player))
        else:
            world.add(objects.Skeleton(world, (i, j), player))


def _tunnels(start: np.ndarray, mountain: np.ndarray, f: dict[str, np.ndarray]) -> np.ndarray:
    """Cells Crafter marks as tunnels (a horizontal or vertical tunnel in the mountains, not a cave)."""
    mount = (start <= 0.5) & (mountain > 0.15)
    cave = (f["cave"] > 0.15) & (mountain > 0.3)
    return mount & ~cave & ((f["htunnel"] > 0.4) | (f["vtunnel"] > 0.4))


def _materials(
    world: Any, start: np.ndarray, water: np.ndarray, mountain: np.ndarray, f: dict[str, np.ndarray]
) -> np.ndarray:
    """Crafter's ``_set_material`` decision tree for every cell: the branches without random draws with numpy,
    the draws (coal, iron, diamond in the mountains; trees on grassland) cell by cell in Crafter's order."""
    ids = world._mat_ids
    out = np.full(start.shape, ids["grass"], dtype=world._mat_map.dtype)
    mount = (start <= 0.5) & (mountain > 0.15)
    cave = mount & (f["cave"] > 0.15) & (mountain > 0.3)
    tunnel = _tunnels(start, mountain, f)
    chain = mount & ~cave & ~tunnel
    rest = (start <= 0.5) & ~mount
    sand = rest & (water > 0.25) & (water <= 0.35) & (f["sand"] > -0.2)
    lake = rest & ~sand & (water > 0.3)
    grassland = rest & ~sand & ~lake
    out[cave | tunnel] = ids["path"]
    out[sand] = ids["sand"]
    out[lake] = ids["water"]
    out[chain] = np.where((mountain > 0.3) & (f["lava"] > 0.35), ids["lava"], ids["stone"])[chain]
    stages = (
        (chain & (f["coal"] > 0), 0.85),
        (chain & (f["iron"] > 0.4), 0.75),
        (chain & (mountain > 0.18), 0.994),
        (grassland & (f["tree"] > 0), 0.8),
    )
    found = ("coal", "iron", "diamond", "tree")
    flat = out.reshape(-1)
    for cell, kind in _draw_chains(world.random, chain | grassland, stages):
        flat[cell] = ids[found[kind]]
    return out


def _draw_chains(random: Any, cells: np.ndarray, stages: tuple[tuple[np.ndarray, float], ...]) -> list[tuple[int, int]]:
    """Crafter's ``elif cond and uniform() > threshold`` chains, cell by cell in its order (x-major).

    For each cell of ``cells`` the stages are tried in order: a stage whose condition holds there draws one
    number from ``random`` and wins when it exceeds the threshold (the chain stops); a stage whose condition
    does not hold draws nothing. Returns (flat cell index, winning stage) in cell order. The numbers are drawn
    in one block and the generator is then left exactly where Crafter's one-by-one draws would leave it.
    """
    masks = [np.asarray(m, dtype=bool).reshape(-1) for m, _ in stages]
    thresholds = [float(t) for _, t in stages]
    drawing = np.flatnonzero(np.logical_or.reduce(masks) & cells.reshape(-1))
    bound = int(sum(int(m[drawing].sum()) for m in masks))
    if bound == 0:
        return []
    saved = random.get_state()
    numbers = random.random_sample(bound).tolist()  # what `uniform()` draws, one after another
    conds = [m[drawing].tolist() for m in masks]
    used, won = 0, []
    for k, cell in enumerate(drawing.tolist()):
        for stage, cond in enumerate(conds):
            if cond[k]:
                used += 1
                if numbers[used - 1] > thresholds[stage]:
                    won.append((cell, stage))
                    break
    random.set_state(saved)
    if used:
        random.random_sample(used)
    return won
