r"""MountainCar-v0's physics as a judge of trajectory clips: the criteria a simulated human applies.

Gymnasium's MountainCar-v0 (after Moore 1990, "Efficient Memory-based Learning for Robot Control"):
:math:`v_{t+1} = v_t + (a_t - 1)F - g\cos(3x_t)`, :math:`x_{t+1} = x_t + v_{t+1}`, with
:math:`F = 0.001`, :math:`g = 0.0025`; the track's height is proportional to :math:`\sin 3x`. The
engine is too weak to drive up to the flag at :math:`x = 0.5`: the car must rock back and forth,
gaining energy on every swing. A person watching two clips of the car can see which one "swings
higher": :func:`energy_gain` is that judgement, :func:`max_height` a cruder one.
"""
from __future__ import annotations

import numpy as np

__all__ = ["mountain_car_energy", "energy_gain", "max_height"]

MC_GRAVITY = 0.0025                       # g of gymnasium's MountainCar-v0


def mountain_car_energy(obs) -> np.ndarray:
    r"""Mechanical energy of MountainCar states ``(..., 2)`` = (position, velocity) in units of
    :math:`g/3`: :math:`E = \sin(3x) + \tfrac{3}{2g}v^2`. The track's height is :math:`\propto\sin 3x`
    and gravity pulls along it with :math:`-g\cos 3x`. Episodes start near :math:`E=-1`; the flag
    (:math:`x = 0.5`) needs :math:`E \ge \sin 1.5 \approx 1`."""
    obs = np.asarray(obs, dtype=np.float64)
    if obs.shape[-1:] != (2,):
        raise ValueError(f"obs must have shape (..., 2) = (position, velocity), got {obs.shape}")
    return np.sin(3.0 * obs[..., 0]) + 1.5 / MC_GRAVITY * obs[..., 1] ** 2


def energy_gain(clip) -> float:
    r"""Criterion of a MountainCar clip: :math:`E(s_k) - E(s_0) = \sum_t [E(s_{t+1}) - E(s_t)]`,
    the energy at its end minus at its start ("which car swings higher by the end?"). A sum of
    per-step terms, each a function of :math:`(s_t, a_t)`: a per-step reward model can match it."""
    return float(mountain_car_energy(clip.next_obs[-1]) - mountain_car_energy(clip.obs[0]))


def max_height(clip) -> float:
    r"""Criterion of a MountainCar clip: the highest point of the track it reached, :math:`\max_t \sin 3x_t`."""
    return float(np.max(np.sin(3.0 * np.asarray(clip.next_obs, dtype=np.float64)[:, 0])))
