"""Crafter as a gymnasium env that draws only when asked to, with a symbolic local-map observation.

Stock Crafter draws an image at every step (its observation); reward programs
and the policy here read the world's symbolic state instead, so
:class:`CrafterGame` steps Crafter's own engine (its ``World``, ``Player`` and
creatures, the same rules, chunk balancing and daylight) without drawing, and
draws a frame only in ``render()`` (videos). The step logic is Crafter 1.8's
``Env.step`` minus the image and the semantic map, with one change: Crafter's
chunk balancing picks the creature to despawn from a ``set`` (ordered by
memory address), so stock Crafter plays a seed differently from one process to
the next (two ``crafter.Env(seed=0)`` with the same actions part after 10
steps); here the creatures are taken in the order they were added, so an
episode is fixed by its seed and its actions (the trusted evaluator's seeds
mean something).

The policy's observation (a float vector) is the 9x7 local view around the
player (Crafter's own view size) as one-hot cell classes (materials, then
creatures), then the inventory / 9, daylight, sleeping and the facing direction.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np

from eureka_kit.games.crafter_worldgen import generate_world

CRAFTER_ID = "eureka_kit/Crafter-v0"
CRAFTER_KWARGS = frozenset({"length", "target"})
"""The ``env_kwargs`` of a Crafter task the engine takes (those of :class:`CrafterGame` that change the game)."""
VIEW = (9, 7)
"""Cells of the local view (x, y) around the player, as Crafter's own image shows them."""
CREATURES = ("cow", "zombie", "skeleton", "arrow", "plant")
"""Creature classes of the local view, after the 13 material ids (0 is outside the world)."""
N_MATERIALS = 13
N_CLASSES = N_MATERIALS + len(CREATURES)
FACINGS = ((-1, 0), (1, 0), (0, -1), (0, 1))
STOCK_SIZE = (64, 64)
"""The image size of stock Crafter (``crafter.Env()``), whose night noise :meth:`CrafterGame._night_noise` replays."""


def _crafter() -> Any:
    import crafter

    return crafter


_TEXTURES: list[Any] = []
_TEXTURES_LOCK = threading.Lock()
"""Held while ``crafter.engine.Textures`` is swapped: candidate threads build envs at once (evaluation, videos)."""


@contextlib.contextmanager
def _shared_textures() -> Iterator[None]:
    """Build ``crafter.Env`` with one process-wide ``Textures`` (its images, read from 56 PNG files, ~80 ms).

    Textures are read only when drawing (videos) and cache resized copies by size, so envs can share them;
    the batched Crafter engine builds 64 envs per candidate. The swap of Crafter's module attribute holds a
    lock for the whole block: two threads swapping at once would leave the swap in place for good.
    """
    from crafter import constants, engine

    with _TEXTURES_LOCK:
        if not _TEXTURES:
            _TEXTURES.append(engine.Textures(constants.root / "assets"))
        original = engine.Textures
        engine.Textures = lambda directory: _TEXTURES[0]
        try:
            yield
        finally:
            engine.Textures = original


class CrafterGame(gym.Env):  # type: ignore[type-arg]
    """Crafter (gymnasium API, symbolic observation, frames only from ``render()``).

    ``length``: Crafter's episode length (the episode is truncated there);
    ``target``: an achievement whose first unlock ends the episode (terminated),
    e.g. ``collect_wood``; ``None`` plays on until death or ``length``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}  # noqa: RUF012  (gymnasium reads it per class)

    def __init__(
        self,
        render_mode: str | None = None,
        length: int = 10000,
        target: str | None = None,
        width: int = 288,
        height: int = 288,
    ) -> None:
        crafter = _crafter()
        self.render_mode = render_mode
        self.target = target
        self._size = max(9, min(width, height))
        with _shared_textures():
            self._env = crafter.Env(area=(64, 64), view=(9, 9), size=(self._size, self._size), length=length, seed=0)
        self.action_space = gym.spaces.Discrete(len(crafter.constants.actions))
        size = VIEW[0] * VIEW[1] * N_CLASSES + 16 + 1 + 1 + 4
        self.observation_space = gym.spaces.Box(0.0, 1.0, (size,), np.float32)
        from crafter import objects

        self._classes = {
            objects.Cow: N_MATERIALS,
            objects.Zombie: N_MATERIALS + 1,
            objects.Skeleton: N_MATERIALS + 2,
            objects.Arrow: N_MATERIALS + 3,
            objects.Plant: N_MATERIALS + 4,
        }
        self._eye = np.eye(N_CLASSES, dtype=np.float32)
        self._items = list(crafter.constants.items)
        self.unlocked_now: set[str] = set()
        """Achievements unlocked for the first time this episode on the last step."""
        self.vitals_change = np.zeros(4)
        """Change of health, food, drink, energy on the last step."""

    # the engine's objects, for the state extractor
    @property
    def world(self) -> Any:
        return self._env._world

    @property
    def player(self) -> Any:
        return self._env._player

    @property
    def step_count(self) -> int:
        return int(self._env._step or 0)

    def vitals(self) -> np.ndarray:
        inv = self.player.inventory
        return np.array([inv["health"], inv["food"], inv["drink"], inv["energy"]], dtype=np.float64)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.start(seed)
        return self._observe(), {}

    def start(self, seed: int | None = None) -> None:
        """A new episode (the world generated, nothing observed): what :meth:`reset` does before observing."""
        crafter = _crafter()
        env = self._env
        if seed is not None:  # Crafter seeds episode k with hash((seed, k)): episode 1 of this seed
            env._seed, env._episode = int(seed), 0
        center = (env._world.area[0] // 2, env._world.area[1] // 2)
        env._episode += 1
        env._step = 0
        env._world.reset(seed=hash((env._seed, env._episode)) % (2**31 - 1))
        env._update_time()
        env._player = crafter.objects.Player(env._world, center)
        env._last_health = env._player.health
        env._world.add(env._player)
        env._unlocked = set()
        generate_world(env._world, env._player)  # Crafter's generator, the noise computed per map
        self._night_noise()
        self.unlocked_now = set()
        self.vitals_change = np.zeros(4)

    def step(self, action: Any) -> Any:
        reward, terminated, truncated = self.advance(int(action))
        info = {"discount": 1.0 - float(self.player.health <= 0)}  # achievements are in the named state
        return self._observe(), reward, terminated, truncated, info  # (SB3 deep-copies infos)

    def advance(self, action: int) -> tuple[float, bool, bool]:
        """One step of Crafter's world, nothing observed: (reward, terminated, truncated), as :meth:`step`."""
        crafter = _crafter()
        env = self._env
        before = self.vitals()
        env._step += 1
        env._update_time()
        env._player.action = crafter.constants.actions[action]
        self._update_objects()
        if env._step % 10 == 0:  # Crafter's balancing, its creatures in the order they were added (see above)
            index = env._world._obj_map
            for chunk, objs in env._world.chunks.items():
                env._balance_chunk(chunk, sorted(objs, key=lambda o: int(index[o.pos[0], o.pos[1]])))
        self._night_noise()
        reward = (env._player.health - env._last_health) / 10
        env._last_health = env._player.health
        unlocked = {name for name, count in env._player.achievements.items() if count > 0 and name not in env._unlocked}
        if unlocked:
            env._unlocked |= unlocked
            reward += 1.0
        self.unlocked_now = unlocked
        self.vitals_change = self.vitals() - before
        dead = env._player.health <= 0
        over = bool(env._length and env._step >= env._length)
        won = self.target is not None and self.target in unlocked
        return float(reward), bool(dead or won), over and not (dead or won)

    def _night_noise(self) -> None:
        """Draw from the world's random numbers what Crafter's image would draw, without drawing it.

        At night Crafter's observation image adds noise from the *world's* random generator (3,087 numbers
        at its default 64x64 size), which later spawns and creature moves read: taking the same numbers keeps
        every episode the one stock Crafter plays for that seed and those actions.
        """
        env = self._env
        if env._world.daylight < 0.5:
            grid = np.asarray(env._local_view._grid)
            unit = np.array(STOCK_SIZE) // env._view
            env._world.random.uniform(32, 127, tuple(grid * unit))

    def _update_objects(self) -> None:
        """Crafter's ``for obj in objects: if player.distance(obj) < 2 * max(view): obj.update()``, vectorized.

        The player is the first object and updates first; no object moves another, so every other object's
        distance to the (moved) player can be taken before the loop, as Crafter takes it right before each update.
        """
        env = self._env
        objs, player = env._world.objects, env._player
        limit = 2 * int(max(env._view))
        if not objs or objs[0] is not player:  # not Crafter's usual order: its own loop
            for obj in objs:
                if player.distance(obj) < limit:
                    obj.update()
            return
        player.update()
        rest = objs[1:]
        if not rest:
            return
        near = np.abs(np.array([o.pos for o in rest]) - player.pos).sum(axis=1) < limit
        for obj, ok in zip(rest, near.tolist(), strict=True):
            if ok:
                obj.update()

    def local_classes(self) -> np.ndarray:
        """The (9, 7) cell classes around the player: material ids 1..12 (0 outside), creatures 13..17."""
        world, (px, py) = self.world, (int(v) for v in self.player.pos)
        w, h = VIEW
        x0, y0 = px - w // 2, py - h // 2
        out = np.zeros((w, h), dtype=np.int64)
        ax, ay = world.area
        xs, ys = slice(max(x0, 0), min(x0 + w, ax)), slice(max(y0, 0), min(y0 + h, ay))
        dst = (slice(xs.start - x0, xs.stop - x0), slice(ys.start - y0, ys.stop - y0))
        out[dst] = world._mat_map[xs, ys]
        objs = world._obj_map[xs, ys]
        for i, j in zip(*np.nonzero(objs), strict=True):
            cls = self._classes.get(type(world._objects[objs[i, j]]))
            if cls is not None:
                out[dst[0].start + i, dst[1].start + j] = cls
        return out

    def _observe(self) -> np.ndarray:
        cells = self._eye[self.local_classes().reshape(-1)].reshape(-1)
        inv = self.player.inventory
        items = np.array([inv[k] for k in self._items], dtype=np.float32) / 9.0
        facing = np.zeros(4, np.float32)
        facing[FACINGS.index(tuple(int(v) for v in self.player.facing))] = 1.0
        extra = np.array([self.world.daylight, float(self.player.sleeping)], dtype=np.float32)
        return np.concatenate([cells, items, extra, facing])

    def render(self) -> Any:
        """The player's view as Crafter draws it (local view and inventory), ``(size, size, 3)`` uint8.

        Drawing takes random numbers from the world at night; they are given back, so that recording a video
        does not change the episode.
        """
        random = self._env._world.random
        state = random.get_state()
        try:
            return self._env.render((self._size, self._size))
        finally:
            random.set_state(state)


def register_env() -> None:
    """Register :data:`CRAFTER_ID` (once)."""
    if CRAFTER_ID not in gym.registry:
        gym.register(CRAFTER_ID, entry_point=f"{__name__}:CrafterGame")
