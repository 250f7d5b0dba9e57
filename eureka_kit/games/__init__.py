"""Games as reward-design tasks: grid-world puzzles (MiniGrid) and a Minecraft-like survival game (Crafter).

Each game is a gymnasium env registered under the ``eureka_kit/`` namespace
(flat symbolic observations for the policy, discrete actions) plus the
functions that read its named state variables for reward programs. The task
specs that use them live in the task pack (``envs/minigrid_tasks.py``,
``envs/crafter_tasks.py``); the environment kinds ``grid`` and ``survival``
in :mod:`eureka_kit.tasks.kinds`.
"""
