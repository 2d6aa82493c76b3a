"""Give every exercise of solutions/ the nbgrader metadata that real grading needs.

For each code cell holding ``### BEGIN SOLUTION`` inside ``def my_X(...)``:

* that cell becomes an nbgrader *solution cell* (``solution: true, grade: false``);
* the cell that runs its checker (``X_ok = check_X(my_X)``) becomes an *autograded test cell*
  (``grade: true, locked: true, points: N``) whose hidden tests, at the end of the cell, are

      ### BEGIN HIDDEN TESTS
      from rlft_core.grading import graded
      assert graded(check_X, my_X), ...
      ### END HIDDEN TESTS

  ``graded`` runs the checker with the package's reference implementations disarmed, so a
  ``return gae(...)`` scores 0 (see ``rlft_core/grading.py``). The block sits at the end so that the
  cell's other lines (``choose(...)``) still run when the assertion fails in an autograded copy.

Cells that are neither lose any stale nbgrader metadata. Running the script twice changes nothing;
re-run it after editing exercises, then ``tools/make_chapters.py``.

    python tools/nbgrader_meta.py            # rewrite solutions/*.ipynb where needed
    python tools/nbgrader_meta.py --check    # exit 1 if a notebook would change
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION", re.M)
HIDDEN = re.compile(r"\n?^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n.*?^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)", re.S | re.M)
DEF = re.compile(r"^def (my_\w+)\(", re.M)

# points per exercise (the student function's name -> points); a new exercise must be given its points here
POINTS = {
    "discounted_return": 1,           # 00
    "my_policy": 1,                   # 01
    "my_q_learning_update": 1,        # 02
    "my_sarsa_update": 1,
    "my_reinforce_loss": 2,           # 03
    "my_gae": 3,                      # 04
    "my_clipped_surrogate_loss": 2,
    "my_bradley_terry_loss": 1,       # 05
    "my_dpo_loss": 2,
    "my_labeler": 2,                  # 06
    "my_ppo_loss": 3,                 # 07
    "my_sequence_logprobs": 2,        # 08
    "my_kl_shaped_rewards": 2,
    "my_ipo_loss": 1,                 # 09 (bonus)
    "best_of_n_for_kl": 1,            # 10 (bonus)
    "noisy_ceiling": 1,               # 11 (bonus)
    "my_group_advantages": 2,         # 12 (bonus)
    "my_grpo_token_loss": 3,
    "my_k3": 1,
}


def hidden_tests(checker: str, fn: str) -> str:
    return ("### BEGIN HIDDEN TESTS\n"
            "from rlft_core.grading import graded\n"
            f'assert graded({checker}, {fn}), "{fn} does not pass {checker} on its own (0 points)"\n'
            "### END HIDDEN TESTS")


def solution_meta(grade_id: str) -> dict:
    return {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": True,
            "task": False}


def test_meta(grade_id: str, points: int) -> dict:
    return {"grade": True, "grade_id": grade_id, "locked": True, "points": points, "schema_version": 3,
            "solution": False, "task": False}


def _student_function(source: str) -> str:
    """The ``def`` that encloses the solution region (the last one above ``### BEGIN SOLUTION``)."""
    head = source[:SOLUTION.search(source).start()]
    names = DEF.findall(head) or re.findall(r"^def (\w+)\(", head, re.M)
    if not names:
        raise ValueError(f"no function definition above the solution region in:\n{source}")
    return names[-1]


def annotate(nb: nbformat.NotebookNode, prefix: str) -> nbformat.NotebookNode:
    """Set the nbgrader metadata and hidden tests of every exercise of ``nb`` (in place)."""
    roles: dict[int, tuple[str, dict]] = {}
    for i, cell in enumerate(nb.cells):
        if not SOLUTION.search(cell.source):
            continue
        if cell.cell_type != "code":
            raise ValueError(f"{prefix}: cell {i} is a markdown answer; only code exercises are graded here")
        fn = key = _student_function(cell.source)
        if key not in POINTS:
            raise ValueError(f"{prefix}: exercise {fn} has no points in POINTS")
        call = re.compile(rf"\b(check_\w+)\(\s*{re.escape(fn)}\s*\)")
        test_index = next((j for j in range(i + 1, len(nb.cells))
                           if nb.cells[j].cell_type == "code" and call.search(HIDDEN.sub("", nb.cells[j].source))), None)
        if test_index is None:
            raise ValueError(f"{prefix}: no cell below cell {i} calls check_...({fn})")
        checker = call.search(HIDDEN.sub("", nb.cells[test_index].source)).group(1)
        name = key.removeprefix("my_")
        roles[i] = ("solution", solution_meta(f"{prefix}_{name}_solution"))
        roles[test_index] = ("test", test_meta(f"{prefix}_{name}_tests", POINTS[key]))
        test_cell = nb.cells[test_index]
        test_cell.source = HIDDEN.sub("\n", test_cell.source).strip("\n") + "\n" + hidden_tests(checker, fn)
    for i, cell in enumerate(nb.cells):
        if i in roles:
            cell.metadata["nbgrader"] = roles[i][1]
        else:
            cell.metadata.pop("nbgrader", None)
            if HIDDEN.search(cell.source):
                raise ValueError(f"{prefix}: cell {i} has hidden tests but tests no exercise")
    return nb


def main(argv=None, solutions_dir: Path = ROOT / "solutions") -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether a notebook would change")
    args = parser.parse_args(argv)
    changed = []
    for path in sorted(solutions_dir.glob("*.ipynb")):
        before = path.read_text()
        nb = annotate(nbformat.read(path, as_version=4), prefix="nb" + path.name[:2])
        after = nbformat.writes(nb) + "\n"
        if after != before:
            changed.append(path.name)
            if not args.check:
                path.write_text(after)
    verb = "would change" if args.check else "updated"
    print(f"{verb}: {', '.join(changed)}" if changed else "nbgrader metadata up to date")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
