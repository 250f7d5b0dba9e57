"""Terms a reward program computes and then drops (issue 26): the critic's static ``unused_term`` and
``component_not_in_total``, the smoke test's ``total_not_sum`` with its numbers, where the warnings go (repair
prompt, next generation's feedback), the analyzer's ``no_alive_term``, and the small-model corpus (no false warning).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from test_analyzer import craft, scores

from eureka_kit.evaluation.evaluator import Evaluation
from eureka_kit.feedback.analyzer import analyze
from eureka_kit.feedback.compose import candidate_feedback, critic_warnings
from eureka_kit.feedback.critique import render_critique
from eureka_kit.feedback.trajectory import Trajectory
from eureka_kit.loop.repair import repair_prompt
from eureka_kit.python_parse import parse_module
from eureka_kit.reward.check_report import CheckIssue, CheckReport
from eureka_kit.reward.critic import check_program
from eureka_kit.reward.extract import extract_program
from eureka_kit.reward.static_checks import check_static
from eureka_kit.reward.term_flow import term_issues
from eureka_kit.run.layout import CHECK_FILE
from eureka_kit.tasks.registry import get_task

HOPPER = get_task("Hopper-Hop-v1")
CHEETAH = get_task("HalfCheetah-Run-v1")
CORPUS = Path(__file__).parent / "data" / "corpus"
TERM_CODES = ("unused_term", "component_not_in_total", "total_not_sum")

# The issue's program: a real small model's best Hopper reward; `forward` and `alive` are computed and dropped.
DROPPED = """import torch

def compute_reward(x_velocity, is_healthy, torso_angle, action):
    forward = x_velocity
    alive = 0.5 * is_healthy
    effort = -0.1 * torch.square(action).sum(dim=-1)
    forward_reward = 1.25 * x_velocity
    torso_angle_stability = 0.5 - 0.05 * torch.abs(torso_angle)
    total = forward_reward + torso_angle_stability + effort
    return total, {"forward_reward": forward_reward, "torso_angle_stability": torso_angle_stability, "effort": effort}
"""
USED = (
    DROPPED.replace("    forward = x_velocity\n", "")
    .replace("+ effort\n", "+ effort + alive\n")
    .replace('"effort": effort}', '"effort": effort, "alive": alive}')
)
NOT_IN_TOTAL = DROPPED.replace("    forward = x_velocity\n", "").replace(
    '"effort": effort}', '"effort": effort, "alive": alive}'
)
NOT_SUM = USED.replace("total = forward_reward", "total = 2.0 * (forward_reward").replace("+ alive\n", "+ alive)\n")


def _terms(report: CheckReport) -> list[tuple[str, int | None]]:
    return [(i.code, i.line) for i in report.issues if i.code in TERM_CODES]


@cache
def _checked(source: str) -> CheckReport:
    return check_program(HOPPER, source)


def test_the_issue_program_names_both_dropped_terms_with_their_lines() -> None:
    report = _checked(DROPPED)
    assert report.ok
    assert _terms(report) == [("unused_term", 4), ("unused_term", 5)]
    assert (
        "`alive` (line 5) is computed but neither added to the total nor returned as a component; add it or remove it."
        in report.feedback()
    )
    assert "`forward` (line 4) is computed but" in report.feedback()
    assert _terms(check_static(HOPPER, DROPPED)) == _terms(report)  # the ast pass alone, nothing run


def test_a_program_that_uses_every_term_gets_no_term_warning() -> None:
    assert _terms(_checked(USED)) == []


def test_a_component_outside_the_total_is_named_statically_and_measured() -> None:
    report = _checked(NOT_IN_TOTAL)
    assert _terms(report) == [("component_not_in_total", 9), ("total_not_sum", None)]
    static, measured = (i.message for i in report.issues if i.code in TERM_CODES)
    assert static.startswith("component 'alive' (line 9) is returned but does not enter the total")
    assert "(`total = forward_reward + torso_angle_stability + effort`, line 8)" in static
    assert "differ on" in measured and "of 128 states" in measured
    assert "the total is the sum without component 'alive'" in measured


def test_a_total_that_is_not_the_sum_gets_the_numbers() -> None:
    report = _checked(NOT_SUM)
    assert _terms(report) == [("total_not_sum", None)]
    (msg,) = (i.message for i in report.issues if i.code == "total_not_sum")
    assert "they differ on 128 of 128 states (e.g. total " in msg
    assert "largest difference" in msg and "tolerance 0.001 relative" in msg
    assert "the total is 2 times the sum" in msg


def _flow(body: str, args: str = "x_velocity, action") -> list[tuple[str, int | None]]:
    source = f"import torch\n\ndef compute_reward({args}):\n" + "".join(f"    {line}\n" for line in body.split("\n"))
    return [(i.code, i.line) for i in term_issues(parse_module(source))]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # a dict filled item by item, a total built with +=: everything used
        ("parts = {}\nf = x_velocity\nparts['f'] = f\nc = -(action ** 2).sum(-1)\nparts['c'] = c\n"
         "total = torch.zeros_like(f)\ntotal += f\ntotal += c\nreturn total, parts", []),
        # a dict item the total does not include; its line is the item assignment's
        ("parts = {}\nf = x_velocity\nparts['f'] = f\nc = -(action ** 2).sum(-1)\nparts['c'] = c\n"
         "return f, parts", [("component_not_in_total", 8)]),
        # the total as the sum of the components, in any spelling: nothing to say
        ("f = x_velocity\nc = -(action ** 2).sum(-1)\nparts = {'f': f, 'c': c}\nreturn sum(parts.values()), parts", []),
        # constants, unpacking and _names are not terms to report; a copy of a total term is in the total
        ("scale = 2.0\n_dbg = x_velocity * 3\nv, i = action.max(dim=-1)\nf = scale * x_velocity\n"
         "return f, {'f': f.clone(), 'v_free': f}", []),
        # a term read in a loop that assigns it again, and in a helper closure
        ("acc = torch.zeros_like(x_velocity)\nfor k in range(3):\n    acc = acc + x_velocity * k\n"
         "g = lambda: acc\nreturn g(), {'acc': acc}", []),
        # an unused term inside a branch, a state variable returned directly but not summed
        ("if True:\n    bonus = 2 * x_velocity\nc = -(action ** 2).sum(-1)\nreturn c, {'c': c, 'v': x_velocity}",
         [("unused_term", 5), ("component_not_in_total", 7)]),
        # an inline component made of a term the total never reads
        ("c = -(action ** 2).sum(-1)\nreturn c, dict(c=c, fast=x_velocity * 2)", [("component_not_in_total", 5)]),
        # built in a way not followed (.update): silence
        ("c = -(action ** 2).sum(-1)\nparts = {'c': c}\nparts.update(v=x_velocity)\nreturn c, parts", []),
    ],
)  # fmt: skip
def test_term_flow_cases(body: str, expected: list[tuple[str, int]]) -> None:
    assert _flow(body) == expected


def _corpus_programs() -> dict[str, str]:
    """Every distinct program extracted from the corpus answers (first answers and repairs), by where it first is."""
    seen: dict[str, str] = {}
    for path in sorted(CORPUS.glob("*/candidates.jsonl")):
        for line in path.read_text().splitlines():
            d = json.loads(line)
            for key in sorted(k for k in d if k == "response" or k.startswith("response_repair")):
                ex = extract_program(d[key])
                if ex.status == "ok" and ex.source is not None:
                    seen.setdefault(ex.source, f"{path.parent.name}/{d['candidate']}/{key}")
    return {where: source for source, where in seen.items()}


def test_the_small_model_corpus_gets_no_false_term_warning() -> None:
    """50 distinct programs; the one warning is true: `total = 0.0` never includes the returned component."""
    programs = _corpus_programs()
    assert len(programs) == 50 and sum(w.startswith("halfcheetah-small-model-2/") for w in programs) == 37
    found = [
        (where, i.code, i.line) for where, source in programs.items() for i in check_static(CHEETAH, source).warnings
    ]
    assert [f for f in found if f[1] in TERM_CODES] == [
        ("halfcheetah-small-model/gen_001/cand_03/response_repair_1", "component_not_in_total", 14)
    ]


def test_the_repair_prompt_carries_the_warnings_beside_the_errors() -> None:
    broken = NOT_IN_TOTAL.replace("return total,", "return total.sum(),")
    report = _checked(broken)
    assert not report.ok and "component_not_in_total" in report.codes
    prompt = repair_prompt(HOPPER, broken, report, 1, 2)
    assert "- warning [component_not_in_total]: component 'alive' (line 9)" in prompt
    assert "- error [" in prompt


def _evaluation() -> Evaluation:
    return Evaluation(status="ok", message="", fitness=1.0, fitness_std=0.0)


def test_the_next_generation_hears_the_warnings_of_a_trained_program(tmp_path: Path) -> None:
    assert critic_warnings(tmp_path) == ""
    issues = (
        CheckIssue("warning", "real_states_unavailable", "could not roll out"),
        CheckIssue("warning", "unused_term", "`alive` (line 5) is computed but ...", 5),
    )
    (tmp_path / CHECK_FILE).write_text(CheckReport(issues).to_json())
    text = candidate_feedback(HOPPER, tmp_path, DROPPED, _evaluation(), {}, steps=1000, analyzer=False)
    assert "The reward checker's warnings on this program" in text
    assert "- [unused_term] `alive` (line 5) is computed but ..." in text and "could not roll out" not in text
    (tmp_path / CHECK_FILE).write_text("{not json")
    assert critic_warnings(tmp_path) == ""


def _hops(n_terminated: int = 4, n_full: int = 1) -> list[Trajectory]:
    """Hopper episodes that tilt until they fall (is_healthy 0 on the last step), and ones that run 200 steps."""
    out = []
    for i in range(n_terminated + n_full):
        terminated = i < n_terminated
        n = 40 + 5 * i if terminated else 200
        healthy = np.ones(n)
        healthy[-1] = 0.0 if terminated else 1.0
        out.append(
            craft(
                HOPPER,
                n,
                terminated=terminated,
                seed=i,
                x_velocity=1.0 + 0.1 * np.sin(np.arange(n)),
                torso_height=1.2,
                torso_angle=np.linspace(0, 0.21 if terminated else 0.05, n),
                is_healthy=healthy,
                action=np.full((n, 3), 0.3),
            )
        )
    return out


def _analysis(source: str, trs: Sequence[Trajectory]) -> tuple[list[str], str]:
    a = analyze(HOPPER, trs, scores(HOPPER, source, trs))
    return list(a.kinds), render_critique(a)


def test_episodes_ending_early_without_an_alive_term_are_told_with_numbers() -> None:
    trs = _hops()
    kinds, text = _analysis(DROPPED, trs)
    assert "no_alive_term" in kinds
    assert (
        "Episodes end early by termination (4 of 5; mean episode length 78 of 1000 steps) and no component of the "
        "reward pays for staying healthy or penalizes the termination" in text
    )
    assert "(e.g. `alive = 1.0 * is_healthy`)" in text
    assert "'torso_angle_stability' +0.495 -> +0.489" in text  # a tilt penalty that grows a little does not count


@pytest.mark.parametrize(
    "source",
    [
        USED,  # pays 0.5 per healthy step
        DROPPED.replace("+ effort\n", "+ effort + fall\n")
        .replace("    forward = x_velocity\n", "    fall = -10.0 * (1.0 - is_healthy)\n")
        .replace('"effort": effort}', '"effort": effort, "fall": fall}'),  # penalizes the termination
    ],
    ids=["alive", "fall_penalty"],
)
def test_no_alive_term_is_silent_when_a_component_minds_the_termination(source: str) -> None:
    assert "no_alive_term" not in _analysis(source, _hops())[0]


def test_no_alive_term_needs_most_episodes_to_terminate() -> None:
    assert "no_alive_term" not in _analysis(DROPPED, _hops(n_terminated=1, n_full=2))[0]
