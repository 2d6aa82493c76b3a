"""Build an nbgrader course directory from solutions/ and generate the student (release) version.

    python tools/make_assignments.py                 # build/nbgrader/ (make assignments)
    python tools/make_assignments.py --out DIR

Layout (nbgrader's): ``DIR/nbgrader_config.py``, ``DIR/source/<assignment>/<notebook>.ipynb`` (from
solutions/, with the solutions and hidden tests) and, after ``generate_assignment``,
``DIR/release/<assignment>/<notebook>.ipynb``: what students get, identical cell by cell to
chapters/. One assignment per notebook that holds a graded exercise, named after the notebook
(``04_ppo_math``). Then, for an instructor:

    cd build/nbgrader
    nbgrader collect 04_ppo_math          # or put submissions under submitted/<student>/04_ppo_math/
    nbgrader autograde 04_ppo_math
    nbgrader generate_feedback 04_ppo_math
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COURSE_ID = "rlft_course"
CONFIG = f'''c = get_config()  # noqa: F821 - nbgrader's config file
c.CourseDirectory.course_id = "{COURSE_ID}"
# the stub make_chapters.py writes, so that release/ equals chapters/
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
# notebooks train small models while they are graded; allow a slow shared machine per cell
c.Execute.timeout = 600
'''


def graded_notebooks(solutions_dir: Path = ROOT / "solutions") -> list[Path]:
    """The notebooks of solutions/ with at least one autograded test cell."""
    return [path for path in sorted(solutions_dir.glob("*.ipynb"))
            if any(cell.metadata.get("nbgrader", {}).get("grade") for cell in nbformat.read(path, as_version=4).cells)]


def build_course(course_dir: Path, assignments: dict[str, list[Path]]) -> None:
    """Write the config and ``source/<assignment>/`` for each assignment (a clean source tree)."""
    course_dir.mkdir(parents=True, exist_ok=True)
    (course_dir / "nbgrader_config.py").write_text(CONFIG)
    for name, notebooks in assignments.items():
        target = course_dir / "source" / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for notebook in notebooks:
            nb = nbformat.read(notebook, as_version=4)
            # speaker notes are instructor material: nbgrader would release them to the students
            nb.cells = [cell for cell in nb.cells if cell.metadata.get("slideshow", {}).get("slide_type") != "notes"]
            nbformat.write(nb, target / notebook.name)


def nbgrader_api(course_dir: Path):
    """nbgrader's Python API on ``course_dir`` (reads its nbgrader_config.py)."""
    # nbgrader runs the `alembic` command of its own environment, which make does not put on PATH
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    config = Config(PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config())
    config.CourseDirectory.root = str(course_dir.resolve())
    return NbGraderAPI(config=config)


def generate(course_dir: Path, names) -> None:
    """``nbgrader generate_assignment`` for each name; raise with nbgrader's log when one fails."""
    api = nbgrader_api(course_dir)
    for name in names:
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{result.get('error')}\n{result.get('log')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "nbgrader", help="course directory")
    args = parser.parse_args(argv)
    assignments = {path.stem: [path] for path in graded_notebooks()}
    build_course(args.out, assignments)
    generate(args.out, assignments)
    print(f"nbgrader course in {args.out}: source/ and release/ for {len(assignments)} assignments "
          f"({', '.join(assignments)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
