"""The Chinese edition (zh/) is the English solutions/ plus zh/translations/*.yaml, by construction.

``pytest -k zh`` selects these. They fail when an English markdown cell changed after its translation
(the stored hash differs), when a translation is missing, when a Chinese notebook's code cells differ
from the English ones, or when zh/ was not rebuilt (``make chapters``).
"""
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import zh_edition  # noqa: E402

NAMES = [p.stem for p in sorted((ROOT / "solutions").glob("*.ipynb"))]
SEED = "".join((ROOT.parent / "shared" / "seed" / "000_00c587a67c9bb91a.txt").read_text(encoding="utf-8").split()) \
    if (ROOT.parent / "shared" / "seed").exists() else None
CJK = re.compile(r"[\u3400-\u9fff]")
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)
TEXT_IN_MATHS = re.compile(r"\\text\{[^{}]*\}")                 # words inside a formula may be translated
SOLUTION = re.compile(r"### BEGIN SOLUTION[^\n]*\n(.*?)### END SOLUTION", re.S)


def read(*parts):
    return nbformat.read(ROOT.joinpath(*parts), as_version=4)


@pytest.fixture(scope="module")
def status():
    return zh_edition.report()


def _listed(cells, kind, name):
    return f"{name}: {kind} translation(s) for cells {cells[kind]} (see `python tools/zh_edition.py --status`)"


@pytest.mark.parametrize("name", NAMES)
def test_zh_every_markdown_cell_has_a_translation(status, name):
    assert not status[name]["missing"], _listed(status[name], "missing", name)


@pytest.mark.parametrize("name", NAMES)
def test_zh_no_translation_is_stale(status, name):
    """The English cell still has the hash its translation was made from."""
    assert not status[name]["stale"], _listed(status[name], "stale", name) + \
        "; `--sync` shows the old and new English, `--accept` records the new hash once zh is updated"


@pytest.mark.parametrize("name", NAMES)
def test_zh_translation_files_hold_no_cell_the_notebook_lost(status, name):
    assert not status[name]["orphan"], _listed(status[name], "orphan", name)


def test_zh_staleness_is_detected_when_the_english_changes(tmp_path):
    """The check itself can fail: change one English cell and its translation becomes stale."""
    english = read("solutions", "01_background.ipynb")
    entries = zh_edition.load(zh_edition.TRANSLATIONS / "01_background.yaml")
    cell = zh_edition.markdown_cells(english)[1]
    assert zh_edition.state(cell, entries) == "ok"
    cell.source += " One more sentence."
    assert zh_edition.state(cell, entries) == "stale"
    assert zh_edition.state(cell, {}) == "missing"
    built = zh_edition.translate(english, entries)
    assert next(c for c in built.cells if c.id == cell.id).source == cell.source    # stale: built in English


def _code_cells(notebook):
    return [(c.id, c.source, dict(c.metadata)) for c in notebook.cells
            if c.cell_type == "code" and c.id != zh_edition.LANGUAGE_CELL_ID]


@pytest.mark.parametrize("folder", ["solutions", "chapters"])
@pytest.mark.parametrize("name", NAMES)
def test_zh_code_cells_are_the_english_ones(folder, name):
    english, chinese = read(folder, f"{name}.ipynb"), read("zh", folder, f"{name}.ipynb")
    assert _code_cells(chinese) == _code_cells(english)
    assert [c.id for c in chinese.cells if c.id != zh_edition.LANGUAGE_CELL_ID] == [c.id for c in english.cells]


@pytest.mark.parametrize("folder", ["solutions", "chapters"])
@pytest.mark.parametrize("name", NAMES)
def test_zh_notebooks_switch_the_package_to_chinese_before_any_other_code(folder, name):
    code = [c for c in read("zh", folder, f"{name}.ipynb").cells if c.cell_type == "code"]
    assert code[0].id == zh_edition.LANGUAGE_CELL_ID and 'rlft_core.set_language("zh")' in code[0].source


def test_zh_edition_is_built_from_the_current_translations():
    result = subprocess.run([sys.executable, "tools/zh_edition.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr + "\nrun `make chapters` to rebuild zh/"


@pytest.mark.parametrize("name", NAMES)
def test_zh_markdown_is_in_chinese_and_keeps_the_maths(name):
    english, chinese = read("solutions", f"{name}.ipynb"), read("zh", "solutions", f"{name}.ipynb")
    pairs = [(e, c) for e, c in zip(english.cells, [c for c in chinese.cells if c.id != zh_edition.LANGUAGE_CELL_ID])
             if e.cell_type == "markdown"]
    untranslated = [e.id for e, c in pairs if re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", e.source) and not CJK.search(c.source)]
    assert not untranslated, f"{name}: markdown cells without Chinese: {untranslated}"
    def maths(text):
        return [TEXT_IN_MATHS.sub(r"\\text{}", m) for m in MATH.findall(text)]
    english_maths = Counter(m for e, _ in pairs for m in maths(e.source))
    chinese_maths = Counter(m for _, c in pairs for m in maths(c.source))
    outside_quotes = Counter(m for _, c in pairs for m in maths(re.sub("「[^」]*」", "", c.source)))
    # every formula of the English is kept; none is added, except inside a verbatim quote of the source
    assert english_maths - chinese_maths == Counter() and outside_quotes - english_maths == Counter(), \
        f"{name}: maths lost {english_maths - chinese_maths}, gained {outside_quotes - english_maths}"


@pytest.mark.parametrize("name", NAMES)
def test_zh_sections_keep_the_numbers_and_source_tags(name):
    """The same numbered headings, pointing to the same sections of the source (the tag's words may be
    translated: `源 §4.3 step 1` is `源 §4.3 第 1 步`)."""
    def sections(notebook):
        return [(match.group(1), re.findall(r"\d+(?:\.\d+)?", match.group(2) or ""))
                for cell in notebook.cells if cell.cell_type == "markdown"
                for match in [re.match(r"(#+ [\d.]+) · (源 §[^·]+ · )?", line) for line in cell.source.split("\n")] if match]
    assert sections(read("zh", "solutions", f"{name}.ipynb")) == sections(read("solutions", f"{name}.ipynb"))


@pytest.mark.skipif(SEED is None, reason="../shared/seed is not beside the checkout")
@pytest.mark.parametrize("name", NAMES)
def test_zh_source_quotes_are_the_source_verbatim(name):
    """「…」 is reserved for quotes of the source chapter, copied from it (whitespace aside)."""
    quotes = [q for cell in read("zh", "solutions", f"{name}.ipynb").cells if cell.cell_type == "markdown"
              for q in re.findall(r"「([^」]+)」", cell.source)]
    assert [q for q in quotes if "".join(q.split()) not in SEED] == []


def test_zh_source_quotes_are_there_to_be_found():
    assert sum(len(re.findall("「", path.read_text(encoding="utf-8")))
               for path in (ROOT / "zh" / "solutions").glob("*.ipynb")) >= 50


def test_zh_chapters_hold_no_line_of_a_solution():
    lines = {line.strip() for name in NAMES for cell in read("solutions", f"{name}.ipynb").cells
             for block in SOLUTION.findall(cell.source) for line in block.splitlines() if len(line.strip()) >= 20}
    assert len(lines) > 50
    for name in NAMES:
        text = "\n".join(cell.source for cell in read("zh", "chapters", f"{name}.ipynb").cells)
        assert [line for line in lines if line in text] == [], name


def test_zh_a_new_measured_run_time_reaches_the_chinese_and_nothing_else_does():
    english = "# 1 · Background\n*Time to run: ~10 s on 2 CPU cores.*"
    entry = {"hash": zh_edition.text_hash(english), "en": english, "zh": "# 1 · 背景\n*运行时间：约 10 s。*"}
    assert zh_edition._runtime_only(entry, english.replace("~10 s", "~25 s"))
    assert entry["zh"] == "# 1 · 背景\n*运行时间：约 25 s。*" and entry["hash"] == zh_edition.text_hash(entry["en"])
    assert not zh_edition._runtime_only(dict(entry), entry["en"].replace("Background", "Foreground"))
