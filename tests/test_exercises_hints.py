"""Hints in tiers, on request: hint() once gives the idea, twice the formula, and only
show_solution() shows code; a bare hint() is about the exercise checked last."""
import pytest

from rlft_core import exercises as ex
from rlft_core.exercises import _hints
from test_exercises_no_leak import CHECKERS, leaked, not_attempted


def said(capsys, call):
    """What ``call()`` printed (hint and show_solution print and return None)."""
    capsys.readouterr()
    assert call() is None
    return capsys.readouterr().out


@pytest.fixture(autouse=True)
def fresh_hint_state(monkeypatch):
    monkeypatch.setitem(_hints._state, "last", None)
    monkeypatch.setitem(_hints._state, "level", {})


def test_hint_and_show_solution_are_exported_from_the_package():
    assert ex.hint is _hints.hint and ex.show_solution is _hints.show_solution
    assert {"hint", "show_solution"} <= set(ex.__all__)


@pytest.mark.parametrize("name,checker", CHECKERS, ids=[name for name, _ in CHECKERS])
def test_every_checker_registers_hints_that_a_bare_hint_call_finds(name, checker, capsys):
    checker(not_attempted)
    capsys.readouterr()
    exercise = name.removeprefix("check_")
    hints = _hints.hints_for(exercise)
    first, second = said(capsys, lambda: ex.hint()), said(capsys, lambda: ex.hint())
    assert hints.idea in first and "idea" in first and hints.formula not in first
    assert hints.formula in second and "formula" in second
    assert "show_solution()" in said(capsys, lambda: ex.hint())
    assert leaked(first + second) == [], f"the hints of {exercise} give away solution code"


def test_hint_follows_the_last_checker_run(capsys):
    ex.check_gae(not_attempted)
    assert "'gae'" in said(capsys, lambda: ex.hint())
    ex.check_dpo_loss(not_attempted)
    assert "'dpo_loss'" in said(capsys, lambda: ex.hint())
    assert "formula" in said(capsys, lambda: ex.hint("gae"))          # gae's own counter went on from its first hint


def test_hint_by_name_or_checker_and_unknown_names(capsys):
    assert "for 'gae'" in said(capsys, lambda: ex.hint("check_gae"))
    assert "for 'bradley_terry_loss'" in said(capsys, lambda: ex.hint(ex.check_bradley_terry_loss))
    with pytest.raises(ValueError, match="no exercise called 'gea'"):
        said(capsys, lambda: ex.hint("gea"))
    with pytest.raises(ValueError, match="exercise must be"):
        said(capsys, lambda: ex.hint(3))


def test_hint_before_any_checker_says_how_to_ask(capsys):
    assert "Run an exercise's checker first" in said(capsys, lambda: ex.hint())
    assert "show_solution('gae')" in said(capsys, lambda: ex.show_solution())


def test_show_solution_prints_the_worked_solution_of_the_solutions_notebook(capsys):
    ex.check_gae(not_attempted)
    text = said(capsys, lambda: ex.show_solution())
    assert "def my_gae(" in text and "BEGIN SOLUTION" not in text
    assert leaked(text), "show_solution should show the solution's code"


def test_show_solution_without_solutions_dir_shows_the_package_version(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(_hints, "SOLUTIONS_DIR", tmp_path)
    text = said(capsys, lambda: ex.show_solution("bradley_terry_loss"))
    assert "def bradley_terry_loss(" in text and "logsigmoid" in text


def test_wrong_answer_without_a_known_mistake_points_to_hint(capsys):
    ex.check_discounted_return(lambda rewards, gamma: 42.0)
    out = capsys.readouterr().out
    assert "❌" in out and "hint()" in out


def test_hint_and_show_solution_print_and_return_nothing_for_a_notebook_to_echo(capsys):
    """A notebook shows the repr of a cell's last value: returning the text would show it twice."""
    assert ex.hint("gae") is None and ex.show_solution("gae") is None
    out = capsys.readouterr().out
    assert "Hint 1 of 2" in out and "def my_gae(" in out


def test_hints_point_to_sections_that_exist():
    """'Re-read 4.3', 'the bound of 10.3', 'Re-read Step 3': the section (or step) is a heading of the
    notebook the hint names ('of notebook 04'), else of the exercise's own notebook."""
    import re
    from pathlib import Path

    import nbformat
    solutions = Path(__file__).resolve().parents[1] / "solutions"

    def headings(number):
        (path,) = solutions.glob(f"{number}_*.ipynb")
        return [line for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"
                for line in cell.source.split("\n") if line.startswith("#")]

    checked, wrong = 0, []
    for exercise, hints in sorted(_hints._REGISTRY.items()):
        for sentence in re.split(r"(?<=[.;])\s", hints.start):
            if "Re-read" not in sentence and "bound of" not in sentence:
                continue
            named = re.search(r"notebook (\d\d)", sentence)
            number = named.group(1) if named else hints.notebook[:2]
            lines = headings(number)
            for section in re.findall(r"(?<![\d.])(\d{1,2}\.\d{1,2})(?![\d.])", sentence):
                checked += 1
                if not any(line.startswith(f"## {section} · ") for line in lines):
                    wrong.append(f"{exercise}: section {section} of notebook {number}")
            for step in re.findall(r"Step (\d)", sentence):
                checked += 1
                if not any(f"Step {step}" in line for line in lines):
                    wrong.append(f"{exercise}: Step {step} of notebook {number}")
    assert checked >= 10 and wrong == []
