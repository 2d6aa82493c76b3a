"""The package's messages in Chinese (rlft_core.i18n): every translatable English string of the
package has a translation in rlft_core/locales/zh/, with the same {fields}, and nothing else is there.

Translatable, found by reading the package's source (ast):
* the first argument of ``tr(...)`` and ``tr_plot(...)`` when it is a literal (an f-string cannot be
  looked up; a variable is a text collected by one of the rules below);
* the texts of exercise hints, ``Hints(start=, idea=, formula=)``, and of known mistakes, ``Mistake(hint)``;
* quiz questions ``Q(text, options, answer, explanation)`` / ``Question(...)`` and the quiz ``TITLES``.
"""
import ast
import re
import string
from pathlib import Path

import pytest

from rlft_core import i18n

PACKAGE = Path(i18n.__file__).resolve().parent
CJK = re.compile(r"[\u3400-\u9fff]")


def _texts(node) -> list[str]:
    """The string literals of a node that is a string or a tuple/list of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [text for element in node.elts for text in _texts(element)]
    return []


def _name(func) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def translatable() -> dict[str, str]:
    """English message -> where it is (file:line)."""
    found, problems = {}, []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = lambda node: f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"  # noqa: E731
        for node in ast.walk(tree):
            texts = []
            if isinstance(node, ast.Call):
                name = _name(node.func)
                if name in ("tr", "tr_plot") and node.args:
                    # a variable holds a text collected elsewhere (a hint, a question); a template built
                    # at run time (f-string, +, %) cannot be looked up
                    if isinstance(node.args[0], (ast.JoinedStr, ast.BinOp, ast.Call)):
                        problems.append(f"{where(node)}: {name}() needs a literal English template, not "
                                        f"{type(node.args[0]).__name__} (fill fields by keyword)")
                    texts = _texts(node.args[0])
                elif name == "Hints":
                    texts = [t for kw in node.keywords if kw.arg in ("start", "idea", "formula") for t in _texts(kw.value)]
                elif name == "Mistake":
                    texts = [t for arg in node.args[:1] for t in _texts(arg)]
                    texts += [t for kw in node.keywords if kw.arg == "hint" for t in _texts(kw.value)]
                elif name in ("Q", "Question"):
                    texts = [t for i in (0, 1, 3) if i < len(node.args) for t in _texts(node.args[i])]
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "TITLES" for t in node.targets) \
                    and isinstance(node.value, ast.Dict):
                texts = [t for value in node.value.values for t in _texts(value)]
            for text in texts:
                found.setdefault(text, where(node))
    assert not problems, "\n".join(problems)
    return found


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_zh_every_message_of_the_package_has_a_translation():
    catalog = i18n.catalog("zh")
    missing = [f"{where}: {text[:70]!r}" for text, where in translatable().items() if text not in catalog]
    assert not missing, f"{len(missing)} message(s) without a Chinese translation in rlft_core/locales/zh/:\n" \
        + "\n".join(missing[:40])


def test_zh_catalog_holds_only_messages_the_package_uses():
    used = translatable()
    orphans = [text[:70] for text in i18n.catalog("zh") if text not in used]
    assert not orphans, "translations of messages the package no longer has:\n" + "\n".join(orphans)


def test_zh_translations_keep_the_fields_and_are_chinese():
    bad = []
    for english, chinese in i18n.catalog("zh").items():
        if not isinstance(chinese, str) or not chinese.strip():
            bad.append(f"{english[:60]!r}: empty")
            continue
        if fields(english) != fields(chinese):
            bad.append(f"{english[:60]!r}: fields {sorted(fields(english))} became {sorted(fields(chinese))}")
        if re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", english) and not CJK.search(chinese):
            bad.append(f"{english[:60]!r}: the translation has no Chinese")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_zh_set_language_switches_tr_and_back(language):
    text = next(iter(i18n.catalog("zh")), None)
    try:
        i18n.set_language(language)
        assert i18n.get_language() == language
        if text is not None and language == "zh" and not fields(text):
            assert i18n.tr(text) == i18n.catalog("zh")[text]
        if text is not None and language == "en" and not fields(text):
            assert i18n.tr(text) == text
    finally:
        i18n.set_language("en")


def test_zh_set_language_rejects_an_unknown_language():
    with pytest.raises(ValueError, match="language must be one of 'en', 'zh', got 'fr'"):
        i18n.set_language("fr")


def test_zh_plot_text_falls_back_to_english_without_a_cjk_font(monkeypatch, capsys):
    monkeypatch.setattr(i18n, "cjk_font", lambda: None)
    monkeypatch.setitem(i18n.catalog("zh"), "reward", "奖励")
    try:
        i18n.set_language("zh")
        assert "未找到中文字体" in capsys.readouterr().out
        assert i18n.tr("reward") == "奖励" and i18n.tr_plot("reward") == "reward"
    finally:
        i18n.set_language("en")


def test_zh_plot_text_uses_the_cjk_font_when_there_is_one(monkeypatch):
    import matplotlib as mpl
    monkeypatch.setattr(i18n, "cjk_font", lambda: "WenQuanYi Micro Hei")
    monkeypatch.setitem(i18n.catalog("zh"), "reward", "奖励")
    try:
        i18n.set_language("zh")
        assert i18n.tr_plot("reward") == "奖励"
        assert "WenQuanYi Micro Hei" in mpl.rcParams["font.sans-serif"][:2]
    finally:
        i18n.set_language("en")
    assert "WenQuanYi Micro Hei" not in mpl.rcParams["font.sans-serif"]
