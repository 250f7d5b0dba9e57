"""A person's notes to a run (``eureka-kit feedback``): stored, carried by exactly one prompt, recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_runs import tiny_config, write_replay

from eureka_kit.cli import main
from eureka_kit.loop import start_run
from eureka_kit.loop.callbacks import GenerationContext, LoopCallback
from eureka_kit.run.notes import MAX_NOTE_CHARS, add_note, read_notes, take_notes
from eureka_kit.run.progress import Progress

PROGRAM = """```python
import torch

def compute_reward(x_velocity: torch.Tensor):
    return x_velocity, {"forward": x_velocity}
```"""


def _run_folder(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


def test_each_note_goes_into_exactly_one_prompt(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    add_note(run, "  land softly  ")
    assert [n.text for n in take_notes(run, 0)] == ["land softly"]
    add_note(run, "less flailing")
    assert [n.text for n in take_notes(run, 1)] == ["less flailing"]
    assert take_notes(run, 2) == []
    # resume recomputes generation 1's notes the same way: from what earlier generations carried
    assert [n.id for n in take_notes(run, 1)] == [1]
    assert json.loads((run / "gen_001" / "notes.json").read_text()) == {"notes": [1]}


def test_bad_notes_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="not a eureka-kit run"):
        add_note(tmp_path, "hello")
    run = _run_folder(tmp_path)
    with pytest.raises(ValueError, match="empty"):
        add_note(run, "   ")
    with pytest.raises(ValueError, match=f"at most {MAX_NOTE_CHARS}"):
        add_note(run, "x" * (MAX_NOTE_CHARS + 1))
    (run / "notes.jsonl").write_text('{"id": 0, "time": 1, "text": "ok"}\n{torn\n[1, 2]\n')
    assert [n.text for n in read_notes(run)] == ["ok"]  # a torn or foreign line is skipped
    assert main(["feedback", str(run), "hop higher"]) == 0
    assert "note 1 added" in capsys.readouterr().out
    note_file = tmp_path / "note.txt"
    note_file.write_text("from a file")
    assert main(["feedback", str(run), "--file", str(note_file)]) == 0
    assert [n.text for n in read_notes(run)][-1] == "from a file"
    assert main(["feedback", str(tmp_path / "nope"), "x"]) == 2


class _Person(LoopCallback):
    """Writes a note after generation 0, as `eureka-kit feedback` would while the run goes on."""

    def on_generation_end(self, gen: GenerationContext) -> None:
        if gen.generation == 0:
            add_note(gen.run.store.root, "the cheetah flips over: keep the torso level")


def test_a_note_reaches_the_next_generations_prompt(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "replay.jsonl", [("*", PROGRAM)])
    config = tiny_config(replay, samples=1, generations=2, analyzer=False, trajectory_check=False)
    result = start_run(config, tmp_path / "runs", progress=Progress(config.task, 2, live=False), callbacks=[_Person()])
    gen0 = json.loads((result.run_dir / "gen_000" / "prompt.json").read_text())
    gen1 = json.loads((result.run_dir / "gen_001" / "prompt.json").read_text())
    assert "keep the torso level" not in json.dumps(gen0)
    assert gen1[-1]["role"] == "user" and "keep the torso level" in gen1[-1]["content"]
    assert "A person watching this run added a note" in gen1[-1]["content"]
    assert json.loads((result.run_dir / "gen_001" / "notes.json").read_text()) == {"notes": [0]}
