r"""REINFORCE, the Monte-Carlo policy gradient, with an optional learned baseline.

The policy-gradient theorem gives an unbiased estimate of the gradient of the undiscounted return,
:math:`J(\theta) = \mathbb E[\sum_t r_t]`, from whole episodes (:math:`\gamma = 1`):

.. math::
    \hat g = \sum_t \nabla_\theta \log \pi_\theta(a_t \mid s_t)\,\bigl(G_t - b(s_t)\bigr),
    \qquad G_t = \sum_{k \ge t} \gamma^{k-t} r_k

With :math:`\gamma < 1` in :math:`G_t`, as here by default, the gradient of the discounted objective
:math:`\mathbb E[\sum_t \gamma^t r_t]` would carry an extra :math:`\gamma^t` per term. Practice drops
it, so :math:`\hat g` is then a biased estimate, in general not the gradient of any objective: Thomas
2014, "Bias in natural actor-critic algorithms", ICML; Nota & Thomas 2020, "Is the policy gradient a
gradient?", AAMAS. It is the standard estimator all the same (lower variance; it learns well).

Any baseline :math:`b(s_t)` that does not depend on :math:`a_t` leaves the expectation unchanged
(:math:`\mathbb E_a[\nabla \log \pi(a|s)] = 0`) but can shrink the variance a lot; a learned state
value :math:`V_\phi(s) \approx \mathbb E[G_t \mid s_t = s]` is the usual choice.
Williams 1992, "Simple statistical gradient-following algorithms for connectionist reinforcement
learning", Machine Learning 8; the baseline as in Sutton & Barto, 2nd ed., §13.4.

Truncation: the returns here are Monte-Carlo returns of the episode as played. CartPole-v1 cuts
episodes at 500 steps; the last ~1/(1-γ) returns of such an episode are then smaller than the
true values. That is the usual REINFORCE convention and does not stop it from learning.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import (check_callable, check_finite, check_int, check_positive, check_range,
                        check_same_shape, check_tensor, open_env)
from .returns import discounted_returns
from .utils import seed_everything


def reinforce_loss(logp, returns, baseline=None) -> torch.Tensor:
    r"""The REINFORCE loss: minimising it ascends the policy-gradient estimate.

    .. math:: L(\theta) = -\frac{1}{T}\sum_t \log \pi_\theta(a_t \mid s_t)\,\bigl(G_t - b_t\bigr)

    ``returns`` and ``baseline`` are *detached*: the advantage :math:`G_t - b_t` is a fixed weight.
    The baseline must not receive the policy gradient — it is fitted separately (e.g. by MSE to
    :math:`G_t`); letting this loss push :math:`b_t` would move it to make the weighted log-probs
    larger, which has nothing to do with predicting returns. Williams 1992; Sutton & Barto §13.4.

    Args:
        logp: ``(T,)`` log-probabilities of the actions taken (carries the gradient).
        returns: ``(T,)`` discounted returns-to-go :math:`G_t`.
        baseline: optional ``(T,)`` baseline values :math:`b_t`; ``None`` means :math:`b = 0`.
    """
    check_tensor("logp", logp, ndim=1)
    check_tensor("returns", returns, ndim=1)
    if baseline is not None:
        check_tensor("baseline", baseline, ndim=1)
    check_same_shape(logp=logp, returns=returns, baseline=baseline)
    if logp.shape[0] == 0:
        raise ValueError("logp must hold at least one step, got shape (0,)")
    check_finite(logp=logp.detach(), returns=returns.detach(),
                 baseline=None if baseline is None else baseline.detach())
    adv = returns.detach() if baseline is None else (returns - baseline).detach()  # (T,)
    return -(logp * adv).mean()


@dataclass
class REINFORCEConfig:
    env_id: str = "CartPole-v1"
    total_steps: int = 50_000        # environment steps
    episodes_per_update: int = 8     # episodes per gradient estimate (Williams uses 1)
    gamma: float = 0.99
    hidden: int = 64
    policy_lr: float = 1e-2          # Adam
    value_lr: float = 1e-2           # Adam, for the baseline network
    value_steps: int = 5             # baseline regression steps per update
    max_grad_norm: float = 10.0      # gradient clipping of the policy, a safety net


class ReinforcePolicy(nn.Module):
    """A categorical policy MLP ``obs -> logits`` and, optionally, a value MLP ``obs -> V(s)``."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64, baseline: bool = True):
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(),
                                   nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, n_actions))
        self.critic = (nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(),
                                     nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
                       if baseline else None)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)                                   # (T, n_actions) logits

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        if self.critic is None:
            raise ValueError("this policy was built with baseline=False: it has no value network")
        return self.critic(obs).squeeze(-1)                      # (T,)


def _discrete_env(env):
    """``(environment, owned)`` from ``env`` (see ``open_env``); REINFORCE here needs Discrete actions."""
    env, owned = open_env(env)
    if not isinstance(env.action_space, gym.spaces.Discrete) or len(env.observation_space.shape) != 1:
        raise ValueError(f"env must have a Discrete action space and flat observations, got "
                         f"{env.observation_space} and {env.action_space}")
    return env, owned


@torch.no_grad()
def _play_episode(policy, env, generator, seed=None):
    """One episode with actions sampled from ``policy``; returns (obs (T, d), actions (T,), rewards (T,))."""
    obs, _ = env.reset(seed=seed)
    obs_list, actions, rewards = [], [], []
    while True:
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        probs = torch.softmax(policy(obs_t.unsqueeze(0)), dim=-1)           # (1, A)
        action = int(torch.multinomial(probs, 1, generator=generator))      # no Categorical: faster
        obs_list.append(obs_t)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        if terminated or truncated:
            break
    return torch.stack(obs_list), torch.tensor(actions), torch.tensor(rewards)


def _returns_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    dones = torch.zeros_like(rewards)
    dones[-1] = 1.0                                          # one episode: G is 0 after its end
    return discounted_returns(rewards, dones, gamma)


def _episode_gradients(policy, episodes, gamma, baseline_fn=None) -> torch.Tensor:
    r"""Per-episode estimates :math:`\hat g_i = \nabla_\theta \sum_t \log\pi(a_t|s_t)(G_t - b(s_t))`.

    Returns one flattened gradient per episode, as the rows of an ``(episodes, n_params)`` tensor.
    """
    params = [p for p in policy.parameters() if p.requires_grad]
    rows = []
    for obs, actions, rewards in episodes:
        returns = _returns_to_go(rewards, gamma)
        adv = returns if baseline_fn is None else returns - baseline_fn(obs).detach().reshape(-1)
        logp = F.log_softmax(policy(obs), dim=-1).gather(1, actions[:, None]).squeeze(1)  # (T,)
        grads = torch.autograd.grad((logp * adv).sum(), params, allow_unused=True)
        rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                               for g, p in zip(grads, params)]))
    return torch.stack(rows)                                 # (episodes, n_params)


def _total_variance(grads: torch.Tensor) -> float:
    """Trace of the sample covariance of the rows: sum over parameters of their variance."""
    return float(grads.var(dim=0, unbiased=True).sum()) if grads.shape[0] > 1 else float("nan")


def policy_gradient_variance(policy, env="CartPole-v1", baseline_fn=None, episodes=100, gamma=0.99,
                             seed=0) -> dict:
    r"""Measure the variance of the single-episode REINFORCE gradient estimate of a fixed policy.

    Plays ``episodes`` episodes with ``policy`` and computes for each one
    :math:`\hat g_i = \nabla_\theta \sum_t \log\pi_\theta(a_t|s_t)\,(G_t - b(s_t))`. Returns
    ``{"grad_mean": mean of the ĝ_i (flat tensor), "grad_variance": tr Cov(ĝ) (sum over parameters
    of the sample variance), "mean_return": mean undiscounted episode return}``.
    The same ``seed`` plays the same episodes whatever ``baseline_fn`` is, so a comparison with and
    without a baseline is paired (a local generator: the global ones are left alone).
    Williams 1992; Sutton & Barto §13.4.

    Args:
        policy: an ``nn.Module`` mapping observations ``(T, obs_dim)`` to logits ``(T, n_actions)``.
        env: gymnasium id, factory or Env (Discrete actions).
        baseline_fn: ``None`` (b = 0) or a callable ``obs (T, obs_dim) -> (T,)``, e.g. ``policy.value``
            or ``lambda obs: torch.full((len(obs),), 20.0)``.
        episodes: number of episodes (≥ 2).
    """
    if not isinstance(policy, nn.Module):
        raise ValueError(f"policy must be a torch.nn.Module mapping observations to logits, got "
                         f"{type(policy).__name__}")
    if baseline_fn is not None and not callable(baseline_fn):
        raise ValueError(f"baseline_fn must be None or callable, got {type(baseline_fn).__name__}")
    check_int("episodes", episodes, low=2)
    check_range("gamma", gamma, 0.0, 1.0)
    check_int("seed", seed, low=0)
    env, _ = _discrete_env(env)
    generator = torch.Generator().manual_seed(seed)          # leaves the global generators alone
    played = [_play_episode(policy, env, generator, seed=seed if i == 0 else None)
              for i in range(episodes)]
    if isinstance(policy, ReinforcePolicy):
        policy = policy.actor                                # the gradient of the policy only
    grads = _episode_gradients(policy, played, gamma, baseline_fn)
    return {"grad_mean": grads.mean(dim=0), "grad_variance": _total_variance(grads),
            "mean_return": float(np.mean([float(r.sum()) for _, _, r in played]))}


def _check_config(config: REINFORCEConfig) -> None:
    if not isinstance(config, REINFORCEConfig):
        raise ValueError(f"config must be a REINFORCEConfig, got {type(config).__name__}")
    for name in ("total_steps", "episodes_per_update", "hidden", "value_steps"):
        value = getattr(config, name)
        check_int(f"config.{name}", value)
    check_range("config.gamma", config.gamma, 0.0, 1.0)
    check_positive(**{"config.policy_lr": config.policy_lr, "config.value_lr": config.value_lr,
                      "config.max_grad_norm": config.max_grad_norm})


def train_reinforce(env=None, config=None, baseline=True, callback=None, seed=0, loss_fn=None):
    r"""Train a categorical policy with REINFORCE, optionally with a learned value baseline.

    Each update plays ``config.episodes_per_update`` episodes, computes the returns-to-go
    :math:`G_t` (``rlft_core.returns.discounted_returns``), takes one Adam step on
    ``loss_fn(logp, returns, values)`` (default :func:`reinforce_loss`, whose equation is there) and,
    with a baseline, ``config.value_steps`` Adam steps on the value network's MSE
    :math:`\frac1T\sum_t (V_\phi(s_t) - G_t)^2`. Williams 1992; Sutton & Barto §13.4.

    Args:
        env: gymnasium id, factory or Env; default ``config.env_id`` (CartPole-v1).
        config: a :class:`REINFORCEConfig` (default ``REINFORCEConfig()``).
        baseline: learn and subtract a value baseline :math:`V_\phi(s_t)`.
        callback: called with each history record; returning True stops training.
        seed: seeds torch, numpy and the environment.
        loss_fn: replacement for :func:`reinforce_loss`, same signature (to plug in a student's).

    Returns:
        ``(policy, history)``: a :class:`ReinforcePolicy` (``policy.value`` is the baseline) and a
        list of records, one per update, with ``update``, ``global_step``, ``episode_returns`` (of
        this update's episodes), ``mean_return`` (last 20 finished episodes), ``loss`` (policy loss),
        ``value_loss``, ``grad_variance`` (tr Cov of the per-episode estimates ĝ_i of this batch, as
        in :func:`policy_gradient_variance`; nan with one episode per update) and ``sps``
        (environment steps per second so far).
    """
    config = REINFORCEConfig() if config is None else config
    _check_config(config)
    check_callable("loss_fn", loss_fn, allow_none=True)
    check_callable("callback", callback, allow_none=True)
    loss_fn = loss_fn or reinforce_loss
    generator = seed_everything(seed)
    env, owns_env = _discrete_env(config.env_id if env is None else env)
    policy = ReinforcePolicy(env.observation_space.shape[0], int(env.action_space.n), config.hidden,
                             baseline=baseline)
    policy_opt = torch.optim.Adam(policy.actor.parameters(), lr=config.policy_lr)
    value_opt = torch.optim.Adam(policy.critic.parameters(), lr=config.value_lr) if baseline else None

    history, finished_returns, global_step, start, update = [], [], 0, time.perf_counter(), 0
    while global_step < config.total_steps:
        batch = [_play_episode(policy, env, generator, seed=seed if global_step == 0 and i == 0 else None)
                 for i in range(config.episodes_per_update)]
        obs = torch.cat([o for o, _, _ in batch])                                  # (T, obs_dim)
        actions = torch.cat([a for _, a, _ in batch])                              # (T,)
        returns = torch.cat([_returns_to_go(r, config.gamma) for _, _, r in batch])  # (T,)
        global_step += len(actions)
        episode_returns = [float(r.sum()) for _, _, r in batch]
        finished_returns += episode_returns

        values = policy.value(obs) if baseline else None                           # (T,)
        grad_variance = _total_variance(_episode_gradients(
            policy.actor, batch, config.gamma, policy.value if baseline else None))
        logp = F.log_softmax(policy(obs), dim=-1).gather(1, actions[:, None]).squeeze(1)  # (T,)
        loss = loss_fn(logp, returns, values)
        policy_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(policy.actor.parameters(), config.max_grad_norm)
        policy_opt.step()

        value_loss = float("nan")
        if baseline:
            for _ in range(config.value_steps):
                value_loss_t = F.mse_loss(policy.value(obs), returns)
                value_opt.zero_grad()   # also drops anything a student's loss_fn leaked into it
                value_loss_t.backward()
                value_opt.step()
            value_loss = float(value_loss_t.detach())

        update += 1
        record = {"update": update, "global_step": global_step, "episode_returns": episode_returns,
                  "mean_return": float(np.mean(finished_returns[-20:])), "loss": float(loss.detach()),
                  "value_loss": value_loss, "grad_variance": grad_variance,
                  "sps": global_step / max(time.perf_counter() - start, 1e-9)}
        history.append(record)
        if callback is not None and callback(record) is True:
            break
    if owns_env:
        env.close()
    return policy, history
