"""Crafter's score: the geometric mean of achievement success rates across episodes, as Crafter's paper defines it.

``score = exp(mean_j log(1 + r_j)) - 1`` where ``r_j`` is the percentage of
episodes in which achievement ``j`` was unlocked (0..100), over all of Crafter's
22 achievements; the score is in percent (0 when nothing is ever unlocked,
100 when every achievement is unlocked in every episode). It rewards unlocking
many different achievements more than repeating easy ones. This is the formula
of Crafter's ``analysis/plot_scores.py`` (``compute_scores``).

The trusted evaluator applies it across its evaluation episodes through
:attr:`~eureka_kit.tasks.spec.Fitness.across` (:func:`score_from_final_states`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def success_rates(unlocked: np.ndarray) -> np.ndarray:
    """Per achievement, the percentage of episodes that unlocked it: ``unlocked`` is (episodes, achievements) 0/1."""
    u = np.asarray(unlocked, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] < 1:
        raise ValueError(f"unlocked must be (episodes >= 1, achievements), got shape {u.shape}")
    return 100.0 * (u > 0).mean(axis=0)


def crafter_score(rates_percent: np.ndarray) -> float:
    """Crafter's score (percent) from success rates in percent: ``exp(mean(log(1 + rates))) - 1``."""
    r = np.asarray(rates_percent, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or not np.all((r >= 0.0) & (r <= 100.0)):
        raise ValueError(f"success rates must be a non-empty vector of percentages in [0, 100], got {r.tolist()}")
    return float(np.exp(np.mean(np.log1p(r))) - 1.0)


def score_from_final_states(final_states: Sequence[Mapping[str, np.ndarray]], key: str = "achievements") -> float:
    """Crafter's score of evaluation episodes from each one's last state (``achievements``: unlocked so far)."""
    if not final_states:
        raise ValueError("the Crafter score needs at least one episode")
    unlocked = np.stack([np.asarray(s[key], dtype=np.float64).reshape(-1) for s in final_states])
    return crafter_score(success_rates(unlocked))
