"""Labelling demos that never pass the notebook's clicks off as the student's.

A labelling cell (notebooks 06 and 08) must also run unattended. :func:`demo_label` presses the
buttons from code only when nobody has touched the labeller, and then labels *every* pair, so the
labels in use are either all the student's or all simulated, and it says which.
"""
from __future__ import annotations

from typing import Callable

from ..i18n import tr

CHOICE_BUTTON = {"A": "A", "B": "B", "tie": "Tie"}


def demo_label(ui, judge: Callable[[object, object], str]) -> int:
    """If nobody has labelled (or skipped) a pair of ``ui`` yet, label all its pairs with
    ``judge(item_a, item_b) -> "A" | "B" | "tie"`` by pressing the buttons; say whose labels are in
    use either way. Returns how many labels the demo made (0 when the labels are the student's).
    """
    if not callable(judge):
        raise ValueError(f"judge must be a function (item_a, item_b) -> 'A' | 'B' | 'tie', got {type(judge).__name__}")
    if ui.history:
        print(tr("{labelled} pairs labelled by you ({skipped} skipped); everything below uses your labels only.",
                 labelled=len(ui.labels), skipped=ui.position - len(ui.labels)))
        return 0
    while not ui.done:
        choice = judge(ui.items_a[ui.position], ui.items_b[ui.position])
        if choice not in CHOICE_BUTTON:
            raise ValueError(f"judge must return 'A', 'B' or 'tie', got {choice!r}")
        ui.buttons[CHOICE_BUTTON[choice]].click()
    print(tr("DEMO: nobody clicked, so all {count} labels below were made by code from the true reward (simulated, "
             "not yours). Label the pairs above and re-run to use your own.", count=len(ui.labels)))
    return len(ui.labels)


def labels_by(n_simulated: int) -> str:
    """Who made the labels in use, for a sentence: ``"your"`` or ``"the demo's simulated"``."""
    return tr("the demo's simulated") if n_simulated else tr("your")
