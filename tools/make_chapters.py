"""Write chapters/ from solutions/, the single source of truth (nbgrader's conventions).

In a solution notebook:
* code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes, in the chapter,
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` at the same indentation;
  in a markdown cell the block becomes ``*YOUR ANSWER HERE*``;
* lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (e.g. ``assert gae_ok``)
  are dropped from the chapter: they would fail on an unattempted stub;
* speaker-notes cells (slide type ``notes``, written by tools/slides.py) are instructor material and
  are left out; every other cell keeps its metadata, so a chapter has the same slides.

A student's work is never destroyed: each exercise cell of a chapter records the hash of the stub it
was written with (cell metadata ``rlft.stub_sha``). If the cell's source no longer has that hash, the
student has edited it, and the notebook is left alone unless ``--force`` (``make chapters FORCE=1``).

    python tools/make_chapters.py            # write chapters/ (refuses to clobber edits)
    python tools/make_chapters.py --force    # overwrite edited chapters too
    python tools/make_chapters.py --check    # exit 1 if chapters/ is out of date
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.S | re.M)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n.*?^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)", re.S | re.M)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stub_source(source: str, cell_type: str) -> str:
    """The chapter's version of one cell's source."""
    source = HIDDEN.sub("", source)
    if cell_type == "markdown":
        return BLOCK.sub(lambda m: "*YOUR ANSWER HERE*" + m.group(2), source)
    return BLOCK.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError(){m.group(2)}",
                     source).rstrip("\n")


def chapter_from_solution(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    chapter = nbformat.v4.new_notebook(metadata=solution.metadata)
    for cell in solution.cells:
        if cell.metadata.get("slideshow", {}).get("slide_type") == "notes":
            continue                                    # speaker notes are for the instructor only
        source = cell.source
        new = nbformat.from_dict(dict(cell))
        new.metadata = dict(cell.metadata)
        if BLOCK.search(source) or HIDDEN.search(source):
            new.source = stub_source(source, cell.cell_type)
            if BLOCK.search(source):
                new.metadata["rlft"] = {"exercise": True, "stub_sha": sha(new.source)}
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        if new.source.strip() or cell.cell_type == "markdown":
            chapter.cells.append(new)
    return chapter


def edited_exercise_cells(chapter_path: Path) -> list[int]:
    """Indices of exercise cells whose source no longer matches the stub they were written with."""
    existing = nbformat.read(chapter_path, as_version=4)
    return [i for i, cell in enumerate(existing.cells)
            if cell.metadata.get("rlft", {}).get("exercise") and sha(cell.source) != cell.metadata["rlft"].get("stub_sha")]


def _comparable(nb) -> list:
    return [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]


def main(argv=None, solutions_dir: Path = ROOT / "solutions", chapters_dir: Path = ROOT / "chapters") -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="overwrite chapters whose exercises were edited")
    parser.add_argument("--check", action="store_true", help="only report whether chapters/ is up to date")
    args = parser.parse_args(argv)
    chapters_dir.mkdir(exist_ok=True)
    stale, kept, written = [], [], []
    for solution_path in sorted(solutions_dir.glob("*.ipynb")):
        chapter = chapter_from_solution(nbformat.read(solution_path, as_version=4))
        target = chapters_dir / solution_path.name
        if target.exists() and _comparable(nbformat.read(target, as_version=4)) == _comparable(chapter):
            continue
        stale.append(target.name)
        if args.check:
            continue
        if target.exists() and not args.force and (edited := edited_exercise_cells(target)):
            kept.append(f"{target.name} (your edits in cells {edited})")
            continue
        nbformat.write(chapter, target)
        written.append(target.name)
    if args.check:
        print("chapters/ is up to date" if not stale else "out of date: " + ", ".join(stale)
              + "\nrun `make chapters` to regenerate them from solutions/")
        return 1 if stale else 0
    print(f"wrote {len(written)} chapter notebook(s)" + (": " + ", ".join(written) if written else ""))
    if kept:
        print("left alone, because their exercise cells hold edits (make chapters FORCE=1 overwrites):\n  "
              + "\n  ".join(kept))
    return 0


if __name__ == "__main__":
    sys.exit(main())
