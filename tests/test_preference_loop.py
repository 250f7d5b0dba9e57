"""Preferences in the loop (ICPL): videos, a synthetic ranker end to end, human comments in the next prompt."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from tiny_runs import run_tiny, tiny_config, write_replay

from eureka_kit.config import RunConfig
from eureka_kit.llm import make_client
from eureka_kit.loop import Loop, RunResult, start_run
from eureka_kit.preferences.ranking import Ranking, save_ranking
from eureka_kit.run.progress import Progress
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.store import RunStore, read_json

FAST = """Reward speed.

```python
import torch


def compute_reward(x_velocity: torch.Tensor, action: torch.Tensor):
    forward = 2.0 * x_velocity
    ctrl = -0.1 * (action**2).sum(dim=-1)
    return forward + ctrl, {"forward": forward, "ctrl": ctrl}
```
"""

STILL = """Reward staying level.

```python
import torch


def compute_reward(torso_angle: torch.Tensor, action: torch.Tensor):
    level = torch.exp(-(torso_angle**2))
    return level, {"level": level}
```
"""


FASTER = """Reward speed more, and an upright torso.

```python
import torch


def compute_reward(x_velocity: torch.Tensor, torso_angle: torch.Tensor, action: torch.Tensor):
    forward = 3.0 * x_velocity
    upright = 0.1 * torch.exp(-(torso_angle**2))
    ctrl = -0.1 * (action**2).sum(dim=-1)
    return forward + upright + ctrl, {"forward": forward, "upright": upright, "ctrl": ctrl}
```
"""


LEVEL = """Reward staying level, with a control cost.

```python
import torch


def compute_reward(torso_angle: torch.Tensor, action: torch.Tensor):
    level = torch.exp(-(torso_angle**2))
    ctrl = -0.05 * (action**2).sum(dim=-1)
    return level + ctrl, {"level": level, "ctrl": ctrl}
```
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    tmp = tmp_path_factory.mktemp("pref")
    # generation 1 answers other programs than generation 0, so the chosen program changes whichever is ranked best
    answers = [("initial", FAST), ("initial", STILL), ("gen_001/reflection", FASTER), ("gen_001/reflection", LEVEL)]
    replay = write_replay(tmp / "replay.jsonl", [*answers, ("gen_002/reflection", FAST), ("gen_002/reflection", STILL)])
    return run_tiny(
        tmp / "runs",
        replay,
        samples=2,
        generations=3,
        analyzer=False,
        trajectory_check=False,
        videos=True,
        ranker="synthetic",
    )


def test_every_successful_candidate_has_a_video(run: RunResult) -> None:
    videos = sorted(run.run_dir.glob("gen_*/cand_*/rollout.mp4"))
    assert len(videos) == 6
    for v in videos:
        head = v.read_bytes()[:64]
        assert b"ftyp" in head, f"{v} is not an mp4"


def test_synthetic_ranking_is_stored_and_steers_the_next_prompt(run: RunResult) -> None:
    ranking = Ranking.from_json(read_json(run.run_dir / "gen_000" / "ranking.json"))
    assert ranking.who == "synthetic"
    assert set(ranking.order) == {"cand_00", "cand_01"}
    fits = {n: read_json(run.run_dir / "gen_000" / n / "candidate.json")["fitness"] for n in ranking.order}
    assert fits[ranking.best] >= fits[ranking.worst]  # no noise configured: ordered by fitness
    prompt = read_json(run.run_dir / "gen_001" / "prompt.json")
    last = prompt[-1]["content"]
    assert "BEST policy" in last and "WORST policy" in last
    best_source = (run.run_dir / "gen_000" / ranking.best / "reward.py").read_text().strip()
    assert best_source.splitlines()[-1].strip() in last
    assert "Evaluated on" not in last, "ICPL: the LLM sees rankings, not fitness values"
    summary = read_json(run.run_dir / "summary.json")
    assert [r["generation"] for r in summary["rankings"]] == [0, 1, 2]


def test_generation_2_prompt_holds_the_history_of_chosen_programs(run: RunResult) -> None:
    """ICPL: how the chosen program changed across generations, and the chosen one's training statistics."""
    chosen = [Ranking.from_json(read_json(run.run_dir / f"gen_{g:03d}" / "ranking.json")).best for g in (0, 1)]
    last = read_json(run.run_dir / "gen_002" / "prompt.json")[-1]["content"]
    assert f"- generation 0, {chosen[0]}: first chosen program; components:" in last
    assert f"- generation 1, {chosen[1]}: " in last
    assert "```diff" in last  # generation 1's programs all differ from generation 0's
    source = (run.run_dir / "gen_001" / chosen[1] / "reward.py").read_text()
    assert any(f"+{line}" in last for line in source.splitlines() if "=" in line)
    assert f"the chosen reward function of generation 1 ({chosen[1]})" in last
    assert "- total reward" in last and "- fitness" not in last  # reflection numbers, no fitness values
    assert last.index("How the chosen reward function") < last.index("BEST policy")
    first_history = read_json(run.run_dir / "gen_001" / "prompt.json")[-1]["content"]
    assert "- generation 1," not in first_history and "- generation 0," in first_history


def test_the_history_is_bounded() -> None:
    from eureka_kit.preferences.history import MAX_DIFF_LINES, _diff

    old = "\n".join(f"a{i} = {i}" for i in range(40))
    new = "\n".join(f"a{i} = {i + 1}" for i in range(40))
    lines = _diff(old, new)
    assert len(lines) == MAX_DIFF_LINES + 1 and lines[-1] == f"... ({80 - MAX_DIFF_LINES} more changed lines)"


def test_human_comments_reach_the_next_prompt(run: RunResult) -> None:
    store = RunStore(run.run_dir)
    path = run.run_dir / "gen_000" / "ranking.json"
    original = path.read_text()
    try:
        save_ranking(
            run.run_dir,
            Ranking(
                generation=0,
                who="human",
                order=("cand_01", "cand_00"),
                best="cand_01",
                worst="cand_00",
                comments={"cand_00": "it flips over at the start"},
                generation_comment="none of them runs yet",
            ),
        )
        config = RunConfig.from_json(read_json(store.config_path)["config"])
        loop = Loop(config, store, make_client("replay", replay_path=config.replay_path), Progress("t", 2, live=False))
        history = [
            CandidateRecord.from_json(read_json(p)) for p in sorted(run.run_dir.glob("gen_000/*/candidate.json"))
        ]
        last = loop.messages_for(1, history)[-1].content
        assert "person" in last or "human" in last
        assert "it flips over at the start" in last
        assert "none of them runs yet" in last
    finally:
        path.write_text(original)


def test_human_ranker_falls_back_to_fitness_after_timeout(tmp_path: Path, run: RunResult) -> None:
    import shutil

    from eureka_kit.loop.callbacks import make_ranker
    from eureka_kit.preferences.ranking import load_items
    from eureka_kit.preferences.steer import rank_generation

    copy = tmp_path / "run"
    shutil.copytree(run.run_dir, copy)
    (copy / "gen_001" / "ranking.json").unlink()
    messages: list[str] = []
    ranker = make_ranker("human", copy, rank_timeout_s=0.5, announce=messages.append)
    assert ranker is not None
    ranking = rank_generation(ranker, copy, 1)
    assert ranking is not None and ranking.who == "fitness"
    assert any("127.0.0.1" in m for m in messages), "the page URL was not announced"
    assert len(load_items(copy, 1)) == 2


class _Person(Progress):
    """Progress that also plays the person: opens the announced ranking URL and submits a ranking."""

    def __init__(self) -> None:
        super().__init__("free-form", 2, live=False)
        self.submitted: list[int] = []

    def log(self, message: str) -> None:
        super().log(message)
        if message.startswith("Rank the ") and "http://127.0.0.1" in message:
            url = message[message.index("http://") :].split()[0]
            threading.Thread(target=self._submit, args=(url,), daemon=True).start()

    def _submit(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        api = f"{parts.scheme}://{parts.netloc}/api/ranking?token={urllib.parse.quote(token)}"
        body = {
            "order": ["cand_01", "cand_00"],
            "best": "cand_01",
            "worst": "cand_00",
            "comments": {"cand_01": "closer to a handstand"},
            "generation_comment": "keep the front legs down",
        }
        request = urllib.request.Request(
            api, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        self.submitted.append(1)


def test_free_form_goal_runs_on_human_rankings_alone(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", [("*", t) for t in (FAST, STILL)])
    goal = "make the cheetah balance on its front legs"
    config = tiny_config(
        replay,
        goal=goal,
        samples=2,
        analyzer=False,
        trajectory_check=False,
        videos=True,
        ranker="human",
        rank_timeout_s=60,
    )
    person = _Person()
    result = start_run(config, tmp_path / "runs", progress=person)
    assert len(person.submitted) == 2
    ranking = Ranking.from_json(read_json(result.run_dir / "gen_000" / "ranking.json"))
    assert ranking.who == "human" and ranking.best == "cand_01"
    first = read_json(result.run_dir / "gen_000" / "prompt.json")
    assert goal in first[1]["content"] and "a person watches videos" in first[1]["content"]
    last = read_json(result.run_dir / "gen_001" / "prompt.json")[-1]["content"]
    assert "closer to a handstand" in last and "keep the front legs down" in last
    summary = read_json(result.run_dir / "summary.json")
    assert summary["best"]["candidate"] == "gen_001/cand_01"  # the latest ranking's best, not a fitness
