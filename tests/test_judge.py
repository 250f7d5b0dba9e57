"""``--judge llm``: the LLM proposes the fitness expression; used once accepted (--yes), refused otherwise."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from tiny_runs import run_tiny, write_replay

from eureka_kit.llm import make_client
from eureka_kit.loop.judge import JudgeError, Proposal, accept, extract_expression, propose
from eureka_kit.tasks.registry import get_task

PROGRAM = textwrap.dedent(
    """
    ```python
    import torch

    def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
        backwards = -x_velocity
        ctrl = -0.1 * (action ** 2).sum(dim=-1)
        return backwards + ctrl, {"backwards": backwards, "ctrl": ctrl}
    ```
    """
)
JUDGE = "A backwards run is measured by the mean velocity towards -x:\n\n```fitness\nmean(-x_velocity)\n```\n"
GOAL = "run backwards"


def test_the_judges_expression_is_used_with_yes(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", [("judge", JUDGE), ("*", PROGRAM)])
    run = run_tiny(
        tmp_path / "runs",
        replay,
        samples=1,
        generations=1,
        analyzer=False,
        trajectory_check=False,
        goal=GOAL,
        judge="llm",
        yes=True,
    )
    config = json.loads((run.run_dir / "config.json").read_text())["config"]
    assert config["fitness"] == "mean(-x_velocity)" and config["judge"] == "llm"
    judge = json.loads((run.run_dir / "judge.json").read_text())
    assert judge["expression"] == "mean(-x_velocity)" and judge["accepted_by"] == "--yes" and judge["goal"] == GOAL
    cand = run.run_dir / "gen_000" / "cand_00"
    assert json.loads((cand / "eval.json").read_text())["fitness_name"] == "expr: mean(-x_velocity)"
    calls = [json.loads(line) for line in (run.run_dir / "llm_calls.jsonl").read_text().splitlines()]
    assert calls[0]["request_id"] == "judge"


def test_without_yes_on_a_non_tty_the_run_stops_and_leaves_nothing(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", [("judge", JUDGE), ("*", PROGRAM)])
    with pytest.raises(JudgeError, match=r"proposed the fitness 'mean\(-x_velocity\)'; a run uses it only once"):
        run_tiny(tmp_path / "runs", replay, samples=1, generations=1, goal=GOAL, judge="llm")
    assert not any((tmp_path / "runs").iterdir())  # the failed start left no run folder


def test_a_proposal_outside_the_grammar_is_reported(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", [("judge", "```fitness\nmean(env.x_velocity)\n```")])
    client = make_client("replay", replay_path=replay)
    with pytest.raises(JudgeError, match=r"not a valid fitness expression: .*attribute"):
        propose(client, get_task("HalfCheetah-Run-v1"))
    assert extract_expression("I would use\nfitness: max(torso_height)") == "max(torso_height)"


def test_on_a_terminal_the_user_answers() -> None:
    proposal = Proposal("mean(-x_velocity)", JUDGE)
    shown: list[str] = []
    assert accept(proposal, yes=False, is_tty=True, ask=lambda _: "y", show=shown.append) == "terminal"
    assert shown == ["LLM judge: proposed fitness expression: mean(-x_velocity)"]
    with pytest.raises(JudgeError, match="Accept it with --yes"):
        accept(proposal, yes=False, is_tty=True, ask=lambda _: "n", show=shown.append)
