"""Hints in tiers, on request: the student asks, the package never volunteers the answer.

Every exercise registers a :class:`Hints`: how to start (printed by its checker when the stub is
not attempted), the idea (``hint()`` once), the formula (``hint()`` twice), and where a worked
solution lives (``show_solution()``, the only thing that prints code). The last checker run
remembers its exercise, so a bare ``hint()`` in the next cell is about the exercise just checked.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..i18n import tr

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"


@dataclass(frozen=True)
class Hints:
    """What a student may ask about one exercise, from what gives least away to what gives all."""
    start: str                        # how to start: inputs, what to return, what to re-read (no answer)
    idea: str                         # hint() once: the idea, in words
    formula: str                      # hint() twice: the formula, as maths (not code)
    notebook: str                     # the solutions/ notebook with the worked solution, e.g. "04_ppo_math"
    function: str                     # the exercise's function there, e.g. "my_gae"
    reference: str | None = None      # dotted path of the package's version, shown without solutions/
    used_later: bool = True           # do later cells of the notebook use the student's function?


_REGISTRY: dict[str, Hints] = {}
_state: dict = {"last": None, "level": {}}


def register(hints_by_exercise: dict[str, Hints]) -> None:
    """Add the hints of some exercises (called by each checker module at import)."""
    _REGISTRY.update(hints_by_exercise)


def hints_for(exercise: str) -> Hints:
    return _REGISTRY[exercise]


def remember(exercise: str) -> None:
    """Called by a checker: a bare ``hint()`` is now about ``exercise``."""
    _state["last"] = exercise


def _name(exercise) -> str | None:
    """'gae', 'check_gae' or the checker itself -> 'gae'; None -> the last exercise checked."""
    if exercise is None:
        return _state["last"]
    name = getattr(exercise, "__name__", exercise)
    if not isinstance(name, str):
        raise ValueError(tr("exercise must be a name like 'gae' or a checker, got {type}", type=type(exercise).__name__))
    name = name.removeprefix("check_")
    if name not in _REGISTRY:
        raise ValueError(tr("no exercise called {name!r}; known: {known}", name=name, known=", ".join(sorted(_REGISTRY))))
    return name


def _nothing_checked() -> str:
    return tr("Run an exercise's checker first (hint() is then about that exercise), or name it, e.g. "
              "hint('gae'). Exercises: {exercises}.", exercises=", ".join(sorted(_REGISTRY)))


def hint(exercise=None) -> None:
    """Print the next hint for ``exercise`` (default: the last one checked): the idea, then the formula.

    Prints and returns None (so a notebook does not echo the text a second time). Code is never
    shown here; :func:`show_solution` does that.
    """
    name = _name(exercise)
    if name is None:
        text = _nothing_checked()
    else:
        hints, level = _REGISTRY[name], _state["level"].get(name, 0) + 1
        _state["level"][name] = level
        if level == 1:
            text = tr("💡 Hint 1 of 2 for '{name}' (the idea): {idea}\n   Call hint() again for the formula.",
                      name=name, idea=tr(hints.idea))
        elif level == 2:
            text = tr("💡 Hint 2 of 2 for '{name}' (the formula):\n   {formula}", name=name, formula=tr(hints.formula))
        else:
            text = tr("No more hints for '{name}': you have the idea and the formula. To see a worked solution, "
                      "call show_solution() (or open solutions/{notebook}.ipynb).", name=name, notebook=hints.notebook)
    print(text)


def _solution_from_notebook(hints: Hints) -> str | None:
    """The source of ``def <function>`` in its solutions/ notebook, from the def to the end of its cell."""
    path = SOLUTIONS_DIR / f"{hints.notebook}.ipynb"
    if not path.exists():
        return None
    for cell in nbformat.read(path, as_version=4).cells:
        start = cell.source.find(f"def {hints.function}(")
        if cell.cell_type == "code" and start >= 0:
            lines = cell.source[start:].rstrip().splitlines()
            return "\n".join(line for line in lines if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return None


def show_solution(exercise=None) -> None:
    """Print a worked solution of ``exercise`` (default: the last one checked). Try first: ``hint()``."""
    name = _name(exercise)
    if name is None:
        text = _nothing_checked().replace("hint(", "show_solution(")
    else:
        hints = _REGISTRY[name]
        code = _solution_from_notebook(hints)
        if code is not None:
            text = tr("A worked solution of '{name}' (from solutions/{notebook}.ipynb):", name=name,
                      notebook=hints.notebook) + f"\n\n{code}"
        elif hints.reference is not None:
            module, _, attr = hints.reference.rpartition(".")
            source = inspect.getsource(getattr(importlib.import_module(module), attr)).rstrip()
            text = tr("solutions/ is not next to the package; here is the package's own version of '{name}', "
                      "{reference}:", name=name, reference=hints.reference) + f"\n\n{source}"
        else:
            text = tr("The worked solution of '{name}' is in solutions/{notebook}.ipynb.", name=name,
                      notebook=hints.notebook)
    print(text)
