"""Score stored trajectories with an (untrusted) reward program, inside the sandbox.

Child entry point::

    python -P -m eureka_kit.feedback.score_child TASK reward.py trajectories.npz scores.npz

It loads the trajectories (:func:`eureka_kit.feedback.trajectory.load_trajectories`),
calls ``compute_reward`` once per trajectory with all its steps as one batch
(``N = T``) and writes every step's total and components to ``scores.npz``
(plain arrays, no pickle). It follows the child protocol of
:mod:`eureka_kit.sandbox.protocol`: when the program fails it writes
``error.json`` (kind ``reward_error``, a message fit for the LLM) and exits
with :data:`~eureka_kit.sandbox.protocol.EXIT_REPORTED_ERROR`.

The parent side, :func:`score_trajectories`, runs that child through
:func:`eureka_kit.sandbox.runner.run_child` and validates what it wrote (types,
shapes, finite values, bounded size). The numbers are the untrusted program's
opinion of the trajectories: feedback and the trajectory check use them;
fitness never does.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from eureka_kit.feedback.trajectory import (
    MAX_STEPS_PER_TRAJECTORY,
    Trajectory,
    load_trajectories,
    save_trajectories,
)
from eureka_kit.files import atomic_path, atomic_write_text
from eureka_kit.run.layout import REWARD_FILE
from eureka_kit.sandbox.protocol import (
    ERROR_FILE,
    EXIT_OUT_OF_MEMORY,
    EXIT_REPORTED_ERROR,
    EXIT_USAGE,
    bounded,
    child_argv,
    read_error,
    write_error,
)
from eureka_kit.sandbox.runner import Limits, run_child
from eureka_kit.tasks.spec import TaskSpec

ScoreStatus = Literal["ok", "error", "timeout", "out_of_memory", "killed"]

SCORE_LIMITS = Limits(wall_s=120.0, address_space_mb=4096, heartbeat_s=None, max_output_bytes=200_000)
"""Default limits of one scoring child (it imports torch and the task, then makes one call per trajectory)."""

MAX_COMPONENTS = 32
MAX_NAME_CHARS = 64
MAX_SCORES_BYTES = 64 * 1024 * 1024

TRAJECTORIES_FILE = "trajectories.npz"
SCORES_FILE = "scores.npz"
LOG_FILE = "score.log"
TAG = "score_child"


class ScoringError(RuntimeError):
    """The reward program cannot score the trajectories; the message is fit to send back to the LLM."""


class ScoresFormatError(ValueError):
    """The child's ``scores.npz`` is malformed (wrong types, shapes, non-finite values, too large)."""


def _frozen(x: Any) -> np.ndarray:
    a = np.array(x, dtype=np.float64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class TrajectoryScores:
    """A reward program's per-step total and components on one trajectory, each of shape ``(T,)``."""

    total: np.ndarray
    components: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        total = _frozen(self.total)
        if total.ndim != 1:
            raise ValueError(f"total must be 1-D, got shape {total.shape}")
        comps = {str(k): _frozen(v) for k, v in self.components.items()}
        for k, v in comps.items():
            if v.shape != total.shape:
                raise ValueError(f"component {k!r} has shape {v.shape}; the total has {total.shape}")
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "components", MappingProxyType(comps))

    @property
    def length(self) -> int:
        return int(self.total.shape[0])

    @property
    def mean(self) -> float:
        """Mean per-step reward."""
        return float(self.total.mean()) if self.length else 0.0

    @property
    def episode_return(self) -> float:
        """Sum of the per-step rewards (undiscounted return)."""
        return float(self.total.sum())


@dataclass(frozen=True, eq=False)
class ProgramScores:
    """Outcome of :func:`score_trajectories`: one :class:`TrajectoryScores` per trajectory when ``status == "ok"``."""

    status: ScoreStatus
    message: str
    trajectories: tuple[TrajectoryScores, ...] = ()
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(self.trajectories[0].components) if self.trajectories else ()


# ----- the untrusted side (child) ---------------------------------------------------------------------


def _program_frames(e: BaseException, filename: str, limit: int = 4) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == filename]
    lines = [f"  {Path(filename).name}, line {f.lineno}, in {f.name}: {(f.line or '').strip()[:160]}" for f in frames]
    return ("\n" + "\n".join(lines[-limit:])) if lines else ""


def _as_array(what: str, value: object, n: int, index: int) -> np.ndarray:
    import torch

    if not isinstance(value, torch.Tensor):
        raise ScoringError(f"{what} must be a torch.Tensor of shape ({n},), got {type(value).__name__}")
    if tuple(value.shape) != (n,):
        raise ScoringError(
            f"{what} has shape {tuple(value.shape)} on stored trajectory {index} of {n} steps; expected ({n},)"
        )
    out = value.detach().to("cpu", torch.float64).numpy()
    if not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ScoringError(f"{what} is not finite ({out[bad]}) at step {bad} of stored trajectory {index}")
    return out


def compute_scores(
    spec: TaskSpec, source: str, trajectories: Sequence[Trajectory], filename: str = REWARD_FILE
) -> tuple[TrajectoryScores, ...]:
    """Run the program on each trajectory (``N = T``) in THIS process; raises :class:`ScoringError`.

    Executes untrusted code: call it only inside a sandboxed child (or in
    tests, on programs you wrote).
    """
    import torch

    from eureka_kit.reward.program import ProgramError, load_program
    from eureka_kit.tasks.state_capture import to_torch

    try:
        program = load_program(source, spec, filename)
    except ProgramError as e:
        raise ScoringError(f"the reward program could not be loaded: {e}") from None
    except (MemoryError, KeyboardInterrupt):
        raise
    except BaseException as e:
        raise ScoringError(
            f"the reward program failed while loading: {type(e).__name__}: {str(e)[:300]}{_program_frames(e, filename)}"
        ) from None
    out: list[TrajectoryScores] = []
    names: tuple[str, ...] | None = None
    for i, tr in enumerate(trajectories):
        n = tr.length
        try:
            with torch.no_grad():
                result = program(to_torch(tr.batch()))
        except (MemoryError, KeyboardInterrupt):
            raise
        except BaseException as e:
            raise ScoringError(
                f"compute_reward raised {type(e).__name__}: {str(e)[:300]} on stored trajectory {i} ({n} steps)"
                f"{_program_frames(e, filename)}"
            ) from None
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise ScoringError(f"compute_reward must return (total, components_dict); got {type(result).__name__}")
        total, comps = result
        if not isinstance(comps, Mapping):
            raise ScoringError(f"the second return value must be a dict of components, got {type(comps).__name__}")
        if len(comps) > MAX_COMPONENTS:
            raise ScoringError(f"compute_reward returned {len(comps)} components; at most {MAX_COMPONENTS}")
        for k in comps:
            if not isinstance(k, str) or not 1 <= len(k) <= MAX_NAME_CHARS:
                raise ScoringError(f"component names must be strings of 1 to {MAX_NAME_CHARS} characters, got {k!r}")
        if names is None:
            names = tuple(comps)
        elif set(comps) != set(names):
            raise ScoringError(
                f"compute_reward returned components {sorted(comps)} on trajectory {i} but {sorted(names)} before; "
                "return the same components on every call"
            )
        out.append(
            TrajectoryScores(
                total=_as_array("the total reward", total, n, i),
                components={k: _as_array(f"component {k!r}", comps[k], n, i) for k in names},
            )
        )
    return tuple(out)


def write_scores(path: Path, scores: Sequence[TrajectoryScores]) -> None:
    """``scores.npz``: ``component_names`` (C,), and per trajectory ``total_iii`` (T,), ``components_iii`` (C, T)."""
    names = list(scores[0].components) if scores else []
    arrays: dict[str, np.ndarray] = {"component_names": np.array(names, dtype=np.str_)}
    for i, s in enumerate(scores):
        arrays[f"total_{i:03d}"] = s.total
        arrays[f"components_{i:03d}"] = (
            np.stack([s.components[k] for k in names]) if names else np.zeros((0, s.length), dtype=np.float64)
        )
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a name
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    """The child: exit 0 with ``scores.npz``, or an error file and an ``EXIT_*`` code of the child protocol."""
    if len(argv) != 4:
        usage = "python -m eureka_kit.feedback.score_child TASK reward.py trajectories.npz scores.npz"
        print(f"usage: {usage} (got {argv!r})", file=sys.stderr)
        return EXIT_USAGE
    folder = Path(argv[3]).parent
    try:
        return _score(*argv)
    except ScoringError as e:
        write_error("reward_error", str(e), folder, tag=TAG)
        return EXIT_REPORTED_ERROR
    except MemoryError:
        write_error("memory_error", "scoring the stored trajectories ran out of memory", folder, tag=TAG)
        return EXIT_OUT_OF_MEMORY
    except Exception:
        write_error("internal_error", traceback.format_exc(), folder, tag=TAG)
        return EXIT_REPORTED_ERROR


def _score(task_id: str, reward_path: str, trajectories_path: str, out_path: str) -> int:
    import torch

    torch.set_num_threads(1)
    from eureka_kit.sandbox.seccomp import lock_down
    from eureka_kit.tasks.registry import get_task

    spec = get_task(task_id)
    trajectories = load_trajectories(trajectories_path)
    lock_down()  # the seccomp filter, before the untrusted program is loaded
    scores = compute_scores(spec, Path(reward_path).read_text(), trajectories, filename=reward_path)
    write_scores(Path(out_path), scores)
    return 0


# ----- the trusted side (parent) ----------------------------------------------------------------------


def read_scores(path: Path, lengths: Sequence[int]) -> tuple[TrajectoryScores, ...]:
    """Read and validate a child's ``scores.npz`` for trajectories of the given lengths."""
    size = path.stat().st_size
    if size > MAX_SCORES_BYTES:
        raise ScoresFormatError(f"{path.name} is {size} bytes; at most {MAX_SCORES_BYTES}")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            if len(files) != 1 + 2 * len(lengths):
                raise ScoresFormatError(f"{path.name} has {len(files)} arrays; expected {1 + 2 * len(lengths)}")
            names_arr = np.asarray(z["component_names"])
            if names_arr.ndim != 1 or (names_arr.size and names_arr.dtype.kind != "U"):
                raise ScoresFormatError("component_names must be a 1-D array of strings")
            names = [str(n) for n in names_arr]
            if len(names) > MAX_COMPONENTS or len(set(names)) != len(names):
                raise ScoresFormatError(f"component names must be unique and at most {MAX_COMPONENTS}: {names[:40]}")
            if any(not 1 <= len(n) <= MAX_NAME_CHARS for n in names):
                raise ScoresFormatError(f"component names must have 1 to {MAX_NAME_CHARS} characters")
            out: list[TrajectoryScores] = []
            for i, t in enumerate(lengths):
                total = _checked(z, f"total_{i:03d}", (t,))
                comps = _checked(z, f"components_{i:03d}", (len(names), t))
                out.append(TrajectoryScores(total=total, components={n: comps[j] for j, n in enumerate(names)}))
            return tuple(out)
    except (OSError, ValueError, KeyError) as e:
        if isinstance(e, ScoresFormatError):
            raise
        raise ScoresFormatError(f"{path.name} is unreadable: {e}") from None


def _checked(z: Any, key: str, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(z[key])
    if a.dtype.kind != "f" or a.shape != shape:
        raise ScoresFormatError(f"{key} must be a float array of shape {shape}; got {a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise ScoresFormatError(f"{key} contains non-finite values")
    return a.astype(np.float64)


def score_trajectories(
    spec: TaskSpec,
    source: str,
    trajectories: Sequence[Trajectory],
    workdir: Path,
    limits: Limits = SCORE_LIMITS,
) -> ProgramScores:
    """Score ``trajectories`` with the program ``source`` in a sandboxed child working in ``workdir``.

    Never raises for a bad program: a crash, a time-out, exhausted memory or a
    malformed output becomes a non-``ok`` status with a message fit for the
    LLM. Trajectories longer than
    :data:`~eureka_kit.feedback.trajectory.MAX_STEPS_PER_TRAJECTORY` are scored on
    their first steps only. ``workdir`` keeps ``reward.py``,
    ``trajectories.npz``, ``scores.npz`` and ``score.log``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not trajectories:
        return ProgramScores("ok", "no trajectories to score")
    lengths = [min(t.length, MAX_STEPS_PER_TRAJECTORY) for t in trajectories]
    atomic_write_text(workdir / REWARD_FILE, source)
    save_trajectories(workdir / TRAJECTORIES_FILE, trajectories)
    for stale in (SCORES_FILE, ERROR_FILE):
        (workdir / stale).unlink(missing_ok=True)
    argv = child_argv("eureka_kit.feedback.score_child", spec.id, REWARD_FILE, TRAJECTORIES_FILE, SCORES_FILE)
    outcome = run_child(argv, cwd=workdir, limits=limits, log_path=workdir / LOG_FILE)
    if outcome.status == "ok":
        try:
            scores = read_scores(workdir / SCORES_FILE, lengths)
        except (ScoresFormatError, OSError) as e:
            return ProgramScores("error", f"the scores of the reward program are unusable: {e}", wall_s=outcome.wall_s)
        return ProgramScores("ok", "", scores, wall_s=outcome.wall_s)
    if outcome.status == "timeout":
        message = (
            f"scoring {len(trajectories)} stored trajectories with the reward function took longer than "
            f"{limits.wall_s:.0f} s; compute_reward must be fast (vectorized torch, no Python loops over steps)"
        )
    elif outcome.status == "out_of_memory":
        message = "scoring stored trajectories with the reward function exhausted memory; avoid huge tensors"
    else:
        reported = read_error(workdir / ERROR_FILE)
        if reported is not None and reported.kind == "reward_error":
            message = reported.message
        elif reported is not None:
            message = f"scoring stored trajectories failed ({reported.kind}): {reported.message}"
        else:
            message = f"the reward function crashed while scoring stored trajectories: {outcome.message}"
    return ProgramScores(outcome.status, bounded(message), wall_s=outcome.wall_s)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
