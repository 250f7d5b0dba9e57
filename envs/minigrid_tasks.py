"""Grid-world puzzles (MiniGrid): sparse-reward tasks of rising difficulty, discrete actions.

The policy sees the agent's 7x7 egocentric view (:mod:`eureka_kit.games.minigrid_env`);
reward programs read the named grid state (:mod:`eureka_kit.games.minigrid_state`).
Fitness is the success rate; the env's own reward (``1 - 0.9 * steps / max_steps``
on success) is the baseline.
"""

from __future__ import annotations

from dataclasses import replace

from eureka_kit.games.grid_batch import grid_engine
from eureka_kit.games.minigrid_env import GAMES, game_id, register_envs
from eureka_kit.games.minigrid_state import GridLayout, baseline, extractor, state_vars
from eureka_kit.games.rules import describe, render_rules
from eureka_kit.tasks.engine import BatchedConfig
from eureka_kit.tasks.registry import register
from eureka_kit.tasks.spec import AnalysisVars, Fitness, TaskSpec, TrainDefaults

register_envs()

ACTIONS = ("turn left", "turn right", "forward", "pick up", "drop", "toggle (open a door in front)", "done (no-op)")
COMMON_RULES = (
    "The world is a grid of cells surrounded by walls; the agent occupies one cell and faces one of four directions.",
    "'forward' moves one cell ahead unless a wall, a closed door or an object blocks it; turning costs a step.",
    "The agent sees only a 7x7 window in front of it (not through walls or closed doors).",
    "The agent interacts only with the cell right in front of it (pick up, drop, toggle).",
)

# PPO for an MLP over the one-hot egocentric view: 8 envs x 128 steps per update, 4 epochs.
GRID_PPO = {
    "n_steps": 128,
    "batch_size": 256,
    "n_epochs": 4,
    "learning_rate": 5e-4,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "ent_coef": 0.01,
    "clip_range": 0.2,
}


GRID_BATCHED = BatchedConfig(
    total_steps=500_000,
    num_envs=128,
    num_steps_per_env=64,
    num_learning_epochs=4,
    num_mini_batches=4,
    learning_rate=5e-4,
    entropy_coef=0.01,
    activation="tanh",
    normalize_obs=False,
)
"""The batched backends' row of the grid tasks (the numpy grid engine, a categorical policy): SB3's grid settings
(lr 5e-4, entropy 0.01, 4 epochs, tanh 64x64) on 128 envs x 64 steps; the one-hot view needs no normalization."""


def _success() -> Fitness:
    return Fitness(
        name="success",
        description="fraction of episodes in which the task is solved",
        unit="success rate",
        step=lambda s: s["success"],
        aggregate="any",
    )


def _grid_task(
    task_id: str,
    game: str,
    goal: str,
    text: str,
    rules: tuple[str, ...],
    layout: GridLayout,
    total_steps: int,
    batched_steps: int,
) -> TaskSpec:
    analysis = AnalysisVars(
        termination="either" if layout.lava else "success",
        cell="agent_pos",
        left_start="past_door" if "door" in layout.objects else None,
        deaths=(("in_lava", "walked into lava"),) if layout.lava else (),
        extra=("step_count", "visits"),
    )
    return register(
        TaskSpec(
            id=task_id,
            env_id=game_id(game),
            goal=goal,
            description=describe(text, render_rules(f"MiniGrid {game}", (*COMMON_RULES, *rules), ACTIONS)),
            state=state_vars(layout),
            extract=extractor(layout),
            fitness=_success(),
            baseline_reward=baseline(layout),
            engine=grid_engine(task_id, GAMES[game], layout),  # the batched grid engine (backend cpu)
            batched=replace(GRID_BATCHED, total_steps=batched_steps),
            train=TrainDefaults(
                algo="PPO",
                total_steps=total_steps,
                n_envs=8,
                hyperparams=GRID_PPO,
                policy_kwargs={"net_arch": [64, 64], "activation_fn": "tanh"},
            ),
            max_episode_steps=layout.max_steps,
            tags=("game", "grid", "minigrid", "discrete"),
            kind="grid",
            analysis=analysis,
        )
    )


LAVA_CROSSING = _grid_task(
    "LavaCrossing-Grid-v1",
    "LavaCrossingS9N1",
    "cross the lava river to the green goal",
    "A 9x9 room is split by a river of lava with one gap. Walk through the gap to the green goal square in the "
    "bottom-right corner. Stepping into lava kills the agent and ends the episode; reaching the goal ends it "
    "with success.",
    ("Lava cells can be walked into, which kills the agent.", "The goal is a cell; standing on it solves the task."),
    GridLayout(objects=("goal",), lava=True, success="goal", max_steps=324),
    total_steps=100_000,
    batched_steps=300_000,
)
DOOR_KEY = _grid_task(
    "DoorKey-Grid-v1",
    "DoorKey-8x8",
    "pick up the key, unlock the door, reach the goal",
    "An 8x8 grid is split by a wall with a locked door. The agent starts in the left room with a key. It must "
    "pick up the key, face the door and toggle it to unlock and open it, walk through, and reach the green goal "
    "square in the right room. Reaching the goal ends the episode with success.",
    (
        "A locked door opens only when the agent carries the key of its colour and toggles the door in front of it.",
        "The agent carries at most one object; 'pick up' takes the object in front, 'drop' puts it in front.",
        "The goal is a cell; standing on it solves the task.",
    ),
    GridLayout(objects=("key", "door", "goal"), lava=False, success="goal", max_steps=640),
    total_steps=150_000,
    batched_steps=500_000,
)
UNLOCK_PICKUP = _grid_task(
    "UnlockPickup-Grid-v1",
    "UnlockPickup",
    "unlock the door and pick up the box behind it",
    "Two rooms are joined by a locked door. The agent starts in the left room with a key; the box is in the "
    "right room. The agent must pick up the key, unlock and open the door, drop the key (it carries one object "
    "at a time), walk to the box and pick it up. Picking up the box ends the episode with success.",
    (
        "A locked door opens only when the agent carries the key of its colour and toggles the door in front of it.",
        "The agent carries at most one object; to pick up the box it must first drop the key on an empty cell.",
    ),
    GridLayout(objects=("key", "door", "box"), lava=False, success="pickup_box", max_steps=288),
    total_steps=150_000,
    batched_steps=1_000_000,
)
