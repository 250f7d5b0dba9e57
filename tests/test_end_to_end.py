"""End to end through the loop, on the paths the main loop test does not take (tiny budgets, replayed answers).

- the human-normalized score, asserted on numbers;
- a critic repair round: the first answer fails the critic, the repair answer passes, both are kept;
- ``--llm-analyzer``: the LLM's diagnosis of the analyzer's findings lands in the feedback;
- ``--skip-on-trajectory-check``: a program that prefers the failed trajectories is not trained;
- nothing worked: every candidate of a generation fails, and the next prompt is Eureka's execution-error one.

The first three share one run (``paths_run``): 2 generations x 2 programs, 256 training steps each.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.final_eval import FinalEval, SeedResult, format_table
from eureka_kit.loop import RunResult
from eureka_kit.prompting import render


def _code(body: str) -> str:
    return f"Here is the reward.\n\n```python\nimport torch\n\n\n{body.strip()}\n```\n"


FORWARD = _code(
    """
def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    ctrl = -0.1 * (action ** 2).sum(dim=-1)
    return x_velocity + ctrl, {"forward": x_velocity, "ctrl": ctrl}
"""
)
FORWARD_LEVEL = _code(
    """
def compute_reward(x_velocity: torch.Tensor, torso_angle: torch.Tensor):
    level = 0.1 * torch.exp(-torso_angle ** 2)
    return x_velocity + level, {"forward": x_velocity, "level": level}
"""
)
PURE_FORWARD = _code(  # per-step reward ~ forward distance: prefers the successful trajectories
    """
def compute_reward(x_velocity: torch.Tensor):
    return x_velocity, {"forward": x_velocity}
"""
)
UNKNOWN_ARGUMENT = _code(
    """
def compute_reward(cheetah_speed: torch.Tensor):
    return cheetah_speed, {"speed": cheetah_speed}
"""
)
BACKWARDS = _code(  # more reward the less the cheetah moves forward: prefers the failed trajectories
    """
def compute_reward(x_velocity: torch.Tensor):
    backwards = -x_velocity
    return backwards, {"backwards": backwards}
"""
)
DIAGNOSIS = "DIAGNOSIS-7F3A: the cheetah moves forward slowly; raise the weight of the forward term."


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _record(run: RunResult, g: int, i: int) -> dict[str, Any]:
    return _json(run.run_dir / f"gen_{g:03d}" / f"cand_{i:02d}" / "candidate.json")


def _calls(run: RunResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run.run_dir / "llm_calls.jsonl").read_text().splitlines() if line]


# ----- the human-normalized score ------------------------------------------------------------------------------


def _final(program: list[float], human: list[float], sparse: list[float]) -> FinalEval:
    results = [
        SeedResult(kind, seed, "ok", fitness, "")  # type: ignore[arg-type]
        for kind, values in (("program", program), ("baseline", human), ("sparse", sparse))
        for seed, fitness in enumerate(values)
    ]
    return FinalEval(task="HalfCheetah-Run-v1", steps=256, seeds=2, results=tuple(results))


def test_human_normalized_score_is_eurekas_formula_on_numbers() -> None:
    # (F_method - F_sparse) / (F_human - F_sparse) = (4 - 1) / (7 - 1)
    final = _final(program=[3.0, 5.0], human=[6.0, 8.0], sparse=[0.5, 1.5])
    assert final.mean_std("program") == (4.0, pytest.approx(math.sqrt(2)))
    assert final.human_normalized == pytest.approx(0.5)
    assert final.to_json()["human_normalized_score"] == pytest.approx(0.5)
    assert "human-normalized score: 0.500" in format_table(final)
    # better than the human reward: above 1; worse than sparse: negative
    assert _final([13.0, 13.0], [6.0, 8.0], [1.0, 1.0]).human_normalized == pytest.approx(2.0)
    assert _final([-2.0, 0.0], [6.0, 8.0], [1.0, 1.0]).human_normalized == pytest.approx(-2 / 6)
    # sparse beats human: the denominator is taken as an absolute value, so better than sparse stays positive
    assert _final([4.0, 4.0], [0.0, 0.0], [2.0, 2.0]).human_normalized == pytest.approx(1.0)
    # undefined when human == sparse, or when a reward has no successful seed
    assert _final([4.0, 4.0], [2.0, 2.0], [2.0, 2.0]).human_normalized is None
    assert _final([], [6.0, 8.0], [1.0, 1.0]).human_normalized is None
    assert "human-normalized score: n/a" in format_table(_final([], [6.0, 8.0], [1.0, 1.0]))


# ----- one run: critic repair, LLM analyzer, trajectory check with skipping -----------------------------------


@pytest.fixture(scope="module")
def paths_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    tmp = tmp_path_factory.mktemp("e2e")
    replay = write_replay(
        tmp / "replay.jsonl",
        [
            ("gen_000/initial", UNKNOWN_ARGUMENT),  # cand_00: fails the critic...
            ("gen_000/initial", FORWARD_LEVEL),  # cand_01
            ("gen_000/cand_00/repair_1", FORWARD),  # ...and its repair passes
            ("gen_001/reflection", PURE_FORWARD),  # passes the trajectory check
            ("gen_001/reflection", BACKWARDS),  # fails it: skipped, not trained
            ("analyzer", DIAGNOSIS),
        ],
    )
    return run_tiny(
        tmp / "runs",
        replay,
        samples=2,
        generations=2,
        repair_rounds=1,
        eval_episodes=2,  # 2 candidates x 2 episodes: 2 successful and 2 failed trajectories for gen 1's check
        analyzer=True,
        llm_analyzer=True,
        trajectory_check=True,
        skip_on_trajectory_check=True,
    )


def test_critic_repair_round_end_to_end(paths_run: RunResult) -> None:
    cand = paths_run.run_dir / "gen_000" / "cand_00"
    record = _record(paths_run, 0, 0)
    assert record["status"] == "ok" and record["repairs"] == 1, record
    assert "cheetah_speed" in (cand / "response.md").read_text()  # the first answer is kept...
    assert "cheetah_speed" not in (cand / "response_repair_1.md").read_text()  # ...and so is the repair
    assert "def compute_reward(x_velocity" in (cand / "reward.py").read_text()  # the program trained is the repair
    assert _json(cand / "check.json")["ok"] is True
    assert (cand / "policy.safetensors").exists() and _json(cand / "eval.json")["status"] == "ok"
    repair_calls = [c for c in _calls(paths_run) if c["request_id"] == "gen_000/cand_00/repair_1"]
    assert len(repair_calls) == 1 and repair_calls[0]["status"] == "ok"
    assert _record(paths_run, 0, 1)["repairs"] == 0


def test_llm_analyzer_end_to_end(paths_run: RunResult) -> None:
    for g, i in ((0, 0), (0, 1), (1, 0)):
        cand = paths_run.run_dir / f"gen_{g:03d}" / f"cand_{i:02d}"
        feedback = (cand / "feedback.md").read_text()
        assert "Diagnosis:\n" + DIAGNOSIS in feedback, f"{cand.name}: no LLM diagnosis in feedback.md"
        assert _json(cand / "analysis.json")["findings"]
    analyzer_calls = {c["request_id"] for c in _calls(paths_run) if c["request_id"].endswith("/analyzer")}
    assert analyzer_calls == {"gen_000/cand_00/analyzer", "gen_000/cand_01/analyzer", "gen_001/cand_00/analyzer"}
    # the elite's feedback, diagnosis included, reaches the next generation's prompt
    prompt = _json(paths_run.run_dir / "gen_001" / "prompt.json")
    assert DIAGNOSIS in prompt[-1]["content"]


def test_skip_on_trajectory_check_end_to_end(paths_run: RunResult) -> None:
    gen1 = paths_run.run_dir / "gen_001"
    passed = _json(gen1 / "cand_00" / "trajectory_check.json")
    failed = _json(gen1 / "cand_01" / "trajectory_check.json")
    assert passed["status"] == "pass", passed
    assert failed["status"] == "fail", failed
    rejected = _record(paths_run, 1, 1)
    assert rejected["status"] == "trajectory_rejected" and rejected["message"], rejected
    assert not (gen1 / "cand_01" / "policy.safetensors").exists() and not (gen1 / "cand_01" / "train.log").exists()
    assert _record(paths_run, 1, 0)["status"] == "ok"
    summary = _json(paths_run.run_dir / "summary.json")
    assert summary["trajectory_check"]["training_runs_saved"] == 1
    assert summary["trajectory_check"]["pass"] == 1 and summary["trajectory_check"]["fail"] == 1
    assert summary["status_counts"] == {"ok": 3, "trajectory_rejected": 1}


# ----- nothing worked ------------------------------------------------------------------------------------------


def test_nothing_worked_prompts_with_the_execution_error(tmp_path: Path) -> None:
    """Every generation-0 candidate fails; generation 1 shows one failed program and its error (Eureka)."""
    replay = write_replay(
        tmp_path / "replay.jsonl",
        [
            ("gen_000/initial", UNKNOWN_ARGUMENT),
            ("gen_000/initial", "I cannot write code for this task."),  # no program at all: extract_error
            ("gen_001/reflection", "Still no code."),
        ],
    )
    run = run_tiny(tmp_path / "runs", replay, samples=2, generations=2, repair_rounds=0, analyzer=False)
    assert [_record(run, 0, i)["status"] for i in range(2)] == ["check_error", "extract_error"]
    assert run.best is None and _json(run.run_dir / "summary.json")["best"] is None
    prompt = _json(run.run_dir / "gen_001" / "prompt.json")
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    assert "cheetah_speed" in prompt[2]["content"]  # the program that failed...
    failed = _record(run, 0, 0)
    expected = render("execution_error", status="check_error", message=failed["message"])
    assert prompt[3]["content"].strip() == expected.strip()  # ...and the execution-error template with its error
    assert "Executing the reward function above failed (check_error)" in prompt[3]["content"]
    assert "cheetah_speed" in prompt[3]["content"]


def test_a_relative_runs_folder_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", [("*", PURE_FORWARD)])
    monkeypatch.chdir(tmp_path)
    run = run_tiny(Path("runs"), replay, samples=1, generations=1, analyzer=False, trajectory_check=False)
    assert _record(run, 0, 0)["status"] == "ok", _record(run, 0, 0)["message"]


# ----- long checks (pytest -m expensive) -----------------------------------------------------------------------


@pytest.mark.expensive
def test_training_throughput_benchmark_at_its_real_budget() -> None:
    """``bench/train_throughput.py`` as documented: 20,000 steps with the reward program and with the env's reward."""
    import re
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / "train_throughput.py")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-3000:]}"
    rates = {m[0]: float(m[1]) for m in re.findall(r"^\s*(baseline|program): +([\d.]+) env-steps/s", proc.stdout, re.M)}
    assert set(rates) == {"baseline", "program"} and all(r > 0 for r in rates.values()), proc.stdout
    ratio = float(re.search(r"ratio program/baseline: ([\d.]+)", proc.stdout)[1])  # type: ignore[index]
    assert ratio == pytest.approx(rates["program"] / rates["baseline"], rel=0.01)
    assert ratio > 0.25, f"the reward program makes training {1 / ratio:.1f}x slower:\n{proc.stdout}"


def test_minimal_loop_example_runs(tmp_path: Path) -> None:
    """``examples/minimal_loop.py`` at a tiny budget: it runs and reads back the result as it shows."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    tiny = ["--steps", "256", "--generations", "1", "--samples", "2", "--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.run(
        [sys.executable, str(root / "examples" / "minimal_loop.py"), *tiny],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    (run,) = (tmp_path / "runs").iterdir()
    summary = _json(run / "summary.json")
    assert summary["status_counts"] == {"ok": 2}, summary["status_counts"]
    out = proc.stdout
    assert f"best program {run / summary['best']['program']}" in out and "def compute_reward" in out
    assert "[minimal_loop] generation 0: 2/2 ok" in out  # the example's loop callback ran
    assert "generation 0: best fitness" in out and "gen_000/cand_01: ok fitness" in out


def test_a_goal_with_a_fitness_expression_runs_without_a_person(tmp_path: Path) -> None:
    """--goal + --fitness: the trusted evaluator and the training child's statistics both use the expression."""
    replay = write_replay(tmp_path / "replay.jsonl", [("*", PURE_FORWARD)])
    expr = "fraction(x_velocity > 0)"
    run = run_tiny(
        tmp_path / "runs",
        replay,
        samples=1,
        generations=1,
        analyzer=False,
        trajectory_check=False,
        goal="run backwards",
        fitness=expr,
    )
    record = _record(run, 0, 0)
    assert record["status"] == "ok", record["message"]
    assert 0.0 <= record["fitness"] <= 1.0  # a share of steps
    cand = run.run_dir / "gen_000" / "cand_00"
    assert json.loads((cand / "job.json").read_text())["fitness"] == expr
    assert json.loads((cand / "eval.json").read_text())["fitness_name"] == f"expr: {expr}"
    config = json.loads((run.run_dir / "config.json").read_text())["config"]
    assert config["fitness"] == expr and config["ranker"] == "none"
    summary = json.loads((run.run_dir / "summary.json").read_text())
    assert summary["best"] is not None and summary["best"]["fitness"] == record["fitness"]  # elite by the expression
