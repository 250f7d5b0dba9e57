"""MiniGrid puzzles as gymnasium envs with a flat symbolic observation and per-cell visit counts.

:func:`make_game` is the gymnasium entry point of the ids registered by
:func:`register_envs` (``eureka_kit/DoorKey-8x8-v0`` ...): the MiniGrid env
wrapped by :class:`MiniGridGame`, whose observation is the agent's 7x7
egocentric view as one-hot object types plus door states, and the agent's
direction, as one float vector (an MLP policy learns from it). The wrapper
also counts how often the agent has stood on each cell this episode and puts
the count of its current cell in ``info["grid_visits"]``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

VISITS_KEY = "grid_visits"
"""Info key: how many times the agent has stood on its current cell this episode (1 on the first visit)."""

N_OBJECT_TYPES = 11
"""MiniGrid object codes: 0 unseen, 1 empty, 2 wall, 3 floor, 4 door, 5 key, 6 ball, 7 box, 8 goal, 9 lava, 10 agent."""

GAMES: dict[str, str] = {
    "DoorKey-8x8": "MiniGrid-DoorKey-8x8-v0",
    "LavaCrossingS9N1": "MiniGrid-LavaCrossingS9N1-v0",
    "UnlockPickup": "MiniGrid-UnlockPickup-v0",
}
"""Our gymnasium ids (``eureka_kit/<name>-v0``) -> the MiniGrid env each wraps."""


def game_id(name: str) -> str:
    """The gymnasium id of one of :data:`GAMES`."""
    return f"eureka_kit/{name}-v0"


class MiniGridGame(gym.Wrapper):  # type: ignore[type-arg]
    """Flat float observation (egocentric view one-hot + door states + direction) and visit counts in ``info``."""

    def __init__(self, env: gym.Env) -> None:  # type: ignore[type-arg]
        super().__init__(env)
        view = int(getattr(env.unwrapped, "agent_view_size", 7))
        self._cells = view * view
        size = self._cells * (N_OBJECT_TYPES + 1) + 4
        self.observation_space = gym.spaces.Box(0.0, 1.0, (size,), np.float32)
        self._visits: dict[tuple[int, int], int] = {}
        self._eye = np.eye(N_OBJECT_TYPES, dtype=np.float32)

    def _flat(self, obs: dict[str, Any]) -> np.ndarray:
        image = np.asarray(obs["image"]).reshape(self._cells, 3)
        types = self._eye[np.clip(image[:, 0], 0, N_OBJECT_TYPES - 1)].reshape(-1)
        doors = image[:, 2].astype(np.float32) / 2.0  # 0 open, 0.5 closed, 1 locked
        direction = np.zeros(4, np.float32)
        direction[int(obs["direction"]) % 4] = 1.0
        return np.concatenate([types, doors, direction])

    def _visit(self) -> int:
        x, y = (int(v) for v in getattr(self.env.unwrapped, "agent_pos", (0, 0)))
        count = self._visits.get((x, y), 0) + 1
        self._visits[(x, y)] = count
        return count

    def reset(self, **kwargs: Any) -> Any:
        obs, info = self.env.reset(**kwargs)
        self._visits = {}
        info = dict(info)
        info[VISITS_KEY] = self._visit()
        return self._flat(obs), info

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(int(action))
        info = dict(info)
        info[VISITS_KEY] = self._visit()
        return self._flat(obs), reward, terminated, truncated, info


def make_game(minigrid_id: str, render_mode: str | None = None, **kwargs: Any) -> gym.Env:  # type: ignore[type-arg]
    """Gymnasium entry point: the MiniGrid env ``minigrid_id`` wrapped by :class:`MiniGridGame`."""
    import minigrid  # noqa: F401  (registers the MiniGrid ids)

    inner = gym.make(minigrid_id, render_mode=render_mode, disable_env_checker=True, **kwargs).unwrapped
    return MiniGridGame(inner)


def register_envs() -> None:
    """Register ``eureka_kit/<name>-v0`` for every game of :data:`GAMES` (once)."""
    for name, minigrid_id in GAMES.items():
        gid = game_id(name)
        if gid not in gym.registry:
            gym.register(gid, entry_point=f"{__name__}:make_game", kwargs={"minigrid_id": minigrid_id})
