"""Shipped task specs. Importing this package registers every task.

Adding a task: write one ``TaskSpec`` in the module of its family and call
``register(spec)``; nothing else changes.
"""

from eureka_kit.envs import classic, crafter_tasks, locomotion, manipulation, minigrid_tasks  # noqa: F401
