"""The CPU engine: N envs of a MuJoCo task on ``mujoco.batch.Batch``, a :class:`~eureka_kit.sim.base.BatchedEnv`.

``mujoco.batch.Batch`` steps N simulations of one model on a thread pool,
bit-identical to a loop over ``MjData``; its bound fields are live (N, ...)
numpy views. The task's physics functions (:mod:`eureka_kit.sim.physics`)
read those views directly, so observations, state variables and the env
reward are computed once per batch step for all N envs, in float64, and
handed over as torch tensors (one cast/copy each: the views are overwritten
by the next step and by auto-resets).

Tasks whose functions read ``cfrc_ext`` run a persistent batch (one MjData per
simulation) and, after each step, ``mj_rnePostConstraint`` on each
simulation's data, as gymnasium does after ``mj_step``: ``Batch`` only fills
``cfrc_ext`` for models whose sensors need it, and then at the start of the
last substep rather than after it.

Domain randomization: with a ``randomization`` config (:mod:`eureka_kit.sim.randomization`) each env draws its
physics parameters at every reset, from its own generator (:func:`~eureka_kit.sim.randomization.physics_generator`,
apart from the reset-noise stream, so reset states do not change with the config), into ``mujoco.batch``'s
per-simulation model fields (:mod:`eureka_kit.sim.batch_params`). ``physics`` pins per-env values instead (one
env per value: the robustness sweep). :attr:`CpuBatchedEnv.physics_values` reports what each env runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import mujoco
import numpy as np
import torch
from mujoco import batch as mjbatch

from eureka_kit.sim.base import BatchStep
from eureka_kit.sim.batch_params import BatchParams, check_fixed
from eureka_kit.sim.physics import Fields, TaskPhysics, env_generator, get_physics, gym_generator
from eureka_kit.sim.randomization import RandomizationConfig, RandomizationConfigError, physics_generator

_NP_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


class CpuBatchedEnv:
    """N envs of one MuJoCo task on ``mujoco.batch`` (see the module docstring).

    ``dtype`` is the dtype of the float tensors handed out: float32 (the
    contract of :class:`~eureka_kit.sim.base.BatchStep`) or float64 (exact
    comparisons with the gymnasium env, as the parity tests do).
    ``max_episode_steps`` overrides the task's time limit. ``randomization``: the physics each env draws at
    every reset; ``physics``: fixed per-env values (parameter name -> one value per env); see the module
    docstring. The two may not name the same parameter.
    """

    n_actions: int | None = None
    """Continuous actions (see :class:`~eureka_kit.sim.base.BatchedEnv`)."""

    def __init__(
        self,
        task_id: str,
        num_envs: int,
        threads: int = 1,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        max_episode_steps: int | None = None,
        randomization: RandomizationConfig | None = None,
        physics: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        from eureka_kit.tasks.registry import get_task

        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if dtype not in _NP_DTYPES:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        spec = get_task(task_id)
        self.physics: TaskPhysics = get_physics(task_id)
        if spec.env_kwargs:
            raise ValueError(
                f"task {task_id!r} sets env_kwargs {dict(spec.env_kwargs)}; its batched physics follows the "
                "gymnasium env's defaults only"
            )
        self.task_id = task_id
        self.num_envs = num_envs
        self.device = torch.device("cpu")
        self.dtype = dtype
        self._np_dtype = _NP_DTYPES[dtype]
        self.max_episode_steps = spec.max_episode_steps if max_episode_steps is None else max_episode_steps
        self._consts = self.physics.consts()
        self._model = self.physics.model()
        self._rne = self.physics.needs_cfrc_ext
        self._batch = mjbatch.Batch(self._model, num_envs, threads, persistent=self._rne)
        self._qpos = self._batch.bind("qpos")
        self._qvel = self._batch.bind("qvel")
        self._ctrl = self._batch.bind("ctrl")
        fields = {name: self._batch.bind(name) for name in self.physics.fields if name != "cfrc_ext"}
        if self._rne:
            self._cfrc_ext = np.zeros((num_envs, self._model.nbody, 6))
            fields["cfrc_ext"] = self._cfrc_ext
            self._scratch = mujoco.MjData(self._model)
        self._fields: Fields = fields
        bounds = np.array(self._model.actuator_ctrlrange, dtype=np.float32)  # gymnasium's float32 action space
        self._low = bounds[:, 0].astype(np.float64)
        self._high = bounds[:, 1].astype(np.float64)
        self.action_size = int(self._model.nu)
        self.action_low = torch.from_numpy(bounds[:, 0].copy())
        self.action_high = torch.from_numpy(bounds[:, 1].copy())
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._position: np.ndarray | None = None
        self._rngs: list[np.random.Generator] = []
        self._physics_rngs: list[np.random.Generator] = []
        self._randomization = randomization if randomization is not None and randomization.ranges else None
        self._params = self._batch_params(physics or {})
        obs = self._reset_all(seed)
        self.observation_size = int(obs.shape[1])

    # ------------------------------------------------------------------------------------------ physics

    def _batch_params(self, physics: Mapping[str, Sequence[float]]) -> BatchParams | None:
        declared = self.physics.parameters()
        fixed = check_fixed(declared, physics, self.num_envs)
        drawn = self._randomization.params if self._randomization is not None else ()
        foreign = [p.name for p in drawn if p not in declared]
        if foreign:
            raise RandomizationConfigError([f"{n}: not a physics parameter of {self.task_id}" for n in foreign])
        both = sorted(set(fixed) & {p.name for p in drawn})
        if both:
            raise RandomizationConfigError([f"{n}: both randomized and fixed" for n in both])
        if not fixed and not drawn:
            return None
        chosen = [p for p in declared if p.name in fixed or p in drawn]
        params = BatchParams(self._batch, self._model, chosen)
        params.apply(np.arange(self.num_envs), fixed)
        return params

    @property
    def physics_values(self) -> dict[str, np.ndarray]:
        """The (N,) values each env runs of every randomized or fixed parameter (empty: nominal physics)."""
        return self._params.values if self._params is not None else {}

    def _draw_physics(self, ids: np.ndarray) -> None:
        if self._params is None or self._randomization is None:
            return
        drawn = [self._randomization.draw(self._physics_rngs[i]) for i in ids]
        self._params.apply(
            ids, {r.param.name: np.array([d[r.param.name] for d in drawn]) for r in self._randomization.ranges}
        )

    # ------------------------------------------------------------------------------------------ resets

    def _reset_all(self, seed: int, env_seeds: Sequence[int] | None = None) -> np.ndarray:
        if env_seeds is None:
            self._rngs = [env_generator(seed, i) for i in range(self.num_envs)]
            self._physics_rngs = [physics_generator(seed, i) for i in range(self.num_envs)]
        else:
            if len(env_seeds) != self.num_envs:
                raise ValueError(f"env_seeds has {len(env_seeds)} seeds for {self.num_envs} envs")
            self._rngs = [gym_generator(s) for s in env_seeds]
            self._physics_rngs = [physics_generator(s, 0) for s in env_seeds]
        ids = np.arange(self.num_envs)
        self._reset_ids(ids)
        return np.asarray(self.physics.observation(self._fields, self._consts))

    def _reset_ids(self, ids: np.ndarray) -> None:
        """The env's physics drawn, then mj_resetData, qpos/qvel from each env's generator, mj_forward (gymnasium's
        reset)."""
        self._draw_physics(ids)
        self._batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        for i in ids:
            qpos, qvel = self.physics.reset(self._rngs[i], self._consts)
            self._qpos[i] = qpos
            self._qvel[i] = qvel
        self._batch.forward(ids)
        if self._rne:
            self._cfrc_ext[ids] = 0.0  # gymnasium's reset runs mj_forward only: cfrc_ext stays zero
        self._steps[ids] = 0
        if self.physics.position is not None:
            pos = np.asarray(self.physics.position(self._fields, self._consts))
            if self._position is None:
                self._position = pos.copy()
            else:
                self._position[ids] = pos[ids]

    def reset(self, seed: int, *, env_seeds: Sequence[int] | None = None) -> torch.Tensor:
        """Reset every env (env i's reset noise from :func:`~eureka_kit.sim.physics.env_generator` (seed, i)).

        With ``env_seeds``, env i is seeded exactly as gymnasium's ``env.reset(seed=env_seeds[i])`` seeds its
        env: the same initial states and, the physics being bit-identical, the same episodes (the trusted
        evaluator runs its episodes this way).
        """
        return torch.from_numpy(np.asarray(self._reset_all(seed, env_seeds), dtype=self._np_dtype))

    # ------------------------------------------------------------------------------------------ step

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        """A fresh tensor of the engine's dtype (a copy: the bound views change at the next call)."""
        return torch.from_numpy(np.array(x, dtype=self._np_dtype))

    def _rne_post_constraint(self) -> None:
        data, model = self._scratch, self._model
        for i in range(self.num_envs):
            self._batch.get_data(i, data)
            mujoco.mj_rnePostConstraint(model, data)
            self._cfrc_ext[i] = data.cfrc_ext

    def step(self, action: torch.Tensor) -> BatchStep:
        """Clip and apply ``action`` (N, action_size), advance ``frame_skip`` physics steps, auto-reset."""
        a = action.detach().to("cpu").numpy().reshape(self.num_envs, self.action_size)
        np.clip(a, self._low, self._high, out=self._ctrl)
        applied = self._ctrl.copy()
        phys, c = self.physics, self._consts
        self._batch.step(nstep=phys.frame_skip)
        if self._rne:
            self._rne_post_constraint()
        vel = None
        if phys.position is not None and self._position is not None:
            after = np.asarray(phys.position(self._fields, c))
            vel = (after - self._position) / c.dt
            self._position[:] = after
        state = phys.state(self._fields, vel, c)
        state["action"] = applied
        obs = np.asarray(phys.observation(self._fields, c), dtype=self._np_dtype)
        reward = np.asarray(phys.reward(state))
        if phys.healthy is None:
            terminated = np.zeros(self.num_envs, dtype=bool)
        else:
            terminated = ~np.asarray(phys.healthy(self._fields, c), dtype=bool)
        self._steps += 1
        truncated = (self._steps >= self.max_episode_steps) & ~terminated
        out_state = {k: self._tensor(v) for k, v in state.items()}
        final_obs = torch.from_numpy(obs)
        done = np.flatnonzero(terminated | truncated)
        if done.size:
            self._reset_ids(done)
            obs = obs.copy()
            obs[done] = np.asarray(phys.observation({k: v[done] for k, v in self._fields.items()}, c))
        return BatchStep(
            obs=torch.from_numpy(obs),
            final_obs=final_obs,
            state=out_state,
            env_reward=self._tensor(reward),
            terminated=torch.from_numpy(terminated),
            truncated=torch.from_numpy(truncated),
        )

    def close(self) -> None:
        """Release the batch (its thread pool and data)."""
        self._batch = None  # type: ignore[assignment]
