"""The training-backend seam: what trains a candidate inside the sandboxed child, and how trusted code reads it back.

A backend is one object with two sides:

- **child side** (untrusted process, inside the sandbox): :meth:`TrainingBackend.train`
  builds the envs, calls ``secure_reward()`` once they exist (this installs
  the seccomp filter and loads the reward program: nothing untrusted runs
  before), trains for the job's budget, writes
  :data:`~eureka_kit.training.job.POLICY_FILE` (plain tensors) and, when it
  normalizes observations, :data:`~eureka_kit.training.job.OBS_NORM_FILE`
  into its working folder, and returns the reflection statistics;
- **trusted side** (the parent): :meth:`TrainingBackend.load_actor` rebuilds the
  policy network from the task and the job alone (never from anything the
  child wrote but plain tensors) and returns a deterministic batched
  :data:`Actor` for the trusted evaluator, videos and trajectories.

Backends register by name in :mod:`eureka_kit.training.backends`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from eureka_kit.tasks.spec import TaskSpec
from eureka_kit.training.episode_stats import StatsRecorder
from eureka_kit.training.job import TrainJob, TrainStats
from eureka_kit.training.reward_sources import RewardSource

Actor = Callable[[np.ndarray], np.ndarray]
"""``act(observations (N, *obs_shape)) -> actions (N, *action_shape)``: deterministic, trusted."""

SecureReward = Callable[[], RewardSource]
"""Installs the sandbox's last lock (seccomp) and loads the job's reward source; call once, after the envs exist."""


@dataclass(frozen=True)
class TrainBudget:
    """A candidate's default training budget on a backend: env-steps in all and envs stepped together."""

    total_steps: int
    n_envs: int


class TrainingBackend(Protocol):
    """Trains one candidate (child side) and loads its policy back (trusted side). See the module docstring."""

    name: str
    description: str
    resumable: bool
    """Saves a resumable checkpoint and continues from one (``TrainJob.checkpoint_to`` / ``resume_from``)."""

    def unavailable(self, spec: TaskSpec, device: str) -> str | None:
        """Why this backend cannot train ``spec`` on ``device`` here (a missing package, no batched definition, no
        CUDA), or ``None`` when it can. Called in the parent before a run starts and by ``auto``."""
        ...

    def budget(self, spec: TaskSpec) -> TrainBudget:
        """The default budget of one candidate on this backend (a job's ``None`` steps / envs mean these)."""
        ...

    def train(
        self, job: TrainJob, spec: TaskSpec, out_dir: Path, secure_reward: SecureReward, recorder: StatsRecorder
    ) -> TrainStats:
        """Train ``job`` in ``out_dir`` (the child's folder); write the weights; return the statistics."""
        ...

    def load_actor(self, spec: TaskSpec, job: TrainJob, weights_dir: Path) -> Actor:
        """The trained policy from ``weights_dir`` as a deterministic batched actor; raises ``WeightsError``."""
        ...
