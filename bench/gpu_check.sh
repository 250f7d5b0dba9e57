#!/usr/bin/env bash
# GPU device check of the batched engine: run once on a machine with one CUDA GPU and torch (no mujoco needed).
#
#   bash bench/gpu_check.sh            # from anywhere; about 3-5 minutes, most of it Warp's one-off kernel compile
#
# 1. installs into a venv that sees the system's torch (--system-site-packages; falls back to pip --user):
#    mujoco, mujoco-warp, warp-lang, rsl-rl-lib and this project (--no-deps) with its light dependencies.
#    Set WHEELHOUSE=/path/to/wheels to install offline from a folder of wheels instead of PyPI.
# 2. prints physics env-steps/s of MuJoCo Warp at 1k/4k/16k worlds for HalfCheetah and Ant (one CUDA graph per
#    env step: frame_skip mj_steps), the same on the CPU engine (mujoco.batch, all cores) for scale;
# 3. parity: MuJoCo Warp against the CPU engine from the same states under the same controls (float32 vs float64);
#    and, when this tree has the GPU engine (eureka_kit.sim.warp), its observations/rewards against the CPU engine's;
# 4. one candidate's training on the gpu backend (HalfCheetah, human reward): env-steps/s and time to an evaluation
#    return of 3,000 (capped), when the GPU engine is present; otherwise says why it was skipped.
# Every section prints its own result or its own error and the script goes on; exit status 0 unless setup failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${GPU_CHECK_VENV:-${TMPDIR:-/tmp}/eureka-gpu-check-venv}"
LOG="${TMPDIR:-/tmp}/eureka-gpu-check-pip.log"
START=$(date +%s)
echo "== eureka-kit GPU check ($(date -u +%FT%TZ)), repo $ROOT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "(nvidia-smi not found)"

TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null)" || {
    echo "FAIL: $PY cannot import torch; set PYTHON=/path/to/python-with-torch"; exit 2; }
echo "system torch $TORCH_VERSION"

PIP_SRC=()
if [ -n "${WHEELHOUSE:-}" ]; then PIP_SRC=(--no-index --find-links "$WHEELHOUSE"); fi
# keep the machine's CUDA torch: never let a dependency replace it
CONSTRAINTS="$(mktemp)"
echo "torch==${TORCH_VERSION%%+*}" > "$CONSTRAINTS"

if [ -x "$VENV/bin/python" ] || "$PY" -m venv --system-site-packages "$VENV" >>"$LOG" 2>&1; then
    RUN="$VENV/bin/python"
    USER_FLAG=()
else
    echo "(no venv module: installing with pip --user)"
    RUN="$PY"
    USER_FLAG=(--user)
fi
PKGS=("mujoco>=4.0" "mujoco-warp>=4.0" "warp-lang" "rsl-rl-lib>=5.5,<6" "gymnasium>=1.0" "numpy>=1.26"
      "safetensors>=0.4" "psutil>=5.9" "jinja2>=3.1" "rich>=13" "imageio>=2.30" "openai>=1.30")
echo "installing ${PKGS[*]} (log: $LOG)"
if ! "$RUN" -m pip install -q "${USER_FLAG[@]}" "${PIP_SRC[@]}" -c "$CONSTRAINTS" "${PKGS[@]}" >>"$LOG" 2>&1; then
    echo "(install with torch pinned to $TORCH_VERSION failed; retrying without the pin)"
    "$RUN" -m pip install -q "${USER_FLAG[@]}" "${PIP_SRC[@]}" "${PKGS[@]}" >>"$LOG" 2>&1 || {
        echo "FAIL: pip install failed; last lines of $LOG:"; tail -20 "$LOG"; exit 2; }
fi
"$RUN" -m pip install -q "${USER_FLAG[@]}" "${PIP_SRC[@]}" --no-deps "$ROOT" >>"$LOG" 2>&1 || {
    echo "FAIL: installing eureka-kit --no-deps failed; last lines of $LOG:"; tail -20 "$LOG"; exit 2; }
echo "setup took $(( $(date +%s) - START )) s"

cd "${TMPDIR:-/tmp}"  # import the installed eureka_kit, not the checkout
BUDGET_S="${GPU_CHECK_BUDGET_S:-$(( 290 - ($(date +%s) - START) ))}"
timeout --signal=INT "$BUDGET_S" "$RUN" - "$BUDGET_S" <<'PYEOF'
import sys
import time
import traceback

START = time.monotonic()
BUDGET = float(sys.argv[1]) - 10.0
TASKS = ("HalfCheetah-Run-v1", "Ant-Run-v1")
WORLDS = (1024, 4096, 16384)


def left() -> float:
    return BUDGET - (time.monotonic() - START)


def section(name):
    def wrap(fn):
        def run(*a, **k):
            print(f"\n== {name}  (t={time.monotonic() - START:.0f} s)", flush=True)
            try:
                return fn(*a, **k)
            except Exception:
                print(f"ERROR in {name}:\n{traceback.format_exc(limit=8)}", flush=True)
                return None
        return run
    return wrap


import numpy as np
import torch
import mujoco
import warp as wp
import mujoco_warp as mjw

from eureka_kit.sim.physics import env_generator, get_physics

print(f"torch {torch.__version__} cuda {torch.version.cuda} device {torch.cuda.get_device_name(0)}")
print(f"mujoco {mujoco.__version__}, mujoco_warp {getattr(mjw, '__version__', '?')}, warp {wp.__version__}")
wp.init()
DEVICE = "cuda:0"


def initial_data(task, n, seed=0):
    """n MjData in the task's reset distribution (the CPU engine's reset: qpos/qvel noise, mj_forward)."""
    phys = get_physics(task)
    model, consts = phys.model(), phys.consts()
    out = []
    for i in range(n):
        d = mujoco.MjData(model)
        qpos, qvel = phys.reset(env_generator(seed, i), consts)
        d.qpos[:], d.qvel[:] = qpos, qvel
        mujoco.mj_forward(model, d)
        out.append(d)
    return phys, model, out


def warp_batch(model, data0, nworld):
    with wp.ScopedDevice(DEVICE):
        m = mjw.put_model(model)
        d = mjw.put_data(model, data0, nworld=nworld, nconmax=64, njmax=256)
    return m, d


def capture_env_step(m, d, frame_skip):
    with wp.ScopedDevice(DEVICE):
        mjw.step(m, d)  # compile outside the capture
        wp.synchronize()
        with wp.ScopedCapture() as cap:
            for _ in range(frame_skip):
                mjw.step(m, d)
    return cap.graph


@section("physics env-steps/s, MuJoCo Warp (one CUDA graph per env step)")
def physics_rates():
    rows = []
    for task in TASKS:
        phys, model, datas = initial_data(task, 1)
        for nworld in WORLDS:
            if left() < 120:
                print(f"{task} {nworld}: skipped (time budget)")
                continue
            t0 = time.monotonic()
            m, d = warp_batch(model, datas[0], nworld)
            wp.to_torch(d.ctrl).uniform_(-0.5, 0.5)  # constant random controls
            torch.cuda.synchronize()  # torch's stream, then Warp's
            graph = capture_env_step(m, d, phys.frame_skip)
            setup = time.monotonic() - t0
            for _ in range(5):
                wp.capture_launch(graph)
            wp.synchronize()
            iters, t1 = 0, time.perf_counter()
            while time.perf_counter() - t1 < 2.0:
                for _ in range(20):
                    wp.capture_launch(graph)
                iters += 20
                wp.synchronize()
            rate = nworld * iters / (time.perf_counter() - t1)
            rows.append((task, nworld, rate))
            overflow = getattr(d, "overflow", None)
            note = ""
            if overflow is not None and int(np.asarray(overflow.numpy()).any()):
                note = "  (overflow flags set: raise nconmax/njmax)"
            print(f"{task:<20} {nworld:>6} worlds: {rate:>13,.0f} env-steps/s  (setup+compile {setup:.0f} s){note}",
                  flush=True)
    best = max((r for r in rows if r[0] == TASKS[0]), key=lambda r: r[2], default=None)
    if best:
        print(f"target >= 1M env-steps/s for HalfCheetah: {'MET' if best[2] >= 1e6 else 'NOT MET'} "
              f"(best {best[2]:,.0f} at {best[1]} worlds)")


@section("physics env-steps/s, CPU engine (mujoco.batch, 1024 sims, all cores) for scale")
def cpu_rates():
    import os
    from mujoco import batch as mjbatch

    for task in TASKS:
        phys = get_physics(task)
        threads = os.cpu_count() or 1
        b = mjbatch.Batch(phys.model(), 1024, threads)
        ctrl = b.bind("ctrl")
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 1.5:
            ctrl[:] = np.random.uniform(-0.5, 0.5, size=ctrl.shape)
            b.step(nstep=phys.frame_skip)
            steps += 1024
        print(f"{task:<20} {threads} threads: {steps / (time.perf_counter() - t0):>13,.0f} env-steps/s")


@section("parity: MuJoCo Warp vs CPU physics, same states and controls (max |diff| of qpos, qvel)")
def physics_parity():
    for task in TASKS:
        n = 8
        phys, model, datas = initial_data(task, n, seed=3)
        with wp.ScopedDevice(DEVICE):
            m = mjw.put_model(model)
            d = mjw.put_data(model, datas[0], nworld=n, nconmax=64, njmax=256)
            qpos0 = np.stack([x.qpos for x in datas]).astype(np.float32)
            qvel0 = np.stack([x.qvel for x in datas]).astype(np.float32)
            wp.to_torch(d.qpos).copy_(torch.as_tensor(qpos0))
            wp.to_torch(d.qvel).copy_(torch.as_tensor(qvel0))
            torch.cuda.synchronize()
            mjw.forward(m, d)
        rng = np.random.default_rng(0)
        report = []
        for t in range(1, 51):
            a = rng.uniform(-1, 1, size=(n, model.nu))
            for i, x in enumerate(datas):
                x.ctrl[:] = a[i]
                mujoco.mj_step(model, x, nstep=phys.frame_skip)
            wp.to_torch(d.ctrl).copy_(torch.as_tensor(a, dtype=torch.float32))
            torch.cuda.synchronize()
            with wp.ScopedDevice(DEVICE):
                for _ in range(phys.frame_skip):
                    mjw.step(m, d)
            if t in (1, 10, 50):
                qp = np.abs(d.qpos.numpy() - np.stack([x.qpos for x in datas])).max()
                qv = np.abs(d.qvel.numpy() - np.stack([x.qvel for x in datas])).max()
                report.append(f"step {t}: qpos {qp:.2e} qvel {qv:.2e}")
        first = float(report[0].split()[3])
        verdict = "OK" if first < 1e-3 else "MISMATCH"
        print(f"{task:<20} {verdict} (1 env step within 1e-3; later steps drift as float32 chaos): " + "; ".join(report))


def gpu_engine_reason(task):
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.backends import get_backend

    return get_backend("gpu").unavailable(get_task(task), DEVICE)


@section("parity: GPU engine (eureka_kit.sim.warp) vs CPU engine, observations and env rewards")
def engine_parity():
    reason = gpu_engine_reason(TASKS[0])
    if reason is not None:
        print(f"skipped: {reason}")
        return
    from eureka_kit.sim.cpu import CpuBatchedEnv
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.backends import get_backend
    from eureka_kit.training.backends.batched_config import resolve_batched_config

    for task in TASKS:
        spec = get_task(task)
        n = 16
        cfg = resolve_batched_config(spec, 1, n)
        gpu = get_backend("gpu").make_env(spec, cfg, DEVICE, 0)
        cpu = CpuBatchedEnv(task, n, threads=1, seed=0)
        og, oc = gpu.reset(5).cpu().numpy(), cpu.reset(5).numpy()
        worst = {"reset obs": float(np.abs(og - oc).max())}
        gen = torch.Generator().manual_seed(0)
        for t in range(1, 21):
            a = torch.rand(n, cpu.action_size, generator=gen) * 2 - 1
            sg, sc = gpu.step(a.to(DEVICE)), cpu.step(a)
            if t in (1, 5, 20):
                worst[f"obs@{t}"] = float((sg.obs.cpu() - sc.obs).abs().max())
                worst[f"reward@{t}"] = float((sg.env_reward.cpu() - sc.env_reward).abs().max())
        gpu.close()
        print(f"{task:<20} max |gpu - cpu|: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))


@section("training: one candidate on the gpu backend, HalfCheetah, human reward (cap by budget)")
def training():
    reason = gpu_engine_reason(TASKS[0])
    if reason is not None:
        print(f"skipped: {reason}")
        return
    from eureka_kit.sim.cpu import CpuBatchedEnv
    from eureka_kit.tasks.registry import get_task
    from eureka_kit.training.backends import get_backend
    from eureka_kit.training.backends.batched import policy_actor
    from eureka_kit.training.backends.batched_ppo import BatchedPPO, StepReward
    from eureka_kit.training.episode_stats import StatsRecorder
    from eureka_kit.training.job import TrainJob
    from eureka_kit.training.reward_sources import EnvReward
    from eureka_kit.training.weights import ObsNorm

    task = TASKS[0]
    spec = get_task(task)
    backend = get_backend("gpu")
    job = TrainJob(task_id=task, reward_kind="baseline", total_steps=10**10, backend="gpu", device=DEVICE)
    cfg = backend.config(spec, job)
    env = backend.make_env(spec, cfg, DEVICE, 0)
    ppo = BatchedPPO(env, cfg, spec, 0)
    ev = CpuBatchedEnv(task, 5, threads=1, seed=0)
    low, high = ev.action_low.numpy(), ev.action_high.numpy()
    cap = max(20.0, left() - 15.0)
    state = {"train_s": 0.0, "t0": time.perf_counter(), "next": 1_000_000, "reached": None, "best": -1e9}

    def evaluate(actor, norm):
        import copy

        cpu_actor = copy.deepcopy(actor).to("cpu").eval()
        n = None if norm is None else ObsNorm(norm.mean.cpu().numpy(), norm.var.cpu().numpy(), norm.clip_obs, norm.epsilon)
        act = policy_actor(cpu_actor, n, low, high)
        obs, ret, alive = ev.reset(12345).numpy(), np.zeros(5), np.ones(5, bool)
        while alive.any():
            s = ev.step(torch.as_tensor(act(obs)))
            ret += s.env_reward.numpy() * alive
            alive &= ~(s.terminated.numpy() | s.truncated.numpy())
            obs = s.obs.numpy()
        return float(ret.mean())

    def hook(steps, actor, norm):
        torch.cuda.synchronize()
        state["train_s"] += time.perf_counter() - state["t0"]
        stop = state["train_s"] >= cap
        if steps >= state["next"] or stop:
            state["next"] = steps + 1_000_000
            r = evaluate(actor, norm)
            state["best"] = max(state["best"], r)
            print(f"  {steps:>11,} steps  {state['train_s']:6.1f} s  {steps / state['train_s']:>10,.0f} env-steps/s  "
                  f"eval return {r:8.0f}", flush=True)
            if r >= 3000 and state["reached"] is None:
                state["reached"] = (state["train_s"], steps)
                stop = True
        state["t0"] = time.perf_counter()
        return stop

    print(f"{cfg.num_envs} envs x {cfg.num_steps_per_env} steps, {cfg.num_learning_epochs} epochs, "
          f"{cfg.num_mini_batches} minibatches, actor {cfg.actor_hidden_dims}; cap {cap:.0f} s")
    ppo.train(StepReward(EnvReward(), env.device), StatsRecorder(cfg.total_steps), hook)
    env.close()
    rate = ppo.steps / max(state["train_s"], 1e-9)
    if state["reached"]:
        s, n = state["reached"]
        print(f"training: {rate:,.0f} env-steps/s; eval return 3,000 reached after {s:.1f} s ({n:,} steps)")
    else:
        print(f"training: {rate:,.0f} env-steps/s; eval return 3,000 not reached in {state['train_s']:.0f} s "
              f"(best {state['best']:.0f})")


physics_rates()
cpu_rates()
physics_parity()
engine_parity()
training()
print(f"\n== done in {time.monotonic() - START:.0f} s")
PYEOF
STATUS=$?
[ $STATUS -eq 124 ] && echo "(stopped at the time budget)"
echo "== total $(( $(date +%s) - START )) s"
exit 0
