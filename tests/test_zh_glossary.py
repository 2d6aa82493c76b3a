"""The Chinese edition says each glossary term the way GLOSSARY.md does, and the glossary's notebook
column names notebooks that really use the term.

For every row of GLOSSARY.md's main table (English | 中文 | meaning | notebook) and every notebook in
its notebook column:

* the built Chinese notebook zh/solutions/<NN>_*.ipynb (markdown cells) contains the row's Chinese
  term or one of its alternatives (the 中文 column separates alternatives by " / " or "、", or gives
  them in parentheses: ``回合 (情节)``); an English acronym or proper name of the English column
  (PPO, DPO, KL, Gymnasium) counts as used when it appears as is;
* the English term (or one of its " / " alternatives) appears, case-insensitively and as a word (any
  inflection: policy / policies, standardise / standardised), in the English markdown of at least one of
  the listed notebooks. A parenthesis in the English column only qualifies the term and may be absent
  ("clipped surrogate (objective)", "clip (of behaviour)"), unless it abbreviates the words before it:
  "temporal-difference (TD) error" also counts as "TD error", "Markov decision process (MDP)" as "MDP".

``pytest -k zh`` and ``pytest -k glossary`` select these.
"""
import re
import sys
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_glossary import LOOKED_FOR, glossary_rows  # noqa: E402

# Rows kept although no notebook names the term, because students look for it (tests/test_glossary.py's
# LOOKED_FOR): the notebook column says where the idea lives.
NOT_NAMED = {"λ-return": "notebook 04's value target Â_t + V(s_t) is the λ-return, not named there"}
NOTEBOOKS = {path.stem[:2]: path.stem for path in sorted((ROOT / "solutions").glob("*.ipynb"))}
ROWS = glossary_rows()


@lru_cache(maxsize=None)
def markdown(folder, number):
    path = ROOT / folder / f"{NOTEBOOKS[number]}.ipynb"
    return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")


def squeeze(text):
    """Chinese text without whitespace and with one kind of dash, so 演员–评论家 matches 演员-评论家."""
    return re.sub(r"\s", "", re.sub(r"[–—‑-]", "-", re.sub(r"\n\s*>", "\n", text)))


@lru_cache(maxsize=None)
def chinese(number):
    return squeeze(markdown("zh/solutions", number))


def notebooks(row):
    return re.findall(r"\b\d\d\b", row[3])


def chinese_alternatives(term):
    """'回合 (情节)' -> ['回合', '情节']; '智能体 / 环境' -> ['智能体', '环境']; '标注器（人：标注者）' -> [..., '标注者']."""
    return [part.strip() for part in re.split(r" / |、|（|）|\(|\)|，|, |：", term) if part.strip()]


def english_alternatives(term):
    """'on-policy / off-policy' -> both; 'temporal-difference (TD) error' -> itself without the parentheses
    and 'TD error'; a parenthesis that is no abbreviation of the words before it (A3C in 'actor-learner
    (A3C)', 'of behaviour') only qualifies the term and is dropped."""
    alternatives = []
    for alt in re.split(r" / |, ", term):
        alternatives.append(re.sub(r"\s*\([^)]*\)", "", alt))
        match = re.search(r"\(([^)]*)\)", alt)
        if match and abbreviates(match.group(1), alt[:match.start()]):
            words = re.split(r"[\s\-–]+", alt[:match.start()].strip())
            for k in range(1, len(words) + 1):
                if initials(words[-k:]) == match.group(1).lower():
                    alternatives.append(" ".join(words[:-k] + [match.group(1)]) + alt[match.end():])
                    break
    return [alt.strip(" `") for alt in alternatives if alt.strip(" `")]


def initials(words):
    return "".join(word.lower() if word.isupper() else word[:1].lower() for word in words)


def abbreviates(abbreviation, before):
    words = re.split(r"[\s\-–]+", before.strip())
    return ACRONYM.fullmatch(abbreviation) is not None and \
        any(initials(words[-k:]) == abbreviation.lower() for k in range(1, len(words) + 1))


ACRONYM = re.compile(r"[A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9\-]*|[A-Z0-9\-]+[a-z]?")   # PPO, KL, PbRL, A3C, GRPO
PROPER_NAME = re.compile(r"[A-Z][A-Za-z0-9]+")                                        # Gymnasium, Adam, TensorBoard


def as_is(alternative):
    return bool(ACRONYM.fullmatch(alternative) or PROPER_NAME.fullmatch(alternative))


def english_word(alternative):
    """A regex for the term as a word, in any case and inflection: '-', '–', a space or a blockquote's line
    break between its words, and each word with its ending free (policy / policies, normalise / normalised,
    British or American spelling)."""
    words = re.split(r"[\s\-–]+", english_spelling(alternative.lower()))
    return re.compile(r"(?<!\w)" + r"[\s>*\-–]+".join(inflected(word) for word in words) + r"(?!\w)")


def inflected(word):
    if len(word) < 5 or not word.isalpha():             # nat, gap, KL, ε-greedy: as written, or with a plural s
        return re.escape(word) + r"(?:s|es)?"
    stem = re.sub(r"(isations?|ations?|ised|ises|ise|ency|ence|ent|ing|ed|es|s|e|y)$", "", word)
    return re.escape(stem if len(stem) >= 4 else word) + r"\w{0,8}"


def english_spelling(text):
    return re.sub(r"iz(e|es|ed|ing|ation|ations)\b", r"is\1", text)


@lru_cache(maxsize=None)
def english(number):
    return english_spelling(markdown("solutions", number).lower())


def uses_chinese_term(row, number):
    if row[0] in NOT_NAMED:
        return True
    text = chinese(number)
    return any(squeeze(alt) in text for alt in chinese_alternatives(row[1])) or \
        any(as_is(alt) and alt in text for alt in english_alternatives(row[0]))


def uses_english_term(row, number):
    if row[0] in NOT_NAMED:
        return True
    return any(english_word(alt).search(english(number)) for alt in english_alternatives(row[0]))


def test_zh_glossary_rows_name_existing_notebooks():
    bad = [(row[0], row[3]) for row in ROWS if not notebooks(row) or set(notebooks(row)) - set(NOTEBOOKS)]
    assert not bad, f"notebook column must list existing notebooks (00–{max(NOTEBOOKS)}): {bad}"


def test_zh_notebooks_use_the_glossary_terms():
    """Every Chinese notebook the glossary lists for a term says the term the glossary's way."""
    missing = [f"{number} · {row[0]} → {row[1]}" for row in ROWS for number in notebooks(row)
               if number in NOTEBOOKS and not uses_chinese_term(row, number)]
    checked = sum(len(notebooks(row)) for row in ROWS)
    assert not missing, (f"{len(missing)} of {checked} (term, notebook) pairs: the Chinese notebook does not use the "
                         "glossary's term; fix the translation (zh/translations/NN.yaml), the glossary's 中文 column, "
                         "or its notebook column:\n" + "\n".join(missing))


def test_zh_glossary_english_terms_appear_in_a_listed_notebook():
    """The notebook column stays honest: each English term is used in at least one notebook it lists."""
    missing = [f"{row[0]} (listed: {row[3]})" for row in ROWS
               if not any(uses_english_term(row, number) for number in notebooks(row) if number in NOTEBOOKS)]
    assert not missing, "not used in the English markdown of any notebook listed for it:\n" + "\n".join(missing)


@pytest.mark.parametrize("term, zh, expected", [
    ("episode", "回合 (情节)", ["回合", "情节"]),
    ("agent / environment", "智能体 / 环境", ["智能体", "环境"]),
    ("labeler (a labelling rule or function)", "标注器（人：标注者）", ["标注器", "人", "标注者"]),
])
def test_zh_glossary_alternatives_are_split_as_documented(term, zh, expected):
    assert chinese_alternatives(zh) == expected


def test_zh_glossary_terms_not_named_are_few_and_looked_for():
    assert set(NOT_NAMED) <= {row[0] for row in ROWS} and set(NOT_NAMED) <= set(LOOKED_FOR) and len(NOT_NAMED) <= 3
    for term in NOT_NAMED:                  # once a notebook names it, drop the exception
        assert not any(english_word(alt).search(english(number)) for alt in english_alternatives(term)
                       for number in NOTEBOOKS), f"{term!r} is named now: remove it from NOT_NAMED"


def test_zh_glossary_check_can_fail():
    """A made-up row listed for a notebook that does not use it is reported by both checks."""
    row = ["quantum annealing", "量子退火", "not an RL term", "01"]
    assert not uses_chinese_term(row, "01")
    assert not uses_english_term(row, "01")
    assert uses_english_term(["PPO", "近端策略优化", "", "04"], "04")
    assert uses_chinese_term(["PPO", "不存在的译名", "", "04"], "04")         # the acronym counts as used


@pytest.mark.parametrize("term, expected", [
    ("temporal-difference (TD) error", ["temporal-difference error", "TD error"]),
    ("Markov decision process (MDP)", ["Markov decision process", "MDP"]),
    ("preference-based RL (PbRL)", ["preference-based RL", "PbRL"]),
    ("gradient weight (DPO)", ["gradient weight"]),
    ("clip (of behaviour)", ["clip"]),
    ("cross-entropy / negative log-likelihood (NLL)", ["cross-entropy", "negative log-likelihood", "NLL"]),
])
def test_zh_glossary_english_alternatives(term, expected):
    assert english_alternatives(term) == expected
