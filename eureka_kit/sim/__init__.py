"""Batched simulation engines: many envs of one task stepped together, state and observations as torch tensors.

:mod:`eureka_kit.sim.base` holds the contract (:class:`BatchedEnv`,
:class:`BatchStep`) that the training backends consume.
"""
