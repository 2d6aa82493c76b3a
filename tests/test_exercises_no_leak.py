"""No solution before an attempt: an unattempted exercise, checked, prints no line of any solution.

The solution lines are read from solutions/*.ipynb (every line of 20 characters or more between
``### BEGIN SOLUTION`` and ``### END SOLUTION``); the checkers are run on a stub that raises
``NotImplementedError``, once directly and once as each chapter notebook calls them.
"""
import ast
import inspect
import contextlib
import io
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlft_core import exercises
from rlft_core.envs import driving_metrics
from rlft_core.exercises import beyond, driving, grpo, lm, ppo_math, ppo_repair, preference, rl

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"### BEGIN SOLUTION[^\n]*\n(.*?)### END SOLUTION", re.S)
CHECKER_MODULES = (exercises, rl, ppo_math, preference, driving, lm, ppo_repair, beyond, grpo)


def solution_lines() -> set[str]:
    lines = set()
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for block in BLOCK.findall(cell.source):
                lines |= {line.strip() for line in block.splitlines() if len(line.strip()) >= 20}
    return lines


SOLUTION_LINES = solution_lines()
CHECKERS = sorted({name: getattr(module, name) for module in CHECKER_MODULES for name in dir(module)
                   if name.startswith("check_") and callable(getattr(module, name))}.items())


def leaked(text: str) -> list[str]:
    return [line for line in SOLUTION_LINES if line in text]


def not_attempted(*args, **kwargs):
    raise NotImplementedError()


def test_the_solutions_hold_enough_lines_to_make_the_check_meaningful():
    assert len(SOLUTION_LINES) >= 20
    assert "return -F.logsigmoid(r_chosen - r_rejected).mean()" in SOLUTION_LINES


def test_the_leak_detector_finds_a_solution_line_in_a_text():
    line = next(iter(SOLUTION_LINES))
    assert leaked(f"start like this:\n   {line}\n") == [line]


@pytest.mark.parametrize("name,checker", CHECKERS, ids=[name for name, _ in CHECKERS])
def test_unattempted_checker_prints_no_solution_line(name, checker, capsys):
    assert checker(not_attempted) is False
    out = capsys.readouterr().out
    assert "not attempted" in out and "hint()" in out
    assert leaked(out) == [], f"{name} prints solution code before an attempt"


def exercise_cells_and_checker_calls(path: Path):
    """The chapter's exercise stubs (function definitions only) and its `ok = check_x(my_fn)` calls."""
    nb = nbformat.read(path, as_version=4)
    stubs, calls = [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("rlft", {}).get("exercise"):
            tree = ast.parse(cell.source)
            stubs += [ast.get_source_segment(cell.source, node) for node in tree.body if isinstance(node, ast.FunctionDef)]
        calls += re.findall(r"^\w+\s*=\s*(check_\w+)\((\w+)\)", cell.source, re.M)
    return stubs, calls


CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_checker_calls_on_the_shipped_stubs_print_no_solution_line(path):
    stubs, calls = exercise_cells_and_checker_calls(path)
    assert len(calls) >= len(stubs), f"an exercise of {path.name} has no checker call"
    namespace = {"np": np, "torch": torch, "F": F, "driving_metrics": driving_metrics}
    for stub in stubs:
        exec(stub, namespace)  # noqa: S102 - the chapter's own stub
    checkers = dict(CHECKERS)
    for checker_name, function_name in calls:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            passed = checkers[checker_name](namespace[function_name])
        assert passed is False, f"{path.name}: the shipped stub {function_name} passes {checker_name}"
        assert "not attempted" in out.getvalue()
        assert leaked(out.getvalue()) == [], f"{path.name}: {checker_name} prints solution code"


def _unconditional(code: str) -> str:
    """The code without the blocks under ``if <exercise>_ok:``: a notebook may show the package's version
    of an exercise once the student's passes (run as shipped, the stubs fail and it is not shown)."""
    return re.sub(r"^if \w+_ok:\n(?:[ \t]+.*\n?)*", "", code, flags=re.M)


def shown_sources(path: Path):
    """``(name, source)`` of every ``show_source(name)`` of a chapter, resolved through its imports."""
    import importlib
    import inspect
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    imported = {}
    for module, in_parens, on_line in re.findall(r"^\s*from (rlft_core[\w.]*) import (?:\(([^)]*)\)|([\w, ]+))", text, re.M):
        for item in (in_parens or on_line).split(","):
            name, _, alias = item.strip().partition(" as ")
            if name:
                imported[alias or name] = (module, name)
    for target in re.findall(r"show_source\(([\w.]+)\)", _unconditional(text)):
        head, *attrs = target.split(".")
        module, name = imported[head]
        obj = getattr(importlib.import_module(module), name)
        for attr in attrs:
            obj = getattr(obj, attr)
        yield target, inspect.getsource(obj)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_package_code_a_chapter_shows_holds_no_solution_line(path):
    """show_source must not hand out an exercise's answer (notebook 03 once showed the package's
    clipped loss, the answer of exercise 4b). The repair exercise's buggy starting code is given."""
    given = {line.strip() for line in inspect.getsource(ppo_repair.buggy_ppo_loss).splitlines()}
    for target, source in shown_sources(path):
        assert [line for line in leaked(source) if line not in given] == [], f"{path.name}: show_source({target})"
