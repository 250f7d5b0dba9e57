"""Where a generation's compute goes: successive halving over rungs, and equivalent-reward pruning.

:mod:`eureka_kit.schedule.halving` holds the rung budgets, the keep/stop
decisions and each rung's result on disk; :mod:`eureka_kit.schedule.rungs`
runs a generation's candidates through the rungs; :mod:`eureka_kit.schedule.equivalence`
is the STARC-style distance between rewards on stored transitions and
:mod:`eureka_kit.schedule.pruning` runs the programs (in the sandbox) to measure it.
"""
