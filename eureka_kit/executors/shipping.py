"""Shipping a candidate job to another machine and its files back, without a shared filesystem.

A :class:`~eureka_kit.executors.base.CandidateJob` is plain data, but it names
files by path on the driver (``out_dir``, the reward program, an evaluation's
``rollouts_path``, any checkpoint a job resumes from). :func:`pack` turns it into
a :class:`Parcel`: the job pickled, and the bytes of every regular file in
``out_dir`` plus any file outside it that a path field of the job names. On the
node, :func:`unpack` writes those files into a node-local folder and rewrites the
job's paths to it; after the job, :func:`collect_outputs` gathers what is new or
changed there (and what was removed) as a :class:`Delivery`, which
:func:`write_back` applies to ``out_dir`` on the driver, each file written
atomically. Sizes are bounded both ways (:class:`TransferTooLarge`).

Path rewriting is generic (:func:`rebase`): it walks frozen dataclasses and
tuples, so fields added to ``CandidateJob`` or ``TrainJob`` later (a checkpoint
to resume from) are shipped and rewritten with no change here. This module does
not import Ray: the wire format is bytes.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import os
import pickle
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

import cloudpickle

from eureka_kit.errors import UserError
from eureka_kit.executors.base import CandidateJob
from eureka_kit.files import atomic_write_bytes
from eureka_kit.tasks.spec import TaskSpec

T = TypeVar("T")

DEFAULT_MAX_TRANSFER_MB = 512
"""Default bound of a parcel's files, and of the files a job sends back, in MiB each way."""

SHIPPED_DIR = "_shipped"
"""Folder (in the node's copy of ``out_dir``) for files the job names outside ``out_dir``; never sent back."""


class TransferTooLarge(UserError, ValueError):
    """The files to ship (inputs or outputs) exceed the bound; the message gives the size, the bound, the largest."""


class UnsafeDelivery(ValueError):
    """A delivered file name is absolute or leaves ``out_dir`` (``..``); nothing of the delivery is written."""


@dataclass(frozen=True)
class ShippedFile:
    """One file: its path relative to the candidate folder (POSIX form) and its bytes."""

    rel: str
    data: bytes


@dataclass(frozen=True)
class Parcel:
    """A job on its way to a node: the pickled job (paths as on the driver) and the files it needs."""

    job: bytes
    root: str
    """The driver's ``out_dir`` (what :func:`unpack` rewrites)."""
    files: tuple[ShippedFile, ...]
    external: Mapping[str, str]
    """Driver path of a file outside ``out_dir`` -> its ``rel`` in :attr:`files` (under :data:`SHIPPED_DIR`)."""

    @property
    def size(self) -> int:
        return len(self.job) + sum(len(f.data) for f in self.files)


@dataclass(frozen=True)
class Delivery:
    """What a job left in the node's folder: new or changed files, and the names of input files it removed."""

    files: tuple[ShippedFile, ...]
    removed: tuple[str, ...]

    @property
    def size(self) -> int:
        return sum(len(f.data) for f in self.files)


# ----- bytes: pickle, with the read-only mappings the records use --------------------------------------


def _mapping_proxy(data: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(data)


def _reduce_mapping_proxy(m: MappingProxyType[str, Any]) -> tuple[Callable[..., Any], tuple[dict[str, Any]]]:
    return _mapping_proxy, (dict(m),)


class _Pickler(cloudpickle.Pickler):  # type: ignore[misc]
    """cloudpickle (for task specs built at run time) that also pickles ``MappingProxyType`` (frozen records)."""

    dispatch_table: ClassVar[ChainMap[Any, Any]] = ChainMap(
        {MappingProxyType: _reduce_mapping_proxy}, cloudpickle.Pickler.dispatch_table
    )


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` (records, task specs with their functions) for another process of the same package version."""
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def loads(data: bytes) -> Any:
    """The object :func:`dumps` pickled. Only for bytes from this package's own processes (driver and nodes)."""
    return pickle.loads(data)


# ----- path rewriting ------------------------------------------------------------------------------------


def _map_value(value: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(value, TaskSpec):  # the task: no run paths, and its text is not to be rewritten
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = _map_value(old, fn)
            if new is not old:
                changed[f.name] = new
        if not changed:
            return value
        out = copy.copy(value)
        for name, new in changed.items():
            object.__setattr__(out, name, new)  # frozen records: no __post_init__ again, init=False fields too
        return out
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        items = tuple(_map_value(v, fn) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return fn(value)


def rebase(obj: T, old: Path, new: Path) -> T:
    """``obj`` with every path under ``old`` moved under ``new``, in its dataclass fields and tuples, recursively.

    ``Path`` values under ``old`` become the same place under ``new``; strings
    have ``old`` replaced by ``new`` wherever it occurs (file names recorded as
    strings, messages that quote a path). Task specs are left as they are.
    """
    old_s, new_s = str(old), str(new)

    def fn(value: Any) -> Any:
        if isinstance(value, Path):
            try:
                return new / value.relative_to(old)
            except ValueError:
                return value
        if isinstance(value, str) and old_s in value:
            return value.replace(old_s, new_s)
        return value

    return _map_value(obj, fn)  # type: ignore[no-any-return]


def _paths(obj: Any) -> list[Path]:
    found: list[Path] = []

    def fn(value: Any) -> Any:
        if isinstance(value, Path):
            found.append(value)
        return value

    _map_value(obj, fn)
    return found


# ----- packing, unpacking, collecting, writing back ------------------------------------------------------


def _too_large(what: str, files: list[ShippedFile], bound: int) -> TransferTooLarge:
    total = sum(len(f.data) for f in files)
    largest = sorted(files, key=lambda f: len(f.data), reverse=True)[:3]
    names = ", ".join(f"{f.rel} ({len(f.data) / 2**20:.1f} MiB)" for f in largest)
    return TransferTooLarge(
        f"{what} are {total / 2**20:.1f} MiB, over the bound of {bound / 2**20:.0f} MiB (largest: {names}); "
        "raise --max-transfer-mb or keep the candidate folder smaller"
    )


def _regular_files(root: Path) -> dict[str, Path]:
    """Regular files under ``root`` (no links followed) by POSIX path relative to it."""
    out: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                out[path.relative_to(root).as_posix()] = path
    return out


def pack(job: CandidateJob, max_bytes: int) -> Parcel:
    """Everything ``job`` needs on a machine without the driver's files: raises :class:`TransferTooLarge`."""
    root = Path(job.out_dir).resolve()
    files: list[ShippedFile] = []
    total = 0
    for rel, path in sorted(_regular_files(root).items()) if root.is_dir() else []:
        data = path.read_bytes()
        files.append(ShippedFile(rel, data))
        total += len(data)
        if total > max_bytes:
            raise _too_large("the candidate folder's files", files, max_bytes)
    external: dict[str, str] = {}
    for p in _paths(job):
        resolved = Path(p).resolve()
        if resolved.is_relative_to(root) or str(p) in external or not resolved.is_file():
            continue
        rel = f"{SHIPPED_DIR}/{len(external)}/{resolved.name}"
        external[str(p)] = rel
        files.append(ShippedFile(rel, resolved.read_bytes()))
        if sum(len(f.data) for f in files) > max_bytes:
            raise _too_large("the job's files", files, max_bytes)
    return Parcel(dumps(job), str(root), tuple(files), MappingProxyType(external))


def _safe_rel(rel: str) -> PurePosixPath:
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or any(part in ("..", "") for part in p.parts):
        raise UnsafeDelivery(f"refusing file name {rel!r}: it must be relative and stay inside the candidate folder")
    return p


def unpack(parcel: Parcel, dest: Path) -> CandidateJob:
    """Write the parcel's files into ``dest`` and return its job with paths rewritten to ``dest``."""
    for f in parcel.files:
        path = dest / _safe_rel(f.rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
    job: CandidateJob = loads(parcel.job)

    def fn(value: Any) -> Any:
        if isinstance(value, Path) and str(value) in parcel.external:
            return dest / parcel.external[str(value)]
        return value

    job = _map_value(job, fn)
    job = rebase(job, Path(parcel.root), dest)
    return dataclasses.replace(job, out_dir=dest)


def digests(files: tuple[ShippedFile, ...]) -> dict[str, str]:
    """SHA-256 of each shipped file, by name (what :func:`collect_outputs` compares against)."""
    return {f.rel: hashlib.sha256(f.data).hexdigest() for f in files}


def collect_outputs(dest: Path, inputs: Mapping[str, str], max_bytes: int) -> Delivery:
    """New or changed files under ``dest`` (not :data:`SHIPPED_DIR`), and inputs removed; :class:`TransferTooLarge`."""
    now = _regular_files(dest)
    files: list[ShippedFile] = []
    total = 0
    for rel, path in sorted(now.items()):
        if rel.startswith(f"{SHIPPED_DIR}/"):
            continue
        data = path.read_bytes()
        if inputs.get(rel) == hashlib.sha256(data).hexdigest():
            continue
        files.append(ShippedFile(rel, data))
        total += len(data)
        if total > max_bytes:
            raise _too_large("the files the job wrote", files, max_bytes)
    removed = tuple(sorted(r for r in inputs if r not in now and not r.startswith(f"{SHIPPED_DIR}/")))
    return Delivery(tuple(files), removed)


def write_back(delivery: Delivery, out_dir: Path) -> None:
    """Apply a delivery to ``out_dir`` on the driver: every file written atomically, removed inputs removed."""
    for rel in [f.rel for f in delivery.files] + list(delivery.removed):  # every name checked before any write
        _safe_rel(rel)
    for f in delivery.files:
        path = out_dir / _safe_rel(f.rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, f.data)
    for rel in delivery.removed:
        (out_dir / _safe_rel(rel)).unlink(missing_ok=True)
