"""The end-of-notebook multiple-choice quizzes: the data, the widget, the notebook cells, the GIFT export."""
import html
import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from rlft_core.quiz import Quiz, gift_escape, questions, quiz, to_gift
from rlft_core.quiz_questions import QUESTIONS, TITLES, Question

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb"))


def _correct(key, n):
    item = QUESTIONS[key][n]
    return item.options[item.answer]


# ---------------------------------------------------------------- the questions
def test_every_notebook_has_three_to_five_well_formed_questions():
    assert {p.name[:2] for p in NOTEBOOKS} <= set(QUESTIONS) == set(TITLES)     # (12: GRPO, may come later)
    for key, items in QUESTIONS.items():
        assert 3 <= len(items) <= 5, key
        for item in items:
            assert len(item.options) >= 3 and len(set(item.options)) == len(item.options), item.text
            assert 0 <= item.answer < len(item.options)
            assert item.text.strip() and len(item.explanation) > 40
            for text in (item.text, item.explanation, *item.options):
                assert "\n" not in text and "\\" not in text and "$" not in text, text


def test_numeric_answers_agree_with_a_direct_computation():
    assert f"{1 + 0.9 + 0.9 ** 2:.2f}" == _correct("00", 2)                        # discounted return
    assert f"{1 / (1 - 0.99):.0f}" == _correct("00", 3)                              # effective horizon
    assert f"{1 / (1 + math.exp(-2)):.2f}" in _correct("05", 0)                      # σ(2)
    assert f"{1.8 * 20:.0f} m" == _correct("06", 3)                                  # time gap × speed
    assert f"{math.log(16) - 15 / 16:.2f}" in _correct("08", 2)                      # best-of-16 KL bound
    assert str(8 * 64 // 4) == _correct("09", 0)                                     # SB3 minibatch size
    assert f"{0.9 * (1 - 0.2) + (1 - 0.9) * 0.2:.2f}" == _correct("11", 2)         # noisy-label ceiling


def test_questions_accepts_numbers_and_names():
    assert questions(4) == questions("04") == questions("04_ppo_math") == QUESTIONS["04"]
    with pytest.raises(ValueError, match="notebook must be one of"):
        questions("99_nothing")


# ---------------------------------------------------------------- the widget
@pytest.mark.parametrize("key", sorted(QUESTIONS))
def test_checking_reveals_the_verdict_and_the_explanation(key):
    q = quiz(key)
    for i, item in enumerate(q.items):
        assert q.check(i) is None and "Pick an option" in q.feedback[i].value
        wrong = (item.answer + 1) % len(item.options)
        q.answer(i, wrong)
        assert q.check(i) is False
        assert "Not quite" in q.feedback[i].value and item.explanation in html.unescape(q.feedback[i].value)
        q.answer(i, item.answer)
        q.buttons[i].click()                                   # the button does what check() does
        assert q.checked[i] is True and "Right" in q.feedback[i].value
    assert q.score() == (len(q.items), len(q.items))


def test_score_counts_the_last_check_of_each_question():
    q = quiz("02")
    q.answer(0, q.items[0].answer)
    q.check(0)
    q.answer(1, (q.items[1].answer + 1) % len(q.items[1].options))
    q.check(1)
    assert q.score() == (1, len(q.items))


def test_headless_rendering_lists_the_questions_and_escapes_html():
    item = Question("Is <script>alert(1)</script> shown as text?", ("yes", "no", "<b>maybe</b>"), 0,
                    "Everything a question shows is HTML-escaped, so markup is displayed and never run.")
    bundle = Quiz([item, *QUESTIONS["04"]], title="t")._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert all(q.text in bundle["text/plain"] for q in QUESTIONS["04"])
    assert all(q.explanation not in bundle["text/plain"] for q in QUESTIONS["04"])    # no answers in the text
    assert "<script>" not in bundle["text/html"] and "&lt;script&gt;" in bundle["text/html"]
    assert bundle["text/html"].count("<details>") == 1 + len(QUESTIONS["04"])


# ---------------------------------------------------------------- the notebook cells
def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_ends_with_its_quiz_and_the_script_is_idempotent(capsys):
    add_quiz_cells = _tool("add_quiz_cells")
    assert add_quiz_cells.main(["--check"]) == 0, capsys.readouterr().out
    for folder in ("solutions", "chapters"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            cells = nbformat.read(path, as_version=4).cells
            # solutions/: title, its speaker note (tools/slides.py), quiz; chapters/ have no notes
            assert [c.id for c in cells[-3:] if c.id != add_quiz_cells.NOTES_ID][-2:] == list(add_quiz_cells.IDS), path
            assert f'quiz("{path.name[:2]}")' in cells[-1].source


def test_add_quiz_cells_moves_an_old_quiz_to_the_end(tmp_path):
    add_quiz_cells = _tool("add_quiz_cells")
    source = ROOT / "solutions" / "01_background.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells = nb.cells[-2:] + nb.cells[:-2]             # quiz cells out of place, at the start
    (tmp_path / source.name).write_text(nbformat.writes(nb) + "\n")
    assert add_quiz_cells.main([], solutions_dir=tmp_path) == 0
    assert (tmp_path / source.name).read_text() == source.read_text()


# ---------------------------------------------------------------- the Moodle GIFT export
def _split_unescaped(text, separators):
    """Split ``text`` at the unescaped separators; return [(separator before the piece, piece)]."""
    pieces, current, sep, i = [], "", None, 0
    while i < len(text):
        if text[i] == "\\":
            current += text[i:i + 2]
            i += 2
            continue
        hit = next((s for s in separators if text.startswith(s, i)), None)
        if hit:
            pieces.append((sep, current))
            current, sep = "", hit
            i += len(hit)
        else:
            current += text[i]
            i += 1
    pieces.append((sep, current))
    return pieces


def _unescape(text):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text.strip())


def parse_gift(gift):
    """A small GIFT reader for multiple-choice questions: [(title, text, options, answer, feedback)]."""
    parsed = []
    for block in gift.strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(("//", "$CATEGORY"))]
        if not lines:
            continue
        match = re.fullmatch(r"::((?:[^:\\]|\\.)*)::\[plain\]((?:[^{\\]|\\.)*)\{((?:[^}\\]|\\.)*)\}", "\n".join(lines), re.S)
        assert match, block
        title, text, body = match.groups()
        options, answer, feedback = [], None, None
        for sep, piece in _split_unescaped(body, ["####", "=", "~"])[1:]:
            if sep == "####":
                feedback = _unescape(piece)
            else:
                if sep == "=":
                    answer = len(options)
                options.append(_unescape(piece))
        parsed.append((_unescape(title), _unescape(text), options, answer, feedback))
    return parsed


def test_gift_export_round_trips_every_question(tmp_path):
    out = tmp_path / "quiz" / "course.gift"
    subprocess.run([sys.executable, "-m", "rlft_core.quiz", "--gift", str(out)], check=True, cwd=ROOT)
    parsed = parse_gift(out.read_text(encoding="utf-8"))
    expected = [(f"{key}-{n}", q.text, list(q.options), q.answer, q.explanation)
                for key in sorted(QUESTIONS) for n, q in enumerate(QUESTIONS[key], start=1)]
    assert len(parsed) == sum(len(items) for items in QUESTIONS.values()) == len(expected)
    assert parsed == expected


def test_gift_escapes_its_special_characters():
    nasty = "a~b=c#d{e}f:g\\h"
    assert gift_escape(nasty) == "a\\~b\\=c\\#d\\{e\\}f\\:g\\\\h"
    item = Question("Which: {x} = ~y # z?", ("=1", "~2", "#3 {4}"), 2, "Because: a = b ~ c {d} #e.")
    gift = to_gift({"04": [item]})
    body = gift.split("::04-1::", 1)[1]
    # no special character of the question's own text survives unescaped
    assert re.search(r"(?<!\\)[{}]", body.split("[plain]", 1)[1].split(" {\n", 1)[0]) is None
    assert parse_gift(gift) == [("04-1", item.text, list(item.options), 2, item.explanation)]
