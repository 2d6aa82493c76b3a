"""chapters/ is generated from solutions/: stubs replace solutions, hidden tests vanish, edits survive."""
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_chapters  # noqa: E402


def solution_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("def f(x):\n    y = x + 1\n    ### BEGIN SOLUTION\n    return y * 2\n    ### END SOLUTION"),
        nbformat.v4.new_code_cell("ok = check(f)\n### BEGIN HIDDEN TESTS\nassert ok\n### END HIDDEN TESTS"),
        nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
    ]
    return nb


def test_solution_blocks_become_indented_stubs_and_hidden_tests_vanish():
    chapter = make_chapters.chapter_from_solution(solution_notebook())
    assert chapter.cells[1].source == "def f(x):\n    y = x + 1\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert chapter.cells[1].metadata["rlft"]["exercise"] is True
    assert chapter.cells[2].source == "ok = check(f)"
    assert chapter.cells[3].source == "Why?\n*YOUR ANSWER HERE*"
    assert "BEGIN" not in "".join(c.source for c in chapter.cells)


def test_committed_chapters_are_up_to_date_with_solutions():
    assert make_chapters.main(["--check"]) == 0, "run `make chapters` and commit chapters/"


def test_edited_chapter_is_left_alone_unless_forced(tmp_path, capsys):
    solutions, chapters = tmp_path / "solutions", tmp_path / "chapters"
    solutions.mkdir()
    nbformat.write(solution_notebook(), solutions / "x.ipynb")
    assert make_chapters.main([], solutions, chapters) == 0
    written = nbformat.read(chapters / "x.ipynb", as_version=4)
    written.cells[1].source = "def f(x):\n    return 42  # my attempt"
    nbformat.write(written, chapters / "x.ipynb")
    # the solution changes, so the chapter would be rewritten...
    changed = solution_notebook()
    changed.cells[0].source = "# New title"
    nbformat.write(changed, solutions / "x.ipynb")
    make_chapters.main([], solutions, chapters)
    assert "left alone" in capsys.readouterr().out
    kept = nbformat.read(chapters / "x.ipynb", as_version=4)
    assert "my attempt" in kept.cells[1].source and kept.cells[0].source == "# Title"
    # ...but --check still reports it stale, and --force overwrites
    assert make_chapters.main(["--check"], solutions, chapters) == 1
    make_chapters.main(["--force"], solutions, chapters)
    forced = nbformat.read(chapters / "x.ipynb", as_version=4)
    assert forced.cells[0].source == "# New title" and "NotImplementedError" in forced.cells[1].source


def test_unedited_chapter_is_regenerated(tmp_path):
    solutions, chapters = tmp_path / "solutions", tmp_path / "chapters"
    solutions.mkdir()
    nbformat.write(solution_notebook(), solutions / "x.ipynb")
    make_chapters.main([], solutions, chapters)
    changed = solution_notebook()
    changed.cells[0].source = "# New title"
    nbformat.write(changed, solutions / "x.ipynb")
    make_chapters.main([], solutions, chapters)
    assert nbformat.read(chapters / "x.ipynb", as_version=4).cells[0].source == "# New title"


def test_solution_notebooks_assert_their_checks():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        exercises = sum("### BEGIN SOLUTION" in c.source for c in nb.cells if c.cell_type == "code")
        hidden = sum("### BEGIN HIDDEN TESTS" in c.source and "assert" in c.source for c in nb.cells)
        assert hidden >= (1 if exercises else 0), f"{path.name}: exercises without an asserted check"
