"""The quizzes in Chinese: after ``set_language("zh")`` the widget (heading, questions, options, Check
button, verdicts, explanations), its headless text/HTML and, with ``--language zh``, the GIFT export
are Chinese; the maths and numbers of each question survive the translation; English is unchanged."""
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rlft_core import i18n
from rlft_core.quiz import quiz
from rlft_core.quiz_questions import QUESTIONS, TITLES
from test_quiz import parse_gift

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")
ZH = i18n.catalog("zh")
# what must survive a translation unchanged: numbers, code calls, names_with_underscores, maths symbols
KEPT = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z_][\w.]*\([^()\s]*\)|\w*_\w+|[γλβεθρπσδ∇Σ∝≈≤≥≻‖−·²⁻ᵏ₀₁₂ₐ]")


@pytest.fixture
def zh():
    try:
        i18n.set_language("zh")
        yield
    finally:
        i18n.set_language("en")


def test_zh_every_question_option_and_explanation_is_translated_and_keeps_its_maths():
    problems = []
    for key, items in QUESTIONS.items():
        assert CJK.search(ZH[TITLES[key]]), key
        for n, item in enumerate(items):
            options = [ZH[o] for o in item.options]
            if len(set(options)) != len(options):
                problems.append(f"{key}-{n}: two options read the same in Chinese")
            for english in (item.text, *item.options, item.explanation):
                chinese = ZH[english]
                if re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", english) and not CJK.search(chinese):
                    problems.append(f"{key}-{n}: not Chinese: {chinese!r}")
                lost = [token for token in KEPT.findall(english) if token not in chinese]
                if lost:
                    problems.append(f"{key}-{n}: {lost} lost in {chinese!r}")
                if "\n" in chinese or "$" in chinese or "\\" in chinese:
                    problems.append(f"{key}-{n}: newline, $ or backslash in {chinese!r}")
    assert not problems, "\n".join(problems)


def test_zh_quiz_widget_shows_the_heading_questions_options_and_check_button_in_chinese(zh):
    q = quiz("00")
    assert q.title == "自测 · 从这里开始"
    heading, first = q.widget.children[0], q.widget.children[1]
    assert heading.value == "<h4>自测 · 从这里开始</h4>"
    assert first.children[0].value == "<b>1. 在本课程中，DPO 是什么的缩写？</b>"
    assert q.radios[0].options[1] == ("直接偏好优化（Direct Preference Optimization）", 1)
    assert [label for label, _ in q.radios[2].options] == ["3.0", "2.439", "2.71", "2.9"]
    assert {button.description for button in q.buttons} == {"检查"}
    assert q.items == QUESTIONS["00"]                       # the data stays English


def test_zh_check_gives_chinese_verdicts_and_the_chinese_explanation(zh):
    q = quiz("00")
    assert q.check(2) is None and q.feedback[2].value == "<i>请先选择一个选项。</i>"
    q.answer(2, 0)                                          # 3.0: the rewards not discounted
    assert q.check(2) is False
    explanation = html.escape(ZH[QUESTIONS["00"][2].explanation])
    assert q.feedback[2].value == f"❌ 不太对：正确答案是“2.71”。 {explanation}"
    assert "G₀ = r₀ + γ r₁ + γ² r₂ = 1 + 0.9 + 0.81 = 2.71" in html.unescape(q.feedback[2].value)
    q.answer(0, 1)
    q.buttons[0].click()
    assert q.checked == {2: False, 0: True}
    assert q.feedback[0].value.startswith("✅ 正确。 DPO 即直接偏好优化") and q.score() == (1, 4)


@pytest.mark.parametrize("key", sorted(QUESTIONS))
def test_zh_headless_text_and_html_are_chinese_and_fold_the_answers(zh, key):
    q = quiz(key)
    text, page = q.text(), q.html()
    for item in QUESTIONS[key]:
        assert ZH[item.text] in text and all(ZH[o] in text for o in item.options)
        assert ZH[item.explanation] not in text                             # no answers in the text
        assert item.text not in text and item.text not in html.unescape(page)
        letter = "abcdefgh"[item.answer]
        assert (f"<details><summary>答案</summary><p>({letter}) {html.escape(ZH[item.options[item.answer]])}<br>"
                f"{html.escape(ZH[item.explanation])}</p></details>") in page
    assert page.count("<details>") == len(QUESTIONS[key])
    assert text.startswith(f"自测 · {ZH[TITLES[key]]}\n1. ")


def test_zh_gift_export_in_chinese_round_trips(tmp_path):
    out = tmp_path / "quiz_zh.gift"
    run = subprocess.run([sys.executable, "-m", "rlft_core.quiz", "--gift", str(out), "--language", "zh"],
                         check=True, cwd=ROOT, capture_output=True, text=True)
    count = sum(len(items) for items in QUESTIONS.values())
    assert run.stdout.strip() == f"已将 {len(QUESTIONS)} 个笔记本的 {count} 道题写入 {out}"
    gift = out.read_text(encoding="utf-8")
    expected = [(f"{key}-{n}", ZH[q.text], [ZH[o] for o in q.options], q.answer, ZH[q.explanation])
                for key in sorted(QUESTIONS) for n, q in enumerate(QUESTIONS[key], start=1)]
    assert parse_gift(gift) == expected
    assert "$CATEGORY: $course$/top/rlft_course/06 案例研究：驾驶" in gift       # a Chinese colon needs no escape


def test_zh_then_english_again_gives_the_english_quiz_unchanged():
    before = quiz("04")
    before_text, before_html = before.text(), before.html()
    assert before_text.startswith("Check your understanding · The mathematics of PPO\n1. What does GAE return")
    try:
        i18n.set_language("zh")
        assert quiz("04").text() != before_text
    finally:
        i18n.set_language("en")
    after = quiz("04")
    assert (after.text(), after.html()) == (before_text, before_html)
    after.answer(0, 0)
    after.check(0)
    assert after.feedback[0].value.startswith("❌ Not quite: the answer is “The TD errors δ_t”. Â_t = Σₖ")
    assert after.buttons[0].description == "Check"
