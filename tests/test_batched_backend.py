"""The batched training backends (cpu, gpu): tiny real trainings in the sandboxed child, trusted evaluation,
typed reward errors, backend selection, observation normalization identical to SB3's, config validation."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from eureka_kit.evaluation.evaluator import evaluate_policy
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.registry import get_task
from eureka_kit.training.backends import get_backend, resolve_backend, resolve_training
from eureka_kit.training.backends.batched_config import FALLBACK, resolve_batched_config, task_defaults
from eureka_kit.training.backends.batched_ppo import RunningObsNorm
from eureka_kit.training.job import OBS_NORM_FILE, POLICY_FILE, ConfigError, TrainJob
from eureka_kit.training.runner import TrainResult, train_candidate
from eureka_kit.training.weights import WeightsError, load_obs_norm, save_tensors

HC = "HalfCheetah-Run-v1"
HOPPER = "Hopper-Hop-v1"
MC = "MountainCar-Flag-v1"
LIMITS = Limits(wall_s=180.0, address_space_mb=4096, heartbeat_s=90.0)
ROOT = Path(__file__).resolve().parents[1]

GOOD = """
    import torch

    def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
        forward = x_velocity
        ctrl = -0.1 * torch.square(action).sum(dim=-1)
        return forward + ctrl, {"forward": forward, "ctrl": ctrl}
    """

FAILS_LATER = """
    import torch

    calls = [0]

    def compute_reward(x_velocity: torch.Tensor):
        calls[0] += 1
        if calls[0] == 5:
            raise ValueError("speed table exhausted")
        return x_velocity, {"forward": x_velocity}
    """

TINY = {"num_steps_per_env": 16, "num_learning_epochs": 2, "num_mini_batches": 2}


def _job(tmp: Path, name: str, source: str | None, task: str = HC, steps: int = 1024, **kw: object) -> TrainJob:
    path = None
    if source is not None:
        path = tmp / f"{name}.py"
        path.write_text(textwrap.dedent(source))
    return TrainJob(
        task_id=task,
        reward_kind="program" if source is not None else "baseline",
        reward_path=path,
        total_steps=steps,
        n_envs=16,
        seed=2,
        hyperparams=TINY,
        backend="cpu",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def trained_hc(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainJob, TrainResult]:
    tmp = tmp_path_factory.mktemp("batched")
    job = _job(tmp, "good", GOOD, steps=2048)
    return job, train_candidate(job, tmp / "out", LIMITS)


def test_cpu_backend_trains_in_the_sandbox_and_the_trusted_evaluator_reads_it(
    trained_hc: tuple[TrainJob, TrainResult],
) -> None:
    job, result = trained_hc
    assert result.status == "ok", result.message + (result.log_path.read_text() if result.log_path else "")
    assert result.stats is not None and result.stats.total_steps == 2048
    assert set(result.stats.components) == {"forward", "ctrl"}
    assert result.stats.samples and result.stats.samples[-1].step == 2048
    assert "forward (per-step mean)" in result.series  # no episode ends in 128 steps per env
    assert (result.out_dir / POLICY_FILE).is_file() and (result.out_dir / OBS_NORM_FILE).is_file()
    ev = evaluate_policy(get_task(HC), result.out_dir, episodes=1, seed=7, job=job)
    assert ev.status == "ok", ev.message
    assert ev.fitness is not None and np.isfinite(ev.fitness)
    assert ev.episodes[0].length == 1000


def test_trusted_actor_is_deterministic_and_within_the_action_bounds(trained_hc: tuple[TrainJob, TrainResult]) -> None:
    job, result = trained_hc
    spec = get_task(HC)
    act = get_backend("cpu").load_actor(spec, job, result.out_dir)
    obs = np.random.default_rng(0).normal(scale=50.0, size=(7, 17)).astype(np.float32)
    a1, a2 = act(obs), act(obs)
    assert a1.shape == (7, 6) and np.array_equal(a1, a2)
    assert a1.min() >= -1.0 and a1.max() <= 1.0


def test_load_actor_refuses_weights_of_another_network(
    trained_hc: tuple[TrainJob, TrainResult], tmp_path: Path
) -> None:
    job, result = trained_hc
    (tmp_path / OBS_NORM_FILE).write_bytes((result.out_dir / OBS_NORM_FILE).read_bytes())
    save_tensors(tmp_path / POLICY_FILE, {"mlp.0.weight": torch.zeros(3, 3)})
    with pytest.raises(WeightsError, match="do not match"):
        get_backend("cpu").load_actor(get_task(HC), job, tmp_path)
    bigger = TrainJob(**{**job.to_json(), "hyperparams": {"actor_hidden_dims": [32]}})  # type: ignore[arg-type]
    with pytest.raises(WeightsError):
        get_backend("cpu").load_actor(get_task(HC), bigger, result.out_dir)


def test_reward_program_error_is_a_typed_train_error_with_the_programs_message(tmp_path: Path) -> None:
    result = train_candidate(_job(tmp_path, "bad", FAILS_LATER, steps=512), tmp_path / "out", LIMITS)
    assert result.status == "train_error"
    assert "speed table exhausted" in result.message
    assert "ValueError" in result.message and "training step 80" in result.message  # 5th call, 16 envs per call
    assert not (tmp_path / "out" / POLICY_FILE).exists()


def test_baseline_reward_on_a_terminating_task(tmp_path: Path) -> None:
    job = _job(tmp_path, "base", None, task=HOPPER, steps=2048)
    result = train_candidate(job, tmp_path / "out", LIMITS)
    assert result.status == "ok", result.message
    assert result.stats is not None and result.stats.components == ("env_reward",)
    last = result.stats.samples[-1]
    assert last.episodes > 0 and last.length is not None and last.length < 1000  # a random hopper falls
    assert last.env_return == pytest.approx(last.components["env_reward"])


def test_auto_picks_cpu_for_mujoco_and_sb3_without_a_batched_definition() -> None:
    assert resolve_backend("auto", get_task(HC), "cpu") == "cpu"
    assert resolve_backend("auto", get_task(MC), "cpu") == "sb3"
    reason = get_backend("cpu").unavailable(get_task(MC), "cpu")
    assert reason is not None and "has no batched engine" in reason and "HalfCheetah-Run-v1" in reason
    with pytest.raises(ConfigError, match="cannot train MountainCar"):
        resolve_backend("cpu", get_task(MC), "cpu")


def test_auto_device_is_cuda_only_where_the_backend_can_use_it() -> None:
    """``--device auto`` (the default): the GPU engine where CUDA and MuJoCo Warp work, else the CPU."""
    gpu_here = get_backend("gpu").unavailable(get_task(HC), "cuda") is None
    assert resolve_training("auto", get_task(HC), "auto") == (("gpu", "cuda") if gpu_here else ("cpu", "cpu"))
    assert resolve_training("auto", get_task(MC), "auto") == ("sb3", "cpu")
    assert resolve_training("cpu", get_task(HC), "auto") == ("cpu", "cpu")
    assert resolve_training("sb3", get_task(HC), "cpu") == ("sb3", "cpu")
    if not gpu_here:
        with pytest.raises(ConfigError, match="cannot train HalfCheetah"):
            resolve_training("gpu", get_task(HC), "auto")


def test_gpu_backend_says_why_it_cannot_run_here() -> None:
    gpu = get_backend("gpu")
    on_cpu = gpu.unavailable(get_task(HC), "cpu")
    assert on_cpu is not None and "needs a CUDA device" in on_cpu
    if not torch.cuda.is_available():
        reason = gpu.unavailable(get_task(HC), "cuda")
        assert reason is not None and ("CUDA" in reason or "not installed" in reason or "no GPU engine" in reason)


def test_obs_norm_matches_sb3_vecnormalize_and_the_trusted_obsnorm(tmp_path: Path) -> None:
    from stable_baselines3.common.running_mean_std import RunningMeanStd

    from eureka_kit.training.weights import save_obs_norm

    rng = np.random.default_rng(1)
    ours, theirs = RunningObsNorm(5, 10.0, torch.device("cpu")), RunningMeanStd(shape=(5,))
    for _ in range(20):
        batch = rng.normal(3.0, 4.0, size=(16, 5))
        ours.update(torch.as_tensor(batch, dtype=torch.float32))
        theirs.update(batch.astype(np.float32).astype(np.float64))
    assert np.allclose(ours.mean.numpy(), theirs.mean, rtol=1e-12, atol=1e-12)
    assert np.allclose(ours.var.numpy(), theirs.var, rtol=1e-12, atol=1e-12)
    assert ours.count == pytest.approx(theirs.count)
    save_obs_norm(tmp_path / OBS_NORM_FILE, ours.mean.numpy(), ours.var.numpy(), ours.count, 10.0, ours.epsilon)
    trusted = load_obs_norm(tmp_path / OBS_NORM_FILE, (5,))
    x = rng.normal(3.0, 40.0, size=(9, 5)).astype(np.float32)
    assert np.allclose(trusted(x), ours(torch.as_tensor(x)).numpy(), atol=1e-6)


def test_config_defaults_and_overrides() -> None:
    hc = resolve_batched_config(get_task(HC))
    assert hc == task_defaults(get_task(HC)) and hc.num_envs >= 16
    assert resolve_batched_config(get_task(MC)).total_steps == FALLBACK.total_steps
    c = resolve_batched_config(get_task(HC), 1000, 4, {"learning_rate": 3e-4, "actor_hidden_dims": [32, 32]})
    assert (c.total_steps, c.num_envs, c.learning_rate, c.actor_hidden_dims) == (1000, 4, 3e-4, (32, 32))
    with pytest.raises(ConfigError, match=r"unknown hyperparameter 'n_steps'.*valid: .*num_steps_per_env"):
        resolve_batched_config(get_task(HC), overrides={"n_steps": 64})
    with pytest.raises(ConfigError, match="activation"):
        resolve_batched_config(get_task(HC), overrides={"activation": "os.system"})
    with pytest.raises(ConfigError, match="gamma must be in"):
        resolve_batched_config(get_task(HC), overrides={"gamma": 1.5})


def test_bench_smoke_runs() -> None:
    out = subprocess.run(
        # every row but SB3 with 8 envs (the SB3 row with 1 env runs the same code; 9 s saved)
        [sys.executable, str(ROOT / "bench" / "engine_throughput.py"), "--smoke", "--skip", "sb3-8-envs"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "raw physics" in out.stdout and "time to eval return" in out.stdout
    assert "candidates x 2,048 steps, 2 workers" in out.stdout


def test_tuning_script_applies_its_overrides_and_reports_json() -> None:
    out = subprocess.run(
        [
            sys.executable, str(ROOT / "bench" / "tune_batched.py"), "--cap-s", "0.2", "--raw-s", "0.1",
            "--eval-every", "1", "--target", "1e9", "--set", "num_envs=8", "--set", "num_mini_batches=2",
            "--set", "actor_hidden_dims=[16,16]",
        ],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["set"] == {"num_mini_batches": 2, "actor_hidden_dims": [16, 16], "num_envs": 8}
    assert result["reached_steps"] is None and result["steps"] > 0 and result["steps"] % (8 * 32) == 0
