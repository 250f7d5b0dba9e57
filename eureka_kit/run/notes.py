"""A person's free-text notes to a run: ``eureka-kit feedback RUN "text"`` adds one; the next prompt carries it.

Notes are lines of ``notes.jsonl`` in the run folder (``{"id", "time", "text"}``);
the run reads the file before each generation's request (so a note written
while a generation trains reaches the next one) and records in
``gen_XXX/notes.json`` which notes that prompt carried. A note goes into exactly
one prompt: the first generation whose request is made after it was added
(recomputed the same way on resume).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from eureka_kit.errors import UsageError
from eureka_kit.files import atomic_write_json
from eureka_kit.run.store import RunStore, append_jsonl, read_json, read_jsonl

NOTES_FILE = "notes.jsonl"
DELIVERED_FILE = "notes.json"
"""Per generation folder: the ids of the notes its prompt carried."""
MAX_NOTE_CHARS = 4000


@dataclass(frozen=True)
class Note:
    id: int
    time: float
    text: str


def add_note(run_dir: Path, text: str) -> Note:
    """Append a note to the run (``ValueError`` for an empty or too long one, or a folder that is not a run)."""
    text = text.strip()
    if not text:
        raise UsageError("the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise UsageError(f"the note is {len(text)} characters long; at most {MAX_NOTE_CHARS}")
    if not RunStore(run_dir).exists():
        raise UsageError(f"{run_dir} is not a eureka-kit run (no config.json)")
    note = Note(len(read_notes(run_dir)), time.time(), text)
    append_jsonl(run_dir / NOTES_FILE, {"id": note.id, "time": note.time, "text": note.text})
    return note


def read_notes(run_dir: Path) -> list[Note]:
    """Every note of the run, oldest first (lines that are not notes are skipped)."""
    out = []
    for d in read_jsonl(run_dir / NOTES_FILE):
        if isinstance(d, dict) and isinstance(d.get("text"), str) and isinstance(d.get("id"), int):
            out.append(Note(d["id"], float(d.get("time", 0.0)), d["text"][:MAX_NOTE_CHARS]))
    return out


def delivered_ids(run_dir: Path, before_generation: int) -> set[int]:
    """Ids of the notes carried by the prompts of the generations before ``before_generation``."""
    ids: set[int] = set()
    for g in range(before_generation):
        path = RunStore(run_dir).gen_dir(g) / DELIVERED_FILE
        if path.is_file():
            data = read_json(path)
            ids.update(i for i in data.get("notes", []) if isinstance(i, int))
    return ids


def take_notes(run_dir: Path, generation: int) -> list[Note]:
    """The notes for ``generation``'s prompt (not carried by an earlier one); records them in its folder."""
    done = delivered_ids(run_dir, generation)
    notes = [n for n in read_notes(run_dir) if n.id not in done]
    atomic_write_json(RunStore(run_dir).gen_dir(generation) / DELIVERED_FILE, {"notes": [n.id for n in notes]})
    return notes
