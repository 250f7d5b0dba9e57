"""``eureka-kit benchmark``: the human-normalized score table across tasks, seeds and configurations.

A benchmark is made of ordinary runs and cached baselines; its numbers come from the trusted evaluator only.
:func:`eureka_kit.benchmark.core.run_benchmark` is the entry point (docs/benchmark.md).
"""
