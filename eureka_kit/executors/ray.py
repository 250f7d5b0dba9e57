"""The ``ray`` executor: each candidate job is a Ray task, on any node of a local instance or a cluster.

::

    eureka-kit run HalfCheetah-Run-v1 --executor ray                      # a local Ray instance, started here
    eureka-kit run HalfCheetah-Run-v1 --executor ray --ray-address auto   # the cluster `ray start` runs here
    eureka-kit run Ant-Run-v1 --executor ray --ray-address ray://head:10001 --backend gpu --gpus-per-candidate 1

The task (:func:`eureka_kit.executors.node.run_on_node`) gets the job and its
files as bytes and sends the files it wrote back (:mod:`eureka_kit.executors.shipping`):
no shared filesystem is assumed; the run store on the driver stays the truth, so
``eureka-kit resume`` works after the driver dies (finished candidates are on disk,
unfinished ones run again). LLM calls and API keys stay on the driver: a local
instance is started without the driver's secret variables, the task removes any
it finds on its node, and a job-wide ``runtime_env`` carrying one is refused.

A lost worker or node is retried (``max_retries``, Ray's own retry of system
failures); after that, or when the task is cancelled, the candidate ends typed
(``killed``, ``out_of_memory``, ``timeout`` or ``executor_error``, the message naming
the Ray task and, where Ray says, the node). :func:`ray.get` always has a timeout
bounded by the job's wall limit, so a run never hangs on a lost task.

Ray is imported only when this executor is built; without it, :class:`RayUnavailable`
says how to install it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eureka_kit.errors import UserError
from eureka_kit.executors.base import CandidateJob, CandidateOutcome
from eureka_kit.executors.node import NodeProbe, NodeReport, probe_node, run_on_node, secret_names
from eureka_kit.executors.shipping import (
    DEFAULT_MAX_TRANSFER_MB,
    TransferTooLarge,
    UnsafeDelivery,
    dumps,
    loads,
    pack,
    rebase,
    write_back,
)
from eureka_kit.sandbox.mode import seccomp_wanted
from eureka_kit.sandbox.runner import IsolationUnavailable, sandbox_mode
from eureka_kit.training.job import TrainStatus
from eureka_kit.training.runner import TrainResult

_logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'eureka-kit[ray]'"

EVAL_MARGIN_S = 300.0
"""Time a task may take beyond its training's wall limit, per attempt: sandbox check, files, trusted evaluation."""
PROBE_TIMEOUT_S = 300.0
"""How long the start-up sandbox check on every node may take (a worker start and the isolation probe)."""
STATE_TIMEOUT_S = 5
"""How long to ask Ray's state API where a failed task ran."""
START_MARGIN_S = 120.0
"""Time for a task to be scheduled and its worker started, once per job."""


class RayUnavailable(UserError, RuntimeError):
    """``--executor ray`` without Ray installed."""


class ExecutorConfigError(UserError, ValueError):
    """The Ray executor's settings cannot work (no node fits a candidate, a secret in the runtime env, ...)."""


@dataclass(frozen=True)
class RayOptions:
    """Where and with what each candidate's Ray task runs."""

    address: str | None = None
    """``None``: start a local Ray instance (shut down at the end); ``auto`` or ``ray://host:10001``: a cluster."""
    cpus_per_candidate: float = 1.0
    """CPUs Ray reserves for one candidate's task (the batched engine's threads)."""
    gpus_per_candidate: float = 0.0
    """GPUs Ray reserves for one candidate's task: > 0 for a CUDA job (``--backend gpu``)."""
    max_retries: int = 1
    """Times a task is run again after its worker or node is lost."""
    max_transfer_mb: int = DEFAULT_MAX_TRANSFER_MB
    """Bound of the files shipped to a node, and of those sent back, per candidate (MiB)."""

    def __post_init__(self) -> None:
        if self.cpus_per_candidate <= 0:
            raise ValueError(f"cpus_per_candidate must be > 0, got {self.cpus_per_candidate}")
        if self.gpus_per_candidate < 0:
            raise ValueError(f"gpus_per_candidate must be >= 0, got {self.gpus_per_candidate}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.max_transfer_mb < 1:
            raise ValueError(f"max_transfer_mb must be >= 1, got {self.max_transfer_mb}")


def import_ray() -> Any:
    """The ``ray`` module, or :class:`RayUnavailable` with the install command."""
    try:
        import ray
    except ImportError as e:
        raise RayUnavailable(f"the ray executor needs Ray, which is not installed ({e}): {INSTALL_HINT}") from None
    return ray


def init_ray(address: str | None, **local: Any) -> None:
    """Connect to the cluster at ``address``, or (``None``) start a local instance (``local``: ``ray.init`` options).

    The driver's secret variables (:func:`~eureka_kit.executors.node.secret_names`) are hidden from
    ``os.environ`` while a local instance starts: its processes copy the environment, and keys stay here.
    """
    ray = import_ray()
    kwargs: dict[str, Any] = {"address": address or "local", "log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        kwargs["include_dashboard"] = False
        kwargs.update(local)
    hidden = {name: os.environ.pop(name) for name in secret_names(os.environ)}
    try:
        ray.init(**kwargs)
    except ConnectionError as e:
        raise ExecutorConfigError(
            f"cannot reach the Ray cluster at {address!r}: {e}; start one with `ray start --head` (docs/ray.md), or "
            "leave --ray-address out to start a local Ray instance"
        ) from None
    finally:
        os.environ.update(hidden)


def task_timeout_s(job: CandidateJob, max_retries: int) -> float:
    """How long the driver waits for a job's task: every attempt's wall limit and margin, plus scheduling."""
    return (max_retries + 1) * (job.limits.wall_s + EVAL_MARGIN_S) + START_MARGIN_S


def _job_name(job: CandidateJob) -> str:
    return "/".join(Path(job.out_dir).parts[-2:])


def _failed(job: CandidateJob, status: TrainStatus, message: str) -> CandidateOutcome:
    return CandidateOutcome(TrainResult(status, message[:2000], 0.0, Path(job.out_dir)), None)


class RayExecutor:
    """Runs each job as a Ray task with the options' resources; safe to call from several threads."""

    name = "ray"

    def __init__(self, workers: int, options: RayOptions | None = None, log: Callable[[str], None] = _logger.warning):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.options = options or RayOptions()
        self.ray = import_ray()
        self._owns = False
        self._lock = threading.Lock()
        self._in_flight: dict[str, Any] = {}
        self._node_names: dict[str, str] = {}
        self.nodes: tuple[NodeProbe, ...] = ()
        """What each node fitting a candidate answered at start (its name, sandbox, secrets found)."""
        if not self.ray.is_initialized():
            self._init()
        self._sandbox = sandbox_mode()
        self._seccomp = seccomp_wanted()
        try:
            self._check_runtime_env()
            self._probe_nodes(self._fitting_nodes(log), log)
        except BaseException:
            self.close()  # a local instance started here goes again
            raise
        self._remote = self.ray.remote(run_on_node)
        self._slots = threading.BoundedSemaphore(workers)

    # ----- set-up ----------------------------------------------------------------------------------------------
    def _init(self) -> None:
        init_ray(self.options.address)
        self._owns = True

    def _check_runtime_env(self) -> None:
        env = self.ray.get_runtime_context().runtime_env or {}
        leaked = secret_names(dict(env.get("env_vars") or {}))
        if leaked:
            raise ExecutorConfigError(
                f"the Ray job's runtime_env sets {', '.join(leaked)}: API keys stay on the driver; remove them "
                "from runtime_env (RAY_RUNTIME_ENV / ray.init)"
            )

    def _fitting_nodes(self, warn: Callable[[str], None]) -> list[str]:
        """Ids of the live nodes that fit one candidate; none is an error (every task would wait forever)."""
        cpus, gpus = self.options.cpus_per_candidate, self.options.gpus_per_candidate
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        slots: dict[str, int] = {}
        for n in nodes:
            r = n.get("Resources", {})
            fit = int(r.get("CPU", 0.0) // cpus)
            if gpus > 0:
                fit = min(fit, int(r.get("GPU", 0.0) // gpus))
            if fit > 0:
                slots[n["NodeID"]] = fit
        if not slots:
            have = "; ".join(
                f"CPU {n.get('Resources', {}).get('CPU', 0):g}, GPU {n.get('Resources', {}).get('GPU', 0):g}"
                for n in nodes
            )
            raise ExecutorConfigError(
                f"no node of the Ray cluster fits one candidate ({cpus:g} CPUs, {gpus:g} GPUs); nodes: "
                f"{have or 'no live node'}"
            )
        if sum(slots.values()) < self.workers:
            warn(
                f"ray: the cluster fits {sum(slots.values())} candidates at once ({cpus:g} CPUs, {gpus:g} GPUs each) "
                f"but workers={self.workers}: the others wait in Ray's queue, and waiting counts against each task's "
                "timeout"
            )
        return list(slots)

    def _probe_nodes(self, node_ids: list[str], warn: Callable[[str], None]) -> None:
        """Verify the sandbox on every node that fits a candidate, before any work; secrets found there: a warning."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        probe = self.ray.remote(probe_node)
        refs = [
            probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)).remote(
                self._sandbox, self._seccomp
            )
            for node_id in node_ids
        ]
        try:
            probes: list[NodeProbe] = [loads(b) for b in self.ray.get(refs, timeout=PROBE_TIMEOUT_S)]
        except self.ray.exceptions.GetTimeoutError:
            for ref in refs:
                self.ray.cancel(ref, force=True)
            raise ExecutorConfigError(
                f"the Ray nodes did not answer the sandbox check within {PROBE_TIMEOUT_S:.0f} s"
            ) from None
        self._node_names = {node_id: p.node for node_id, p in zip(node_ids, probes, strict=True)}
        bad = [p for p in probes if not p.sandbox_ok]
        if bad:
            raise IsolationUnavailable(
                "; ".join(f"node {p.node}: {p.message}" for p in bad)
                + f" ({self._sandbox} sandbox; bubblewrap is needed on every node, docs/ray.md)"
            )
        for p in probes:
            if p.secrets:
                warn(f"ray: node {p.node} had {', '.join(p.secrets)} in its environment; tasks remove them")
        self.nodes = tuple(probes)

    # ----- jobs -------------------------------------------------------------------------------------------------
    def run(self, job: CandidateJob) -> CandidateOutcome:
        """Ship ``job`` to a node, wait for it (bounded), write its files back; failures end typed.

        At most ``workers`` jobs are in Ray at once (as with the local executor); the rest wait here.
        """
        with self._slots:
            return self._run(job)

    def _run(self, job: CandidateJob) -> CandidateOutcome:
        if job.train.device.startswith("cuda") and self.options.gpus_per_candidate <= 0:
            raise ExecutorConfigError(
                f"job {_job_name(job)} trains on {job.train.device} but --gpus-per-candidate is 0: Ray would hide "
                "every GPU from the task; give --gpus-per-candidate 1 (or a fraction)"
            )
        name = _job_name(job)
        max_bytes = self.options.max_transfer_mb * 2**20
        try:
            parcel = pack(job, max_bytes)
        except TransferTooLarge as e:
            return _failed(job, "executor_error", f"cannot ship {name} to a Ray node: {e}")
        ref = self._remote.options(
            num_cpus=self.options.cpus_per_candidate,
            num_gpus=self.options.gpus_per_candidate,
            max_retries=self.options.max_retries,
            retry_exceptions=False,
            name=f"eureka-kit {name}",
        ).remote(dumps(parcel), self._sandbox, self._seccomp, max_bytes)
        task = ref.task_id().hex()
        with self._lock:
            self._in_flight[name] = ref
        try:
            raw = self._wait(ref, job, name, task)
        finally:
            with self._lock:
                self._in_flight.pop(name, None)
        if isinstance(raw, CandidateOutcome):
            return raw
        report: NodeReport = loads(raw)
        if report.status != "ok" or report.outcome is None or report.delivery is None:
            return _failed(job, "executor_error", f"Ray task {task} ({name}): {report.message}")
        try:
            write_back(report.delivery, Path(job.out_dir))
        except UnsafeDelivery as e:
            return _failed(job, "executor_error", f"Ray task {task} ({name}) on node {report.node}: {e}")
        return rebase(report.outcome, Path(report.root), Path(job.out_dir))

    def _wait(self, ref: Any, job: CandidateJob, name: str, task: str) -> bytes | CandidateOutcome:
        """The task's bytes, or a typed outcome for a task that was lost, killed, cancelled or timed out."""
        exc = self.ray.exceptions
        timeout = task_timeout_s(job, self.options.max_retries)
        retried = f" after {self.options.max_retries} retries" if self.options.max_retries else ""
        try:
            return self.ray.get(ref, timeout=timeout)  # type: ignore[no-any-return]
        except exc.GetTimeoutError:
            self.ray.cancel(ref, force=True)
            where = f"Ray task {task} ({name}{self._where(task)})"
            return _failed(job, "timeout", f"{where} did not return within {timeout:.0f} s and was cancelled")
        except exc.TaskCancelledError:
            return _failed(job, "killed", f"Ray task {task} ({name}{self._where(task)}) was cancelled")
        except exc.OutOfMemoryError as e:
            where = f"Ray task {task} ({name}{self._where(task)})"
            return _failed(job, "out_of_memory", f"{where}: Ray's memory monitor killed it{retried}: {_first(e)}")
        except exc.WorkerCrashedError as e:
            where = f"Ray task {task} ({name}{self._where(task)})"
            return _failed(job, "killed", f"{where}: its worker process died{retried}: {_first(e)}")
        except exc.RayError as e:  # node died, object lost, an exception in the task, ...
            where = f"Ray task {task} ({name}{self._where(task)})"
            return _failed(job, "executor_error", f"{where} failed{retried}: {type(e).__name__}: {_first(e)}")

    def _where(self, task: str) -> str:
        """``, node <name>`` of a task's last attempt, from Ray's state API (a cluster with its dashboard), else
        the only node that fits a candidate; empty when neither says."""
        node_id = None
        try:
            from ray.util.state import get_task

            found: Any = get_task(task, timeout=STATE_TIMEOUT_S)  # one attempt or a list of them, by version
            attempts: list[Any] = found if isinstance(found, list) else [found]
            node_id = next((a.node_id for a in reversed(attempts) if a is not None and a.node_id), None)
        except Exception:  # no dashboard (a local instance started here), or the state API failed: fall back
            pass
        if node_id is not None:
            return f", node {self._node_names.get(node_id, node_id)}"
        if len(self._node_names) == 1:
            return f", node {next(iter(self._node_names.values()))}"
        return ""

    def running(self) -> dict[str, Any]:
        """The object refs of the tasks in flight, by candidate name (``gen_000/cand_01``)."""
        with self._lock:
            return dict(self._in_flight)

    def close(self) -> None:
        """Cancel tasks still in flight; shut down the local instance this executor started."""
        for ref in self.running().values():
            self.ray.cancel(ref, force=True)
        if self._owns:
            self.ray.shutdown()
            self._owns = False


def _first(e: BaseException, limit: int = 800) -> str:
    text = " ".join(str(e).split())
    return text[:limit]
