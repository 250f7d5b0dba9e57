"""What a cluster task runs on its node: one candidate job, in a node-local folder, files back as bytes.

:func:`run_on_node` is the body of the Ray task (:mod:`eureka_kit.executors.ray`)
and imports no Ray itself. On the node it

1. removes API keys and other secrets from the worker's environment
   (:func:`secret_names`): the driver keeps LLM calls and keys, and nothing on a
   node needs them (sandboxed children get an environment built from scratch anyway);
2. selects the driver's sandbox mode and verifies it the way
   :func:`eureka_kit.loop.prepare_sandbox` does on the driver (once per worker
   process); when it is unavailable the report says so, typed, naming the node;
3. unpacks the job's files into a fresh temporary folder, moves a CUDA job to the GPU Ray assigned
   (:func:`assigned_device`), runs
   :func:`~eureka_kit.executors.base.run_candidate_job` there (sandboxed training,
   then the trusted evaluator), and returns the new or changed files
   (:mod:`eureka_kit.executors.shipping`); the folder is removed afterwards.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eureka_kit.executors.base import CandidateOutcome, run_candidate_job
from eureka_kit.executors.shipping import (
    Delivery,
    Parcel,
    TransferTooLarge,
    collect_outputs,
    digests,
    dumps,
    loads,
    unpack,
)
from eureka_kit.sandbox.runner import IsolationUnavailable, SandboxMode, configure_sandbox, ensure_isolation

SECRET_MARKERS = ("API_KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL", "ACCESS_KEY")
"""An environment variable whose name contains one of these (case-insensitive) is treated as a secret."""

NodeStatus = Literal["ok", "sandbox_unavailable", "transfer_too_large"]


def secret_names(env: Mapping[str, str]) -> list[str]:
    """Names in ``env`` that look like secrets (``OPENAI_API_KEY``, ``HF_TOKEN``...); Ray's own ``RAY_*`` are not."""
    return sorted(k for k in env if not k.upper().startswith("RAY_") and any(m in k.upper() for m in SECRET_MARKERS))


def scrub_secrets(env: MutableMapping[str, str]) -> list[str]:
    """Remove :func:`secret_names` from ``env``; returns the names removed."""
    names = secret_names(env)
    for name in names:
        env.pop(name, None)
    return names


def node_name() -> str:
    """This node as a person finds it in ``ray status``: host name and IP address."""
    host = socket.gethostname()
    try:
        import ray

        return f"{host} ({ray.util.get_node_ip_address()})"
    except Exception:  # outside a Ray worker: the host name is enough
        return host


def _ray_gpu_ids() -> list[str]:
    try:
        import ray

        return [str(i) for i in ray.get_gpu_ids()]
    except Exception:  # outside a Ray worker: no assignment
        return []


def assigned_device(device: str, gpu_ids: list[str]) -> str:
    """The torch device of a CUDA job on the GPU Ray assigned to its task.

    The sandboxed child's environment is built from scratch (no ``CUDA_VISIBLE_DEVICES``), so it sees every GPU
    of the node: ``cuda`` would be GPU 0 for every task. The first assigned id (a CUDA index, shared by tasks
    with fractional GPUs) becomes ``cuda:<id>``. CPU jobs, and ids that are not indices (UUIDs), are left as they are.
    """
    if not device.startswith("cuda") or not gpu_ids or not gpu_ids[0].isdigit():
        return device
    return f"cuda:{gpu_ids[0]}"


@dataclass(frozen=True)
class NodeReport:
    """How the job went on the node. ``outcome`` and ``delivery`` are set when ``status`` is ``ok``."""

    status: NodeStatus
    message: str
    node: str
    root: str
    """The node-local folder the job ran in (the driver rewrites it to the candidate folder)."""
    outcome: CandidateOutcome | None = None
    delivery: Delivery | None = None
    secrets_removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeProbe:
    """A node's answer at start: its sandbox (verified as :func:`eureka_kit.loop.prepare_sandbox` does) and secrets."""

    node: str
    sandbox_ok: bool
    message: str
    secrets: tuple[str, ...]
    """Secret-looking variable names the worker had in its environment (removed since)."""


def probe_node(sandbox: SandboxMode, seccomp: bool) -> bytes:
    """Verify the sandbox on this node and report secrets in the worker's environment; a pickled :class:`NodeProbe`."""
    secrets = tuple(scrub_secrets(os.environ))
    node = node_name()
    configure_sandbox(sandbox, seccomp=seccomp)
    try:
        report = ensure_isolation()
    except IsolationUnavailable as e:
        return dumps(NodeProbe(node, False, str(e), secrets))
    return dumps(NodeProbe(node, True, report.summary().splitlines()[0], secrets))


def run_on_node(parcel_bytes: bytes, sandbox: SandboxMode, seccomp: bool, max_bytes: int) -> bytes:
    """Run a packed job here (see the module doc); returns a pickled :class:`NodeReport`."""
    removed = tuple(scrub_secrets(os.environ))
    node = node_name()
    configure_sandbox(sandbox, seccomp=seccomp)
    try:
        ensure_isolation()
    except IsolationUnavailable as e:
        message = f"the {sandbox} sandbox is unavailable on node {node}: {e}"
        return dumps(NodeReport("sandbox_unavailable", message, node, "", secrets_removed=removed))
    parcel: Parcel = loads(parcel_bytes)
    with tempfile.TemporaryDirectory(prefix="eureka-candidate-") as tmp:
        dest = Path(tmp) / "cand"
        dest.mkdir()
        job = unpack(parcel, dest)
        device = assigned_device(job.train.device, _ray_gpu_ids())
        if device != job.train.device:
            job = dataclasses.replace(job, train=dataclasses.replace(job.train, device=device))
        outcome = run_candidate_job(job)
        try:
            delivery = collect_outputs(dest, digests(parcel.files), max_bytes)
        except TransferTooLarge as e:
            message = f"node {node}: {e}"
            return dumps(NodeReport("transfer_too_large", message, node, str(dest), secrets_removed=removed))
        return dumps(NodeReport("ok", "", node, str(dest), outcome, delivery, removed))
