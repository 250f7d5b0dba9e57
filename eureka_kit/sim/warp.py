"""The GPU engine: N worlds of a MuJoCo task on MuJoCo Warp, a :class:`~eureka_kit.sim.base.BatchedEnv`.

``mujoco_warp`` steps ``nworld`` copies of one model in Warp kernels, on a
CUDA GPU (or, slowly, on Warp's CPU device, which the parity tests use). The
model and data are put on the device once (``put_model``, ``put_data(nworld=N)``);
an env step (``frame_skip`` physics steps, then ``rne_postconstraint`` where the
task reads ``cfrc_ext``) is captured once as a CUDA graph and replayed. The
Warp buffers are handed to torch without copies (``warp.to_torch``), so the
task's physics functions (:mod:`eureka_kit.sim.physics`, the same as the CPU
engine's and the gymnasium path's) run as torch ops on the GPU, and so do the
policy, the reward program and PPO.

MuJoCo Warp computes in float32: results agree with the CPU engine to float32
accuracy over a few steps, then drift apart as chaotic contact dynamics do.
Reset noise is drawn on the host from the same per-env generators as the CPU
engine, then copied to the device.

Needs the ``gpu`` extra (``pip install eureka-kit[gpu]``: ``mujoco-warp``, ``warp-lang``).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import torch

from eureka_kit.sim.base import BatchStep
from eureka_kit.sim.physics import Fields, TaskPhysics, env_generator, get_physics

MISSING_WARP = "the GPU engine needs mujoco-warp and warp-lang: pip install 'eureka-kit[gpu]'"


def warp_available() -> bool:
    """Whether ``mujoco_warp`` and ``warp`` are installed (found, not imported: importing warp takes seconds)."""
    return all(importlib.util.find_spec(name) is not None for name in ("mujoco_warp", "warp"))


def _to_warp_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{device.index or 0}"
    return "cpu"


class WarpBatchedEnv:
    """N worlds of one MuJoCo task on MuJoCo Warp (see the module docstring).

    ``device`` is a torch device: ``cuda``/``cuda:K`` (the step is a CUDA graph)
    or ``cpu`` (Warp's CPU device; for tests). ``nconmax``/``njmax`` override the
    per-world contact and constraint capacity.
    """

    n_actions: int | None = None
    """Continuous actions (see :class:`~eureka_kit.sim.base.BatchedEnv`)."""

    def __init__(
        self,
        task_id: str,
        num_envs: int,
        device: str | torch.device = "cuda",
        seed: int = 0,
        max_episode_steps: int | None = None,
        nconmax: int | None = None,
        njmax: int | None = None,
    ) -> None:
        try:
            import mujoco
            import mujoco_warp as mjw
            import warp as wp
        except ImportError as e:
            raise RuntimeError(f"{MISSING_WARP} ({e})") from e
        from eureka_kit.tasks.registry import get_task

        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        spec = get_task(task_id)
        self.physics: TaskPhysics = get_physics(task_id)
        self.task_id = task_id
        self.num_envs = num_envs
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.max_episode_steps = spec.max_episode_steps if max_episode_steps is None else max_episode_steps
        self._wp, self._mjw = wp, mjw
        self._wp_device = _to_warp_device(self.device)
        self._consts = self.physics.consts()
        mjm = self.physics.model()
        mjd = mujoco.MjData(mjm)
        con, jmax = self.physics.warp_capacity
        with wp.ScopedDevice(self._wp_device):
            self._m = mjw.put_model(mjm)
            self._d = mjw.put_data(mjm, mjd, nworld=num_envs, nconmax=nconmax or con, njmax=njmax or jmax)
            self._reset_mask = wp.zeros(num_envs, dtype=bool)
        self._graph: Any = None
        self._qpos = self._view("qpos")
        self._qvel = self._view("qvel")
        self._ctrl = self._view("ctrl")
        self._reset_mask_t = wp.to_torch(self._reset_mask)
        self._fields: Fields = {name: self._view(name) for name in self.physics.fields}
        bounds = np.array(mjm.actuator_ctrlrange, dtype=np.float32)
        self.action_size = int(mjm.nu)
        self.action_low = torch.from_numpy(bounds[:, 0].copy()).to(self.device)
        self.action_high = torch.from_numpy(bounds[:, 1].copy()).to(self.device)
        self._steps = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self._position: torch.Tensor | None = None
        self._rngs: list[np.random.Generator] = []
        obs = self._reset_all(seed)
        self.observation_size = int(obs.shape[1])

    def _view(self, name: str) -> torch.Tensor:
        """A zero-copy torch view of a Warp data field, (N, ...) in MjData's layout."""
        t = self._wp.to_torch(getattr(self._d, name))
        if name in ("xmat", "ximat"):
            return t.reshape(self.num_envs, -1, 9)
        return t

    # ------------------------------------------------------------------------------------------ physics calls

    def _physics_step(self) -> None:
        for _ in range(self.physics.frame_skip):
            self._mjw.step(self._m, self._d)
        if self.physics.needs_cfrc_ext:
            self._mjw.rne_postconstraint(self._m, self._d)

    def _step_physics(self) -> None:
        wp = self._wp
        with wp.ScopedDevice(self._wp_device):
            if self.device.type != "cuda":
                self._physics_step()
                return
            if self._graph is None:
                self._physics_step()  # compile kernels and settle allocations before capturing
                with wp.ScopedCapture() as capture:
                    self._physics_step()
                self._graph = capture.graph
            else:
                wp.capture_launch(self._graph)

    # ------------------------------------------------------------------------------------------ resets

    def _reset_all(self, seed: int) -> torch.Tensor:
        self._rngs = [env_generator(seed, i) for i in range(self.num_envs)]
        self._reset_ids(torch.arange(self.num_envs, device=self.device))
        return self.physics.observation(self._fields, self._consts)

    def _reset_ids(self, ids: torch.Tensor) -> None:
        """Reset the worlds ``ids``: defaults, qpos/qvel from each env's generator, forward."""
        ids_host = ids.cpu().numpy()
        draws = [self.physics.reset(self._rngs[i], self._consts) for i in ids_host]
        qpos = torch.as_tensor(np.stack([q for q, _ in draws]), dtype=self._qpos.dtype).to(self.device)
        qvel = torch.as_tensor(np.stack([v for _, v in draws]), dtype=self._qvel.dtype).to(self.device)
        self._reset_mask_t.zero_()
        self._reset_mask_t[ids] = True
        with self._wp.ScopedDevice(self._wp_device):
            self._mjw.reset_data(self._m, self._d, reset=self._reset_mask)
            self._qpos[ids] = qpos
            self._qvel[ids] = qvel
            self._mjw.forward(self._m, self._d)  # all worlds: the others' next step recomputes from their state
        if self.physics.needs_cfrc_ext:
            self._fields["cfrc_ext"][ids] = 0.0  # gymnasium's reset runs mj_forward only
        self._steps[ids] = 0
        if self.physics.position is not None:
            pos = self.physics.position(self._fields, self._consts)
            if self._position is None:
                self._position = pos.clone()
            else:
                self._position[ids] = pos[ids]

    def reset(self, seed: int) -> torch.Tensor:
        """Reset every world (env i's reset noise from :func:`~eureka_kit.sim.physics.env_generator` (seed, i))."""
        return self._reset_all(seed).float()

    # ------------------------------------------------------------------------------------------ step

    def step(self, action: torch.Tensor) -> BatchStep:
        """Clip and apply ``action`` (N, action_size), advance ``frame_skip`` physics steps, auto-reset."""
        a = action.detach().to(self.device, torch.float32).reshape(self.num_envs, self.action_size)
        applied = torch.minimum(torch.maximum(a, self.action_low), self.action_high)
        self._ctrl.copy_(applied)
        phys, c = self.physics, self._consts
        self._step_physics()
        vel = None
        if phys.position is not None and self._position is not None:
            after = phys.position(self._fields, c)
            vel = (after - self._position) / c.dt
            self._position.copy_(after)
        state = {k: v.float().clone() for k, v in phys.state(self._fields, vel, c).items()}
        state["action"] = applied
        obs = phys.observation(self._fields, c).float()
        reward = phys.reward(state).float()
        if phys.healthy is None:
            terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        else:
            terminated = ~phys.healthy(self._fields, c)
        self._steps += 1
        truncated = (self._steps >= self.max_episode_steps) & ~terminated
        final_obs = obs
        done = torch.nonzero(terminated | truncated).flatten()
        if done.numel():
            self._reset_ids(done)
            obs = obs.clone()
            obs[done] = phys.observation({k: v[done] for k, v in self._fields.items()}, c).float()
        return BatchStep(
            obs=obs, final_obs=final_obs, state=state, env_reward=reward, terminated=terminated, truncated=truncated
        )

    def close(self) -> None:
        """Drop the device buffers and the captured graph."""
        self._graph = None
        self._fields = {}
        self._m = self._d = None
