"""Figures of docs/critic.md: the small-model corpus (tests/data/corpus/) through the old and the new critic.

Run: ``.venv/bin/python tests/critic_corpus_figures.py`` (in-process critic on the corpus' known programs; a few
seconds). Prints: programs passing, rejections that name a line and an operation, messages whose advice the
traced shapes contradict, and a *literal follower*: a stand-in for a model that applies each fix exactly as
written (not a language model: no small model was available here).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_critic_pinpoint import assert_advice_fits_shapes, corpus_programs

from eureka_kit.reward.critic import check_program
from eureka_kit.reward.extract import extract_program
from eureka_kit.reward.pinpoint import pinpoint
from eureka_kit.reward.program import PROGRAM_FILENAME, load_program
from eureka_kit.reward.smoke_batches import real_states
from eureka_kit.tasks.registry import get_task

CORPUS = Path(__file__).parent / "data" / "corpus" / "halfcheetah-small-model"
spec = get_task("HalfCheetah-Run-v1")


def finding(source: str):  # type: ignore[no-untyped-def]
    return pinpoint(spec, source, load_program(source, spec, PROGRAM_FILENAME), real_states(spec, 8)).finding


def follow(source: str, rounds: int) -> bool:
    """Apply the fix of the critic's first error message literally, once per round, and check again.

    True when the program passes within ``rounds`` rounds. Understood: "remove `.sum()` on line L and use `x`",
    "remove `.item()` on line L:", "replace `E` on line L by `X`", "write `X` on line L" (X replaces the traced
    expression), "e.g. `v = X` on line L".
    """
    for _ in range(rounds):
        report = check_program(spec, source)
        if report.ok:
            return True
        first = report.errors[0]
        fix = first.message.partition("Fix: ")[2] or first.message
        lines = source.splitlines()
        if first.line is None:
            return False
        line = lines[first.line - 1]
        expression = first.message.split("`")[1] if "`" in first.message else ""
        m = re.search(r"remove `([^`]+)` on line \d+ and use `([^`]+)`", fix)
        d = re.search(r"remove `([^`]+)` on line \d+:", fix)
        r = re.search(r"replace `([^`]+)` on line \d+ by `([^`]+)`", fix)
        w = re.search(r"write `([^`]+)` on line", fix)
        a = re.search(r"e\.g\. `(\w+) = ([^`]+)` on line", fix)
        if m and m.group(2) + m.group(1) in line:
            lines[first.line - 1] = line.replace(m.group(2) + m.group(1), m.group(2), 1)
        elif d and expression.endswith(d.group(1)) and expression in line:
            lines[first.line - 1] = line.replace(expression, expression[: -len(d.group(1))], 1)
        elif r and r.group(1) in line:
            lines[first.line - 1] = line.replace(r.group(1), r.group(2), 1)
        elif w and expression and expression in line:
            lines[first.line - 1] = line.replace(expression, w.group(1), 1)
        elif a:
            indent = line[: len(line) - len(line.lstrip())]
            lines[first.line - 1] = f"{indent}{a.group(1)} = {a.group(2)}"
        else:
            if "-v" in sys.argv:
                print("--- no literal fix:\n" + source + first.message[:600])
            return False
        source = "\n".join(lines) + "\n"
    ok = check_program(spec, source).ok
    if not ok and "-v" in sys.argv:
        print("--- still rejected:\n" + source + check_program(spec, source).feedback()[:600])
    return ok


def main() -> None:
    programs = corpus_programs()
    reports = [check_program(spec, s) for _, s in programs]
    rejected = [(s, r) for (_, s), r in zip(programs, reports, strict=True) if not r.ok]
    named = sum(1 for _, r in rejected if r.errors[0].line is not None and "` (" in r.errors[0].message)
    contradicted = 0
    for s, _ in rejected:
        f = finding(s)
        try:
            assert f is not None
            assert_advice_fits_shapes(f)
        except AssertionError:
            contradicted += 1
    print(f"new critic: {len(programs) - len(rejected)}/{len(programs)} distinct corpus programs pass")
    print(f"new critic: {named}/{len(rejected)} rejections name line + operation; {contradicted} contradicted")

    old = [json.loads(x) for x in (CORPUS / "candidates.jsonl").read_text().splitlines()]
    old_named = sum(1 for d in old if any(i.get("line") for i in d["final_check"]["issues"]))
    old_bad = 0
    for d in old:
        f = finding(d["final_program"])
        says_dim = any("without `dim=-1`" in i["message"] for i in d["final_check"]["issues"])
        if says_dim and f is not None and f.operand is not None and f.operand.ndim == 1:
            old_bad += 1
    print(f"old critic (corpus verdicts): 0/{len(old)} final programs pass; {old_named}/{len(old)} name a line; ")
    print(f"old critic: {old_bad}/{len(old)} messages hint `dim=-1` where the reduced value was (N,)")
    firsts = [extract_program(d["response"]).source for d in old]
    print(f"first answers: {sum(1 for s in firsts if s and check_program(spec, s).ok)}/{len(old)} pass the new critic")
    for rounds in (1, 2, 3):
        fixed = [follow(s, rounds) for s in firsts if s]
        print(f"literal follower of the new fixes from the first answers, R={rounds}: {sum(fixed)}/{len(old)} pass")
        fixed = [follow(s, rounds) for s in (d["final_program"] for d in old)]
        print(f"literal follower of the new fixes from the repaired answers, R={rounds}: {sum(fixed)}/{len(old)} pass")


if __name__ == "__main__":
    main()
