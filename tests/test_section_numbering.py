"""Sections are numbered by the notebook (`## 7.2 · ...`), in order, with the source's section
beside the number when the section mirrors one (`## 7.2 · 源 §5.2 · ...`)."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
UNNUMBERED = ("## Summary", "## Check your understanding")      # the closing summary and quiz
SECTION = re.compile(r"^## (\d+)\.(\d+) · (源 §[^·]+ · )?\S")


def headings(path, level):
    nb = nbformat.read(path, as_version=4)
    return [line for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.split("\n") if line.startswith("#" * level + " ")]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_sections_are_numbered_by_the_notebook_in_order(path):
    number = int(path.name[:2])
    sections = [h for h in headings(path, 2) if not h.startswith(UNNUMBERED)]
    assert sections, f"{path.name} has no numbered sections"
    for index, heading in enumerate(sections, start=1):
        match = SECTION.match(heading)
        assert match, f"{path.name}: {heading!r} is not '## {number}.k · [源 §x · ]title'"
        assert (int(match.group(1)), int(match.group(2))) == (number, index), \
            f"{path.name}: {heading!r} should be section {number}.{index}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_subsections_carry_no_source_numbers(path):
    numbered = [h for h in headings(path, 3) if re.match(r"### §?\d", h)]
    assert not numbered, f"{path.name}: subsections numbered like the source: {numbered}"


def test_instructors_notes_point_to_sections_that_exist():
    """INSTRUCTORS.md's "(04 §4.2–4.3)" references name sections of that notebook (`## 4.2 · ...`)."""
    text = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    references = re.findall(r"\b(\d\d) §(\d+\.\d+)(?:–(\d+\.\d+))?", text)
    assert len(references) >= 15
    wrong = []
    for notebook, *numbers in references:
        path = next((ROOT / "solutions").glob(f"{notebook}_*.ipynb"))
        numbered = {h.split(" · ")[0][3:] for h in headings(path, 2)}
        wrong += [f"{notebook} §{n}" for n in numbers if n and n not in numbered]
    assert not wrong, f"INSTRUCTORS.md points to sections that do not exist: {wrong}"
