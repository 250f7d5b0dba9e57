"""Ranking records, their storage, and the fitness and synthetic rankers."""

from __future__ import annotations

import json
import math
import typing
from pathlib import Path
from typing import Any

import pytest

from eureka_kit.choices import RANKER_KINDS, RankerKind
from eureka_kit.preferences.ranking import (
    MAX_COMMENT_BYTES,
    MAX_RANKING_BYTES,
    RANKED_BY,
    FitnessRanker,
    RankedBy,
    Ranker,
    Ranking,
    RankingError,
    RankItem,
    SyntheticRanker,
    load_items,
    load_ranking,
    preference_vars,
    ranking_path,
    save_ranking,
)
from eureka_kit.run.records import CandidateRecord
from eureka_kit.run.store import atomic_write_json


def _items(*fitness: float | None) -> list[RankItem]:
    return [RankItem(f"cand_{i:02d}", None, f, f"# program {i}\n") for i, f in enumerate(fitness)]


def test_ranking_round_trip_and_storage(tmp_path: Path) -> None:
    r = Ranking(
        generation=2,
        who="human",
        order=("cand_01", "cand_00", "cand_02"),
        best="cand_01",
        worst="cand_02",
        comments={"cand_01": "runs well", "cand_02": "flips over"},
        generation_comment="all too slow",
    )
    data = json.loads(json.dumps(r.to_json()))
    assert Ranking.from_json(data) == r
    assert r.comment("cand_00") == ""
    path = save_ranking(tmp_path, r)
    assert path == ranking_path(tmp_path, 2) == tmp_path / "gen_002" / "ranking.json"
    assert load_ranking(tmp_path, 2) == r
    assert load_ranking(tmp_path, 3) is None
    with pytest.raises(TypeError):
        r.comments["cand_00"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"order": []}, "non-empty"),
        ({"order": ["cand_00", "cand_00"]}, "more than once: cand_00"),
        ({"order": ["../etc", "cand_00"]}, "invalid candidate name"),
        ({"best": "cand_09"}, "best must be one of"),
        ({"worst": 3}, "worst must be one of"),
        ({"best": "cand_01", "worst": "cand_01"}, "different"),
        ({"best": "cand_01", "worst": "cand_00"}, "ranked below worst"),
        ({"who": "robot"}, "who must be one of"),
        ({"generation": -1}, "non-negative"),
        ({"generation": True}, "non-negative"),
        ({"comments": {"cand_07": "hm"}}, "not a ranked candidate"),
        ({"comments": {"cand_00": 5}}, "must be a string"),
        ({"comments": ["x"]}, "comments must be an object"),
        ({"comments": {"cand_00": "é" * (MAX_COMMENT_BYTES // 2 + 1)}}, "bytes long"),
        ({"generation_comment": "x" * (MAX_COMMENT_BYTES + 1)}, "generation comment"),
        ({"surprise": 1}, "unknown ranking fields surprise"),
    ],
)
def test_invalid_rankings_are_refused(change: dict[str, Any], message: str) -> None:
    data = {"generation": 0, "who": "human", "order": ["cand_00", "cand_01"], "best": "cand_00", "worst": "cand_01"}
    with pytest.raises(RankingError, match=message):
        Ranking.from_json({**data, **change})


def test_missing_fields_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(RankingError, match="lacks best, worst"):
        Ranking.from_json({"generation": 0, "who": "human", "order": ["cand_00"]})
    path = ranking_path(tmp_path, 0)
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(RankingError, match="not valid JSON"):
        load_ranking(tmp_path, 0)
    path.write_bytes(b" " * (MAX_RANKING_BYTES + 1))
    with pytest.raises(RankingError, match=f"larger than {MAX_RANKING_BYTES} bytes"):
        load_ranking(tmp_path, 0)


def test_ranker_kind_has_one_definition() -> None:
    """``--ranker`` choices (config, CLI) and the steering code share the one definition of ``RankerKind``."""
    from eureka_kit import cli, config
    from eureka_kit.loop import callbacks

    assert config.RankerKind is cli.RankerKind is callbacks.RankerKind is RankerKind
    assert RANKER_KINDS == ("none", "human", "synthetic", "vlm")
    assert RANKED_BY == ("human", "synthetic", "fitness", "vlm")
    assert typing.get_type_hints(Ranking)["who"] is RankedBy


def test_check_candidates() -> None:
    r = Ranking(0, "human", ("cand_00", "cand_01"), "cand_00", "cand_01")
    r.check_candidates(["cand_01", "cand_00"])
    with pytest.raises(RankingError, match="unknown candidates cand_01"):
        r.check_candidates(["cand_00", "cand_02"])
    with pytest.raises(RankingError, match="leaves out cand_02"):
        r.check_candidates(["cand_00", "cand_01", "cand_02"])


def test_fitness_ranker_orders_by_fitness_missing_last() -> None:
    ranker: Ranker = FitnessRanker()
    r = ranker.rank(4, _items(1.0, None, 3.0, math.nan, 2.0))
    assert r.order == ("cand_02", "cand_04", "cand_00", "cand_01", "cand_03")
    assert (r.best, r.worst, r.who, r.generation) == ("cand_02", "cand_03", "fitness", 4)
    with pytest.raises(RankingError, match="nothing to rank"):
        ranker.rank(0, [])
    with pytest.raises(RankingError, match="share the name cand_00"):
        ranker.rank(0, _items(1.0) * 2)


def test_synthetic_ranker_without_noise_is_exact() -> None:
    r = SyntheticRanker().rank(0, _items(0.5, 2.0, -1.0))
    assert r.order == ("cand_01", "cand_00", "cand_02") and r.who == "synthetic"
    assert "beta=None" in r.note


def test_synthetic_ranker_is_deterministic_per_seed_and_generation() -> None:
    items = _items(*[0.1 * i for i in range(8)])
    a = SyntheticRanker(beta=2.0, mistake_rate=0.2, seed=7)
    assert a.rank(3, items) == _same_time(a.rank(3, items), a.rank(3, items))
    orders = {SyntheticRanker(beta=2.0, mistake_rate=0.2, seed=s).rank(3, items).order for s in range(10)}
    assert len(orders) > 1  # noise depends on the seed


def _same_time(x: Ranking, y: Ranking) -> Ranking:
    assert x.order == y.order and x.best == y.best and x.worst == y.worst
    return Ranking(x.generation, x.who, y.order, y.best, y.worst, created=x.created, note=y.note)


def test_boltzmann_noise_matches_the_pairwise_probability() -> None:
    # Two candidates: P(better first) = sigmoid(beta * (f_a - f_b)) = sigmoid(1) ~= 0.731.
    items = _items(1.0, 0.0)
    wins = sum(SyntheticRanker(beta=1.0, seed=s).rank(0, items).order[0] == "cand_00" for s in range(2000))
    assert wins / 2000 == pytest.approx(1 / (1 + math.exp(-1.0)), abs=0.04)
    # Huge beta: always exact; beta 0: a coin flip.
    assert all(SyntheticRanker(beta=1e6, seed=s).rank(0, items).best == "cand_00" for s in range(50))
    flips = sum(SyntheticRanker(beta=0.0, seed=s).rank(0, items).best == "cand_00" for s in range(1000))
    assert 400 < flips < 600


def test_mistakes_swap_adjacent_pairs() -> None:
    items = _items(3.0, 2.0, 1.0, None)
    always = SyntheticRanker(mistake_rate=1.0).rank(0, items)
    # Every adjacent pair of scored items swapped from the top: 0 1 2 -> 1 0 2 -> 1 2 0; no fitness stays last.
    assert always.order == ("cand_01", "cand_02", "cand_00", "cand_03")
    rate = sum(
        SyntheticRanker(mistake_rate=0.3, seed=s).rank(0, _items(2.0, 1.0)).best == "cand_01" for s in range(2000)
    )
    assert rate / 2000 == pytest.approx(0.3, abs=0.04)
    with pytest.raises(ValueError, match="mistake_rate"):
        SyntheticRanker(mistake_rate=1.5)
    with pytest.raises(ValueError, match="beta"):
        SyntheticRanker(beta=-1.0)


def test_preference_vars_for_the_prompt() -> None:
    items = _items(1.0, 2.0, 0.0)
    r = Ranking(1, "human", ("cand_01", "cand_00", "cand_02"), "cand_01", "cand_02", {"cand_02": "falls"}, "ok")
    v = preference_vars(r, items)
    assert v["ranker"] == "person" and v["generation"] == 1 and v["comment"] == "ok"
    assert v["best"] == {"name": "cand_01", "source": "# program 1\n", "comment": ""}
    assert v["worst"]["comment"] == "falls" and v["worst"]["source"] == "# program 2\n"
    from eureka_kit.prompting import render

    text = render("preference_feedback", **{k: v[k] for k in ("ranker", "generation", "best", "worst", "comment")})
    assert "# program 1" in text and "falls" in text


def test_load_items_keeps_successful_candidates(tmp_path: Path) -> None:
    gen = tmp_path / "gen_000"
    for i, (status, fit) in enumerate([("ok", 1.5), ("train_error", None), ("ok", 0.5)]):
        cand = gen / f"cand_{i:02d}"
        cand.mkdir(parents=True)
        (cand / "reward.py").write_text(f"# reward {i}\n")
        atomic_write_json(cand / "candidate.json", CandidateRecord(0, i, status, "", fitness=fit).to_json())  # type: ignore[arg-type]
    (gen / "cand_02" / "rollout.mp4").write_bytes(b"x")
    (gen / "cand_03").mkdir()  # unfinished: no candidate.json
    items = load_items(tmp_path, 0)
    assert [(it.name, it.fitness, it.source) for it in items] == [
        ("cand_00", 1.5, "# reward 0\n"),
        ("cand_02", 0.5, "# reward 2\n"),
    ]
    assert items[0].video is None and items[1].video == gen / "cand_02" / "rollout.mp4"
    with pytest.raises(RankingError, match="invalid candidate name"):
        RankItem("a/b", None, None, "")
