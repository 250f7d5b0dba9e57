"""The example library: good reward programs per task family, shown as few-shot examples (eureka_kit/loop/few_shot.py).

Each file is a reward program with three metadata constants read with ``ast`` (never executed): ``FAMILY``,
``TASK`` (the task it was written for) and ``ABOUT`` (one line). The state variables it uses are its
``compute_reward`` arguments. These programs are hand-written by the project, not recorded model answers.
"""
