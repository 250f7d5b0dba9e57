"""Reward sources of a training job: the LLM's program, the env's own reward, the sparse fitness.

Every source is called ONCE per vector step for all N envs on their batched
named state, by every training backend alike:

- :class:`ProgramReward`: the LLM's ``compute_reward``, called under
  ``torch.no_grad()`` and validated at every step (shape ``(N,)``, finite);
  any failure raises :class:`RewardProgramError` whose message names the
  component and the step, fit to send back to the LLM. :meth:`ProgramReward.on_tensors`
  takes torch tensors on any device (the batched engines); ``__call__`` takes
  numpy arrays (the gymnasium path);
- :class:`EnvReward` (``baseline``): the env's own reward, unchanged;
- :class:`SparseReward` (``sparse``): the task's per-step fitness value.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from eureka_kit.reward.program import BoundProgram, ProgramError, load_program
from eureka_kit.tasks.spec import BatchedState, TaskSpec
from eureka_kit.tasks.state_capture import to_torch
from eureka_kit.training.job import MAX_COMPONENTS, RewardKind


class RewardProgramError(RuntimeError):
    """The reward program failed during training; the message is fit to send back to the LLM."""


class RewardSource(Protocol):
    """Computes the training reward of N envs at one step from their batched state."""

    kind: RewardKind

    def __call__(
        self, state: BatchedState, env_reward: np.ndarray, step: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Return (total of shape (N,), components name -> (N,)), as float64 numpy arrays."""
        ...


def _describe_bad(values: np.ndarray) -> str:
    bad = ~np.isfinite(values)
    idx = int(np.flatnonzero(bad)[0])
    v = float(values.reshape(-1)[idx])
    kind = "NaN" if v != v else ("+inf" if v > 0 else "-inf")
    return f"{kind} (first at env {idx}, {int(bad.sum())} of {values.size} values non-finite)"


def _state_hint(state: Mapping[str, np.ndarray | torch.Tensor], env: int, limit: int = 400) -> str:
    parts = []
    for k, v in state.items():
        x = v[env].detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)[env]
        parts.append(f"{k}={np.array2string(x, precision=3, threshold=8)}" if x.ndim else f"{k}={float(x):.4g}")
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


class ProgramReward:
    """An LLM-written reward program, validated at every call."""

    kind: RewardKind = "program"

    def __init__(self, program: BoundProgram, filename: str = "reward.py") -> None:
        self.program = program
        self.filename = filename

    @classmethod
    def from_source(cls, source: str, spec: TaskSpec, filename: str = "reward.py") -> ProgramReward:
        """Compile and bind; any failure (syntax, module-level exception, unknown argument) -> RewardProgramError."""
        try:
            return cls(load_program(source, spec, filename), filename)
        except ProgramError as e:
            raise RewardProgramError(f"the reward program could not be loaded: {e}") from None
        except MemoryError:
            raise
        except Exception as e:
            _raise_if_oom(e, "the reward program, while loading")
            where = _program_frames(e, filename)
            raise RewardProgramError(
                f"the reward program failed while loading: {type(e).__name__}: {e}{where}"
            ) from None

    @property
    def arg_names(self) -> tuple[str, ...]:
        """The state variables the program reads (only these need to be handed over)."""
        return tuple(self.program.arg_names)

    def __call__(
        self, state: BatchedState, env_reward: np.ndarray, step: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        n = len(env_reward)
        tensors = to_torch({k: state[k] for k in self.program.arg_names})  # only what the program reads
        total, comps = self.on_tensors(tensors, n, step, hint_state=state)
        arr = torch.stack([*comps.values(), total]).to("cpu", torch.float64).numpy()
        return arr[-1], {name: arr[i] for i, name in enumerate(comps)}

    def on_tensors(
        self,
        state: Mapping[str, torch.Tensor],
        n: int,
        step: int,
        hint_state: Mapping[str, np.ndarray | torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Call the program on torch state of N envs (any device); returns (total, components), (N,) float32 each.

        ``state`` must hold fresh tensors (the program may not alias the
        engine's buffers); one device sync checks every value for finiteness.
        """
        try:
            with torch.no_grad():
                out = self.program(state)
        except (MemoryError, KeyboardInterrupt):
            raise
        except BaseException as e:  # SystemExit from a program is a bug of the program too
            _raise_if_oom(e, f"compute_reward at training step {step}")
            where = _program_frames(e, self.filename)
            raise RewardProgramError(
                f"compute_reward raised {type(e).__name__}: {str(e)[:300]} at training step {step}{where}"
            ) from None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise RewardProgramError(
                f"compute_reward must return (total, components_dict); got {type(out).__name__} at step {step}"
            )
        total, comps = out
        if not isinstance(comps, Mapping):
            raise RewardProgramError(
                f"the second return value of compute_reward must be a dict of components, got {type(comps).__name__}"
            )
        if len(comps) > MAX_COMPONENTS:
            raise RewardProgramError(f"compute_reward returned {len(comps)} components; at most {MAX_COMPONENTS}")
        # components first: a NaN total is best explained by the component that caused it
        items: list[tuple[str, torch.Tensor]] = []
        for name, value in comps.items():
            if not isinstance(name, str):
                raise RewardProgramError(f"component names must be strings, got {name!r}")
            items.append((f"component {name!r}", self._check_tensor(f"component {name!r}", value, n, step)))
        items.append(("the total reward", self._check_tensor("the total reward", total, n, step)))
        stacked = torch.stack([v for _, v in items])
        if not bool(torch.isfinite(stacked).all()):  # one sync for all of them
            arr = stacked.to("cpu", torch.float64).numpy()
            finite = np.isfinite(arr)
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            env = int(np.flatnonzero(~finite[row])[0])
            raise RewardProgramError(
                f"{items[row][0]} is {_describe_bad(arr[row])} at training step {step}; "
                f"state of that env: {_state_hint(hint_state if hint_state is not None else state, env)}"
            )
        return stacked[-1], {name: stacked[i] for i, name in enumerate(comps)}

    @staticmethod
    def _check_tensor(what: str, value: object, n: int, step: int) -> torch.Tensor:
        if not isinstance(value, torch.Tensor):
            raise RewardProgramError(f"{what} must be a torch.Tensor of shape ({n},), got {type(value).__name__}")
        if tuple(value.shape) != (n,):
            raise RewardProgramError(
                f"{what} has shape {tuple(value.shape)} at training step {step}; expected ({n},) (one value per env)"
            )
        if value.is_complex():
            raise RewardProgramError(f"{what} must be real-valued, got dtype {value.dtype}")
        return value.detach() if value.dtype == torch.float32 else value.detach().to(torch.float32)


_OOM_TEXT = ("can't allocate memory", "not enough memory", "out of memory", "std::bad_alloc")


def _raise_if_oom(e: BaseException, where: str) -> None:
    """torch reports a failed allocation as RuntimeError: turn it into MemoryError (-> out_of_memory)."""
    if isinstance(e, RuntimeError) and any(s in str(e) for s in _OOM_TEXT):
        raise MemoryError(f"{where} could not allocate memory: {str(e)[:300]}") from None


def _program_frames(e: BaseException, filename: str, limit: int = 4) -> str:
    """The traceback frames inside the reward program, e.g. ``reward.py, line 7, in compute_reward: x / y``."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == filename]
    if not frames:
        return ""
    name = Path(filename).name
    lines = [f"  {name}, line {f.lineno}, in {f.name}: {(f.line or '').strip()[:160]}" for f in frames[-limit:]]
    return "\n" + "\n".join(lines)


class EnvReward:
    """``baseline``: the env's own (human-written) reward, unchanged."""

    kind: RewardKind = "baseline"

    def __call__(
        self, state: BatchedState, env_reward: np.ndarray, step: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        r = np.asarray(env_reward, dtype=np.float64)
        return r, {"env_reward": r}


class SparseReward:
    """``sparse``: the task's per-step fitness value as the reward."""

    kind: RewardKind = "sparse"

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    def __call__(
        self, state: BatchedState, env_reward: np.ndarray, step: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        r = np.asarray(self.spec.fitness.step(state), dtype=np.float64).reshape(len(env_reward))
        return r, {"fitness_step": r}


def make_reward(
    kind: RewardKind, spec: TaskSpec, source: str | None = None, filename: str = "reward.py"
) -> RewardSource:
    """The reward source of a job's ``reward_kind``; ``program`` needs the program's ``source``."""
    if kind == "program":
        if source is None:
            raise ValueError("reward kind 'program' needs the program's source")
        return ProgramReward.from_source(source, spec, filename)
    if kind == "baseline":
        return EnvReward()
    if kind == "sparse":
        return SparseReward(spec)
    raise ValueError(f"unknown reward kind {kind!r}; valid: program, baseline, sparse")
