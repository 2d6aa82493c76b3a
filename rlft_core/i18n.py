"""The student's language: ``rlft_core.set_language("zh")`` at the top of a notebook switches checker
messages, hints, widget labels and legends, quizzes and ``doctor()`` to Chinese.

Messages are written in English in the code, through :func:`tr` (text) or :func:`tr_plot` (text
drawn by matplotlib), with ``{named}`` fields filled in by keyword::

    print(tr("expected shape {expected}, got shape {got}", expected=e.shape, got=g.shape))

The English template is the key of its translation in ``rlft_core/locales/<language>/*.yaml``: each
file a list of ``{en: ..., zh: ...}`` pairs (the format translators edit; the same ``{fields}`` in both). A message without a
translation prints in English; ``tests/test_zh_messages.py`` fails when one is missing.

Chinese in a plot needs a font with CJK glyphs. ``set_language("zh")`` looks for one (Noto Sans CJK,
WenQuanYi, Source Han Sans, SimHei, Microsoft YaHei, PingFang ...) and adds it to matplotlib's font
fallback; when there is none, it says so once and :func:`tr_plot` keeps plot text in English, so a
figure never shows empty boxes.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

LANGUAGES = ("en", "zh")
LOCALES = Path(__file__).resolve().parent / "locales"
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Hiragino Sans GB",
             "Arial Unicode MS")
NO_FONT = ("未找到中文字体（CJK font），图中的文字保持英文。安装一个中文字体后重启内核即可显示中文，例如 Debian/Ubuntu："
           "sudo apt-get install fonts-noto-cjk（或 fonts-wqy-microhei）。")

_state = {"language": "en", "cjk_font": None, "sans_serif": None, "family": None}


def set_language(language: str) -> None:
    """Show the course's messages in ``language``: ``"en"`` (the default) or ``"zh"`` (简体中文)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(map(repr, LANGUAGES))}, got {language!r}")
    import matplotlib as mpl
    if _state["sans_serif"] is None:
        _state["sans_serif"] = list(mpl.rcParams["font.sans-serif"])
        _state["family"] = list(mpl.rcParams["font.family"])
    _state["language"], _state["cjk_font"] = language, None
    mpl.rcParams["font.sans-serif"] = list(_state["sans_serif"])
    mpl.rcParams["font.family"] = list(_state["family"])
    if language == "zh":
        _state["cjk_font"] = cjk_font()
        if _state["cjk_font"] is None:
            print(NO_FONT)
        else:   # Latin glyphs from the usual font, CJK ones from the fallback (matplotlib >= 3.6)
            mpl.rcParams["font.sans-serif"] = [_state["sans_serif"][0], _state["cjk_font"], *_state["sans_serif"][1:]]
            # matplotlib falls back glyph by glyph along font.family, where a generic name like
            # "sans-serif" counts as one font: the CJK font has to be a family of its own there
            mpl.rcParams["font.family"] = [*_state["family"], _state["cjk_font"]]


def get_language() -> str:
    return _state["language"]


def cjk_font() -> str | None:
    """The name of the first installed font of :data:`CJK_FONTS`, or None."""
    from matplotlib import font_manager
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


@lru_cache(maxsize=None)
def catalog(language: str) -> dict[str, str]:
    """Every translation of ``language``: English template -> translated template."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALES / language).glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            merged[entry["en"]] = entry[language]
    return merged


def tr(message: str, /, **fields) -> str:
    """``message`` in the current language, its ``{fields}`` filled in."""
    if _state["language"] != "en":
        message = catalog(_state["language"]).get(message, message)
    return message.format(**fields) if fields else message


def tr_plot(message: str, /, **fields) -> str:
    """Like :func:`tr`, for text matplotlib draws: English when no CJK font is installed."""
    if _state["language"] == "zh" and _state["cjk_font"] is None:
        return message.format(**fields) if fields else message
    return tr(message, **fields)
