r"""Discounted returns and Generalized Advantage Estimation (GAE).

Conventions used everywhere in the course (and in CleanRL / Stable-Baselines3):

* arrays are **time-major**: shape ``(T,)`` for one environment or ``(T, N)`` for ``N`` of them;
* ``dones[t] = 1`` means the transition taken at step ``t`` *ended* the episode, so nothing is
  bootstrapped from the state that follows it;
* ``last_value`` is :math:`V(s_T)`, the value of the state reached after the last step;
* numpy in gives numpy out, torch in gives torch out.

Termination vs truncation: GAE here treats every ``done`` as a true end (value 0 afterwards).
When an episode is cut by a *time limit* (gymnasium's ``truncated``), the state after it was not
terminal. The caller fixes this by adding :math:`\gamma V(s_{\text{final}})` to the reward of the
truncated step (``final_obs`` comes from gymnasium's autoreset) and passing ``done = 1``.
"""
from __future__ import annotations

import numpy as np
import torch

from ._validate import (as_array, check_finite, check_ndim, check_range, check_same_kind,
                        check_same_shape, is_tensor)


def _prepare(rewards, dones, values=None, last_value=0.0):
    """Validate the common arguments and return them as one kind of array."""
    check_same_kind(rewards=rewards, dones=dones, values=values)
    rewards = as_array("rewards", rewards)
    dones = as_array("dones", dones)
    values = None if values is None else as_array("values", values)
    check_ndim("rewards", rewards)
    check_same_shape(rewards=rewards, dones=dones, values=values)
    check_finite(rewards=rewards, dones=dones, values=values)
    if ((dones != 0) & (dones != 1)).any():
        raise ValueError("dones must hold only 0 and 1 (1 = the episode ended at this step)")
    tail_shape = tuple(rewards.shape[1:])
    if is_tensor(rewards):
        last = torch.as_tensor(last_value, dtype=rewards.dtype, device=rewards.device)
    else:
        if is_tensor(last_value):
            last_value = last_value.detach().cpu().numpy()
        last = np.asarray(last_value, dtype=rewards.dtype)
    if last.ndim != 0 and tuple(last.shape) != tail_shape:
        raise ValueError(f"last_value must be a scalar or have shape {tail_shape} (one value per "
                         f"environment), got shape {tuple(last.shape)}")
    check_finite(last_value=last)
    last = last + (rewards[0] * 0)  # broadcast to (N,) or ()
    return rewards, dones, values, last


def discounted_returns(rewards, dones, gamma, last_value=0.0):
    r"""Discounted return of every step, resetting at episode ends.

    .. math:: G_t = r_t + \gamma\,(1 - d_t)\,G_{t+1}, \qquad G_T = V(s_T) \text{ (``last_value``)}

    ``last_value`` bootstraps the return of an unfinished last episode (0 gives the plain
    Monte-Carlo return). Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., eq. 3.8.

    Args:
        rewards: ``(T,)`` or ``(T, N)`` rewards.
        dones: same shape, 1 where the step ended the episode.
        gamma: discount factor in [0, 1].
        last_value: scalar or ``(N,)``, value of the state after the last step.
    """
    check_range("gamma", gamma, 0.0, 1.0)
    rewards, dones, _, running = _prepare(rewards, dones, None, last_value)
    out = rewards * 0
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * (1 - dones[t]) * running
        out[t] = running
    return out


def gae(rewards, values, dones, last_value, gamma, lam):
    r"""Generalized Advantage Estimation.

    .. math::
        \delta_t = r_t + \gamma (1 - d_t) V(s_{t+1}) - V(s_t)

        \hat A_t = \delta_t + \gamma \lambda (1 - d_t) \hat A_{t+1}, \qquad \hat A_T = 0

    with :math:`V(s_{T}) =` ``last_value``. Returns ``(advantages, returns)`` where
    ``returns = advantages + values`` is the λ-return, the value function's regression target.
    λ = 0 gives the TD errors δ; λ = 1 gives discounted returns minus values.

    Time-limit truncation is the caller's job: add ``gamma * V(final_obs)`` to the reward of the
    truncated step and mark it done (see the module docstring).

    Schulman, Moritz, Levine, Jordan, Abbeel 2016, "High-Dimensional Continuous Control Using
    Generalized Advantage Estimation", eq. (16).

    Args:
        rewards, values, dones: ``(T,)`` or ``(T, N)``, time-major, all the same shape.
        last_value: scalar or ``(N,)``.
        gamma, lam: in [0, 1].
    """
    check_range("gamma", gamma, 0.0, 1.0)
    check_range("lam", lam, 0.0, 1.0)
    if values is None:
        raise ValueError("values is required: V(s_t) for every step, same shape as rewards")
    rewards, dones, values, next_value = _prepare(rewards, dones, values, last_value)
    advantages = rewards * 0
    running = rewards[0] * 0
    for t in reversed(range(rewards.shape[0])):
        not_done = 1 - dones[t]
        delta = rewards[t] + gamma * not_done * next_value - values[t]   # TD error δ_t
        running = delta + gamma * lam * not_done * running
        advantages[t] = running
        next_value = values[t]
    return advantages, advantages + values
