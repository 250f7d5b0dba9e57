"""Crafter's world generation with the noise computed for the whole map at once.

Crafter 1.8 (``crafter/worldgen.py``) calls OpenSimplex noise once per cell and
noise field (about 130,000 calls per world, 2 s in pure Python). This module
evaluates every field over the 64x64 map in one ``noise3array`` call each (the
same noise function on the same coordinates), then walks the cells in
Crafter's order with its decision tree and its random draws (the world's
``RandomState`` is used exactly as Crafter uses it), so the world is the one
Crafter would generate for that seed (checked against Crafter's own generator
in tests/test_games_crafter.py).
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
    uniform = world.random.uniform
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
    f = {k: v.tolist() for k, v in fields.items()}
    st, wa, mo = start.tolist(), water.tolist(), mountain.tolist()
    names: list[list[str]] = [[""] * h for _ in range(w)]
    tunnels = np.zeros(world.area, bool)
    for i in range(w):
        for j in range(h):
            m = mo[i][j]
            if st[i][j] > 0.5:
                name = "grass"
            elif m > 0.15:
                if f["cave"][i][j] > 0.15 and m > 0.3:
                    name = "path"
                elif f["htunnel"][i][j] > 0.4 or f["vtunnel"][i][j] > 0.4:
                    name = "path"
                    tunnels[i, j] = True
                elif f["coal"][i][j] > 0 and uniform() > 0.85:
                    name = "coal"
                elif f["iron"][i][j] > 0.4 and uniform() > 0.75:
                    name = "iron"
                elif m > 0.18 and uniform() > 0.994:
                    name = "diamond"
                elif m > 0.3 and f["lava"][i][j] > 0.35:
                    name = "lava"
                else:
                    name = "stone"
            elif 0.25 < wa[i][j] <= 0.35 and f["sand"][i][j] > -0.2:
                name = "sand"
            elif 0.3 < wa[i][j]:
                name = "water"
            elif f["tree"][i][j] > 0 and uniform() > 0.8:
                name = "tree"
            else:
                name = "grass"
            names[i][j] = name
    ids = world._mat_ids
    world._mat_map[:, :] = np.array([[ids[n] for n in col] for col in names], dtype=world._mat_map.dtype)
    walkable = set(constants.walkable)
    d = dist.tolist()
    for i in range(w):
        for j in range(h):
            material = names[i][j]
            if material not in walkable:
                continue
            if d[i][j] > 3 and material == "grass" and uniform() > 0.985:
                world.add(objects.Cow(world, (i, j)))
            elif d[i][j] > 10 and uniform() > 0.993:
                world.add(objects.Zombie(world, (i, j), player))
            elif material == "path" and tunnels[i, j] and uniform() > 0.95:
                world.add(objects.Skeleton(world, (i, j), player))
