"""The batched grid-world engine: N MiniGrid envs of one task stepped as numpy arrays, a ``BatchedEnv``.

Why a re-implementation: in stock MiniGrid about 98% of a step is drawing the
agent's view (``gen_obs``: slicing, rotating and occluding a 7x7 grid of Python
objects, ~115 us of a ~117 us step measured here), which caps one process at a
few thousand env-steps/s whatever trains on it. Here the grids of N envs are
``(N, W, H)`` arrays and one step (actions, the egocentric view with MiniGrid's
occlusion, the named state) is a few hundred numpy operations on all N at once.

Semantics are MiniGrid's, checked step by step against the stock env
(``tests/test_games_grid_batch.py``: same seeds, same actions, equal
observations, state, rewards and ends over hundreds of steps with resets):

* worlds come from the stock env itself: each of the N envs keeps a MiniGrid
  instance, whose ``reset`` (its own random generator, seeded once with
  ``seed + i`` like SB3's vector envs, then continuing) builds the layout that is
  copied into the arrays, so layouts are MiniGrid's by construction;
* the step rules are MiniGrid's for the objects these tasks hold (walls, doors,
  keys, balls, empty boxes, goals, lava): turns, ``forward`` onto empty cells,
  goals, lava and open doors, pick up into empty hands, drop onto an empty cell,
  toggle (a locked door opens with a key of its colour, an unlocked one opens or
  closes, an empty box vanishes), the time limit, and UnlockPickup's success on
  picking up the box;
* the observation is :class:`~eureka_kit.games.minigrid_env.MiniGridGame`'s
  flat vector of MiniGrid's egocentric view (``process_vis`` occlusion, the
  carried object in the agent's cell).

Only tasks registered with a grid engine (:func:`grid_engine`) run here; anything
else (a box with contents, another object type) is refused with a clear error.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from eureka_kit.games.grid_batch_state import (
    DIR_VEC,
    OBJECT_CODES,
    GridArrays,
    GridBatchDefinition,
    get_grid_batch,
    grid_state,
)
from eureka_kit.games.minigrid_env import N_OBJECT_TYPES
from eureka_kit.games.minigrid_state import GridLayout
from eureka_kit.sim.base import BatchStep
from eureka_kit.tasks.engine import BatchedEngine

VIEW = 7
"""MiniGrid's default ``agent_view_size`` (the only one the engine draws)."""
N_ACTIONS = 7
"""MiniGrid's actions: left, right, forward, pickup, drop, toggle, done."""
_COLORS = {"red": 0, "green": 1, "blue": 2, "purple": 3, "yellow": 4, "grey": 5}


def _view_offsets() -> np.ndarray:
    """(4, VIEW, VIEW, 2): world offset of view cell [vx, vy] per direction (agent at [VIEW // 2, VIEW - 1])."""
    out = np.zeros((4, VIEW, VIEW, 2), dtype=np.int64)
    for d in range(4):
        fwd = DIR_VEC[d]
        right = np.array([-fwd[1], fwd[0]])
        for vx in range(VIEW):
            for vy in range(VIEW):
                out[d, vx, vy] = (vx - VIEW // 2) * right + (VIEW - 1 - vy) * fwd
    return out


_OFFSETS = _view_offsets()


class GridBatchedEnv:
    """N envs of one MiniGrid task as numpy arrays (see the module docstring); torch tensors out."""

    action_size = 1
    """One action id per env (a float in the (N, 1) action tensor, as rsl-rl stores actions)."""
    n_actions = N_ACTIONS
    """Discrete actions: the batched PPO builds a categorical policy over this many."""

    def __init__(self, task_id: str, num_envs: int, seed: int = 0) -> None:
        import minigrid  # noqa: F401  (registers the MiniGrid ids)

        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.definition = get_grid_batch(task_id)
        self.layout = self.definition.layout
        self.num_envs = num_envs
        self.device = torch.device("cpu")
        self.action_low = torch.zeros(1)
        self.action_high = torch.full((1,), float(N_ACTIONS - 1))
        self._games: list[Any] = [
            gym.make(self.definition.minigrid_id, disable_env_checker=True).unwrapped for _ in range(num_envs)
        ]
        for g in self._games:
            g.gen_obs = _no_obs  # the engine draws the view itself; the stock one is ~100 us per reset
        first = self._games[0]
        self.width, self.height = int(first.width), int(first.height)
        self.max_steps = int(first.max_steps)
        if int(first.agent_view_size) != VIEW or first.see_through_walls:
            raise ValueError(f"{self.definition.minigrid_id}: the engine draws only the default 7x7 occluded view")
        self.observation_size = VIEW * VIEW * (N_OBJECT_TYPES + 1) + 4
        shape = (num_envs, self.width, self.height)
        self.typ = np.ones(shape, dtype=np.int8)
        self.color = np.zeros(shape, dtype=np.int8)
        self.state = np.zeros(shape, dtype=np.int8)
        self.visits = np.zeros(shape, dtype=np.int32)
        self.pos = np.zeros((num_envs, 2), dtype=np.int64)
        self.dir = np.zeros(num_envs, dtype=np.int64)
        self.carry = np.zeros(num_envs, dtype=np.int64)
        self.carry_color = np.zeros(num_envs, dtype=np.int64)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self._eye = np.eye(N_OBJECT_TYPES, dtype=np.float32)
        self._rows = np.arange(num_envs)
        self.reset(seed)

    # ------------------------------------------------------------------------------------------ resets

    def _load(self, i: int, seed: int | None) -> None:
        """Reset env ``i`` with the stock env's generator and copy its world into the arrays."""
        game = self._games[i]
        game.reset(seed=seed) if seed is not None else game.reset()
        self.typ[i], self.color[i], self.state[i] = 1, 0, 0
        width = self.width
        for k, obj in enumerate(game.grid.grid):
            if obj is None:
                continue
            if obj.type not in OBJECT_CODES or (obj.type == "box" and obj.contains is not None):
                raise ValueError(
                    f"{self.definition.minigrid_id}: the grid engine cannot simulate a {obj.type!r}"
                    + (" with contents" if obj.type == "box" else "")
                    + f"; it knows {', '.join(OBJECT_CODES)} (boxes empty)"
                )
            x, y = k % width, k // width
            self.typ[i, x, y] = OBJECT_CODES[obj.type]
            self.color[i, x, y] = _COLORS[obj.color]
            if obj.type == "door":
                self.state[i, x, y] = 0 if obj.is_open else (2 if obj.is_locked else 1)
        self.pos[i] = (int(game.agent_pos[0]), int(game.agent_pos[1]))
        self.dir[i] = int(game.agent_dir)
        self.carry[i] = self.carry_color[i] = 0
        if game.carrying is not None:
            raise ValueError(f"{self.definition.minigrid_id}: the agent starts carrying {game.carrying.type}")
        self.steps[i] = 0
        self.visits[i] = 0
        self.visits[i, self.pos[i, 0], self.pos[i, 1]] = 1

    def reset(self, seed: int) -> torch.Tensor:
        """Reset every env (env i's MiniGrid generator seeded with ``seed + i``); first observations (N, obs)."""
        for i in range(self.num_envs):
            self._load(i, seed + i)
        return torch.from_numpy(self._observe(self._rows))

    # ------------------------------------------------------------------------------------------ the view

    def _observe(self, idx: np.ndarray) -> np.ndarray:
        """The flat observation of envs ``idx`` (MiniGridGame's layout: one-hot types, door states / 2, direction)."""
        m = len(idx)
        world = self.pos[idx, None, None, :] + _OFFSETS[self.dir[idx]]  # (m, V, V, 2)
        wx, wy = world[..., 0], world[..., 1]
        inside = (wx >= 0) & (wx < self.width) & (wy >= 0) & (wy < self.height)
        cx, cy = np.clip(wx, 0, self.width - 1), np.clip(wy, 0, self.height - 1)
        rows = idx[:, None, None]
        vt = np.where(inside, self.typ[rows, cx, cy], OBJECT_CODES["wall"])
        vs = np.where(inside, self.state[rows, cx, cy], 0)
        see_behind = ~((vt == OBJECT_CODES["wall"]) | ((vt == OBJECT_CODES["door"]) & (vs != 0)))
        mask = np.zeros((m, VIEW, VIEW), dtype=bool)
        mask[:, VIEW // 2, VIEW - 1] = True
        for j in range(VIEW - 1, -1, -1):  # MiniGrid's Grid.process_vis, for all m envs at once
            for i in range(VIEW - 1):
                spread = mask[:, i, j] & see_behind[:, i, j]
                mask[:, i + 1, j] |= spread
                if j > 0:
                    mask[:, i + 1, j - 1] |= spread
                    mask[:, i, j - 1] |= spread
            for i in range(VIEW - 1, 0, -1):
                spread = mask[:, i, j] & see_behind[:, i, j]
                mask[:, i - 1, j] |= spread
                if j > 0:
                    mask[:, i - 1, j - 1] |= spread
                    mask[:, i, j - 1] |= spread
        carried = self.carry[idx]
        vt[:, VIEW // 2, VIEW - 1] = np.where(carried > 0, carried, OBJECT_CODES["empty"])
        vs[:, VIEW // 2, VIEW - 1] = 0
        vt = np.where(mask, vt, 0).reshape(m, -1)
        vs = np.where(mask, vs, 0).reshape(m, -1)
        direction = np.zeros((m, 4), dtype=np.float32)
        direction[np.arange(m), self.dir[idx]] = 1.0
        types = self._eye[vt].reshape(m, -1)
        return np.concatenate([types, vs.astype(np.float32) / 2.0, direction], axis=1)

    # ------------------------------------------------------------------------------------------ a step

    def _act(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply MiniGrid's rules for actions ``a`` (N,); returns (env reward, terminated)."""
        rows, codes = self._rows, OBJECT_CODES
        self.steps += 1
        front = self.pos + DIR_VEC[self.dir]
        fx = np.clip(front[:, 0], 0, self.width - 1)
        fy = np.clip(front[:, 1], 0, self.height - 1)
        ft, fs, fc = self.typ[rows, fx, fy], self.state[rows, fx, fy], self.color[rows, fx, fy]
        self.dir = np.where(a == 0, (self.dir - 1) % 4, np.where(a == 1, (self.dir + 1) % 4, self.dir))
        forward = a == 2
        overlap = (ft == codes["empty"]) | (ft == codes["goal"]) | (ft == codes["lava"]) | (ft == codes["floor"])
        overlap |= (ft == codes["door"]) & (fs == 0)
        move = forward & overlap
        self.pos = np.where(move[:, None], front, self.pos)
        reached = forward & (ft == codes["goal"])
        terminated = reached | (forward & (ft == codes["lava"]))
        pick = (a == 3) & ((ft == codes["key"]) | (ft == codes["ball"]) | (ft == codes["box"])) & (self.carry == 0)
        drop = (a == 4) & (ft == codes["empty"]) & (self.carry != 0)
        toggle = a == 5
        door = toggle & (ft == codes["door"])
        unlock = door & (fs == 2) & (self.carry == codes["key"]) & (self.carry_color == fc)
        flip = door & (fs != 2)
        new_state = np.where(unlock, 0, np.where(flip, np.where(fs == 0, 1, 0), fs))
        self.state[rows, fx, fy] = new_state
        vanish = toggle & (ft == codes["box"])  # an empty box is replaced by its contents: nothing
        clear = pick | vanish
        self.typ[rows, fx, fy] = np.where(clear, codes["empty"], np.where(drop, self.carry, ft))
        self.color[rows, fx, fy] = np.where(clear, 0, np.where(drop, self.carry_color, fc))
        picked_type, picked_color = np.where(pick, ft, self.carry), np.where(pick, fc, self.carry_color)
        self.carry = np.where(drop, 0, picked_type)
        self.carry_color = np.where(drop, 0, picked_color)
        if self.layout.success == "pickup_box":
            reached = (a == 3) & (self.carry == codes["box"])
            terminated = terminated | reached
        reward = np.where(reached, 1.0 - 0.9 * (self.steps / self.max_steps), 0.0)
        self.visits[rows, self.pos[:, 0], self.pos[:, 1]] += 1
        return reward, terminated

    def arrays(self) -> GridArrays:
        """The grids and agents as they are now (what the named state is read from)."""
        rows = self._rows
        visits = self.visits[rows, self.pos[:, 0], self.pos[:, 1]].astype(np.int64)
        return GridArrays(self.typ, self.state, self.pos, self.dir, self.carry, visits, self.steps)

    def step(self, action: torch.Tensor) -> BatchStep:
        """Apply action ids ``action`` (N,) or (N, 1), advance one step, auto-reset ended episodes."""
        a = np.asarray(action.detach().to("cpu").numpy()).reshape(self.num_envs)
        a = np.clip(np.rint(a), 0, N_ACTIONS - 1).astype(np.int64)
        reward, terminated = self._act(a)
        truncated = (self.steps >= self.max_steps) & ~terminated
        state = grid_state(self.layout, self.arrays(), a)
        final = self._observe(self._rows)
        done = np.flatnonzero(terminated | truncated)
        obs = final
        if len(done):
            for i in done:
                self._load(int(i), None)
            obs = final.copy()
            obs[done] = self._observe(done)
        return BatchStep.from_numpy(obs, final, state, reward, terminated, truncated)

    def close(self) -> None:
        for g in self._games:
            g.close()


def _no_obs() -> Any:
    return None


def grid_engine(task_id: str, minigrid_id: str, layout: GridLayout) -> BatchedEngine:
    """The batched grid engine of a MiniGrid task (its registration's ``engine``): CPU only, no env kwargs."""

    def make_env(spec: Any, num_envs: int, device: str, seed: int, threads: int) -> Any:
        return GridBatchedEnv(spec.id, num_envs, seed=seed)

    return BatchedEngine("grid", make_env, definition=GridBatchDefinition(task_id, minigrid_id, layout))
