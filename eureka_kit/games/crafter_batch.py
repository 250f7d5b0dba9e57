"""The batched Crafter engine: N Crafter worlds of one task stepped in one process, a ``BatchedEnv``.

Not a re-implementation: each of the N envs is a :class:`~eureka_kit.games.crafter_env.CrafterGame`, whose
:meth:`~eureka_kit.games.crafter_env.CrafterGame.advance` runs Crafter's own world update (player, creatures,
chunk balancing, daylight, rewards, achievements, death, the time limit) without drawing, exactly as the
single-env wrapper's ``step`` does. What is done here for all N at once, with numpy, is what was read per env
after each step: the policy's observation (the 9x7 local view as one-hot classes, inventory, daylight,
sleeping, facing) and the named state of :mod:`eureka_kit.games.crafter_state` (nearest distance and direction
to each material and creature within 8 cells, the faced cell, lava next to the player, ...). Both are taken
from one 17x17 window of material ids and creature classes per env.

Seeds: env ``i`` starts with ``seed + i`` (as SB3's vector envs seed them); an ended episode is reset at once
(auto-reset) with Crafter's next episode of that env's seed, as ``CrafterGame.reset()`` without a seed does.
``tests/test_games_crafter_batch.py`` checks observations, every state variable, rewards and episode ends
against the single-env wrapper with the task's extractor, step by step and across resets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from eureka_kit.games import crafter_state as cs
from eureka_kit.games.crafter_env import (
    CRAFTER_KWARGS,
    CREATURES,
    FACINGS,
    N_CLASSES,
    N_MATERIALS,
    VIEW,
    CrafterGame,
)
from eureka_kit.sim.base import BatchStep
from eureka_kit.tasks.engine import BatchedEngine

R = cs.RADIUS
SIDE = 2 * R + 1
"""Cells of the window (x and y) read around each player: the named state's radius, the view inside it."""
N_ACTIONS = len(cs.ACTIONS)
_MANHATTAN = (np.abs(np.arange(-R, R + 1))[:, None] + np.abs(np.arange(-R, R + 1))[None, :]).astype(np.float64)
_VIEW_X = slice(R - VIEW[0] // 2, R + VIEW[0] // 2 + 1)
_VIEW_Y = slice(R - VIEW[1] // 2, R + VIEW[1] // 2 + 1)
_CREATURE_CODES = np.array([N_MATERIALS + CREATURES.index(c) for c in cs.CREATURES])
"""Class codes (in the window's creature layer) of the named state's creatures, in ``cs.CREATURES`` order."""


class CrafterBatchedEnv:
    """N Crafter envs of one task (see the module docstring); torch tensors out, actions as (N,) or (N, 1) ids."""

    action_size = 1
    """One action id per env (a float in the (N, 1) action tensor, as rsl-rl stores actions)."""
    n_actions = N_ACTIONS
    """Discrete actions: the batched PPO builds a categorical policy over this many."""

    def __init__(self, num_envs: int, seed: int = 0, length: int = 10000, target: str | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if target is not None and target not in cs.ACHIEVEMENTS:
            raise ValueError(f"unknown Crafter achievement {target!r}; valid: {', '.join(cs.ACHIEVEMENTS)}")
        self.num_envs = num_envs
        self.device = torch.device("cpu")
        self.action_low = torch.zeros(1)
        self.action_high = torch.full((1,), float(N_ACTIONS - 1))
        self.games = [CrafterGame(length=length, target=target) for _ in range(num_envs)]
        first = self.games[0]
        self.observation_size = int(first.observation_space.shape[0])  # type: ignore[index]
        ids = first.world._mat_ids
        self._material_ids = np.array([ids.get(name, -1) for name in cs.MATERIALS])
        self._lava = ids["lava"]
        self._classes = {cls: code for cls, code in first._classes.items()}
        self._items = list(first._items)
        self._eye = np.eye(N_CLASSES, dtype=np.float32)
        self._facing_index = {f: k for k, f in enumerate(FACINGS)}
        self._rows = np.arange(num_envs)
        self.reset(seed)

    @classmethod
    def for_task(cls, env_kwargs: dict[str, Any], num_envs: int, seed: int = 0) -> CrafterBatchedEnv:
        """The engine for a Crafter task's ``env_kwargs`` (``length``, ``target``); others are refused by name."""
        unknown = set(env_kwargs) - CRAFTER_KWARGS
        if unknown:
            raise ValueError(
                f"the batched Crafter engine takes env_kwargs {', '.join(sorted(CRAFTER_KWARGS))}; "
                f"got {', '.join(sorted(unknown))}"
            )
        return cls(num_envs, seed=seed, **env_kwargs)

    def reset(self, seed: int) -> torch.Tensor:
        """Start every env (env i from seed ``seed + i``); first observations (N, obs)."""
        for i, game in enumerate(self.games):
            game.start(seed + i)
        return torch.from_numpy(self._read(self._rows, state=False)[0])

    # ------------------------------------------------------------------------------------------ reading

    def _windows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Material ids and creature classes in the 17x17 window around each player of ``idx`` (0 outside the
        world and where no creature is), the players' positions and facings."""
        m = len(idx)
        mats = np.zeros((m, SIDE, SIDE), dtype=np.int64)
        creatures = np.zeros((m, SIDE, SIDE), dtype=np.int64)
        pos = np.zeros((m, 2), dtype=np.int64)
        facing = np.zeros((m, 2), dtype=np.int64)
        classes = self._classes
        for row, i in enumerate(idx.tolist()):
            game = self.games[i]
            world, player = game.world, game.player
            px, py = int(player.pos[0]), int(player.pos[1])
            pos[row] = px, py
            facing[row] = int(player.facing[0]), int(player.facing[1])
            ax, ay = world.area
            x0, x1, y0, y1 = max(px - R, 0), min(px + R + 1, ax), max(py - R, 0), min(py + R + 1, ay)
            dx, dy = x0 - (px - R), y0 - (py - R)
            mats[row, dx : dx + x1 - x0, dy : dy + y1 - y0] = world._mat_map[x0:x1, y0:y1]
            objs = world._obj_map[x0:x1, y0:y1]
            found = np.nonzero(objs)
            if len(found[0]):
                objects = world._objects
                for a, b in zip(found[0].tolist(), found[1].tolist(), strict=True):
                    code = classes.get(type(objects[objs[a, b]]))
                    if code is not None:
                        creatures[row, dx + a, dy + b] = code
        return mats, creatures, pos, facing

    def _read(self, idx: np.ndarray, state: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Observations (m, obs) of envs ``idx`` and, with ``state``, their named state (without ``action``)."""
        m = len(idx)
        mats, creatures, pos, facing = self._windows(idx)
        games = [self.games[i] for i in idx.tolist()]
        invs = [g.player.inventory for g in games]
        items = np.array([[inv[k] for k in self._items] for inv in invs], dtype=np.float64).reshape(m, -1)
        daylight = np.array([g.world.daylight for g in games], dtype=np.float64)
        sleeping = np.array([float(g.player.sleeping) for g in games])
        view = np.where(creatures > 0, creatures, mats)[:, _VIEW_X, _VIEW_Y].reshape(m, -1)
        facing_onehot = np.zeros((m, 4), np.float32)
        facing_onehot[np.arange(m), [self._facing_index[(int(f[0]), int(f[1]))] for f in facing]] = 1.0
        obs = np.concatenate(
            [
                self._eye[view].reshape(m, -1),
                (items / 9.0).astype(np.float32),
                np.stack([daylight, sleeping], axis=1).astype(np.float32),
                facing_onehot,
            ],
            axis=1,
        )
        if not state:
            return obs, {}
        dist, direction = self._nearest(mats, creatures)
        rows = np.arange(m)
        front_mat = mats[rows, R + facing[:, 0], R + facing[:, 1]]
        front_creature = creatures[rows, R + facing[:, 0], R + facing[:, 1]]
        is_creature = np.isin(front_creature, _CREATURE_CODES)
        facing_target = np.concatenate(
            [
                (~is_creature[:, None]) & (front_mat[:, None] == self._material_ids[None, :]),
                front_creature[:, None] == _CREATURE_CODES[None, :],
            ],
            axis=1,
        ).astype(np.float64)
        around = np.stack([mats[:, R + 1, R], mats[:, R - 1, R], mats[:, R, R + 1], mats[:, R, R - 1]], axis=1)
        vitals = np.array([g.vitals() for g in games], dtype=np.float64).reshape(m, 4)
        item_cols = [self._items.index(k) for k in cs.ITEMS]
        achievements = np.array(
            [[float(g.player.achievements[a] > 0) for a in cs.ACHIEVEMENTS] for g in games]
        ).reshape(m, -1)
        unlocked = np.array([[float(a in g.unlocked_now) for a in cs.ACHIEVEMENTS] for g in games]).reshape(m, -1)
        named = {
            "inventory": items[:, item_cols],
            "vitals": vitals,
            "vitals_change": np.array([g.vitals_change for g in games], dtype=np.float64).reshape(m, 4),
            "achievements": achievements,
            "unlocked": unlocked,
            "nearest_distance": dist,
            "nearest_direction": direction,
            "facing_target": facing_target,
            "lava_adjacent": (around == self._lava).any(axis=1).astype(np.float64),
            "daylight": daylight,
            "position": pos.astype(np.float64),
            "facing": facing.astype(np.float64),
            "sleeping": sleeping,
            "died": (vitals[:, 0] <= 0).astype(np.float64),
        }
        return obs, named

    def _nearest(self, mats: np.ndarray, creatures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Manhattan distance (m, 11) and unit direction (m, 11, 2) to the nearest of each target in the window.

        Ties go to the first cell in x-major order, as :func:`eureka_kit.games.crafter_state._nearest` breaks them.
        """
        m = len(mats)
        mask = np.concatenate(
            [
                mats[:, None] == self._material_ids[None, :, None, None],
                creatures[:, None] == _CREATURE_CODES[None, :, None, None],
            ],
            axis=1,
        ).reshape(m, len(cs.TARGETS), -1)
        masked = np.where(mask, _MANHATTAN.reshape(1, 1, -1), np.inf)
        flat = masked.argmin(axis=2)
        best = np.take_along_axis(masked, flat[..., None], axis=2)[..., 0]
        found = np.isfinite(best)
        dist = np.where(found, best, cs.NOT_FOUND)
        offset = np.stack([flat // SIDE - R, flat % SIDE - R], axis=2).astype(np.float64) * found[..., None]
        norm = np.hypot(offset[..., 0], offset[..., 1])
        direction = np.divide(offset, norm[..., None], out=np.zeros_like(offset), where=norm[..., None] > 0)
        return dist, direction

    # ------------------------------------------------------------------------------------------ a step

    def step(self, action: torch.Tensor) -> BatchStep:
        """Apply action ids ``action`` (N,) or (N, 1), advance every world one step, auto-reset ended episodes."""
        a = np.asarray(action.detach().to("cpu").numpy()).reshape(self.num_envs)
        a = np.clip(np.rint(a), 0, N_ACTIONS - 1).astype(np.int64)
        n = self.num_envs
        reward = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        for i, game in enumerate(self.games):
            reward[i], terminated[i], truncated[i] = game.advance(int(a[i]))
        final, state = self._read(self._rows, state=True)
        state["action"] = a.astype(np.float64)
        done = np.flatnonzero(terminated | truncated)
        obs = final
        if len(done):
            for i in done.tolist():
                self.games[i].start()
            obs = final.copy()
            obs[done] = self._read(done, state=False)[0]
        return BatchStep.from_numpy(obs, final, state, reward, terminated, truncated)

    def close(self) -> None:
        for game in self.games:
            game.close()


def crafter_engine() -> BatchedEngine:
    """The batched Crafter engine (a Crafter task's registration's ``engine``): CPU only, ``length``/``target``."""

    def make_env(spec: Any, num_envs: int, device: str, seed: int, threads: int) -> Any:
        return CrafterBatchedEnv.for_task(dict(spec.env_kwargs), num_envs, seed=seed)

    return BatchedEngine("crafter", make_env, env_kwargs=CRAFTER_KWARGS)
