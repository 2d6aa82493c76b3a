r"""The default trajectory of the GAE explorer: CartPole with one termination and one truncation.

The format every GAE widget accepts (a dict of 1-D arrays of length ``T``, time-major):

* ``rewards[t]``: reward of step ``t``;
* ``values[t]``: :math:`V(s_t)`, the critic's value of the state the step started from;
* ``terminated[t]``: 1 if step ``t`` reached a true terminal state (nothing to bootstrap);
* ``truncated[t]``: 1 if step ``t`` was cut by a time limit (the next state was *not* terminal);
* ``final_values[t]``: :math:`V(s^{\text{final}}_{t+1})`, the value of the state a truncated step
  reached (gymnasium returns it as the step's observation before the reset); 0 elsewhere;
* ``last_value`` (float, optional, default 0): :math:`V(s_T)` if the last step is neither
  terminated nor truncated.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, check_finite, check_same_shape

THETA_FAIL = 12 * 2 * np.pi / 360      # CartPole-v1 ends when |pole angle| > 12 degrees ...
X_FAIL = 2.4                           # ... or |cart position| > 2.4


def heuristic_value(obs, scale: float = 25.0) -> float:
    r"""A hand-made CartPole critic: :math:`V(s) = 25\,(1 - |\theta|/\theta_{fail})(1 - |x|/x_{fail})`.

    Not learned: it only says "the further the pole and the cart are from failing, the more reward
    is still to come", which is enough to give the TD errors and advantages a realistic shape.
    """
    x, _, theta, _ = (float(v) for v in obs)
    health = max(0.0, 1 - abs(theta) / THETA_FAIL) * max(0.0, 1 - abs(x) / X_FAIL)
    return scale * health


def _balance_action(obs) -> int:
    """Push the cart towards the side the pole is falling to."""
    _, _, theta, theta_dot = obs
    return int(theta + 0.5 * theta_dot > 0)


def cartpole_trajectory(seed: int = 0, random_steps_max: int = 60, time_limit: int = 40) -> dict:
    """Roll out two CartPole-v1 episodes: one that terminates, then one cut by a time limit.

    Episode 1 takes uniformly random actions (seeded), so the pole falls after a few dozen steps:
    a *termination*. Episode 2 balances the pole with :func:`_balance_action` under a
    ``TimeLimit`` of ``time_limit`` steps, so it ends by *truncation* with the pole still up.
    Values come from :func:`heuristic_value`. Returns the dict described in the module docstring,
    plus ``observations`` (T, 4) and ``actions`` (T,).
    """
    import gymnasium as gym

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if time_limit < 2 or random_steps_max < 2:
        raise ValueError("time_limit and random_steps_max must be at least 2 steps")
    rng = np.random.default_rng(seed)
    steps = []   # (obs, action, reward, terminated, truncated, final_value)
    env = gym.make("CartPole-v1", max_episode_steps=random_steps_max)
    obs, _ = env.reset(seed=seed)
    for _ in range(random_steps_max):
        action = int(rng.integers(2))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        steps.append((obs, action, reward, terminated, False, 0.0))
        obs = next_obs
        if terminated or truncated:
            break
    env.close()
    if not steps[-1][3]:
        raise RuntimeError("the random episode did not terminate; use another seed")
    env = gym.make("CartPole-v1", max_episode_steps=time_limit)
    obs, _ = env.reset(seed=seed + 1)
    for _ in range(time_limit):
        action = _balance_action(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        final_value = heuristic_value(next_obs) if truncated and not terminated else 0.0
        steps.append((obs, action, reward, terminated, truncated and not terminated, final_value))
        obs = next_obs
        if terminated or truncated:
            break
    env.close()
    observations, actions, rewards, terminated, truncated, final_values = map(np.array, zip(*steps))
    return {
        "observations": observations.astype(np.float64),
        "actions": actions.astype(np.int64),
        "rewards": rewards.astype(np.float64),
        "values": np.array([heuristic_value(o) for o in observations]),
        "terminated": terminated.astype(np.float64),
        "truncated": truncated.astype(np.float64),
        "final_values": final_values.astype(np.float64),
        "last_value": 0.0,
    }


def check_trajectory(trajectory) -> dict:
    """Validate a trajectory dict (format in the module docstring); return it as float arrays."""
    if not isinstance(trajectory, dict):
        raise ValueError(f"trajectory must be a dict of arrays, got {type(trajectory).__name__}")
    required = ("rewards", "values", "terminated", "truncated")
    missing = [k for k in required if k not in trajectory]
    if missing:
        raise ValueError(f"trajectory is missing {missing}; expected keys {list(required)} "
                         "(+ optional final_values, last_value)")
    out = {k: np.asarray(as_array(f"trajectory['{k}']", trajectory[k]), dtype=np.float64)
           for k in required}
    final = trajectory.get("final_values")
    out["final_values"] = (np.zeros_like(out["rewards"]) if final is None
                           else np.asarray(as_array("trajectory['final_values']", final), dtype=np.float64))
    if out["rewards"].ndim != 1 or len(out["rewards"]) < 2:
        raise ValueError(f"trajectory['rewards'] must be 1-D with at least 2 steps, "
                         f"got shape {out['rewards'].shape}")
    check_same_shape(**{f"trajectory['{k}']": v for k, v in out.items()})
    check_finite(**{f"trajectory['{k}']": v for k, v in out.items()})
    for k in ("terminated", "truncated"):
        if ((out[k] != 0) & (out[k] != 1)).any():
            raise ValueError(f"trajectory['{k}'] must hold only 0 and 1")
    if (out["terminated"] * out["truncated"]).any():
        raise ValueError("a step cannot be both terminated and truncated in trajectory")
    last_value = float(trajectory.get("last_value", 0.0))
    if not np.isfinite(last_value):
        raise ValueError("trajectory['last_value'] must be a finite number")
    out["last_value"] = last_value
    return out
