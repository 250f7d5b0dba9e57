"""The install from a wheel: what the wheel holds, and that the installed tool works outside the checkout.

The wheel is built from a copy of the working tree (tracked and untracked, non-ignored files: what a clean
clone plus the work in progress holds), so the test sees exactly what ``pip install .`` would install. The
installed check creates a fresh venv in tmp, installs the wheel with ``--no-deps`` and makes the project's
already-installed dependencies (torch, mujoco, ...) visible with a ``.pth`` line naming this venv's
site-packages. A ``.pth`` line only adds a folder to ``sys.path``: the ``.pth`` files inside it, among them the
editable install of eureka_kit (``__editable__*.pth``), are not processed, so the fresh venv imports eureka_kit
from the wheel only (asserted below).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the folders the project is known by, and where they install
INSTALLED_AS = {"eureka_kit": "eureka_kit", "envs": "eureka_kit/envs", "prompts": "eureka_kit/templates"}
INSTALLED_AS["examples"] = "eureka_kit/examples"


def _tree_files() -> list[str]:
    """Files of the working tree that a clean clone would hold, plus untracked work not ignored by git."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the working tree, built without network from a copy (nothing is written into the checkout)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files a clean clone holds")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in _tree_files():
        dest = src / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest)
    dist = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, f"wheel build failed:\n{build.stdout}\n{build.stderr}"
    assert "BuildBackendWarning" not in build.stderr, f"the build warns (package config):\n{build.stderr}"
    (whl,) = dist.glob("eureka_kit-*.whl")
    return whl


def _names(whl: Path) -> set[str]:
    with zipfile.ZipFile(whl) as z:
        return set(z.namelist())


def test_wheel_installs_only_under_eureka_kit(wheel: Path) -> None:
    tops = {n.split("/", 1)[0] for n in _names(wheel)}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"eureka_kit"}, f"top-level names besides eureka_kit: {sorted(tops - dist_info)}"
    assert not any(n.startswith("envs/") for n in _names(wheel)), "a generic top-level `envs` package"


def test_wheel_holds_every_package_templates_static_files_and_examples(wheel: Path) -> None:
    names = _names(wheel)
    missing = []
    for folder, installed in INSTALLED_AS.items():
        for path in sorted((ROOT / folder).rglob("*")):
            rel = path.relative_to(ROOT / folder)
            if not path.is_file() or "__pycache__" in rel.parts or path.suffix == ".pyc":
                continue
            if path.suffix in (".py", ".j2", ".json", ".jsonl", ".html", ".js", ".css"):
                if f"{installed}/{rel.as_posix()}" not in names:
                    missing.append(f"{folder}/{rel.as_posix()}")
    assert not missing, f"files of the checkout missing from the wheel (add their package to pyproject.toml): {missing}"
    # the ones the tool reads at run time, by name
    for needed in (
        "eureka_kit/templates/initial.j2",
        "eureka_kit/templates/execution_error.j2",
        "eureka_kit/web/static/rank.html",
        "eureka_kit/web/static/dashboard.html",
        "eureka_kit/examples/halfcheetah_reward.py",
        "eureka_kit/examples/responses/halfcheetah_demo.jsonl",
        "eureka_kit/envs/__init__.py",
    ):
        assert needed in names, needed


def test_wheel_metadata_declares_the_script_and_the_task_pack_group(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        ep = next(z.read(n).decode() for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
        meta = next(z.read(n).decode() for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    assert "[console_scripts]\neureka-kit = eureka_kit.cli:main" in ep
    assert "[eureka_kit.tasks]\nbuiltin = eureka_kit.envs" in ep
    assert "Requires-Python: >=3.11" in meta


def _fresh_venv(tmp: Path, whl: Path) -> tuple[Path, Path]:
    """A venv with only the wheel installed; the dependencies come from this venv by a ``.pth`` line."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(whl)],
        check=True,
        timeout=300,
    )
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "_eureka_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv, site


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "EUREKA_"))}
    env.pop("OPENAI_API_KEY", None)
    return env


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(venv, its site-packages): the fresh venv with the wheel, shared by the tests of the installed tool."""
    return _fresh_venv(tmp_path_factory.mktemp("installed"), wheel)


@pytest.mark.skipif(sys.platform != "linux", reason="the venv layout and the sandbox are checked on Linux")
def test_installed_wheel_works_outside_the_checkout(installed: tuple[Path, Path], tmp_path: Path) -> None:
    venv, site = installed
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env()

    def run(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)

    # eureka_kit comes from the wheel, not from the checkout (the editable install's .pth is not processed)
    probe = run(
        str(venv / "bin" / "python"),
        "-c",
        "import importlib.util, json, sys, importlib.metadata as md, eureka_kit.cli, eureka_kit.envs;"
        "print(json.dumps({'files': sorted({m.__file__ for m in list(sys.modules.values())"
        " if m.__name__.startswith('eureka_kit') and getattr(m, '__file__', None)}),"
        " 'dist': str(md.distribution('eureka-kit').locate_file('')),"
        " 'envs': importlib.util.find_spec('envs') is not None,"
        " 'editable': any('__editable__' in type(f).__module__ for f in sys.meta_path)}))",
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    outside = [f for f in found["files"] if not f.startswith(str(site))]
    assert not outside, f"eureka_kit modules loaded from outside the fresh venv: {outside}"
    assert found["dist"].startswith(str(site)) and not found["editable"] and not found["envs"]

    eureka = str(venv / "bin" / "eureka-kit")
    tasks = run(eureka, "tasks")
    assert tasks.returncode == 0, tasks.stderr
    assert "HalfCheetah-Run-v1" in tasks.stdout and "MountainCar-Flag-v1" in tasks.stdout

    examples = site / "eureka_kit" / "examples"
    sandbox = "strict" if shutil.which("bwrap") else "basic"
    check = run(eureka, "check", "HalfCheetah-Run-v1", str(examples / "halfcheetah_reward.py"), "--sandbox", sandbox)
    assert check.returncode == 0, f"{check.stdout}\n{check.stderr}"
    assert "OK for task HalfCheetah-Run-v1" in check.stdout

    # a tiny replay run of the shipped demo answers: 1 generation, 1 program, 256 training steps
    # fmt: off
    tiny = run(
        eureka, "run", "HalfCheetah-Run-v1", "--llm", "replay",
        "--replay-path", str(examples / "responses" / "halfcheetah_demo.jsonl"),
        "--samples", "1", "--generations", "1", "--steps", "256", "--n-envs", "1", "--eval-episodes", "1",
        "--workers", "1", "--repair-rounds", "0", "--no-videos", "--sandbox", sandbox, "--runs-dir", "runs",
    )
    # fmt: on
    assert tiny.returncode == 0, f"{tiny.stdout}\n{tiny.stderr}"
    (run_dir,) = (work / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    record = json.loads((run_dir / "gen_000" / "cand_00" / "candidate.json").read_text())
    assert record["status"] == "ok", f"the installed tool could not train the demo's first program: {record}"
    assert summary["best"]["candidate"] == "gen_000/cand_00"
    assert json.loads((run_dir / "config.json").read_text())["config"]["sandbox"] == sandbox
    assert not (ROOT / "runs" / run_dir.name).exists(), "the run landed in the checkout"


PACK = ROOT / "tests" / "data" / "taskpack"
PACK_PROGRAM = """```python
import torch


def compute_reward(cos_angle: torch.Tensor, angular_velocity: torch.Tensor, action: torch.Tensor):
    upright = cos_angle
    calm = -0.1 * torch.square(angular_velocity)
    return upright + calm, {"upright": upright, "calm": calm}
```
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the venv layout and the sandbox are checked on Linux")
def test_a_third_party_task_pack_is_found_and_trains_in_the_sandbox(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    """tests/data/taskpack (an entry point in the eureka_kit.tasks group), installed next to the wheel: its one
    registration brings a batched engine of its own, on which the ``cpu`` backend trains it."""
    venv, site = installed
    src, dist = tmp_path / "pack", tmp_path / "dist"
    # built from a copy, since setuptools writes build/ and *.egg-info next to the sources (never in the checkout)
    shutil.copytree(PACK, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert build.returncode == 0, f"{build.stdout}\n{build.stderr}"
    (pack,) = dist.glob("eureka_test_pack-*.whl")
    py = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(pack)], check=True
    )
    assert (site / "eureka_test_pack" / "tasks.py").is_file()
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env()
    eureka = str(venv / "bin" / "eureka-kit")
    tasks = subprocess.run([eureka, "tasks"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert tasks.returncode == 0, tasks.stderr
    assert "PackPendulum-Upright-v1" in tasks.stdout and "HalfCheetah-Run-v1" in tasks.stdout
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"key": "*", "text": PACK_PROGRAM}) + "\n")
    sandbox = "strict" if shutil.which("bwrap") else "basic"
    # fmt: off
    tiny = subprocess.run(
        [
            eureka, "run", "PackPendulum-Upright-v1", "--llm", "replay", "--replay-path", str(replay),
            "--backend", "cpu",  # the pack's own batched engine, registered with its task
            "--samples", "1", "--generations", "1", "--steps", "256", "--n-envs", "4", "--eval-episodes", "1",
            "--workers", "1", "--repair-rounds", "0", "--no-videos", "--no-analyzer", "--no-trajectory-check",
            "--sandbox", sandbox, "--runs-dir", "runs",
        ],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    # fmt: on
    assert tiny.returncode == 0, f"{tiny.stdout}\n{tiny.stderr}"
    (run_dir,) = (work / "runs").iterdir()
    record = json.loads((run_dir / "gen_000" / "cand_00" / "candidate.json").read_text())
    assert record["status"] == "ok", f"the pack's task did not train in the sandbox: {record}"
    assert record["backend"] == "cpu", "the pack's batched engine and PPO defaults came with its one registration"
    assert json.loads((run_dir / "config.json").read_text())["config"]["sandbox"] == sandbox
