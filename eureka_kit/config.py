"""Run configuration: one frozen dataclass, written to ``config.json``.

Field docs double as the CLI's ``--help`` text (CleanRL style).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from eureka_kit.choices import RankerKind
from eureka_kit.errors import UsageError
from eureka_kit.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from eureka_kit.executors.ray import RayOptions

LLMKind = Literal["openai", "replay"]
SandboxKind = Literal["strict", "basic"]
ScheduleKind = Literal["full", "halving"]
SCHEDULES: tuple[str, ...] = get_args(ScheduleKind)
JUDGES = ("none", "llm")
WATCHERS = ("human", "vlm")
"""Rankers that watch the policies (they need videos; they steer a free-form goal without a fitness)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. ``None`` means "the task's default"."""

    task: str = field(metadata={"help": "task id (see `eureka-kit tasks`)"})
    goal: str | None = field(
        default=None,
        metadata={
            "help": "a free-form goal in plain language; without --fitness the run is steered by --human rankings"
        },
    )
    fitness: str | None = field(
        default=None,
        metadata={
            "help": "fitness expression over the task's state, aggregated per episode, computed by the trusted "
            "evaluator: e.g. 'mean(x_velocity)', 'fraction(torso_height > 0.8)' (docs/fitness.md)"
        },
    )
    samples: int = field(default=4, metadata={"help": "reward programs the LLM writes per generation (K)"})
    min_valid: int | None = field(
        default=None,
        metadata={
            "help": "programs per generation that must pass the critic (after repair) and train (M, <= K; default "
            "K): while fewer pass, fresh samples are drawn, up to --max-samples (docs/compute.md)"
        },
    )
    max_samples: int | None = field(
        default=None,
        metadata={
            "help": "samples per generation in all, the first K included, that --min-valid may draw (default 2 K "
            "under --schedule full, K under halving: no fresh samples)"
        },
    )
    generations: int = field(default=3, metadata={"help": "number of generations (G)"})
    steps: int | None = field(default=None, metadata={"help": "training env-steps per candidate (default: task's)"})
    n_envs: int | None = field(default=None, metadata={"help": "parallel envs per candidate (default: task's)"})
    workers: int = field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        metadata={"help": "candidates trained at once (default: number of cores)"},
    )
    seed: int = field(default=0, metadata={"help": "training seed of every candidate"})
    backend: str = field(
        default="auto",
        metadata={
            "help": "training backend: sb3 (stable-baselines3, every task), cpu (batched MuJoCo on CPU threads, the "
            "grid engine for grid tasks, the Crafter engine for Crafter tasks), gpu (MuJoCo Warp), auto (gpu if "
            "usable, else cpu for MuJoCo, grid and Crafter tasks, else sb3)"
        },
    )
    device: str = field(
        default="auto",
        metadata={
            "help": "torch device of training: auto (cuda where the backend can use it, else cpu), cpu, cuda, cuda:1"
        },
    )
    executor: str = field(
        default="local", metadata={"help": "where candidate jobs run: local, ray (pip install 'eureka-kit[ray]')"}
    )
    ray_address: str | None = field(
        default=None,
        metadata={"help": "executor ray: auto or ray://host:10001 joins a cluster (default: a local Ray instance)"},
    )
    cpus_per_candidate: float = field(
        default=1.0, metadata={"help": "executor ray: CPUs reserved per candidate (the batched engine's threads)"}
    )
    gpus_per_candidate: float = field(
        default=0.0, metadata={"help": "executor ray: GPUs reserved per candidate (> 0 for a CUDA device)"}
    )
    ray_retries: int = field(
        default=1, metadata={"help": "executor ray: reruns of a candidate's task after its worker or node is lost"}
    )
    max_transfer_mb: int = field(
        default=512, metadata={"help": "executor ray: bound of a candidate's files shipped each way, MiB"}
    )
    schedule: ScheduleKind = field(
        default="full",
        metadata={
            "help": "full: every candidate trains the whole budget; halving: successive halving (docs/compute.md)"
        },
    )
    rungs: int = field(default=3, metadata={"help": "halving: number of rungs (the last one trains the full budget)"})
    reduction_factor: int = field(
        default=3, metadata={"help": "halving: eta, keep the best ceil(n / eta) candidates at each rung"}
    )
    grace_steps: int | None = field(
        default=None, metadata={"help": "halving: env-steps of the first rung (default: steps / eta^(rungs - 1))"}
    )
    prune_equivalent: bool = field(
        default=True,
        metadata={
            "help": "do not train a program equal to an earlier one up to scale, shift or potential shaping (STARC "
            "distance on stored trajectories; needs the analyzer or the trajectory check to store them)"
        },
    )
    equivalence_threshold: float = field(
        default=0.002,
        metadata={
            "help": "STARC distance (0..1) at or under which two rewards count as equal (exact equivalents measure "
            "~0; 0.02 already separates a doubled speed weight)"
        },
    )
    repair_rounds: int = field(
        default=2, metadata={"help": "critic repair rounds per candidate (R); stops early on the same program again"}
    )
    eval_episodes: int = field(default=5, metadata={"help": "episodes of trusted evaluation per candidate (E)"})
    llm: LLMKind = field(default="openai", metadata={"help": "LLM backend: openai (or compatible) or replay"})
    model: str = field(default="gpt-4o-mini", metadata={"help": "model name"})
    base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible server URL (vLLM, Ollama...)"})
    replay_path: str | None = field(
        default=None, metadata={"help": "JSONL of LLM answers to replay (llm=replay): recorded or hand-written"}
    )
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})
    budget_usd: float | None = field(
        default=None,
        metadata={"help": "stop the run cleanly when the run's LLM cost (resumes and --judge included) reaches it"},
    )
    candidate_timeout_s: float | None = field(
        default=None, metadata={"help": "wall-clock limit of one candidate's training (default: from steps)"}
    )
    sandbox: SandboxKind | None = field(
        default=None,
        metadata={"help": "strict: Linux namespaces (default on Linux); basic: process limits only, with a warning"},
    )
    memory_mb: int | None = field(default=4096, metadata={"help": "address-space limit of a training child, MiB"})
    analyzer: bool = field(default=True, metadata={"help": "trajectory analyzer critique in the feedback"})
    llm_analyzer: bool = field(default=False, metadata={"help": "the LLM also summarizes the analyzer's findings"})
    trajectory_check: bool = field(
        default=True, metadata={"help": "score stored good/bad trajectories with each new program before training"}
    )
    skip_on_trajectory_check: bool = field(
        default=False, metadata={"help": "do not train a program that fails the trajectory check"}
    )
    videos: bool = field(default=True, metadata={"help": "record an mp4 of every successful candidate's policy"})
    ranker: RankerKind = field(
        default="none",
        metadata={
            "help": "who ranks each generation: none (fitness), human (web page), synthetic, vlm (a vision-language "
            "model shown frames of each policy's video; docs/vlm.md)"
        },
    )
    rank_timeout_s: float | None = field(
        default=None, metadata={"help": "seconds to wait for a human ranking before falling back to fitness"}
    )
    ranker_beta: float | None = field(default=None, metadata={"help": "synthetic ranker: Boltzmann rationality"})
    ranker_mistake_rate: float = field(default=0.0, metadata={"help": "synthetic ranker: adjacent-swap rate"})
    vlm_model: str | None = field(
        default=None, metadata={"help": "ranker vlm: the vision model's name (default: the run's --model)"}
    )
    vlm_base_url: str | None = field(
        default=None,
        metadata={"help": "ranker vlm: its OpenAI-compatible server (default: the run's LLM and --base-url)"},
    )
    vlm_max_images: int = field(
        default=8,
        metadata={"help": "ranker vlm: images per generation, one frame grid per candidate (the rest rank by fitness)"},
    )
    vlm_frames: int = field(default=6, metadata={"help": "ranker vlm: frames of each video in its grid image"})
    examples: str | None = field(
        default=None,
        metadata={
            "help": "a folder of your own example reward programs (*.py), added to the example library the first "
            "prompt draws its few-shot examples from (docs/open_tasks.md)"
        },
    )
    use_examples: bool = field(
        default=True,
        metadata={"help": "few-shot examples from the example library in the first prompt (off: --no-examples)"},
    )
    judge: str = field(
        default="none",
        metadata={
            "help": "llm: the LLM proposes the fitness expression from --goal; shown, stored in judge.json, used "
            "only once you accept it (y on a terminal, or --yes); none: no judge"
        },
    )
    yes: bool = field(default=False, metadata={"help": "accept the LLM judge's fitness expression without asking"})
    init_reward: str | None = field(
        default=None,
        metadata={"help": "start from your own reward program (FILE): generation 0 is asked to improve it"},
    )

    def __post_init__(self) -> None:
        for name in ("samples", "generations", "workers", "eval_episodes"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_valid is not None and not 1 <= self.min_valid <= self.samples:
            raise UsageError(f"min_valid must be in [1, samples ({self.samples})], got {self.min_valid}")
        if self.max_samples is not None and self.max_samples < self.samples:
            raise UsageError(f"max_samples must be >= samples ({self.samples}), got {self.max_samples}")
        if self.schedule == "halving" and self.sample_bound() > self.samples:
            raise UsageError(
                "--schedule halving trains exactly --samples candidates per generation: fresh samples (--max-samples "
                f"{self.max_samples} > --samples {self.samples}) are not supported with it"
            )
        if self.repair_rounds < 0:
            raise UsageError("repair_rounds must be >= 0")
        if self.steps is not None and self.steps < 1:
            raise UsageError("steps must be >= 1")
        if self.judge not in JUDGES:
            raise UsageError(f"judge must be one of {', '.join(JUDGES)}, got {self.judge!r}")
        if self.judge == "llm" and not self.goal:
            raise UsageError("--judge llm writes the fitness expression for a goal: give --goal")
        if self.goal is not None and self.fitness is None and self.ranker not in WATCHERS and self.judge != "llm":
            raise UsageError(
                "a free-form goal has no fitness: give one with --fitness EXPR, rank the policies yourself with "
                "--human, or have a vision model rank them with --ranker vlm"
            )
        if self.ranker in WATCHERS and not self.videos:
            raise UsageError(f"ranker={self.ranker!r} needs videos: the policies are ranked by watching them")
        if not 2 <= self.vlm_max_images <= 64:
            raise UsageError(f"vlm_max_images must be in [2, 64], got {self.vlm_max_images}")
        if not 1 <= self.vlm_frames <= 16:
            raise UsageError(f"vlm_frames must be in [1, 16], got {self.vlm_frames}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        if self.rungs < 1 or self.reduction_factor < 2:
            raise UsageError(
                f"rungs must be >= 1 and reduction_factor >= 2, got {self.rungs} and {self.reduction_factor}"
            )
        if self.grace_steps is not None and not 1 <= self.grace_steps <= (self.steps or self.grace_steps):
            raise UsageError(f"grace_steps must be in [1, steps ({self.steps})], got {self.grace_steps}")
        if not 0.0 <= self.equivalence_threshold <= 1.0:
            raise UsageError(f"equivalence_threshold must be in [0, 1], got {self.equivalence_threshold}")
        if (
            self.executor == "ray"
            and self.gpus_per_candidate <= 0
            and (self.device.startswith("cuda") or self.backend == "gpu")
        ):
            raise UsageError(
                "executor ray with a CUDA device needs --gpus-per-candidate > 0 (Ray hides GPUs from tasks without)"
            )
        if self.examples is not None and not self.use_examples:
            raise UsageError("--examples DIR adds examples and --no-examples turns them off: give one of them")
        if self.llm == "replay" and not self.replay_path:
            raise UsageError("llm='replay' needs replay_path (a JSONL file of answers to replay)")

    def valid_target(self) -> int:
        """M: programs per generation that should pass the critic and train (``min_valid``, default ``samples``)."""
        return self.samples if self.min_valid is None else self.min_valid

    def sample_bound(self) -> int:
        """Samples a generation may draw in all (``max_samples``; default 2 K, or K under ``--schedule halving``)."""
        if self.max_samples is not None:
            return self.max_samples
        return self.samples if self.schedule == "halving" else 2 * self.samples

    def task_spec(self) -> TaskSpec:
        """The run's task: the registered one, with the free-form goal and the fitness expression when given.

        Raises :class:`~eureka_kit.tasks.registry.UnknownTaskError` (listing the valid ids) or
        :class:`~eureka_kit.tasks.fitness_expr.FitnessExprError` (saying what is outside the grammar).
        """
        from eureka_kit.tasks.fitness_expr import with_fitness
        from eureka_kit.tasks.registry import get_task
        from eureka_kit.tasks.spec import with_goal

        spec = get_task(self.task)
        if self.goal:
            spec = with_goal(spec, self.goal)
        if self.fitness:
            return with_fitness(spec, self.fitness)
        if spec.free_form and self.ranker not in WATCHERS and self.judge != "llm":  # the judge's, once accepted
            raise UsageError(
                f"task {spec.id} has no fitness: give one with --fitness EXPR (e.g. 'mean(root_lin_vel_x)'), or "
                "rank the policies yourself with --human"
            )
        return spec

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def ray_options(self) -> RayOptions:
        """The Ray executor's options (read only with ``executor="ray"``; Ray itself is not imported here)."""
        from eureka_kit.executors.ray import RayOptions

        return RayOptions(
            address=self.ray_address,
            cpus_per_candidate=self.cpus_per_candidate,
            gpus_per_candidate=self.gpus_per_candidate,
            max_retries=self.ray_retries,
            max_transfer_mb=self.max_transfer_mb,
        )

    def resolved_replay_path(self) -> Path | None:
        return Path(self.replay_path) if self.replay_path else None
