"""The file-system view of a strict child: what bubblewrap binds read-only, and where.

The view is built from nothing: read-only ``/usr``, ``/etc`` and the ``/lib*``
links, the Python installation, the virtual environment, site-packages outside
them and the packages the children import (``eureka_kit``, ``eureka_kit.envs``
and every task pack). Each is bound at its real path (symbolic links resolved)
with its missing parent folders made ``0755``. A symbolic link on the way to
the interpreter, the environment or site-packages (a virtual environment
reached as ``/tmp/x/venv -> /work/main/.venv``) is recreated in the view, and
a folder such a path walks through with ``..`` (``tests/../.venv/bin/python``)
is made, so the child finds ``sys.executable`` and ``sys.prefix`` at the very
paths the parent uses.

:func:`protected_entries` lists what was in the child's own folder before it
started: :func:`eureka_kit.sandbox.bwrap.bwrap_argv` binds those read-only on top.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import eureka_kit
from eureka_kit.tasks.registry import load_packs

_SYSTEM_DIRS = ("/usr", "/etc")
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_SYSTEM_TRY = ("/sys/devices/system/cpu",)  # torch's cpuinfo reads it; harmless


def package_root() -> Path:
    """The folder holding the ``eureka_kit`` package (the repository root in a checkout, site-packages installed)."""
    return Path(eureka_kit.__file__).resolve().parent.parent


def package_dirs() -> list[Path]:
    """The folders of the code the children import: ``eureka_kit``, its templates and every loaded task pack.

    In a checkout ``eureka_kit.envs`` lives in the top-level ``envs/`` folder
    (an editable install maps it); a task pack from another distribution lives
    wherever that one is installed. Each is bound into the strict sandbox's view.
    """
    dirs = [Path(eureka_kit.__file__).resolve().parent]
    for module in ["eureka_kit.envs", "eureka_kit.templates", *load_packs().values()]:
        mod = importlib.import_module(module)
        for entry in getattr(mod, "__path__", None) or [str(Path(mod.__file__ or ".").parent)]:
            dirs.append(Path(entry).resolve())
    return list(dict.fromkeys(dirs))


def covered(path: Path, roots: Iterable[Path]) -> bool:
    """``path`` is one of ``roots`` or lies under one of them."""
    return any(path == r or r in path.parents for r in roots)


def route_of(path: str | Path) -> list[tuple[Path, Path | None]]:
    """What the view needs so that ``path`` (absolute, as written) resolves there as it does here, in order.

    ``(link, real target)`` for each symbolic link met: ``/tmp/x/venv/bin/python`` with
    ``/tmp/x/venv -> /work/main/.venv`` gives ``(/tmp/x/venv, /work/main/.venv)``, then the links inside the
    real folder (``.venv/bin/python -> python3``, ...). ``(folder, None)`` for each folder the path walks
    through with ``..`` (``/work/main/tests/../.venv/bin/python`` needs ``/work/main/tests``).
    """
    out: list[tuple[Path, Path | None]] = []
    current = Path("/")
    for part in Path(path).parts[1:]:
        if part == "..":
            out.append((current, None))
            current = current.parent
            continue
        step = current / part
        if os.path.islink(step):
            real = Path(os.path.realpath(step))
            out.append((step, real))
            current = real
        else:
            current = step
    return out


@lru_cache(maxsize=1)
def view_paths() -> tuple[tuple[str, ...], frozenset[Path]]:
    """(bwrap arguments for the system part of the view, the directories it binds or makes)."""
    args: list[str] = []
    bound: list[Path] = []
    made: set[Path] = {Path("/tmp")}  # bwrap_argv mounts the private /tmp before these arguments
    for d in _SYSTEM_DIRS:
        if os.path.isdir(d):
            args += ["--ro-bind", d, d]
            bound.append(Path(d))
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
            bound.append(Path(link))
    for d in _SYSTEM_TRY:
        args += ["--ro-bind-try", d, d]
    # the Python installation, the virtual environment, site-packages outside them, and our packages
    interpreter = [sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    site = [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)]
    candidates = [*interpreter, str(Path(os.path.realpath(sys.executable)).parent.parent), *site]
    candidates += [str(d) for d in package_dirs()]
    extra: list[Path] = []
    for c in candidates:
        p = Path(os.path.realpath(c))
        if p == Path("/") or not p.is_dir():
            continue
        extra.append(p)
    extra.sort(key=lambda p: len(p.parts))
    for p in extra:
        if covered(p, bound):
            continue
        args += ancestor_dirs(p, made)
        args += ["--ro-bind", str(p), str(p)]
        bound.append(p)
    # the paths the parent uses (and the child inherits: sys.executable, VIRTUAL_ENV, PATH) as they are written:
    # through symbolic links, or through a folder and `..`
    route: dict[Path, Path | None] = {}
    for c in interpreter + site:
        if c and os.path.isabs(c):
            route.update(route_of(c))
    for place, target in route.items():  # in walking order: a link's target may hold the next link
        if covered(place, bound) or place in made or any(place in b.parents for b in bound):
            continue  # already in the view (inside a bound folder), or a folder of the view is there
        if target is None or not (covered(target, bound) or target in made):
            folder = place if target is None else target  # a real folder on the way (/a -> /b, /b/venv -> ...)
            if not folder.is_dir():
                continue  # a file outside the view: a link to it would only dangle
            args += ancestor_dirs(folder, made)
            args += ["--perms", "0755", "--dir", str(folder)]
            made.add(folder)
        if target is not None:
            args += ancestor_dirs(place, made)
            args += ["--symlink", str(target), str(place)]
            made.add(place)
    return tuple(args), frozenset(bound) | made


def ancestor_dirs(dest: Path, have: set[Path]) -> list[str]:
    """``--perms 0755 --dir`` for each missing ancestor of ``dest`` (bwrap would make them 0700 otherwise)."""
    out: list[str] = []
    for parent in reversed(dest.parents):
        if parent == Path("/") or parent in have:
            continue
        have.add(parent)
        out += ["--perms", "0755", "--dir", str(parent)]
    return out


def protected_entries(cwd: Path, writable: Iterable[Path]) -> list[Path]:
    """Entries of ``cwd`` that exist now and are neither writable by design nor symlinks (which are not followed)."""
    keep = {Path(p) for p in writable}
    out = []
    try:
        with os.scandir(cwd) as it:
            for e in it:
                p = cwd / e.name
                if p in keep or e.is_symlink():
                    continue
                if e.is_file(follow_symlinks=False) or e.is_dir(follow_symlinks=False):
                    out.append(p)
    except OSError:
        return []
    return sorted(out)
