"""tools/slides.py: slide boundaries and one speaker note per slide, from tools/speaker_notes.yaml.

Fast (no build, no kernel): the slide structure is read back from the cells' metadata by a loop
written here, independently of the script's own planner.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
MAX_CELLS = 6


def kind(cell) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def slides_of(nb) -> list[list]:
    """The cells of each slide or sub-slide, in order, as the deck will show them."""
    decks = []
    for cell in nb.cells:
        if kind(cell) in ("slide", "subslide") or not decks:
            decks.append([])
        decks[-1].append(cell)
    return decks


def toy_notebook(n_code: int = 14):
    """A title, a section with ``n_code`` code cells and no other heading, a ### sub-section."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_markdown_cell("## Section\ntext")]
    nb.cells += [nbformat.v4.new_code_cell(f"x = {i}") for i in range(n_code)]
    nb.cells += [nbformat.v4.new_markdown_cell("### Sub-section"), nbformat.v4.new_code_cell("y = 1")]
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i:02d}"
    return nb


def write_toy(tmp_path, nb, notes) -> tuple[Path, Path]:
    folder = tmp_path / "solutions"
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / "toy.ipynb")
    notes_file = tmp_path / "notes.yaml"
    notes_file.write_text(yaml.safe_dump({"toy.ipynb": notes}, allow_unicode=True), encoding="utf-8")
    return folder, notes_file


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_slide_has_one_note_after_its_first_cell_and_at_most_six_cells(path):
    nb = nbformat.read(path, as_version=4)
    decks = slides_of(nb)
    assert len(decks) >= 5, f"{path.name}: only {len(decks)} slides"
    for deck in decks:
        content = [c for c in deck if kind(c) not in ("notes", "skip")]
        notes = [c for c in deck if kind(c) == "notes"]
        where = f"{path.name}, slide at {deck[0].id}"
        assert len(content) <= MAX_CELLS, f"{where}: {len(content)} cells"
        assert len(notes) == 1, f"{where}: {len(notes)} notes cells"
        assert deck[1] is notes[0] and notes[0].id == f"notes-{deck[0].id}", where
        assert notes[0].cell_type == "markdown" and len(notes[0].source) > 80, where


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_section_headings_open_slides(path):
    for cell in nbformat.read(path, as_version=4).cells:
        first = cell.source.lstrip().split("\n", 1)[0] if cell.cell_type == "markdown" else ""
        if first.startswith(("# ", "## ")):
            assert kind(cell) == "slide", f"{path.name} {cell.id}: {first}"
        elif first.startswith("### "):
            assert kind(cell) in ("slide", "subslide"), f"{path.name} {cell.id}: {first}"


def test_committed_solutions_pass_the_check(capsys):
    assert slides.main(["--check"]) == 0, capsys.readouterr().out


def test_notes_file_covers_the_course_and_every_note_is_a_few_sentences():
    notes, migrated = slides.load_notes()
    assert sorted(notes) == [p.name for p in SOLUTIONS] and set(migrated) <= set(notes)
    for name, entries in notes.items():
        for key, text in entries.items():
            sentences = [s for s in text.replace("?", ".").split(". ") if s.strip()]
            assert 2 <= len(sentences) <= 8, f"{name} {key}: {len(sentences)} sentences"


def test_running_the_script_on_the_course_changes_nothing(tmp_path):
    copies = tmp_path / "solutions"
    shutil.copytree(ROOT / "solutions", copies)
    assert slides.main([], solutions_dir=copies) == 0
    for path in SOLUTIONS:
        assert (copies / path.name).read_bytes() == path.read_bytes(), path.name


def test_long_section_is_split_and_a_second_run_changes_nothing(tmp_path):
    folder, notes_file = write_toy(tmp_path, toy_notebook(14), {})
    assert slides.main([], solutions_dir=folder, notes_file=notes_file) == 1      # notes are missing
    nb = nbformat.read(folder / "toy.ipynb", as_version=4)
    decks = slides_of(nb)
    sizes = [len(d) for d in decks]
    assert sum(sizes) == 18 and max(sizes) <= MAX_CELLS
    assert [kind(d[0]) for d in decks][:2] == ["slide", "slide"] and kind(decks[-1][0]) == "subslide"
    assert decks[-1][0].source == "### Sub-section"
    # now write a note for every slide start: the check passes, and a second run is a no-op
    starts = {d[0].id: f"Note for {d[0].id}. Second sentence." for d in decks}
    folder, notes_file = write_toy(tmp_path, nb, starts)
    assert slides.main([], solutions_dir=folder, notes_file=notes_file) == 0
    once = (folder / "toy.ipynb").read_bytes()
    assert slides.main([], solutions_dir=folder, notes_file=notes_file) == 0
    assert (folder / "toy.ipynb").read_bytes() == once
    assert slides.main(["--check"], solutions_dir=folder, notes_file=notes_file) == 0
    written = nbformat.read(folder / "toy.ipynb", as_version=4)
    assert sum(kind(c) == "notes" for c in written.cells) == len(decks)


def test_a_yaml_key_splits_by_hand_and_stale_notes_are_removed(tmp_path):
    nb = toy_notebook(4)                       # short enough: no automatic split
    folder, notes_file = write_toy(tmp_path, nb, {"c00": "Title. Two.", "c01": "Section. Two.",
                                                  "c04": "Hand split. Two.", "c06": "Sub. Two."})
    assert slides.main([], solutions_dir=folder, notes_file=notes_file) == 0
    written = nbformat.read(folder / "toy.ipynb", as_version=4)
    assert [d[0].id for d in slides_of(written)] == ["c00", "c01", "c04", "c06"]
    # drop the hand split from the data: its sub-slide and its note disappear
    folder, notes_file = write_toy(tmp_path, written, {"c00": "Title. Two.", "c01": "Section. Two.",
                                                       "c06": "Sub. Two."})
    assert slides.main([], solutions_dir=folder, notes_file=notes_file) == 0
    again = nbformat.read(folder / "toy.ipynb", as_version=4)
    assert [d[0].id for d in slides_of(again)] == ["c00", "c01", "c06"]
    assert "notes-c04" not in {c.id for c in again.cells}
    assert [c.source for c in again.cells if c.id == "c04"] == ["x = 2"] and kind(again.cells[5]) == "-"


def test_check_fails_on_a_missing_note_a_long_slide_and_a_hand_written_note(tmp_path, capsys):
    nb = toy_notebook(4)
    notes = {"c00": "Title. Two.", "c01": "Section. Two.", "c06": "Sub. Two."}
    folder, notes_file = write_toy(tmp_path, nb, notes)
    slides.main([], solutions_dir=folder, notes_file=notes_file)
    assert slides.main(["--check"], solutions_dir=folder, notes_file=notes_file) == 0
    # a note missing from the data
    folder, notes_file = write_toy(tmp_path, nbformat.read(folder / "toy.ipynb", as_version=4),
                                   {"c00": "Title. Two.", "c01": "Section. Two."})
    assert slides.main(["--check"], solutions_dir=folder, notes_file=notes_file) == 1
    assert "has no note" in capsys.readouterr().out
    # the metadata edited by hand into one long slide
    folder, notes_file = write_toy(tmp_path, nb, notes)
    slides.main([], solutions_dir=folder, notes_file=notes_file)
    edited = nbformat.read(folder / "toy.ipynb", as_version=4)
    for cell in edited.cells:
        if kind(cell) == "subslide":
            cell.metadata["slideshow"]["slide_type"] = "-"
    edited.cells.insert(4, nbformat.v4.new_code_cell("z = 0"))
    nbformat.write(edited, folder / "toy.ipynb")
    assert slides.main(["--check"], solutions_dir=folder, notes_file=notes_file) == 1
    assert "at most 6" in capsys.readouterr().out
    # a notes cell written in the notebook, whose text is not in the data: kept, and reported
    folder, notes_file = write_toy(tmp_path, nb, notes)
    slides.main([], solutions_dir=folder, notes_file=notes_file)
    with_hand_note = nbformat.read(folder / "toy.ipynb", as_version=4)
    hand = nbformat.v4.new_markdown_cell("Speaker notes: a thought nobody saved.")
    hand.metadata["slideshow"] = {"slide_type": "notes"}
    with_hand_note.cells.insert(3, hand)
    nbformat.write(with_hand_note, folder / "toy.ipynb")
    assert slides.main([], solutions_dir=folder, notes_file=notes_file) == 1
    assert "a thought nobody saved" in capsys.readouterr().out
    assert "a thought nobody saved" in (folder / "toy.ipynb").read_text(encoding="utf-8")
    # ... unless the data says that this cell's text was migrated into it
    notes_file.write_text(yaml.safe_dump({"toy.ipynb": notes, "migrated": {"toy.ipynb": [hand.id]}}), encoding="utf-8")
    assert slides.main([], solutions_dir=folder, notes_file=notes_file) == 0
    assert "a thought nobody saved" not in (folder / "toy.ipynb").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_chapters_have_the_same_slides_and_no_speaker_notes(path):
    solution = {c.id: c for c in nbformat.read(path, as_version=4).cells}
    chapter = nbformat.read(ROOT / "chapters" / path.name, as_version=4)
    assert not [c.id for c in chapter.cells if kind(c) == "notes"]
    for cell in chapter.cells:
        assert cell.metadata.get("slideshow") == solution[cell.id].metadata.get("slideshow"), cell.id
    starts = [c.id for c in solution.values() if kind(c) in ("slide", "subslide")]
    assert [c.id for c in chapter.cells if kind(c) in ("slide", "subslide")] == starts
