"""Grading helpers behind the hidden tests of the nbgrader version of the course.

An exercise is graded by its checker (``rlft_core.exercises.check_X``), which compares the student's
function with the package's reference on fixed cases. On its own a checker is fooled by
``def my_gae(...): return gae(...)``. :func:`graded` closes that hole: while the student's function
runs, every package function that already computes the answer (listed in :data:`REFERENCES`) is
*disarmed*: its code object is swapped for one that records the call and raises. Swapping the code
object, not a module attribute, catches every way of reaching the function: ``from ... import gae``
at the top of the notebook, an alias (``g = gae``), ``rlft_core.returns.gae``, a wrapper such as
``ppo_loss_variant({})`` or a lambda around it; and a function whose code lives in the package (an
alias ``my_fn = ppo_loss_variant({})``) is refused outright. The checker's own calls to the reference (its expected
values) run outside that window and are untouched.

    assert graded(check_gae, my_gae)      # in the autograded cell, between the hidden-test markers
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import io
import types
from pathlib import Path

# checker name -> the package functions a student may not call to answer it ("module:attribute").
REFERENCES: dict[str, tuple[str, ...]] = {
    "check_discounted_return": ("rlft_core.returns:discounted_returns", "rlft_core.returns:gae"),
    "check_heuristic_policy": ("rlft_core.exercises.rl:reference_heuristic_policy",),
    "check_q_learning_update": ("rlft_core.tabular:q_learning_update", "rlft_core.tabular:sarsa_update"),
    "check_sarsa_update": ("rlft_core.tabular:sarsa_update", "rlft_core.tabular:q_learning_update"),
    "check_reinforce_loss": ("rlft_core.reinforce:reinforce_loss",),
    "check_gae": ("rlft_core.returns:gae", "rlft_core.rlhf_ppo:masked_gae"),
    "check_clipped_surrogate_loss": ("rlft_core.ppo_losses:clipped_surrogate_loss",
                                     "rlft_core.exercises.ppo_repair:reference_ppo_loss"),
    "check_bradley_terry_loss": ("rlft_core.reward_model:bradley_terry_loss", "rlft_core.dpo:dpo_loss"),
    "check_dpo_loss": ("rlft_core.dpo:dpo_loss", "rlft_core.reward_model:bradley_terry_loss"),
    "check_driving_labeler": ("rlft_core.exercises.driving:reference_driving_labeler",
                              "rlft_core.exercises.driving:reference_driving_score"),
    "check_ppo_loss": ("rlft_core.exercises.ppo_repair:reference_ppo_loss",
                       "rlft_core.exercises.ppo_repair:ppo_loss_variant",
                       "rlft_core.ppo_losses:clipped_surrogate_loss"),
    "check_sequence_logprobs": ("rlft_core.dpo:sequence_logprobs", "rlft_core.exercises.lm:_reference_sequence_logprobs"),
    "check_kl_shaped_rewards": ("rlft_core.rlhf_ppo:kl_shaped_rewards",
                                "rlft_core.exercises.lm:_reference_kl_shaped_rewards"),
    # exercises of notebooks 09-12
    "check_ipo_loss": ("rlft_core.dpo:dpo_loss",),
    "check_best_of_n_for_kl": ("rlft_core.exercises.beyond:reference_best_of_n_for_kl",),
    "check_noisy_ceiling": ("rlft_core.exercises.beyond:reference_noisy_ceiling",),
    "check_group_advantages": ("rlft_core.grpo:group_advantages",),
    "check_grpo_token_loss": ("rlft_core.grpo:grpo_loss",),
    "check_k3": ("rlft_core.grpo:kl_estimate",),
}

_PACKAGE_DIR = Path(__file__).resolve().parent
_calls: list[str] = []          # names of disarmed functions that were called (filled by the stand-in code)


def _record_call(name: str) -> None:
    _calls.append(name)
    raise RuntimeError(f"{name} is the package's reference implementation: write this exercise yourself")


def _resolve(spec: str) -> types.FunctionType:
    module_name, attribute = spec.split(":")
    fn = getattr(importlib.import_module(module_name), attribute)
    return getattr(fn, "__wrapped__", fn)


def _defined_in_package(fn) -> bool:
    """True when ``fn``'s code lives in rlft_core's files (an alias of, or a closure made by, package code)."""
    code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    return code is not None and Path(code.co_filename).resolve().is_relative_to(_PACKAGE_DIR)


@functools.lru_cache(maxsize=None)
def _stand_in_code(name: str, n_free: int) -> types.CodeType:
    """A code object that calls :func:`_record_call`, with ``n_free`` free variables (a function's
    code may only be replaced by one with as many). It runs with the disarmed function's globals,
    so it reaches this module through ``__import__`` (a builtin) rather than a global name."""
    free = [f"_free{i}" for i in range(n_free)]
    body = (f"def _outer():\n    {' = '.join(free + ['None'])}\n" if free else "def _outer():\n") + (
        "    def _stand_in(*args, **kwargs):\n"
        + (f"        ({', '.join(free)},)\n" if free else "")
        + f"        __import__('rlft_core.grading', fromlist=['_record_call'])._record_call({name!r})\n"
        "    return _stand_in\n")
    namespace: dict = {}
    exec(compile(body, "<rlft_core.grading>", "exec"), namespace)
    return namespace["_outer"]().__code__


@contextlib.contextmanager
def references_disarmed(checker_name: str):
    """Within the block, the reference functions of ``checker_name`` raise (and are recorded)."""
    if checker_name not in REFERENCES:
        raise ValueError(f"checker_name must be one of {sorted(REFERENCES)}, got {checker_name!r}")
    originals = {}
    for spec in REFERENCES[checker_name]:
        fn = _resolve(spec)
        if fn not in originals:
            originals[fn] = fn.__code__
            fn.__code__ = _stand_in_code(spec.split(":")[1], len(fn.__code__.co_freevars))
    try:
        yield
    finally:
        for fn, code in originals.items():
            fn.__code__ = code


def graded(checker, student_fn, quiet: bool = True) -> bool:
    """True iff ``checker(student_fn)`` passes *and* the student's function never called one of the
    package's reference implementations of the same exercise (even inside a ``try``).

    ``quiet``: show the checker's report only when the exercise fails.
    """
    name = getattr(checker, "__name__", "")
    if name not in REFERENCES:
        raise ValueError(f"checker must be one of the exercise checkers {sorted(REFERENCES)}, got {name!r}")
    if not callable(student_fn):
        print(f"❌ {name}: expected a function, got {type(student_fn).__name__}.")
        return False
    if _defined_in_package(student_fn):
        print(f"❌ {name}: that function is the package's own code (e.g. `my_fn = reference`); "
              "the exercise asks you to write it yourself.")
        return False
    _calls.clear()

    @functools.wraps(student_fn)
    def guarded(*args, **kwargs):
        with references_disarmed(name):
            return student_fn(*args, **kwargs)

    report = io.StringIO()
    with contextlib.redirect_stdout(report) if quiet else contextlib.nullcontext():
        passed = checker(guarded)
    called = sorted(set(_calls))
    _calls.clear()
    if called:
        print(f"❌ {name}: your function calls the package's reference implementation ({', '.join(called)}); "
              "the exercise asks you to write it yourself.")
        return False
    if not passed and quiet:
        print(report.getvalue(), end="")
    return bool(passed)
