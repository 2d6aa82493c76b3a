r"""Tabular Q-learning and SARSA with ε-greedy exploration on gymnasium's toy-text environments.

A table ``Q`` of shape ``(n_states, n_actions)`` (numpy, float) holds the action values. Both
methods move :math:`Q(s,a)` a step :math:`\alpha` towards a one-step target; they differ only in
which next action the target uses:

* Q-learning (off-policy) uses the *best* next action, so it learns the values of the greedy
  policy while behaving ε-greedily;
* SARSA (on-policy) uses the next action the ε-greedy policy *actually takes*, so it learns the
  values of the exploring policy itself, mistakes included.

On CliffWalking (Sutton & Barto, Example 6.6) this is the whole story: Q-learning's greedy path runs
along the cliff edge (13 steps, return −13) although its ε-greedy behaviour keeps falling off;
SARSA, which pays for those falls in its values, learns a longer path away from the edge.

Termination vs truncation: ``done`` in the updates means *terminated* (a terminal state: nothing
to bootstrap from). An episode cut by a time limit (gymnasium's ``truncated``) did not reach a
terminal state, so its last update must still bootstrap from :math:`Q(s', \cdot)`; ``train_tabular``
does this.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from ._validate import check_callable, check_int, check_range, open_env

ALGORITHMS = ("q_learning", "sarsa")


# ----------------------------------------------------------------------------- input checks
def _check_q(Q) -> None:
    if not isinstance(Q, np.ndarray) or Q.ndim != 2 or not np.issubdtype(Q.dtype, np.floating):
        got = f"shape {Q.shape} dtype {Q.dtype}" if isinstance(Q, np.ndarray) else type(Q).__name__
        raise ValueError(f"Q must be a float numpy array of shape (n_states, n_actions), got {got}")


def _check_index(name: str, value, size: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < size:
        raise ValueError(f"{name} must be an integer in [0, {size}), got {value!r}")
    return int(value)


def _check_update_args(Q, s, a, r, s_next, done, alpha, gamma, a_next=None) -> None:
    _check_q(Q)
    n_states, n_actions = Q.shape
    _check_index("s", s, n_states)
    _check_index("a", a, n_actions)
    _check_index("s_next", s_next, n_states)
    if a_next is not None:
        _check_index("a_next", a_next, n_actions)
    check_range("r", r, -np.inf, np.inf, low_open=True, high_open=True)
    if not isinstance(done, (bool, np.bool_, int, np.integer)) or int(done) not in (0, 1):
        raise ValueError(f"done must be a bool (True = terminated), got {done!r}")
    check_range("alpha", alpha, 0.0, 1.0, low_open=True)
    check_range("gamma", gamma, 0.0, 1.0)


# ----------------------------------------------------------------------------- updates
def q_learning_update(Q, s, a, r, s_next, done, alpha, gamma) -> float:
    r"""One Q-learning step on ``Q`` (in place); returns the TD error δ.

    .. math::
        \delta = r + \gamma\,(1 - d)\,\max_{a'} Q(s', a') - Q(s, a), \qquad
        Q(s, a) \leftarrow Q(s, a) + \alpha\,\delta

    ``done`` (:math:`d`) means *terminated*: the target is just ``r``. For a time-limit truncation
    pass ``done=False`` so the target still bootstraps from :math:`Q(s', \cdot)`.

    Watkins & Dayan 1992, "Q-learning", Machine Learning 8; Sutton & Barto, 2nd ed., eq. 6.8.
    """
    _check_update_args(Q, s, a, r, s_next, done, alpha, gamma)
    bootstrap = 0.0 if done else float(np.max(Q[s_next]))
    td_error = float(r) + gamma * bootstrap - Q[s, a]
    Q[s, a] += alpha * td_error
    return float(td_error)


def sarsa_update(Q, s, a, r, s_next, a_next, done, alpha, gamma) -> float:
    r"""One SARSA step on ``Q`` (in place); returns the TD error δ.

    .. math::
        \delta = r + \gamma\,(1 - d)\,Q(s', a') - Q(s, a), \qquad
        Q(s, a) \leftarrow Q(s, a) + \alpha\,\delta

    where :math:`a'` is the action the behaviour (ε-greedy) policy takes in :math:`s'`. ``done``
    means *terminated* (``a_next`` is then ignored); on a time-limit truncation pass ``done=False``.

    Rummery & Niranjan 1994, "On-line Q-learning using connectionist systems" (CUED/F-INFENG/TR 166);
    Sutton & Barto, 2nd ed., §6.4 (eq. 6.7); the Q-learning contrast is §6.5.
    """
    _check_update_args(Q, s, a, r, s_next, done, alpha, gamma, a_next=a_next)
    bootstrap = 0.0 if done else float(Q[s_next, a_next])
    td_error = float(r) + gamma * bootstrap - Q[s, a]
    Q[s, a] += alpha * td_error
    return float(td_error)


def epsilon_greedy(Q, s, epsilon, rng) -> int:
    r"""Sample an action ε-greedily from ``Q[s]``, breaking ties among the maxima at random.

    .. math:: \pi(a|s) = \frac{\varepsilon}{|A|} + (1-\varepsilon)\,\frac{[a \in \arg\max_b Q(s,b)]}{|\arg\max_b Q(s,b)|}

    Random tie-breaking matters at the start, when the table is all zeros: ``np.argmax`` would always
    pick action 0. Sutton & Barto, 2nd ed., §2.2 and §5.4. ``rng`` is a ``numpy.random.Generator``.
    """
    _check_q(Q)
    s = _check_index("s", s, Q.shape[0])
    check_range("epsilon", epsilon, 0.0, 1.0)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if rng.random() < epsilon:
        return int(rng.integers(Q.shape[1]))
    best = np.flatnonzero(Q[s] == Q[s].max())
    return int(best[rng.integers(len(best))])


# ----------------------------------------------------------------------------- training
def _table_shape(env) -> tuple[int, int]:
    obs_space, act_space = env.observation_space, env.action_space
    if not isinstance(obs_space, gym.spaces.Discrete) or not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(f"env must have Discrete observation and action spaces, "
                         f"got {obs_space} and {act_space}")
    return int(obs_space.n), int(act_space.n)


def _check_train_args(algorithm, episodes, alpha, gamma, epsilon, seed, update_fn):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    check_int("episodes", episodes)
    check_range("alpha", alpha, 0.0, 1.0, low_open=True)
    check_range("gamma", gamma, 0.0, 1.0)
    check_range("epsilon", epsilon, 0.0, 1.0)
    check_int("seed", seed, low=0)
    check_callable("update_fn", update_fn, allow_none=True, signature="like q_learning_update or sarsa_update")


def _initial_table(env, Q):
    """``Q`` checked against the env's ``(n_states, n_actions)``, or a table of zeros when None."""
    shape = _table_shape(env)
    if Q is None:
        return np.zeros(shape)
    _check_q(Q)
    if Q.shape != shape:
        raise ValueError(f"Q must have shape (n_states, n_actions) = {shape} for this env, got {Q.shape}")
    return Q


def train_tabular(env, algorithm="q_learning", episodes=500, alpha=0.5, gamma=1.0, epsilon=0.1,
                  seed=0, callback=None, update_fn=None, Q=None):
    r"""Train a Q table with Q-learning or SARSA under an ε-greedy behaviour policy.

    Each episode: reset, then repeat — act ε-greedily, step, update :math:`Q(s,a)` with
    ``q_learning_update`` or ``sarsa_update`` (see their equations) — until terminated or truncated.
    Only *termination* cuts the bootstrap; a truncated last step still bootstraps.
    ε = 0.1 and γ = 1 are Sutton & Barto's Example 6.6 (CliffWalking). With a constant α = 0.5,
    SARSA's *greedy* policy read off the table at the end sometimes loops (about 1 seed in 7 on
    CliffWalking after 500 episodes); α = 0.1 gave the safe path for 20 of 20 seeds.

    Args:
        env: gymnasium id (``"CliffWalking-v1"``, ``"FrozenLake-v1"``, ``"Taxi-v4"``), a factory
            returning an env, or an env instance; Discrete observations and actions.
        algorithm: ``"q_learning"`` or ``"sarsa"``.
        episodes: number of episodes (> 0).
        alpha: step size in (0, 1]; gamma: discount in [0, 1]; epsilon: exploration in [0, 1].
        seed: seeds the env's first reset and the action sampler.
        callback: ``callback(record, Q)`` after each episode, ``record = {"episode", "return",
            "length"}``; returning True stops training.
        update_fn: a replacement for the reference update with the same signature (to plug in a
            student's function); it must update ``Q`` in place.
        Q: an initial table of shape ``(n_states, n_actions)`` (default zeros); updated in place.

    Returns:
        ``(Q, history)`` with ``history = {"return": [...], "length": [...]}``, one entry per episode.
    """
    _check_train_args(algorithm, episodes, alpha, gamma, epsilon, seed, update_fn)
    env, _ = open_env(env)
    Q = _initial_table(env, Q)
    sarsa = algorithm == "sarsa"
    update = update_fn or (sarsa_update if sarsa else q_learning_update)
    rng = np.random.default_rng(seed)
    history = {"return": [], "length": []}

    for episode in range(int(episodes)):
        s, _ = env.reset(seed=int(seed) if episode == 0 else None)
        a = epsilon_greedy(Q, s, epsilon, rng)
        episode_return, length, finished = 0.0, 0, False
        while not finished:
            s_next, r, terminated, truncated, _ = env.step(a)
            finished = terminated or truncated
            episode_return += float(r)
            length += 1
            if sarsa:  # a' is chosen before the update and then actually taken
                a_next = epsilon_greedy(Q, s_next, epsilon, rng)
                update(Q, s, a, float(r), s_next, a_next, bool(terminated), alpha, gamma)
            else:
                update(Q, s, a, float(r), s_next, bool(terminated), alpha, gamma)
                a_next = None if finished else epsilon_greedy(Q, s_next, epsilon, rng)
            s, a = s_next, a_next
        history["return"].append(episode_return)
        history["length"].append(length)
        record = {"episode": episode, "return": episode_return, "length": length}
        if callback is not None and callback(record, Q) is True:
            break
    return Q, history


# ----------------------------------------------------------------------------- evaluation
def _greedy_rollout(Q, env, max_steps, seed):
    _check_q(Q)
    check_int("max_steps", max_steps)
    env, _ = open_env(env)
    if Q.shape != _table_shape(env):
        raise ValueError(f"Q must have shape {_table_shape(env)} for this env, got {Q.shape}")
    s, _ = env.reset(seed=seed)
    states, episode_return = [int(s)], 0.0
    for _ in range(int(max_steps)):
        s, r, terminated, truncated, _ = env.step(int(np.argmax(Q[s])))
        states.append(int(s))
        episode_return += float(r)
        if terminated or truncated:
            break
    return states, episode_return


def greedy_path(Q, env, max_steps=100, seed=0) -> list[int]:
    r"""States visited by the greedy policy :math:`\pi(s) = \arg\max_a Q(s,a)`, start state included.

    ``len(path) - 1`` is the number of steps taken (at most ``max_steps``, in case the greedy
    policy loops). On CliffWalking the optimal path has 13 steps, so ``len(path) == 14``.
    """
    return _greedy_rollout(Q, env, max_steps, seed)[0]


def greedy_return(Q, env, max_steps=100, seed=0) -> float:
    r"""Undiscounted return :math:`\sum_t r_t` of one greedy episode (see ``greedy_path``)."""
    return _greedy_rollout(Q, env, max_steps, seed)[1]


def path_grid(path, shape=(4, 12)) -> np.ndarray:
    """Count the visits of each grid cell along ``path`` (flat state indices), for ``imshow``.

    ``shape`` is the grid's (rows, columns); CliffWalking's is (4, 12) with state = row·12 + col.
    """
    if (not isinstance(shape, tuple) or len(shape) != 2
            or not all(isinstance(n, (int, np.integer)) and n > 0 for n in shape)):
        raise ValueError(f"shape must be a tuple (rows, columns) of positive integers, got {shape!r}")
    grid = np.zeros(shape, dtype=int)
    for state in path:
        _check_index("path", state, shape[0] * shape[1])
        grid[np.unravel_index(int(state), shape)] += 1
    return grid
