"""Auto-checked multiple-choice questions at the end of each notebook, and their Moodle GIFT export.

    from rlft_core.quiz import quiz
    quiz("04")                      # radio buttons + a Check button per question

Each question shows its options as radio buttons; **Check** says right or wrong and then reveals the
explanation. Driven from code (as the tests do): ``q = quiz("04"); q.answer(0, 1); q.check(0)`` ->
True/False, ``q.feedback[0].value`` holds the verdict and explanation, ``q.score()`` -> (right, asked).
Run headless (nbval, an HTML export), the cell also carries the questions as plain text and HTML, with
each explanation folded under "Answer".

    python -m rlft_core.quiz --gift build/quiz/rlft_course.gift     # make quiz: for Moodle (or any LMS)

The questions, options, answers and explanations live in :mod:`rlft_core.quiz_questions`, in English;
everything a quiz shows passes through :func:`rlft_core.i18n.tr`, so after ``set_language("zh")`` it is
in Chinese (``--language zh`` exports the Chinese GIFT file).
"""
from __future__ import annotations

import argparse
import html
import re
from pathlib import Path

from .i18n import set_language, tr
from .quiz_questions import QUESTIONS, TITLES, Question


def _key(notebook) -> str:
    key = f"{notebook:02d}" if isinstance(notebook, int) else str(notebook)[:2]
    if key not in QUESTIONS:
        raise ValueError(f"notebook must be one of {sorted(QUESTIONS)} (or a name starting with one), got {notebook!r}")
    return key


def shown(item: Question) -> Question:
    """``item`` in the current language (its text, options and explanation through :func:`tr`)."""
    return item._replace(text=tr(item.text), options=tuple(tr(option) for option in item.options),
                         explanation=tr(item.explanation))


def questions(notebook) -> list[Question]:
    """The questions of one notebook, given as 4, "04" or "04_ppo_math"."""
    return QUESTIONS[_key(notebook)]


class Quiz:
    """The widget for a list of questions. Attributes: ``radios``, ``buttons``, ``feedback`` (one per
    question), ``checked`` (question index -> was the checked answer right), ``widget``. ``items`` are
    the questions as given (English); what the widget shows is in the current language."""

    def __init__(self, items: list[Question], title: str = ""):
        import ipywidgets as widgets
        self.items, self.title = list(items), title
        self.checked: dict[int, bool] = {}
        self.radios, self.buttons, self.feedback, boxes = [], [], [], []
        for i, item in enumerate(map(shown, self.items)):
            radio = widgets.RadioButtons(options=[(text, k) for k, text in enumerate(item.options)], value=None,
                                         layout=widgets.Layout(width="auto"))
            button = widgets.Button(description=tr("Check"), button_style="info")
            button.on_click(lambda _, i=i: self.check(i))
            feedback = widgets.HTML()
            self.radios.append(radio)
            self.buttons.append(button)
            self.feedback.append(feedback)
            boxes.append(widgets.VBox([widgets.HTML(f"<b>{i + 1}. {html.escape(item.text)}</b>"), radio,
                                       widgets.HBox([button]), feedback]))
        self.widget = widgets.VBox(([widgets.HTML(f"<h4>{html.escape(title)}</h4>")] if title else []) + boxes)

    def answer(self, index: int, option: int) -> None:
        """Select ``option`` (an index into the options) for question ``index``, as a click would."""
        self.radios[index].value = option

    def check(self, index: int) -> bool | None:
        """Judge the selected option of question ``index``; show the verdict and the explanation.
        None (and a reminder) when nothing is selected yet."""
        item, chosen = shown(self.items[index]), self.radios[index].value
        if chosen is None:
            self.feedback[index].value = tr("<i>Pick an option first.</i>")
            return None
        right = chosen == item.answer
        self.checked[index] = right
        verdict = (tr("✅ Right.") if right else
                   tr("❌ Not quite: the answer is “{answer}”.", answer=html.escape(item.options[item.answer])))
        self.feedback[index].value = f"{verdict} {html.escape(item.explanation)}"
        return right

    def score(self) -> tuple[int, int]:
        """(questions answered right when last checked, questions in the quiz)."""
        return sum(self.checked.values()), len(self.items)

    def text(self) -> str:
        """The questions and options as plain text (no answers)."""
        lines = [self.title] if self.title else []
        for i, item in enumerate(map(shown, self.items)):
            lines.append(f"{i + 1}. {item.text}")
            lines += [f"   ({'abcdefgh'[k]}) {option}" for k, option in enumerate(item.options)]
        return "\n".join(lines)

    def html(self) -> str:
        """The questions for a static page, each explanation folded under "Answer"."""
        parts = [f"<h4>{html.escape(self.title)}</h4>"] if self.title else []
        for i, item in enumerate(map(shown, self.items)):
            options = "".join(f"<li>{html.escape(o)}</li>" for o in item.options)
            answer = tr("({letter}) {option}. {explanation}", letter="abcdefgh"[item.answer],
                        option=html.escape(item.options[item.answer]), explanation=html.escape(item.explanation))
            parts.append(f"<p><b>{i + 1}. {html.escape(item.text)}</b></p><ol type='a'>{options}</ol>"
                         f"<details><summary>{tr('Answer')}</summary><p>{answer}</p></details>")
        return "<div class='rlft-quiz'>" + "".join(parts) + "</div>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_()
        bundle.update({"text/plain": self.text(), "text/html": self.html()})
        return bundle

    def __repr__(self) -> str:
        return f"Quiz({len(self.items)} questions, {self.score()[0]} right so far)"


def quiz(notebook) -> Quiz:
    """The end-of-notebook quiz of ``notebook`` (4, "04" or "04_ppo_math")."""
    key = _key(notebook)
    return Quiz(QUESTIONS[key], title=tr("Check your understanding · {title}", title=tr(TITLES[key])))


# ---------------------------------------------------------------- Moodle GIFT export
_GIFT_SPECIAL = re.compile(r"([~=#{}:\\])")


def gift_escape(text: str) -> str:
    r"""Escape GIFT's special characters ``~ = # { } :`` (and the backslash) with a backslash; a newline
    becomes ``\n``."""
    return _GIFT_SPECIAL.sub(r"\\\1", text).replace("\n", r"\n")


def to_gift(all_questions: dict[str, list[Question]] = QUESTIONS, course: str = "rlft_course") -> str:
    """Every question as a Moodle GIFT multiple-choice question, one category per notebook; the
    explanation is the question's general feedback (shown after an attempt). In the current language."""
    blocks = []
    for key in sorted(all_questions):
        title = TITLES.get(key, key)
        title = tr(title)
        blocks.append(f"// notebook {key}: {title}\n$CATEGORY: $course$/top/{course}/{key} {title.replace(':', ' -')}")
        for n, item in enumerate(map(shown, all_questions[key]), start=1):
            options = "\n".join(("=" if k == item.answer else "~") + gift_escape(option)
                                for k, option in enumerate(item.options))
            blocks.append(f"::{key}-{n}::[plain]{gift_escape(item.text)} {{\n{options}\n"
                          f"####{gift_escape(item.explanation)}\n}}")
    return "\n\n".join(blocks) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Export the course's multiple-choice questions.")
    parser.add_argument("--gift", type=Path, required=True, help="output file (Moodle GIFT format)")
    parser.add_argument("--language", choices=("en", "zh"), default="en", help="language of the questions")
    args = parser.parse_args(argv)
    if args.language != "en":
        set_language(args.language)
    args.gift.parent.mkdir(parents=True, exist_ok=True)
    args.gift.write_text(to_gift(), encoding="utf-8")
    count = sum(len(items) for items in QUESTIONS.values())
    print(tr("wrote {count} questions from {notebooks} notebooks to {path}", count=count,
             notebooks=len(QUESTIONS), path=args.gift))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
