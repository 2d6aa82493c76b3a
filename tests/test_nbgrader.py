"""Real grading with nbgrader: the metadata on solutions/, the release version, and a round trip
generate_assignment -> autograde on solved, untouched, half-solved and cheating submissions."""
import copy
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from rlft_core import exercises
from rlft_core.grading import REFERENCES, _resolve, graded

ROOT = Path(__file__).resolve().parents[1]


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nbgrader_meta = _tool("nbgrader_meta")
make_assignments = _tool("make_assignments")


# ---------------------------------------------------------------- the guard against calling the reference
def _loop_gae(rewards, values, dones, last_value, gamma, lam):
    """GAE by its definition: A_t = Σ_k (γλ)^k δ_{t+k}, cut at episode ends (a double loop)."""
    rewards, values, dones = (np.asarray(x, dtype=float) for x in (rewards, values, dones))
    next_values = np.concatenate([values[1:], np.asarray(last_value, dtype=float).reshape(1, *values.shape[1:])])
    deltas = rewards + gamma * (1 - dones) * next_values - values
    adv = np.zeros_like(rewards)
    for t in range(len(rewards)):
        weight = np.ones_like(rewards[0])
        for k in range(t, len(rewards)):
            adv[t] += weight * deltas[k]
            weight = weight * gamma * lam * (1 - dones[k])
    return adv, adv + values


def test_an_own_implementation_passes_the_graded_check():
    assert graded(exercises.check_gae, _loop_gae)


def test_a_stub_fails_the_graded_check():
    def stub(rewards, values, dones, last_value, gamma, lam):
        raise NotImplementedError()
    assert not graded(exercises.check_gae, stub)


def test_calling_the_reference_fails_however_it_is_reached():
    import rlft_core.returns
    from rlft_core.returns import gae
    alias = gae

    def by_name(*args, **kwargs):
        return gae(*args, **kwargs)

    def by_alias(*args, **kwargs):
        return alias(*args, **kwargs)

    def by_module(*args, **kwargs):
        return rlft_core.returns.gae(*args, **kwargs)

    def swallowing(*args, **kwargs):
        try:
            return gae(*args, **kwargs)
        except Exception:           # noqa: BLE001 - the guard records the call even if it is caught
            return _loop_gae(*args, **kwargs)
    for student_fn in (by_name, by_alias, by_module, swallowing, gae):
        assert exercises.check_gae(student_fn)                 # the plain checker is fooled
        assert not graded(exercises.check_gae, student_fn), student_fn.__name__


def test_a_closure_made_by_the_package_is_refused():
    from rlft_core.exercises.ppo_repair import ppo_loss_variant
    assert exercises.check_ppo_loss(ppo_loss_variant({}))           # the plain checker is fooled
    assert not graded(exercises.check_ppo_loss, ppo_loss_variant({}))
    assert not graded(exercises.check_ppo_loss, lambda *args: ppo_loss_variant({})(*args))


def test_references_work_again_after_grading():
    from rlft_core.returns import gae
    graded(exercises.check_gae, lambda *args, **kwargs: gae(*args, **kwargs))
    rng = np.random.default_rng(0)
    args = (rng.normal(size=5), rng.normal(size=5), np.array([0, 0, 1, 0, 0.0]), 0.3, 0.9, 0.8)
    for got, want in zip(gae(*args), _loop_gae(*args)):
        np.testing.assert_allclose(got, want)


def test_every_checker_has_references_that_resolve():
    checkers = {name for name in exercises.__all__ if name.startswith("check_")}
    assert checkers <= set(REFERENCES)
    for name in checkers:
        assert all(callable(_resolve(spec)) and hasattr(_resolve(spec), "__code__") for spec in REFERENCES[name])


def test_graded_refuses_an_unknown_checker():
    def check_something(fn):
        return True
    with pytest.raises(ValueError, match="checker must be one of"):
        graded(check_something, _loop_gae)


# ---------------------------------------------------------------- the metadata on solutions/
def test_nbgrader_meta_leaves_the_committed_notebooks_unchanged(capsys):
    assert nbgrader_meta.main(["--check"]) == 0, capsys.readouterr().out


def test_nbgrader_meta_restores_stripped_metadata_and_is_idempotent(tmp_path):
    path = ROOT / "solutions" / "04_ppo_math.ipynb"
    stripped = nbformat.read(path, as_version=4)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    (tmp_path / path.name).write_text(nbformat.writes(stripped) + "\n")
    assert nbgrader_meta.main([], solutions_dir=tmp_path) == 0
    assert (tmp_path / path.name).read_text() == path.read_text()
    assert nbgrader_meta.main(["--check"], solutions_dir=tmp_path) == 0


def test_every_exercise_is_a_solution_cell_followed_by_a_graded_test_cell():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for i, cell in enumerate(cells):
            meta = cell.metadata.get("nbgrader", {})
            assert ("### BEGIN SOLUTION" in cell.source) == bool(meta.get("solution")), (path.name, i)
            assert ("### BEGIN HIDDEN TESTS" in cell.source) == bool(meta.get("grade")), (path.name, i)
            if meta.get("grade"):
                assert meta["locked"] and meta["points"] > 0
                hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1]
                fn = re.search(r"graded\((check_\w+), (\w+)\)", hidden).group(2)
                solution_cells = [c for c in cells[:i] if c.metadata.get("nbgrader", {}).get("solution")]
                assert f"def {fn}(" in solution_cells[-1].source


# ---------------------------------------------------------------- nbgrader itself (dev extra)
@pytest.fixture
def kernel_env(monkeypatch):
    """Kernels started by nbgrader import rlft_core from this checkout and find `alembic`."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])


@pytest.mark.slow
def test_release_version_equals_chapters(tmp_path, kernel_env):
    notebooks = make_assignments.graded_notebooks()
    assert len(notebooks) >= 9
    assert make_assignments.main(["--out", str(tmp_path)]) == 0          # what `make assignments` runs
    for path in notebooks:
        release = nbformat.read(tmp_path / "release" / path.stem / path.name, as_version=4)
        chapter = nbformat.read(ROOT / "chapters" / path.name, as_version=4)
        assert [(c.cell_type, c.source) for c in release.cells] == [(c.cell_type, c.source) for c in chapter.cells]
        assert not any("BEGIN SOLUTION" in c.source or "HIDDEN TESTS" in c.source for c in release.cells)


# which exercises the half-solved student solves, and what the cheater writes instead of a solution
HALF_SOLVED = {"nb04_gae_solution", "nb05_bradley_terry_loss_solution"}
CHEATS = {
    "nb04_gae_solution": "return gae(rewards, values, dones, last_value, gamma, lam)",
    "nb05_dpo_loss_solution": "return dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, "
                              "ref_rejected_logps, beta=beta)[0]",
}
SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?### END SOLUTION", re.S | re.M)
STUB_REGION = re.compile(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)", re.M)


def _submission(release, source, solved: set, cheats: dict):
    """A student's copy of ``release`` with the exercises in ``solved`` answered from ``source`` and
    those in ``cheats`` answered by a call to the reference."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in cheats:
            cell.source = STUB_REGION.sub(lambda m: m.group(1) + cheats[grade_id], cell.source)
            assert cheats[grade_id] in cell.source
        elif grade_id in solved:
            cell.source = SOLUTION_REGION.sub(lambda m: m.group(0).split("\n", 1)[1].rsplit("\n", 1)[0],
                                              answers[grade_id])
    return nb


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")   # raised inside nbgrader's gradebook
def test_autograde_round_trip(tmp_path, kernel_env):
    from nbgrader.api import Gradebook
    notebooks = []
    for name in ("04_ppo_math.ipynb", "05_preferences_and_dpo_math.ipynb"):
        # each notebook up to its last graded cell: the cells after it grade nothing and only cost time
        nb = nbformat.read(ROOT / "solutions" / name, as_version=4)
        last = max(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))
        nb.cells = nb.cells[:last + 1]
        (tmp_path / "trimmed").mkdir(exist_ok=True)
        nbformat.write(nb, tmp_path / "trimmed" / name)
        notebooks.append(tmp_path / "trimmed" / name)
    make_assignments.build_course(tmp_path, {"ps1": notebooks})
    make_assignments.generate(tmp_path, ["ps1"])
    sources = {p.stem: nbformat.read(p, as_version=4) for p in notebooks}
    points = {}                                       # (notebook, test grade_id) -> points, from the source
    solution_of = {}                                  # test grade_id -> the solution grade_id it grades
    for stem, nb in sources.items():
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                points[stem, meta["grade_id"]] = meta["points"]
                solution_of[meta["grade_id"]] = meta["grade_id"].replace("_tests", "_solution")
    all_solutions = set(solution_of.values())
    students = {"solved": (all_solutions, {}), "untouched": (set(), {}),
                "half": (HALF_SOLVED, {}), "cheat": (all_solutions - set(CHEATS), CHEATS)}
    for student, (solved, cheats) in students.items():
        folder = tmp_path / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        for stem, source in sources.items():
            release = nbformat.read(tmp_path / "release" / "ps1" / f"{stem}.ipynb", as_version=4)
            nbformat.write(_submission(release, source, solved, cheats), folder / f"{stem}.ipynb")
    api = make_assignments.nbgrader_api(tmp_path)
    for student in students:
        result = api.autograde("ps1", student, force=True, create=True)
        assert result["success"], result.get("error") or result.get("log")

    def expected(solved, cheats):
        return {key: p if solution_of[key[1]] in solved and solution_of[key[1]] not in cheats else 0
                for key, p in points.items()}
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        for student, (solved, cheats) in students.items():
            got = {(stem, grade_id): gradebook.find_grade(grade_id, stem, "ps1", student).score
                   for stem, grade_id in points}
            assert got == expected(solved, cheats), student
            assert gradebook.find_submission("ps1", student).score == sum(expected(solved, cheats).values())
    assert sum(expected(*students["solved"]).values()) == sum(points.values()) > 0
    assert sum(expected(*students["untouched"]).values()) == 0
