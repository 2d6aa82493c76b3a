"""Run times live in one place, tools/runtimes.json (written by tools/measure_runtimes.py); the README's
course map, the notebooks' header lines and INSTRUCTORS.md must show the same figures."""
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import measure_runtimes  # noqa: E402

DATA = json.loads((ROOT / "tools" / "runtimes.json").read_text())["notebooks"]
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


def expected(path):
    return measure_runtimes.shown(DATA[path.stem]["seconds"])


def test_every_notebook_was_measured_and_passed():
    assert {p.stem for p in NOTEBOOKS} == set(DATA), "run tools/measure_runtimes.py --only NN for new notebooks"
    assert all(entry["passed"] for entry in DATA.values())
    for name, entry in DATA.items():     # each sample is an upper bound; the figure shown is the tightest
        assert entry["seconds"] == min(sample["seconds"] for sample in entry["samples"]), name


def test_shown_rounds_up_to_five_seconds():
    assert [measure_runtimes.shown(s) for s in (0.4, 5.0, 5.1, 61.0)] == ["~5 s", "~5 s", "~10 s", "~65 s"]


@pytest.mark.parametrize("folder", ["solutions", "chapters"])
def test_notebook_headers_agree_with_the_data(folder):
    for path in NOTEBOOKS:
        title = nbformat.read(ROOT / folder / path.name, as_version=4).cells[0].source.split("\n")[1]
        found = re.findall(r"Time to run: (~\d+ s)", title)
        assert found == [expected(path)], f"{folder}/{path.name}: header says {found}, data says {expected(path)}"


def test_readme_course_map_agrees_with_the_data():
    rows = dict((m.group(2), m.group(3)) for m in measure_runtimes.README_ROW.finditer((ROOT / "README.md").read_text()))
    for path in NOTEBOOKS:
        assert rows.get(path.stem[:2]) == expected(path), f"README row of {path.stem}: {rows.get(path.stem[:2])}"


def test_instructors_notes_agree_with_the_data():
    text = (ROOT / "INSTRUCTORS.md").read_text()
    for path in NOTEBOOKS:
        heading = re.search(rf"^## {path.stem[:2]} .*\((~[^)]*)\)$", text, re.M)
        assert heading and heading.group(1) == expected(path), f"INSTRUCTORS.md heading of {path.stem}"
