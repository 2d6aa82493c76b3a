"""End every notebook of solutions/ with its multiple-choice quiz (``rlft_core.quiz``).

Two cells, recognised by their ids and rewritten in place (so the script is idempotent and keeps
them last): a heading on a new slide and the quiz widget; the slide's speaker note is written by
tools/slides.py (from tools/speaker_notes.yaml) between them and kept there.

    python tools/add_quiz_cells.py            # rewrite solutions/*.ipynb where needed
    python tools/add_quiz_cells.py --check    # exit 1 if a notebook would change

Then regenerate chapters/: ``python tools/make_chapters.py`` (``--force`` over edited chapters).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rlft_core.quiz_questions import QUESTIONS  # noqa: E402 - the package of this checkout

IDS = ("quiz-title", "quiz")
NOTES_ID = "notes-quiz-title"      # the quiz slide's speaker note: tools/slides.py writes it from speaker_notes.yaml


def quiz_cells(key: str) -> list:
    n = len(QUESTIONS[key])
    title = nbformat.v4.new_markdown_cell(
        "## Check your understanding · 自测\n\n"
        f"{n} questions on this notebook. Pick an answer and press **Check**: you see whether it is right, "
        "and why.",
        id=IDS[0], metadata={"slideshow": {"slide_type": "slide"}})
    code = nbformat.v4.new_code_cell(f'from rlft_core.quiz import quiz\n\nquiz("{key}")', id=IDS[1],
                                     metadata={"slideshow": {"slide_type": "-"}})
    return [title, code]


def with_quiz(nb: nbformat.NotebookNode, key: str) -> nbformat.NotebookNode:
    title, code = quiz_cells(key)
    notes = [cell for cell in nb.cells if cell.get("id") == NOTES_ID]
    nb.cells = [cell for cell in nb.cells if cell.get("id") not in (*IDS, NOTES_ID)] + [title, *notes, code]
    return nb


def main(argv=None, solutions_dir: Path = ROOT / "solutions") -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether a notebook would change")
    args = parser.parse_args(argv)
    changed = []
    for path in sorted(solutions_dir.glob("*.ipynb")):
        key = path.name[:2]
        if key not in QUESTIONS:
            raise SystemExit(f"{path.name}: no questions for notebook {key} in rlft_core/quiz_questions.py")
        before = path.read_text()
        after = nbformat.writes(with_quiz(nbformat.read(path, as_version=4), key)) + "\n"
        if after != before:
            changed.append(path.name)
            if not args.check:
                path.write_text(after)
    verb = "would change" if args.check else "updated"
    print(f"{verb}: {', '.join(changed)}" if changed else "quiz cells up to date")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
