"""The names in a run folder, in one place: generation and candidate folders, and the files every stage reads.

::

    runs/<run-id>/gen_000/cand_03/reward.py     candidate_dir(root, 0, 3) / REWARD_FILE

Other files keep their names beside the module that writes them (``prepared.json`` in the schedule, the policy
files in ``training/job.py``); the names here are those read across stages.
"""

from __future__ import annotations

from pathlib import Path

REWARD_FILE = "reward.py"
"""The extracted (and, where the critic normalized it, edited) reward program a candidate trains with."""
CANDIDATE_FILE = "candidate.json"
"""A candidate's final record, written last: its presence marks a finished candidate."""
FEEDBACK_FILE = "feedback.md"
"""Reward reflection and the analyzer's critique of a trained candidate (the next prompt carries it)."""
CHECK_FILE = "check.json"
"""The critic's report."""
EVAL_FILE = "eval.json"
"""The trusted evaluator's result."""
RESPONSE_FILE = "response.md"
"""The LLM's answer the candidate came from."""


def gen_name(generation: int) -> str:
    """``gen_007``: a generation's folder name (and the prefix of its LLM request ids)."""
    return f"gen_{generation:03d}"


def cand_name(index: int) -> str:
    """``cand_03``: a candidate's folder name inside its generation."""
    return f"cand_{index:02d}"


def candidate_name(generation: int, index: int) -> str:
    """``gen_007/cand_03``: a candidate's name in records, messages and request ids (its path in the run)."""
    return f"{gen_name(generation)}/{cand_name(index)}"


def candidate_dir(run_root: Path, generation: int, index: int) -> Path:
    """The folder of candidate ``index`` of ``generation`` in the run ``run_root``."""
    return Path(run_root) / gen_name(generation) / cand_name(index)
