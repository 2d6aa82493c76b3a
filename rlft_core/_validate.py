"""Input checks shared by the public functions.

Every public function of ``rlft_core`` checks its arguments at the door and raises ``ValueError``
with the argument's name and what was expected, so that a student's mistake is reported where it
is made and not as a broadcasting error three calls deeper.
"""
from __future__ import annotations

import math

import numpy as np
import torch

ArrayLike = "np.ndarray | torch.Tensor"


def is_tensor(x) -> bool:
    return isinstance(x, torch.Tensor)


def as_array(name: str, x, allow_scalar: bool = False):
    """Return ``x`` as a float numpy array or torch tensor (whichever it already is).

    Lists and tuples become numpy arrays. Raises ValueError for non-numeric input.
    """
    if isinstance(x, torch.Tensor):
        if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64, torch.bool, torch.uint8)):
            raise ValueError(f"{name} must hold numbers, got a tensor of dtype {x.dtype}")
        return x if x.is_floating_point() else x.float()
    if isinstance(x, (list, tuple, np.ndarray, float, int, np.floating, np.integer)):
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name} must hold numbers, got {type(x).__name__}: {e}") from None
        if arr.ndim == 0 and not allow_scalar:
            raise ValueError(f"{name} must be an array of shape (T,) or (T, N), got a scalar")
        return arr
    raise ValueError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def check_finite(**named) -> None:
    """Raise ValueError if any named array holds NaN or inf."""
    for name, x in named.items():
        if x is None:
            continue
        bad = (~torch.isfinite(x)).any().item() if is_tensor(x) else not np.all(np.isfinite(x))
        if bad:
            raise ValueError(f"{name} contains NaN or inf; expected finite numbers")


def check_same_shape(**named) -> None:
    """Raise ValueError unless all named arrays share one shape."""
    items = [(n, tuple(x.shape)) for n, x in named.items() if x is not None]
    first_name, first_shape = items[0]
    for name, shape in items[1:]:
        if shape != first_shape:
            listing = ", ".join(f"{n}{s}" for n, s in items)
            raise ValueError(
                f"{name} has shape {shape} but {first_name} has shape {first_shape}; "
                f"expected the same shape for all of: {listing}"
            )


def check_ndim(name: str, x, allowed=(1, 2)) -> None:
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {want} (time-major (T,) or (T, N)), got shape {tuple(x.shape)}")


def check_range(name: str, value, low: float, high: float, low_open=False, high_open=False) -> None:
    """Raise ValueError unless ``low <= value <= high`` (bounds open where asked)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    lo_ok = v > low if low_open else v >= low
    hi_ok = v < high if high_open else v <= high
    if math.isnan(v) or not (lo_ok and hi_ok):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lb}{low}, {high}{hb}, got {value}")


def check_positive(**named) -> None:
    """Raise ValueError unless each named number is finite and > 0."""
    for name, value in named.items():
        check_range(name, value, 0.0, math.inf, low_open=True, high_open=True)


def check_same_kind(**named) -> None:
    """Raise ValueError when numpy arrays and torch tensors are mixed."""
    kinds = {n: ("torch" if is_tensor(x) else "numpy") for n, x in named.items() if x is not None}
    if len(set(kinds.values())) > 1:
        listing = ", ".join(f"{n}={k}" for n, k in kinds.items())
        raise ValueError(f"do not mix numpy arrays and torch tensors: {listing}")


def check_tensor(name: str, x, ndim=None) -> torch.Tensor:
    """Raise ValueError unless ``x`` is a floating torch tensor (of ``ndim`` dims when given)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if ndim is not None and x.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(x.shape)}")
    return x


def check_int(name: str, value, low: int = 1, high: int | None = None, allow_none: bool = False) -> None:
    """Raise ValueError unless ``value`` is an integer (Python or numpy, not bool) in ``[low, high]``.

    ``check_int("num_envs", n)`` is the positive-int check; ``low=0`` allows zero (seeds);
    ``allow_none`` lets ``None`` through (optional settings).
    """
    if value is None and allow_none:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        kind = "an integer" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {kind}, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        want = {1: "a positive integer", 0: "a non-negative integer"}.get(low, f"an integer >= {low}") if high is None \
            else f"an integer in [{low}, {high}]"
        raise ValueError(f"{name} must be {want}, got {value!r}")


def check_bool(**named) -> None:
    """Raise ValueError unless each named value is a bool."""
    for name, value in named.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be a bool (True or False), got {value!r}")


def check_callable(name: str, value, allow_none: bool = False, signature: str = "") -> None:
    """Raise ValueError unless ``value`` is callable (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if not callable(value):
        what = f"callable{' ' + signature if signature else ''}" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {what}, got {type(value).__name__}")


def check_instance(name: str, value, cls, allow_none: bool = False) -> None:
    """Raise ValueError unless ``value`` is an instance of ``cls`` (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if not isinstance(value, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        raise ValueError(f"{name} must be a {names}, got {type(value).__name__}")


def env_factory(env):
    """A gymnasium id or a zero-argument factory -> a zero-argument factory of one environment.

    With :func:`open_env`, the one place where the course turns its ``env`` argument into
    environments; an unknown id is reported with gymnasium's own message."""
    import gymnasium as gym
    if isinstance(env, str):
        try:
            gym.spec(env)
        except gym.error.Error as e:
            raise ValueError(f"env must be a registered gymnasium id or a factory: {e}") from None
        return lambda: gym.make(env)
    if callable(env) and not isinstance(env, gym.Env):
        return env
    raise ValueError(f"env must be a gymnasium id (str) or a zero-argument factory, got {type(env).__name__}")


def open_env(env):
    """``(environment, owned)`` from a gymnasium id, a zero-argument factory, or an environment.

    ``owned`` is True when the environment was made here (the caller closes it) and False for an
    instance passed in (left open)."""
    import gymnasium as gym
    if isinstance(env, gym.Env):
        return env, False
    made = env_factory(env)()
    if not isinstance(made, gym.Env):
        raise ValueError(f"env factory must return a gymnasium.Env, got {type(made).__name__}")
    return made, True


def check_sizes(name: str, sizes) -> tuple:
    """``sizes`` as a non-empty tuple of positive ints (layer widths); ValueError otherwise."""
    try:
        sizes = tuple(int(h) for h in sizes)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of positive ints, got {sizes!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"{name} must be a non-empty sequence of positive ints, got {sizes!r}")
    return sizes
