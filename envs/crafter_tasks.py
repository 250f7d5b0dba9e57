"""Minecraft-like survival (Crafter): one task per target achievement, modelled on Auto MC-Reward's.

The policy sees a symbolic 9x7 local map, inventory and vitals
(:mod:`eureka_kit.games.crafter_env`); reward programs read the named state
(:mod:`eureka_kit.games.crafter_state`). Fitness is the success rate of the
target achievement (the episode ends when it is unlocked); the baseline is
Crafter's own reward (+1 per new achievement, health change / 10). The rules
and the tech tree in each description are generated from Crafter's own data
tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from eureka_kit.games import crafter_state as cs
from eureka_kit.games.crafter_batch import crafter_engine
from eureka_kit.games.crafter_env import CRAFTER_ID, register_env
from eureka_kit.games.crafter_score import score_from_final_states
from eureka_kit.games.numba_cache import seed_numba_cache
from eureka_kit.games.rules import describe, render_rules
from eureka_kit.tasks.engine import BatchedConfig
from eureka_kit.tasks.registry import register
from eureka_kit.tasks.spec import AnalysisVars, Fitness, TaskSpec, TrainDefaults

register_env()

RULES = (
    "The world is a 64x64 grid of materials (grass, sand, tree, water, stone, coal, iron, diamond, lava, path, "
    "table, furnace) with cows, zombies and skeletons; the player starts in the middle, on grass.",
    "The player moves one cell per move action (onto grass, sand or path) and faces the direction it last "
    "moved; 'do' acts on the cell it faces: collects a material, drinks water, hits a creature.",
    "Health, food, drink and energy range 0..9. Food, drink and energy drop slowly over time; eating a cow "
    "(hit it until it dies) or a ripe plant restores food, drinking water restores drink, sleeping restores "
    "energy. Health recovers while none of them is 0 and drops while any is 0; health 0 is death.",
    "Zombies spawn on grass (many more at night) and attack at close range; skeletons live in dark tunnels "
    "and shoot arrows. Walking into lava kills the player at once.",
    "Achievements are unlocked the first time something is done (collect_wood, place_table, "
    "make_wood_pickaxe, eat_cow, ...); each is counted once per episode.",
)


CRAFTER_BATCHED = BatchedConfig(
    total_steps=100_000,
    num_envs=64,
    num_steps_per_env=64,
    num_learning_epochs=4,
    num_mini_batches=4,
    learning_rate=3e-4,
    entropy_coef=0.01,
    activation="tanh",
    normalize_obs=False,
)
"""The batched backends' row of the Crafter tasks (the batched Crafter engine, a categorical policy): the SB3
settings below (lr 3e-4, entropy 0.01, 4 epochs, tanh 64x64) on 64 envs x 64 steps, the same budgets as SB3's; the
observation is one-hot cells and inventory / 9, so no normalization."""


def _needs(d: Mapping[str, Any]) -> str:
    return ", ".join(f"{n} {k}" for k, n in d.items()) or "nothing"


def tech_tree() -> tuple[str, ...]:
    """The tech tree from Crafter's own tables (``collect``, ``place``, ``make``)."""
    import crafter

    c = crafter.constants
    lines = []
    for material, rule in c.collect.items():
        chance = f" with probability {rule['probability']}" if "probability" in rule else ""
        lines.append(
            f"'do' facing {material}: receive {_needs(rule['receive'])}{chance} (requires {_needs(rule['require'])})"
        )
    for name, rule in c.place.items():
        lines.append(f"place_{name}: uses {_needs(rule['uses'])}, onto {', '.join(rule['where'])}")
    for name, rule in c.make.items():
        lines.append(f"make_{name}: uses {_needs(rule['uses'])}, standing near {' and '.join(rule['nearby'])}")
    return tuple(lines)


def _achievement(target: str) -> Fitness:
    return Fitness(
        name=target,
        description=f"fraction of episodes in which the achievement {target} is unlocked",
        unit="success rate",
        step=cs.achievement_step(target),
        aggregate="any",
    )


def _crafter_task(
    task_id: str,
    target: str | None,
    goal: str,
    text: str,
    length: int,
    total_steps: int,
    fitness: Fitness | None = None,
) -> TaskSpec:
    ending = (
        f"The episode ends with success when `{target}` is unlocked, and with failure when the player dies or after "
        f"{length} steps."
        if target is not None
        else f"The episode ends when the player dies or after {length} steps."
    )
    return register(
        TaskSpec(
            id=task_id,
            env_id=CRAFTER_ID,
            env_kwargs={"target": target, "length": length},
            goal=goal,
            description=describe(f"{text} {ending}", render_rules("Crafter", RULES, cs.ACTIONS, tech_tree())),
            state=cs.STATE,
            extract=cs.extract,
            fitness=fitness if fitness is not None else _achievement(str(target)),
            baseline_reward=cs.baseline,
            engine=crafter_engine(),
            prepare_child=seed_numba_cache,  # the parent's compiled world noise: the child does not compile it
            batched=replace(CRAFTER_BATCHED, total_steps=total_steps),
            train=TrainDefaults(
                algo="PPO",
                total_steps=total_steps,
                n_envs=4,
                hyperparams={
                    "n_steps": 256,
                    "batch_size": 256,
                    "n_epochs": 4,
                    "learning_rate": 3e-4,
                    "gamma": 0.99,
                    "gae_lambda": 0.95,
                    "ent_coef": 0.01,
                },
                policy_kwargs={"net_arch": [64, 64], "activation_fn": "tanh"},
            ),
            max_episode_steps=length,
            tags=("game", "crafter", "survival", "discrete"),
            kind="survival",
            analysis=AnalysisVars(
                termination="either" if target is not None else "failure",  # ends on the target or on death
                cell="position",
                deaths=(("died", "died (health reached 0)"),),
                death_cause=cs.death_cause,
                achievements="unlocked",
                achievement_names=cs.ACHIEVEMENTS,
                extra=("daylight",),
            ),
        )
    )


WOOD = _crafter_task(
    "Crafter-Wood-v1",
    "collect_wood",
    "collect wood from a tree",
    "Collect wood: walk to a tree, face it and use 'do' on it.",
    length=500,
    total_steps=50_000,
)
WOOD_PICKAXE = _crafter_task(
    "Crafter-WoodPickaxe-v1",
    "make_wood_pickaxe",
    "make a wood pickaxe",
    "Make a wood pickaxe: collect wood, place a table, and make the pickaxe while standing near the table.",
    length=1000,
    total_steps=200_000,
)
STONE_PICKAXE = _crafter_task(
    "Crafter-StonePickaxe-v1",
    "make_stone_pickaxe",
    "make a stone pickaxe",
    "Make a stone pickaxe: wood, a table, a wood pickaxe, then mine stone with it and make the stone pickaxe "
    "near a table.",
    length=1500,
    total_steps=500_000,
)
EAT_COW = _crafter_task(
    "Crafter-EatCow-v1",
    "eat_cow",
    "find and eat a cow",
    "Eat a cow: find a cow on the grassland, face it and hit it with 'do' until it is eaten.",
    length=500,
    total_steps=100_000,
)
DIAMOND = _crafter_task(
    "Crafter-Diamond-v1",
    "collect_diamond",
    "collect a diamond while staying away from lava",
    "Collect a diamond: follow the tech tree up to an iron pickaxe (table, furnace, coal, iron), find a diamond "
    "in the mountains and mine it. Lava lies near diamonds: walking into it kills the player.",
    length=10000,
    total_steps=1_000_000,
)
SURVIVE = _crafter_task(
    "Crafter-Survive-v1",
    None,
    "survive a day and a night, away from lava",
    "Survive: stay alive for a whole day and night. Keep food and drink up (eat cows, drink water), sleep when "
    "energy is low (preferably in a shelter), avoid or fight zombies at night, and never walk into lava.",
    length=600,
    total_steps=200_000,
    fitness=Fitness(
        name="survived",
        description="fraction of episodes in which the player is alive at the end (600 steps)",
        unit="success rate",
        step=lambda s: 1.0 - s["died"],
        aggregate="last",
    ),
)
SURVIVE_SCORE = _crafter_task(
    "Crafter-Survive-v2",
    None,
    "survive a day and a night and unlock as many different achievements as possible",
    "Survive for a whole day and night and, on the way, unlock as many different achievements as possible "
    "(Crafter's benchmark): collect materials, place a table, make tools, eat, drink, sleep, defeat creatures. "
    "Unlocking many different achievements counts more than repeating easy ones. Keep food and drink up, sleep "
    "when energy is low, avoid zombies at night and never walk into lava.",
    length=600,
    total_steps=200_000,
    fitness=Fitness(
        name="crafter_score",
        description=(
            "Crafter's score over the evaluation episodes: exp(mean over the 22 achievements of log(1 + success "
            "rate in %)) - 1, in percent (per episode: the number of achievements unlocked)"
        ),
        unit="percent",
        step=lambda s: np.asarray(s["achievements"]).sum(axis=-1),
        aggregate="last",
        across=score_from_final_states,
    ),
)
