"""Equivalent-reward pruning: the STARC-style distance on arrays (pure math), and through the sandboxed scorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eureka_kit.feedback.trajectory import collect_trajectory
from eureka_kit.run.records import CandidateRecord
from eureka_kit.schedule.equivalence import Transitions, reward_distance
from eureka_kit.schedule.pruning import EquivalencePruner
from eureka_kit.tasks.registry import get_task

GAMMA = 0.99


def _chain(rng: np.random.Generator, steps: int = 400, dim: int = 3) -> tuple[Transitions, np.ndarray]:
    """A random-walk trajectory's transitions and the action taken at each."""
    states = np.cumsum(rng.normal(size=(steps + 1, dim)) * 0.3, axis=0)
    actions = rng.normal(size=steps)
    done = np.zeros(steps, dtype=bool)
    return Transitions(states[:-1], states[1:], done), actions


def test_scale_shift_and_shaping_are_equivalent_and_a_different_reward_is_not() -> None:
    rng = np.random.default_rng(0)
    tr, a = _chain(rng)
    s, s2 = tr.before, tr.after
    base = np.tanh(s2[:, 0]) - 0.1 * a**2 + np.sin(s2[:, 1])

    def phi(x: np.ndarray) -> np.ndarray:
        return 2.0 * x[:, 0] - 0.5 * x[:, 2] + 0.3 * x[:, 1] ** 2  # in the span of the features and their squares

    shaped = base + GAMMA * phi(s2) - phi(s)
    assert reward_distance(base, 3.0 * base, tr, GAMMA) < 1e-6
    assert reward_distance(base, 0.5 * base + 7.0, tr, GAMMA) < 1e-6
    assert reward_distance(base, shaped, tr, GAMMA) < 1e-6
    assert reward_distance(base, 4.0 * shaped - 1.0, tr, GAMMA) < 1e-6
    assert reward_distance(base, -base, tr, GAMMA) == pytest.approx(1.0)  # a negative scale is the opposite reward
    different = np.cos(3.0 * s2[:, 2]) + a
    assert reward_distance(base, different, tr, GAMMA) > 0.3
    # pure shaping plus a constant is the zero reward: equal to another pure shaping, not to a real reward
    assert reward_distance(GAMMA * phi(s2) - phi(s) + 1.0, 2.0 * (GAMMA * s2[:, 1] - s[:, 1]), tr, GAMMA) == 0.0
    assert reward_distance(GAMMA * phi(s2) - phi(s), base, tr, GAMMA) == 0.5


def test_terminal_transitions_count_their_next_potential_as_zero() -> None:
    rng = np.random.default_rng(1)
    tr, a = _chain(rng)
    done = np.zeros(tr.count, dtype=bool)
    done[99::100] = True
    tr = Transitions(tr.before, tr.after, done)
    base = np.tanh(tr.after[:, 0]) + a
    phi_after = np.where(done, 0.0, tr.after[:, 1])
    assert reward_distance(base, base + GAMMA * phi_after - tr.before[:, 1], tr, GAMMA) < 1e-6


BASE = """import torch


def compute_reward(x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor):
    forward = x_velocity - 0.1 * torch.square(action).sum(dim=-1)
    upright = torch.exp(-torch.square(torso_angle))
    return forward + 0.5 * upright, {"forward": forward, "upright": upright}
"""

# the same reward scaled, shifted and shaped with the potential Phi = 4 * x_position: the position before the step is
# x_position - dt * x_velocity (gymnasium's x_velocity is the position change over dt = 0.05)
SHAPED = """import torch


def compute_reward(
    x_velocity: torch.Tensor, x_position: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor
):
    forward = x_velocity - 0.1 * torch.square(action).sum(dim=-1)
    upright = torch.exp(-torch.square(torso_angle))
    shaping = 0.99 * x_position - (x_position - 0.05 * x_velocity)
    total = 3.0 * (forward + 0.5 * upright + 4.0 * shaping) + 2.0  # scaled, shifted and shaped
    return total, {"forward": forward, "upright": upright, "shaping": shaping}
"""

DIFFERENT = """import torch


def compute_reward(torso_angle: torch.Tensor, joint_vel: torch.Tensor, action: torch.Tensor):
    spin = torch.square(joint_vel).sum(dim=-1) * torch.cos(torso_angle)
    return spin, {"spin": spin}
"""


def test_pruner_detects_variants_through_the_sandboxed_scorer(tmp_path: Path) -> None:
    spec = get_task("HalfCheetah-Run-v1")
    rng = np.random.default_rng(0)
    low, high = spec.make_env().action_space.low, spec.make_env().action_space.high

    def act(_obs: object) -> np.ndarray:
        return rng.uniform(low, high)

    trajectories = [collect_trajectory(spec, act, seed=s, max_steps=150) for s in (0, 1)]
    earlier = CandidateRecord(0, 1, "ok", "", fitness=1.25, fitness_std=0.1)
    pruner = EquivalencePruner(spec, trajectories, [(earlier, BASE)], tmp_path / "earlier", threshold=0.002)
    verdicts = {
        name: pruner.match(source, tmp_path / name) for name, source in (("shaped", SHAPED), ("different", DIFFERENT))
    }
    m = verdicts["shaped"]
    assert m.status == "equivalent", m.message
    assert m.equivalent_to == "gen_000/cand_01" and m.fitness == 1.25
    assert "this reward equals candidate gen_000/cand_01 up to scale/shift/shaping" in m.message
    assert verdicts["different"].status == "different"
    assert verdicts["different"].distance is not None and verdicts["different"].distance > 0.3
