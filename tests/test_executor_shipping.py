"""Shipping a candidate job without a shared filesystem (eureka_kit/executors/shipping.py): no Ray needed.

A job's files go out as bytes (the candidate folder, and files its path fields name outside it), its paths are
rewritten to the node's folder, and what the job wrote comes back bounded, written atomically into the run store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from eureka_kit.executors import CandidateJob
from eureka_kit.executors.node import assigned_device, scrub_secrets, secret_names
from eureka_kit.executors.shipping import (
    SHIPPED_DIR,
    Delivery,
    ShippedFile,
    TransferTooLarge,
    UnsafeDelivery,
    collect_outputs,
    digests,
    dumps,
    loads,
    pack,
    rebase,
    unpack,
    write_back,
)
from eureka_kit.sandbox.runner import Limits
from eureka_kit.tasks.registry import get_task
from eureka_kit.training.job import TrainJob


@dataclass(frozen=True)
class ResumingJob(TrainJob):
    """A training job with a path field the executor does not know (TrainJob.resume_from is relative to out_dir)."""

    warm_start: Path | None = None


def _job(tmp_path: Path, warm_start: Path | None = None) -> CandidateJob:
    cand = tmp_path / "run" / "gen_000" / "cand_01"
    cand.mkdir(parents=True)
    (cand / "reward.py").write_text("def compute_reward(x_velocity): ...\n")
    (cand / "check.json").write_text("{}")
    (cand / "sub").mkdir()
    (cand / "sub" / "note.txt").write_text("nested")
    return CandidateJob(
        spec=get_task("HalfCheetah-Run-v1"),
        train=ResumingJob(
            task_id="HalfCheetah-Run-v1", reward_path=cand / "reward.py", total_steps=64, warm_start=warm_start
        ),
        out_dir=cand,
        limits=Limits(wall_s=30.0),
        eval_episodes=1,
        eval_seed=7,
        rollouts_path=cand / "rollouts.npz",
    )


def test_job_and_files_arrive_with_paths_rewritten(tmp_path: Path) -> None:
    checkpoint = tmp_path / "elsewhere" / "ckpt.pt"  # outside the candidate folder: shipped under _shipped/
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"\x00weights\xff" * 100)
    job = _job(tmp_path, warm_start=checkpoint)
    parcel = loads(dumps(pack(job, 2**20)))  # through bytes, as it travels
    assert sorted(f.rel for f in parcel.files) == [
        f"{SHIPPED_DIR}/0/ckpt.pt",
        "check.json",
        "reward.py",
        "sub/note.txt",
    ]

    node = tmp_path / "node" / "cand"
    shipped = unpack(parcel, node)
    assert shipped.out_dir == node and shipped.rollouts_path == node / "rollouts.npz"
    assert shipped.train.reward_path == node / "reward.py"
    assert isinstance(shipped.train, ResumingJob) and shipped.train.warm_start is not None
    assert shipped.train.warm_start.read_bytes() == checkpoint.read_bytes()
    assert (node / "sub" / "note.txt").read_text() == "nested"
    assert dict(shipped.train.hyperparams) == dict(job.train.hyperparams)  # read-only mappings pickle too
    assert shipped.spec.id == job.spec.id and shipped.spec.fitness.name == job.spec.fitness.name


def test_outputs_come_back_new_changed_and_removed(tmp_path: Path) -> None:
    job = _job(tmp_path)
    parcel = pack(job, 2**20)
    node = tmp_path / "node"
    unpack(parcel, node)
    (node / "policy.safetensors").write_bytes(b"w" * 10)  # new
    (node / "check.json").write_text('{"changed": true}')  # changed
    (node / "sub" / "note.txt").unlink()  # removed
    delivery = collect_outputs(node, digests(parcel.files), 2**20)
    assert sorted(f.rel for f in delivery.files) == ["check.json", "policy.safetensors"]  # reward.py unchanged
    assert delivery.removed == ("sub/note.txt",)
    write_back(delivery, job.out_dir)
    assert (job.out_dir / "policy.safetensors").read_bytes() == b"w" * 10
    assert (job.out_dir / "check.json").read_text() == '{"changed": true}'
    assert not (job.out_dir / "sub" / "note.txt").exists()
    assert not list(job.out_dir.rglob("*.tmp*"))  # atomic writes leave no temporary files


def test_sizes_are_bounded_both_ways(tmp_path: Path) -> None:
    job = _job(tmp_path)
    (job.out_dir / "big.bin").write_bytes(b"x" * 5000)
    with pytest.raises(TransferTooLarge, match=r"over the bound .* big\.bin"):
        pack(job, 4000)
    node = tmp_path / "node"
    node.mkdir()
    (node / "huge.npz").write_bytes(b"y" * 5000)
    with pytest.raises(TransferTooLarge, match=r"huge\.npz"):
        collect_outputs(node, {}, 4000)


@pytest.mark.parametrize("rel", ["../escape.py", "/etc/passwd", "a/../../b"])
def test_a_delivery_cannot_leave_the_candidate_folder(tmp_path: Path, rel: str) -> None:
    out = tmp_path / "cand"
    out.mkdir()
    with pytest.raises(UnsafeDelivery, match="inside the candidate folder"):
        write_back(Delivery((ShippedFile("ok.txt", b"1"), ShippedFile(rel, b"2")), ()), out)
    assert not (out / "ok.txt").exists()  # every name is checked before anything is written


def test_rebase_moves_paths_and_quoted_paths_only_under_the_root(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Inner:
        where: Path
        text: str

    @dataclass(frozen=True)
    class Outer:
        inner: tuple[Inner, ...]
        other: Path
        n: int

    old, new = Path("/node/tmp/cand"), Path("/runs/r/gen_000/cand_02")
    obj = Outer((Inner(old / "policy.safetensors", f"no weights in {old}/x"),), Path("/elsewhere/f"), 3)
    moved = rebase(obj, old, new)
    assert moved.inner[0].where == new / "policy.safetensors"
    assert moved.inner[0].text == f"no weights in {new}/x"
    assert moved.other == Path("/elsewhere/f") and moved.n == 3
    assert obj.inner[0].where == old / "policy.safetensors"  # the original is unchanged


def test_secret_variables_are_found_and_removed() -> None:
    env = {"OPENAI_API_KEY": "sk", "HF_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "s", "PATH": "/bin", "RAY_AUTH_TOKEN": "r"}
    assert secret_names(env) == ["AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "OPENAI_API_KEY"]
    assert scrub_secrets(env) == ["AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "OPENAI_API_KEY"]
    assert env == {"PATH": "/bin", "RAY_AUTH_TOKEN": "r"}  # Ray's own token stays: the worker needs it


def test_a_cuda_job_trains_on_the_gpu_ray_assigned() -> None:
    assert assigned_device("cuda", ["2"]) == "cuda:2"  # the child sees every GPU of the node: not always GPU 0
    assert assigned_device("cuda:0", ["3", "4"]) == "cuda:3"
    assert assigned_device("cpu", ["1"]) == "cpu"
    assert assigned_device("cuda", []) == "cuda"  # no assignment (not in a Ray task): unchanged
    assert assigned_device("cuda", ["GPU-5d1c"]) == "cuda"  # a UUID is no torch index


def test_a_node_without_the_sandbox_says_so_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eureka_kit.executors import node
    from eureka_kit.sandbox.runner import IsolationUnavailable

    def unavailable() -> None:
        raise IsolationUnavailable("bubblewrap (bwrap) is not installed")

    monkeypatch.setattr(node, "ensure_isolation", unavailable)
    monkeypatch.setattr(node, "configure_sandbox", lambda *a, **k: None)  # this process's sandbox mode stays
    monkeypatch.setattr(node, "scrub_secrets", lambda env: ["OPENAI_API_KEY"])  # this process's env stays as it is
    report = loads(node.run_on_node(dumps(pack(_job(tmp_path), 2**20)), "strict", True, 2**20))
    assert report.status == "sandbox_unavailable" and report.outcome is None
    assert f"on node {node.node_name()}" in report.message and "bwrap" in report.message
    assert report.secrets_removed == ("OPENAI_API_KEY",)
