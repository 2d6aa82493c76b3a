"""Slide boundaries and speaker notes of the solution notebooks, from the cells and one data file.

The reveal.js decks (``make slides``, tools/build_site.py) follow each cell's
``metadata.slideshow.slide_type``. This script writes that metadata, so that the decks keep the
same shape whoever edits the prose:

* a markdown cell with a ``#`` or ``##`` heading starts a **slide**; one whose highest heading is
  ``###`` starts a **sub-slide** (a vertical slide under it);
* a cell whose id is a key of ``tools/speaker_notes.yaml`` (for its notebook) starts a sub-slide
  too: that is how a deck is split by hand where there is no heading;
* a slide or sub-slide that would still hold more than ``MAX_CELLS`` cells is split further, at most
  ``MAX_CELLS`` cells a piece, preferably in front of a markdown cell (the text that opens a step);
* every other cell gets ``-`` (``fragment`` is kept); ``skip`` cells stay ``skip`` and count for nothing.

Each slide and sub-slide gets **one** speaker-notes cell (markdown, slide type ``notes``, id
``notes-<id of the slide's first cell>``) right after its first cell, with the text stored in
``tools/speaker_notes.yaml`` under the notebook's file name and that first cell's id. Notes cells
whose slide is gone, or whose key left the YAML, are removed. A ``notes`` cell written or edited by
hand in the notebook (told apart by a hash of the text the script wrote, ``metadata.rlft.notes_sha``)
is removed only when its text is already in the YAML for that notebook; otherwise the script stops
and prints it, so that no note is lost: move it into the YAML under the first cell id of its slide.

    python tools/slides.py            # rewrite the slide metadata and notes of solutions/*.ipynb
    python tools/slides.py --check    # exit 1 and list slides without a note, slides over
                                      # MAX_CELLS cells, notes of vanished cells, stale notebooks
    python tools/slides.py --outline  # print each notebook's slides: key, size, first line

Running it twice changes nothing. After editing solutions/, run it, then tools/make_chapters.py
(chapters/ copy the slide metadata and leave the notes out: they are for the instructor).
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTES_FILE = ROOT / "tools" / "speaker_notes.yaml"
MAX_CELLS = 6            # most cells (notes not counted) one slide or sub-slide may hold
MIN_BEFORE_TEXT = 3      # a long slide is split in front of a markdown cell once it holds this many
NOTES_PREFIX = "Speaker notes: "
HEADING = re.compile(r"^(#{1,6})\s")
STARTS = ("slide", "subslide")
MIGRATED = "migrated"    # top-level YAML key: ids of older notes cells whose text now lives in the file


def slide_type(cell) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def is_notes(cell) -> bool:
    return slide_type(cell) == "notes"


def notes_id(key: str) -> str:
    return f"notes-{key}"[:64]          # nbformat allows cell ids of up to 64 characters


def heading_level(cell) -> int:
    """The highest heading level (1 = ``#``) of a markdown cell, outside code fences; 0 without one.

    A cell that carries a section heading further down (the end of one section, then the next one)
    starts that section's slide: the section's own text is then on the slide it names.
    """
    if cell.cell_type != "markdown":
        return 0
    levels, fenced = [], False
    for line in cell.source.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            levels.append(len(match.group(1)))
    return min(levels, default=0)


def plan_slides(cells, keys) -> dict[int, str]:
    """Index of each cell that starts a slide or sub-slide -> ``"slide"`` or ``"subslide"``.

    ``cells`` hold no notes cells; ``keys`` are the cell ids with a speaker note in the YAML.
    """
    content = [i for i, cell in enumerate(cells) if slide_type(cell) != "skip"]
    starts = {}
    for n, i in enumerate(content):
        level = heading_level(cells[i])
        if n == 0 or level in (1, 2):
            starts[i] = "slide"
        elif level == 3 or cells[i].id in keys:
            starts[i] = "subslide"
    # Split what is still too long: each run of cells between two starts that holds more than
    # MAX_CELLS is cut greedily, in front of a markdown cell where possible.
    bounds = [n for n, i in enumerate(content) if i in starts] + [len(content)]
    for begin, stop in zip(bounds, bounds[1:]):
        run = content[begin:stop]
        if len(run) <= MAX_CELLS:
            continue
        size = 1
        for n, i in enumerate(run[1:], start=1):
            text_opens_step = cells[i].cell_type == "markdown" and size >= MIN_BEFORE_TEXT and len(run) - n > 1
            if size >= MAX_CELLS or text_opens_step:
                starts[i], size = "subslide", 1
            else:
                size += 1
    return starts


def notes_cell(key: str, text: str):
    cell = nbformat.v4.new_markdown_cell(NOTES_PREFIX + text.strip())
    cell.id = notes_id(key)
    cell.metadata["slideshow"] = {"slide_type": "notes"}
    cell.metadata["rlft"] = {"notes_sha": _sha(cell.source)}     # to tell a later edit in the notebook
    return cell


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _normalise(text: str) -> str:
    text = text.strip()
    if text.startswith(NOTES_PREFIX.strip()):
        text = text[len(NOTES_PREFIX.strip()):]
    return " ".join(text.split())


def _kept(text: str, known_text: str) -> bool:
    """Whether every sentence of a hand-written note is somewhere in the YAML's notes."""
    sentences = re.split(r"(?<=[.!?])\s+", _normalise(text))
    return all(sentence in known_text for sentence in sentences if sentence)


def apply(nb, notes: dict[str, str], migrated: frozenset = frozenset()) -> tuple[object, list[str]]:
    """The notebook with slide metadata and notes cells rewritten, and the problems found.

    Problems: slides without a note, notes for cell ids the notebook no longer has, and hand-written
    notes cells whose text is not in the YAML (the notebook is then returned unchanged). ``migrated``
    are ids of older notes cells whose text was moved into the YAML (reworded): they go quietly.
    """
    problems = []
    cells = [c for c in nb.cells if not is_notes(c)]
    ids = {c.id for c in cells}
    known_text = " ".join(_normalise(t) for t in notes.values())
    for cell in nb.cells:
        written_here = cell.metadata.get("rlft", {}).get("notes_sha") == _sha(cell.source)
        if is_notes(cell) and not written_here and cell.id not in migrated and not _kept(cell.source, known_text):
            problems.append(f"notes cell {cell.id!r} was written or edited in the notebook and its text is not "
                            f"in {NOTES_FILE.name}; move it there (under the first cell id of its slide):"
                            f"\n    {cell.source.strip()}")
    if problems:
        return nb, problems
    problems += [f"a note for cell {key!r}, which the notebook no longer has" for key in notes if key not in ids]
    starts = plan_slides(cells, {k for k in notes if k in ids})
    new = nbformat.from_dict(dict(nb))
    new.cells = []
    for i, cell in enumerate(cells):
        cell = nbformat.from_dict(dict(cell))
        if slide_type(cell) != "skip":
            kind = starts.get(i) or ("fragment" if slide_type(cell) == "fragment" else "-")
            cell.metadata["slideshow"] = {**cell.metadata.get("slideshow", {}), "slide_type": kind}
        new.cells.append(cell)
        if i in starts:
            if cell.id in notes:
                new.cells.append(notes_cell(cell.id, notes[cell.id]))
            else:
                problems.append(f"{starts[i]} starting at cell {cell.id!r} has no note: {_first_line(cell)}")
    return new, problems


def slide_sizes(nb) -> list[tuple[str, int, int]]:
    """(first cell id, cells, notes cells) of each slide/sub-slide, read from the metadata as it is."""
    slides = []
    for cell in nb.cells:
        kind = slide_type(cell)
        if kind in STARTS or not slides:
            slides.append([cell.id, 0, 0])
        if kind == "notes":
            slides[-1][2] += 1
        elif kind != "skip":
            slides[-1][1] += 1
    return [tuple(s) for s in slides]


def _first_line(cell) -> str:
    lines = [line for line in cell.source.splitlines() if line.strip()]
    return (lines[0][:70] if lines else "(empty)")


def load_notes(path: Path = NOTES_FILE) -> tuple[dict[str, dict[str, str]], dict[str, frozenset]]:
    """The notes, notebook -> first cell id -> text, and the ``migrated`` notes-cell ids per notebook."""
    data = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    migrated = {name: frozenset(ids or ()) for name, ids in (data.pop(MIGRATED, None) or {}).items()}
    notes = {name: {str(k): str(v) for k, v in (entries or {}).items()} for name, entries in data.items()}
    return notes, migrated


def process(path: Path, notes: dict[str, str], check: bool, migrated: frozenset = frozenset()) -> list[str]:
    """Rewrite (or, with ``check``, only inspect) one notebook; return its problems."""
    nb = nbformat.read(path, as_version=4)
    new, problems = apply(nb, notes, migrated)
    if check:
        for key, size, n_notes in slide_sizes(nb):
            if size > MAX_CELLS:
                problems.append(f"slide starting at {key!r} holds {size} cells (at most {MAX_CELLS})")
            if n_notes != 1:
                problems.append(f"slide starting at {key!r} has {n_notes} notes cells (expected 1)")
        if nbformat.writes(new) != nbformat.writes(nb):
            problems.append("slide metadata or notes are out of date: run python tools/slides.py")
    elif new is not nb and nbformat.writes(new) != nbformat.writes(nb):
        nbformat.validate(new)
        nbformat.write(new, path)
        print(f"updated {path.name}")
    return list(dict.fromkeys(problems))


def outline(path: Path, notes: dict[str, str]) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not is_notes(c) or c.id in {notes_id(k) for k in notes}]
    nb, _ = apply(nb, notes)
    by_id = {c.id: c for c in nb.cells}
    print(f"== {path.name}")
    for key, size, n_notes in slide_sizes(nb):
        kind = slide_type(by_id[key])
        print(f"  {kind:8} {key:14} {size} cells {'note' if n_notes else 'NO NOTE'}  {_first_line(by_id[key])}")


def main(argv=None, solutions_dir: Path = SOLUTIONS, notes_file: Path = NOTES_FILE) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a slide lacks a note, "
                        "holds too many cells, or the notebooks are out of date")
    parser.add_argument("--outline", action="store_true", help="print the slides of each notebook")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook of solutions/")
    args = parser.parse_args(argv)
    all_notes, migrated = load_notes(notes_file)
    paths = args.notebooks or sorted(solutions_dir.glob("*.ipynb"))
    unknown = sorted(set(all_notes) - {p.name for p in sorted(solutions_dir.glob("*.ipynb"))})
    failed = bool(unknown and not args.notebooks)
    if failed:
        print(f"{notes_file.name} has notes for notebooks that do not exist: {', '.join(unknown)}")
    for path in paths:
        if args.outline:
            outline(path, all_notes.get(path.name, {}))
            continue
        problems = process(path, all_notes.get(path.name, {}), args.check, migrated.get(path.name, frozenset()))
        if problems:
            failed = True
            print(f"{path.name}:\n  " + "\n  ".join(problems))
    if not args.outline:
        print("slides: problems above" if failed else "slides: every slide has one note and at most "
              f"{MAX_CELLS} cells")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
