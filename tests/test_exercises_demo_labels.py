"""The labelling demo labels only when nobody did, labels everything then, and says whose labels are used."""
import pytest

from rlft_core.exercises.demo_labels import demo_label, labels_by
from rlft_core.widgets import PreferenceLabeller

SCORE = {"good": 2, "fine": 1, "bad": 0}


def by_score(a, b):
    return "A" if SCORE[a] > SCORE[b] else "B" if SCORE[b] > SCORE[a] else "tie"


def labeller():
    return PreferenceLabeller(["good", "bad", "fine", "bad", "good", "fine"],
                              ["bad", "good", "fine", "fine", "fine", "bad"])


def test_a_students_partial_labels_are_used_alone(capsys):
    ui = labeller()
    for button in ("B", "A", "Skip", "A"):            # a student's (contrary) taste, one skip
        ui.buttons[button].click()
    assert demo_label(ui, by_score) == 0
    assert ui.labels == [(0, "B"), (1, "A"), (3, "A")] and not ui.done
    out = capsys.readouterr().out
    assert "3 pairs labelled by you (1 skipped)" in out and "simulated" not in out
    assert labels_by(0) == "your"


def test_untouched_labeller_is_labelled_entirely_by_the_demo_and_says_so(capsys):
    ui = labeller()
    assert demo_label(ui, by_score) == 6
    expected = [by_score(a, b) for a, b in zip(ui.items_a, ui.items_b)]
    assert [choice for _, choice in ui.labels] == expected
    assert "all 6 labels below were made by code" in capsys.readouterr().out
    assert labels_by(6) == "the demo's simulated"


def test_only_skips_count_as_touched(capsys):
    ui = labeller()
    ui.buttons["Skip"].click()
    assert demo_label(ui, by_score) == 0 and ui.labels == []


def test_a_bad_judge_is_refused():
    with pytest.raises(ValueError, match="judge must return"):
        demo_label(labeller(), lambda a, b: "left")
    with pytest.raises(ValueError, match="judge must be a function"):
        demo_label(labeller(), "A")
