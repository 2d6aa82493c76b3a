"""Build the Chinese edition (zh/solutions, zh/chapters) from the English solutions/ and one
translation file per notebook, zh/translations/<notebook>.yaml.

A translation file has one entry per markdown cell of the English solution notebook (speaker notes
included), keyed by the cell's nbformat id::

    cell-003:
      hash: 5f1c0a9e2b7d        # sha256 of the English text the translation was made from (12 hex)
      en: |-                    # that English text, for the translator's eyes only
        The whole loop fits in a few lines. ...
      zh: |-                    # the translation: what zh/solutions shows
        整个循环只需几行。 ...

Code cells are never translated: the Chinese notebooks get the English code cells unchanged, plus
one cell of their own before the first code cell, ``rlft_core.set_language("zh")``, which switches
checker messages, hints, widget labels and ``doctor()`` to Chinese. zh/chapters is made from
zh/solutions exactly as chapters/ is made from solutions/ (tools/make_chapters.py).

    python tools/zh_edition.py              # write zh/solutions and zh/chapters (keeps a student's edited exercises)
    python tools/zh_edition.py --force      # overwrite edited zh/chapters too
    python tools/zh_edition.py --check      # exit 1 if zh/ is out of date, or a translation is missing or stale
    python tools/zh_edition.py --status     # per notebook: translated / stale / missing cells
    python tools/zh_edition.py --sync       # add an entry (empty zh) for every new English cell; for an English
                                            # cell that changed, put its new text in `en` and the old one in
                                            # `previous_en`, so the translator sees what changed (a new measured
                                            # run time, tools/measure_runtimes.py, goes into the Chinese at once)
    python tools/zh_edition.py --accept 04_ppo_math cell-012   # after updating zh: record the new hash

A stale or missing translation is built as the English text (and --check, and the tests selected by
``pytest -k zh``, fail until it is translated).
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_chapters  # noqa: E402 - tools/ beside this script

SOLUTIONS = ROOT / "solutions"
TRANSLATIONS = ROOT / "zh" / "translations"
ZH_SOLUTIONS, ZH_CHAPTERS = ROOT / "zh" / "solutions", ROOT / "zh" / "chapters"
LANGUAGE_CELL_ID = "zh-set-language"
LANGUAGE_CELL = ('import rlft_core\n'
                 'rlft_core.set_language("zh")   # 检查器的反馈、提示、控件和 doctor() 改用中文')
HEADER = ("# Chinese translation of solutions/{name}.ipynb: one entry per markdown cell, keyed by cell id.\n"
          "# hash: sha256 (first 12 hex digits) of the English text the translation was made from;\n"
          "# en: that English text; zh: the translation. Code cells are not translated.\n"
          "# Workflow: python tools/zh_edition.py --status | --sync | --accept NOTEBOOK CELL_ID\n")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value: str):
    style = "|" if "\n" in value or len(value) > 80 else None     # block style: easy to edit
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def load(path: Path) -> dict:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of cell id -> {{hash, en, zh}}")
    return data


def dump(path: Path, entries: dict, name: str) -> None:
    body = yaml.dump(entries, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000)
    path.write_text(HEADER.format(name=name) + body, encoding="utf-8")


def markdown_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "markdown"]


def state(cell, entries: dict) -> str:
    """'ok', 'stale' (the English changed since the translation) or 'missing'."""
    entry = entries.get(cell.id)
    if not entry or not str(entry.get("zh") or "").strip():
        return "missing"
    return "ok" if entry.get("hash") == text_hash(cell.source) else "stale"


def translate(solution, entries: dict):
    """The Chinese solution notebook: translated markdown, the English code, the language cell."""
    notebook = nbformat.from_dict(solution)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and not any(c.id == LANGUAGE_CELL_ID for c in cells):
            cells.append(nbformat.v4.new_code_cell(LANGUAGE_CELL, id=LANGUAGE_CELL_ID,
                                                   metadata={"slideshow": {"slide_type": "skip"}}))
        if cell.cell_type == "markdown" and state(cell, entries) == "ok":
            # zh/solutions is one folder deeper than solutions/: links out of it climb one more level
            cell.source = entries[cell.id]["zh"].rstrip("\n").replace("](../", "](../../")
        cells.append(cell)
    notebook.cells = cells
    notebook.metadata.setdefault("rlft", {})["language"] = "zh"
    return notebook


def report(check_only: bool = False) -> dict[str, dict[str, list[str]]]:
    """{notebook: {'stale': [...], 'missing': [...], 'orphan': [...], 'ok': [...]}}."""
    result = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        entries = load(TRANSLATIONS / f"{path.stem}.yaml")
        cells = markdown_cells(nbformat.read(path, as_version=4))
        found = {"ok": [], "stale": [], "missing": []}
        for cell in cells:
            found[state(cell, entries)].append(cell.id)
        found["orphan"] = sorted(set(entries) - {cell.id for cell in cells})
        result[path.stem] = found
    return result


def build(check: bool, force: bool = False) -> int:
    """Write (or, with ``check``, compare) zh/solutions; then zh/chapters through make_chapters."""
    ZH_SOLUTIONS.mkdir(parents=True, exist_ok=True)
    stale = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        entries = load(TRANSLATIONS / f"{path.stem}.yaml")
        text = nbformat.writes(translate(nbformat.read(path, as_version=4), entries)) + "\n"
        target = ZH_SOLUTIONS / path.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(f"zh/solutions/{path.name}")
            if not check:
                target.write_text(text, encoding="utf-8")
    if check:
        print("zh/solutions is up to date" if not stale else "out of date: " + ", ".join(stale))
    else:
        print(f"wrote {len(stale)} zh/solutions notebook(s)")
    chapters = make_chapters.main(["--check"] if check else ["--force"] if force else [],
                                  solutions_dir=ZH_SOLUTIONS, chapters_dir=ZH_CHAPTERS)
    return 1 if (check and stale) or chapters else 0


RUNTIME_EN = re.compile(r"Time to run: ~(\d+) s")        # written by tools/measure_runtimes.py
RUNTIME_ZH = re.compile(r"约 (\d+) s")


def _runtime_only(entry: dict, english: str) -> bool:
    """Update ``entry`` in place when the English changed only in its measured run time."""
    new = RUNTIME_EN.search(english)
    if not new or RUNTIME_EN.sub("", entry.get("en", "")) != RUNTIME_EN.sub("", english) \
            or len(RUNTIME_ZH.findall(entry.get("zh", ""))) != 1:
        return False
    entry.update(zh=RUNTIME_ZH.sub(f"约 {new.group(1)} s", entry["zh"]), en=english, hash=text_hash(english))
    return True


def sync() -> None:
    """New English cells get an empty entry; changed ones keep their old English as ``previous_en``
    (a change of the measured run time alone is carried into the Chinese at once)."""
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        target = TRANSLATIONS / f"{path.stem}.yaml"
        entries, updated = load(target), {}
        for cell in markdown_cells(nbformat.read(path, as_version=4)):
            entry = dict(entries.get(cell.id) or {"hash": text_hash(cell.source), "en": cell.source, "zh": ""})
            if entry.get("hash") != text_hash(cell.source):
                made_from = entry.pop("previous_en", entry.get("en", ""))     # the English the zh translates
                entry["en"] = made_from
                if not _runtime_only(entry, cell.source) and made_from != cell.source:
                    entry.update(previous_en=made_from, en=cell.source)
            elif "previous_en" in entry:                                # the English changed back
                entry.pop("previous_en")
                entry["en"] = cell.source
            updated[cell.id] = entry
        TRANSLATIONS.mkdir(parents=True, exist_ok=True)
        dump(target, updated, path.stem)


def accept(notebook: str, cell_ids: list[str]) -> None:
    path = TRANSLATIONS / f"{notebook}.yaml"
    entries = load(path)
    sources = {cell.id: cell.source for cell in markdown_cells(nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4))}
    for cell_id in cell_ids:
        if cell_id not in entries or cell_id not in sources:
            raise SystemExit(f"{notebook}: no markdown cell {cell_id!r} in both the notebook and its translation")
        entries[cell_id].update(hash=text_hash(sources[cell_id]), en=sources[cell_id])
        entries[cell_id].pop("previous_en", None)
    dump(path, entries, notebook)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--force", action="store_true", help="overwrite zh/chapters whose exercises were edited")
    parser.add_argument("--status", action="store_true")
    parser.add_argument("--sync", action="store_true")
    parser.add_argument("--accept", nargs="+", metavar=("NOTEBOOK", "CELL_ID"))
    args = parser.parse_args(argv)
    if args.sync:
        sync()
        return 0
    if args.accept:
        accept(args.accept[0], args.accept[1:])
        return 0
    found = report()
    if args.status or args.check:
        for name, cells in found.items():
            counts = ", ".join(f"{len(v)} {k}" for k, v in cells.items() if v and k != "ok")
            print(f"{name}: {len(cells['ok'])} translated" + (f"; {counts}: " if counts else "")
                  + " ".join(cells["stale"] + cells["missing"] + cells["orphan"]))
        if args.status:
            return 0
    incomplete = any(cells["stale"] or cells["missing"] or cells["orphan"] for cells in found.values())
    return max(build(args.check, args.force), 1 if args.check and incomplete else 0)


if __name__ == "__main__":
    sys.exit(main())
