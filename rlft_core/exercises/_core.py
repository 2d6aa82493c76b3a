"""The machinery behind every exercise checker.

A checker runs the student's function against the reference on a list of cases and prints one of:

* not attempted (``NotImplementedError``): how to start; returns False, never raises;
* wrong: the first failing case (input, expected, got) and, when the wrong answer is exactly what a
  well-known mistake produces, a hint for that mistake; returns False;
* right: says so; returns True.

It survives student code that raises, returns NaN or the wrong shape, mutates its inputs, or runs
too long. Nothing here ever raises into the notebook.
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import signal
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..i18n import tr
from ._hints import hints_for, remember


@dataclass
class Case:
    """One input to try: positional ``args`` and keyword ``kwargs``, with a name for the report."""
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Mistake:
    """A known wrong variant: if the student's output equals ``fn``'s on a failing case, show ``hint``.

    ``on_every_case=True`` asks for more: on every case where ``fn`` is wrong, the student's output
    must be wrong too (the student makes all of this mistake's errors, not just one of them). Use
    it when outputs take few values (a label 0 / 0.5 / 1), where one case matches many answers.
    """
    hint: str
    fn: Callable
    on_every_case: bool = False


def stuck() -> str:
    """The line that tells a student how to ask for a hint."""
    return tr("Stuck? Call hint() for a hint (once: the idea; twice: the formula).")


class _TimeLimit(Exception):
    pass


def _to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    if isinstance(value, (tuple, list)):
        return [_to_numpy(v) for v in value]
    if isinstance(value, (int, float, bool, np.number, np.ndarray)):
        return np.asarray(value, dtype=np.float64)
    return value


def _short(value, limit=320) -> str:
    """One compact line for a report, each value in its own type: ints and bools stay ints and
    bools (``3``, ``True``), floats stay floats (``1.0``, 6 significant digits), arrays and tensors
    print on one line (4 decimals) with their shape when they have more than one dimension."""
    text = _show(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def _show(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.6g}"
        return text if any(c in text for c in ".ein") else text + ".0"      # 1.0, not 1: a float
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = value.numpy() if value.dtype != torch.bfloat16 else value.float().numpy()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _show(value.item())
        with np.printoptions(precision=4, suppress=True, threshold=24, edgeitems=3, linewidth=10_000):
            text = " ".join(np.array2string(value).split())
        return text + (tr("  (shape {dims})", dims=" × ".join(map(str, value.shape))) if value.ndim > 1 else "")
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def compare(expected, got, atol=1e-6, rtol=1e-5) -> str | None:
    """None when ``got`` matches ``expected``; otherwise a sentence saying what differs."""
    expected, got = _to_numpy(expected), _to_numpy(got)
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return tr("expected a tuple of {count} results, got {type}", count=len(expected), type=type(got).__name__)
        for i, (e, g) in enumerate(zip(expected, got)):
            problem = compare(e, g, atol, rtol)
            if problem:
                return tr("result {i}: {problem}", i=i, problem=problem)
        return None
    if got is None:
        return tr("your function returned None (did you forget `return`?)")
    if not isinstance(got, np.ndarray) or got.dtype == object:
        return tr("expected numbers, got {type}", type=type(got).__name__)
    if got.shape != expected.shape:
        return tr("expected shape {expected}, got shape {got}", expected=expected.shape, got=got.shape)
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        return tr("your result contains NaN or inf")
    if not np.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
        return tr("the values differ")
    return None


def _call_with_time_limit(fn, args, kwargs, seconds):
    """Call fn; raise _TimeLimit after ``seconds`` (SIGALRM in the main thread, else a watcher)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def on_alarm(signum, frame):
            raise _TimeLimit()
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed back to the caller
            box["error"] = e
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _TimeLimit()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _same(a, b) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and _same_kwargs(a, b)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):      # e.g. a trajectory clip
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    a, b = _to_numpy(a), _to_numpy(b)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b


def run_check(title: str, fn, reference, cases, *, exercise: str | None = None, start_hint: str = "",
              mistakes=(), also_right=(), compare_fn=compare, time_limit: float = 10.0,
              check_mutation: bool = True, compared: str = "", print_fn: Callable[[str], Any] = print) -> bool:
    """Run ``fn`` against ``reference`` on ``cases``; print the verdict; return True iff all pass.

    ``exercise`` names the registered :class:`~rlft_core.exercises._hints.Hints` of the exercise:
    its ``start`` text is printed when the stub is not attempted (``start_hint`` when there is
    none), and a bare ``hint()`` afterwards is about this exercise.
    ``also_right``: other functions whose answers are just as right (another legitimate convention);
    a case passes when the answer matches the reference or one of them.
    ``check_mutation=False`` for exercises whose contract is an in-place update (tabular Q tables).
    ``compared`` says what is compared when the checker wraps the function (e.g. a loss and its
    gradient), so that "result 1" in a report makes sense.
    """
    say = print_fn
    hints = None
    if exercise is not None:
        hints = hints_for(exercise)
        remember(exercise)
        start_hint = hints.start
    ask = "\n" + stuck() if hints else ""
    if not callable(fn):
        say(tr("❌ {title}: expected a function, got {type}.", title=title, type=type(fn).__name__))
        return False
    for case in cases:
        pristine = (copy.deepcopy(case.args), copy.deepcopy(case.kwargs))
        student_args, student_kwargs = copy.deepcopy(pristine)
        expected = reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        try:
            got = _call_with_time_limit(fn, student_args, student_kwargs, time_limit)
        except NotImplementedError:
            say(tr("✏️  {title}: not attempted yet.", title=title) + f"\n{tr(start_hint)}{ask}\n"
                + tr("(Until it passes, the rest of the notebook uses the reference implementation.)"))
            return False
        except _TimeLimit:
            say(tr("❌ {title}: your function ran longer than {seconds:g} s on case '{case}' and was stopped. "
                   "Look for a loop that never ends.", title=title, seconds=time_limit, case=case.name))
            return False
        except Exception as e:  # noqa: BLE001 - a student's error is reported, never raised
            where = traceback.extract_tb(e.__traceback__)[-1]
            say(tr("❌ {title}: your function raised {error}: {message}\n"
                   "   on case '{case}' (line {line}: {code})\n"
                   "   input:{inputs}", title=title, error=type(e).__name__, message=e, case=case.name,
                   line=where.lineno, code=where.line, inputs=_describe(case, reference)))
            return False
        problem = compare_fn(expected, got)
        if problem is not None and any(compare_fn(alt(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs)), got) is None
                                       for alt in also_right):
            problem = None
        mutated = not (_same(student_args, pristine[0]) and _same_kwargs(student_kwargs, pristine[1]))
        mutation_note = tr("your function changed its inputs in place; compute a new array instead "
                           "(e.g. `x = x.clone()` or `np.array(x, copy=True)` before writing into it)")
        if problem is None and check_mutation and mutated:
            problem = mutation_note
        elif problem is not None and check_mutation and mutated:
            problem += tr(" (and {note})", note=mutation_note)
        if problem is not None:
            def student_output(other):
                try:
                    return _call_with_time_limit(fn, *copy.deepcopy((other.args, other.kwargs)), time_limit)
                except Exception:  # noqa: BLE001 - no output, so no mistake matches
                    return None
            hint = _matching_hint(mistakes, case, got, student_output, cases, reference)
            if compared:
                problem += tr("\n   (compared: {compared})", compared=compared)
            say(tr("❌ {title}: wrong on case '{case}': {problem}.\n"
                   "   input:{inputs}\n"
                   "   expected: {expected}\n"
                   "   got:      {got}", title=title, case=case.name, problem=problem,
                   inputs=_describe(case, reference), expected=_short(expected), got=_short(got))
                + ("\n" + tr("💡 Hint: {hint}", hint=tr(hint)) if hint else ask))
            return False
    later = tr(" Later cells use your function.") if hints is None or hints.used_later else ""
    say(tr("✅ {title}: correct on all {count} cases.", title=title, count=len(cases)) + later)
    return True


def _same_kwargs(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)


def _named_inputs(case: Case, reference) -> list[tuple[str, Any]]:
    """The case's inputs, each under the name of the reference's argument it binds to."""
    try:
        bound = inspect.signature(reference).bind(*case.args, **case.kwargs)
    except (TypeError, ValueError):
        return [(tr("argument {i}", i=i), a) for i, a in enumerate(case.args)] + list(case.kwargs.items())
    named = []
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            named += list(value.items())
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            named += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        else:
            named.append((name, value))
    return named


def _describe(case: Case, reference) -> str:
    """The inputs of a case, one per line, named by argument: ``   rewards = [1.0, 2.0]``."""
    named = _named_inputs(case, reference)
    width = max((len(name) for name, _ in named), default=0)
    return "".join(f"\n      {name:<{width}} = {_short(value, 200)}" for name, value in named)


def _matching_hint(mistakes, case: Case, got, student_output=None, cases=(), reference=None) -> str | None:
    """The hint of the first mistake that reproduces ``got`` (and, for ``on_every_case`` mistakes,
    the student's output, ``student_output(case)``, on every case where the mistake is wrong)."""
    def mistake_output(mistake, c):
        try:
            return True, mistake.fn(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
        except Exception:  # noqa: BLE001 - a mistake model that does not apply here
            return False, None
    for mistake in mistakes:
        applies, wrong = mistake_output(mistake, case)
        if not applies or compare(wrong, got) is not None:
            continue
        if mistake.on_every_case and student_output is not None:
            def reproduced(c):
                ok, wrong_c = mistake_output(mistake, c)
                right_c = reference(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
                return ok and (compare(right_c, wrong_c) is None or compare(right_c, student_output(c)) is not None)
            if not all(reproduced(c) for c in cases):
                continue
        return mistake.hint
    return None


def choose(passed: bool, student_fn, reference_fn):
    """The student's function when its check passed, the reference otherwise (and say which)."""
    name = getattr(reference_fn, "__name__", "<lambda>")
    if name == "<lambda>":                                               # a lambda has no name to show
        reference = tr("the package's version of {name}", name=getattr(student_fn, "__name__", tr("your function")))
    else:
        reference = tr("the reference {name}", name=name)
    if passed:
        print(tr("Using your {name} from here on.", name=getattr(student_fn, "__name__", name)))
        return student_fn
    print(tr("Using {reference} from here on (your version has not passed its check yet).", reference=reference))
    return reference_fn
