r"""Proximal Policy Optimization: the reference trainer of the course.

Schulman, Wolski, Dhariwal, Radford, Klimov 2017, "Proximal Policy Optimization Algorithms";
advantages by GAE (Schulman et al. 2016, ``rlft_core.returns.gae``); the implementation details
follow Huang, Dossa, Raffin, Kanervisto, Wang 2022, "The 37 Implementation Details of Proximal
Policy Optimization" (ICLR blog track), cited below as "detail n". Each update maximises

.. math::
    L(\theta) = \mathbb E_t\big[\min(r_t\hat A_t, \mathrm{clip}(r_t, 1-\epsilon, 1+\epsilon)\hat A_t)
    - c_1 (V_\theta(s_t) - R_t)^2 / 2 + c_2 H(\pi_\theta(\cdot|s_t))\big]

by minibatch Adam over a few epochs of one rollout (the losses are in ``rlft_core.ppo_losses``).
``train_ppo`` reads top to bottom like CleanRL's ``ppo.py``; the rollout and its truncation /
autoreset handling live in ``rlft_core.rollout``, the networks in ``rlft_core.policies``.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections import deque

import numpy as np
import torch
import torch.nn as nn

from ._validate import check_positive, check_range
from .policies import ActorCritic, action_spec_from_space
from .ppo_losses import approx_kl, clip_fraction, clipped_surrogate_loss, normalize_advantages, value_loss
from .rollout import RolloutCollector, evaluate, make_vector_env
from .utils import seed_everything

__all__ = ["PPOConfig", "train_ppo", "evaluate", "save_agent", "load_agent", "ActorCritic",
           "clipped_surrogate_loss", "value_loss", "approx_kl", "clip_fraction", "normalize_advantages"]


@dataclasses.dataclass
class PPOConfig:
    """PPO hyperparameters. The defaults solve CartPole-v1 fast; ``PPOConfig.pendulum()`` is the
    preset for Pendulum-v1. Paper values (Schulman et al. 2017, MuJoCo / Atari) are in comments."""
    total_timesteps: int = 40_000     # env steps budget; the learning rate anneals to 0 over it
    num_envs: int = 8                 # parallel environments (paper: 1 MuJoCo, 8 Atari)
    num_steps: int = 64               # steps per env per rollout (paper: 2048 MuJoCo, 128 Atari)
    gamma: float = 0.99               # discount (paper: 0.99)
    gae_lambda: float = 0.95          # GAE λ (paper: 0.95)
    num_epochs: int = 10              # passes over each rollout (paper: 10 MuJoCo, 3 Atari)
    num_minibatches: int = 4          # minibatches per epoch (paper: 32 MuJoCo, 4 Atari)
    learning_rate: float = 5e-3       # Adam step size (paper: 3e-4 MuJoCo, 2.5e-4 Atari)
    anneal_lr: bool = True            # linear decay to 0 over total_timesteps (detail 4)
    clip_eps: float = 0.2             # ratio clip ε (paper: 0.2)
    clip_vloss: bool = False          # clip the value update around the old values (detail 9)
    vf_coef: float = 0.5              # c_1 (paper: 1 Atari; 0.5 in baselines)
    ent_coef: float = 0.0             # c_2 (paper: 0.01 Atari, 0 MuJoCo)
    max_grad_norm: float = 0.5        # global gradient-norm clip (detail 11)
    target_kl: float | None = None    # stop the epochs early when approx KL exceeds it (None = off)
    norm_adv: bool = True             # per-minibatch advantage normalisation (detail 7)
    normalize_obs: bool = False       # running observation normalisation (continuous detail 6)
    normalize_reward: bool = False    # reward scaling by the return's std (continuous detail 8)
    hidden_sizes: tuple = (64, 64)    # widths of the separate actor and critic MLPs (paper: 64, 64)
    log_std_init: float = 0.0         # Gaussian policies: initial log σ (continuous detail 2)
    stop_at_return: float | None = None  # stop when the last 20 finished episodes average >= this
    torch_threads: int | None = 1     # torch threads while training (restored after); None = leave

    @classmethod
    def pendulum(cls, **overrides) -> "PPOConfig":
        """Preset for Pendulum-v1 (and similar small Box tasks); keyword arguments override it.

        Rewards scaled by the running std of the discounted return, so the critic's targets are of
        order 1. Observations left as they are: Pendulum's (cos θ, sin θ, θ̇) are already of order 1,
        and a running normaliser moves the policy's inputs while the states drift from hanging to
        upright (on the six hardest seeds, γ = 0.95 with it: 1 miss, median 40k steps to -200;
        without: no miss, 22k). γ = 0.95 (0.97 learned slower; the rl-zoo's 0.9 with λ 0.95 missed more).
        Rollouts of 8 x 256 steps cut into 16 minibatches of 128, 10 epochs braked by a KL budget
        of 0.05: 8 x 128 steps with 20 epochs crossed -200 sooner, but its greedy policy sometimes
        degraded afterwards (-260 at 50k; -630 with lr 2e-3). Learning rate 3e-3 annealed over 50k steps.
        Seeds 0-19 (``bench/ppo_pendulum.py --ours-only 20``): all 20 bring the mean of the last
        20 training episodes to -200, in a median of 30.7k steps (24.6k-41.0k); the greedy final
        policy scores -144 to -234 over 20 episodes.
        """
        preset = dict(total_timesteps=50_000, num_envs=8, num_steps=256, gamma=0.95, gae_lambda=0.9,
                      num_epochs=10, num_minibatches=16, learning_rate=3e-3, target_kl=0.05,
                      normalize_obs=False, normalize_reward=True)
        preset.update(overrides)
        return cls(**preset)

    def __post_init__(self):
        for name in ("total_timesteps", "num_envs", "num_steps", "num_epochs", "num_minibatches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_positive(learning_rate=self.learning_rate, clip_eps=self.clip_eps,
                       max_grad_norm=self.max_grad_norm)
        check_range("vf_coef", self.vf_coef, 0.0, math.inf, high_open=True)
        check_range("ent_coef", self.ent_coef, 0.0, math.inf, high_open=True)
        check_range("log_std_init", self.log_std_init, -20.0, 5.0)
        if self.target_kl is not None:
            check_positive(target_kl=self.target_kl)
        if self.stop_at_return is not None:
            check_range("stop_at_return", self.stop_at_return, -math.inf, math.inf, True, True)
        if self.torch_threads is not None and (isinstance(self.torch_threads, bool)
                                               or not isinstance(self.torch_threads, int) or self.torch_threads < 1):
            raise ValueError(f"torch_threads must be a positive int or None, got {self.torch_threads!r}")
        for name in ("anneal_lr", "clip_vloss", "norm_adv", "normalize_obs", "normalize_reward"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        try:
            self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        except (TypeError, ValueError):
            raise ValueError(f"hidden_sizes must be a sequence of positive ints, got {self.hidden_sizes!r}") from None
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be a non-empty sequence of positive ints, got {self.hidden_sizes!r}")
        if self.num_envs * self.num_steps < 4 * self.num_minibatches:
            raise ValueError(f"num_minibatches={self.num_minibatches} is too many for a rollout of "
                             f"num_envs*num_steps={self.num_envs * self.num_steps} steps (need >= 4 per minibatch)")
        if self.total_timesteps < self.num_envs * self.num_steps:
            raise ValueError(f"total_timesteps={self.total_timesteps} is less than one rollout "
                             f"(num_envs*num_steps={self.num_envs * self.num_steps})")


def train_ppo(env, config: PPOConfig | None = None, callback=None, seed: int = 0):
    """Train an ``ActorCritic`` with PPO on ``num_envs`` copies of ``env``; return ``(agent, history)``.

    Args:
        env: a gymnasium id (``"CartPole-v1"``) or a zero-argument function returning one environment
            with a 1-D Box observation space and a Discrete or 1-D Box action space.
        config: a ``PPOConfig`` (default: ``PPOConfig()``, tuned for CartPole-v1).
        callback: called as ``callback(record)`` after every update with that update's history
            record; if it returns ``True`` training stops (live plots, custom stopping rules).
        seed: seeds Python's, numpy's and torch's global generators (``seed_everything``: the network
            initialisation), a private generator for action sampling and minibatch order, and the
            environments (env ``i`` is reset with ``seed + i``). Same seed, same machine: same history.

    ``history`` holds one dict per update: ``update``, ``global_step`` (env steps so far, counting
    reset steps), ``episode_returns`` (returns of the episodes finished in this update),
    ``mean_return`` (mean of the last 20 finished episodes, NaN before the first), ``policy_loss``,
    ``value_loss``, ``entropy``, ``approx_kl``, ``clip_fraction`` (means over the minibatches),
    ``explained_variance``, ``sps`` (env steps per second so far), ``learning_rate``, ``elapsed``
    (seconds), ``epochs`` (epochs run; fewer when ``target_kl`` stopped them).

    While training, ``torch.set_num_threads(config.torch_threads)`` is in force (1 is fastest for
    these small networks and makes runs reproducible); the previous setting is restored at the end.
    """
    config = PPOConfig() if config is None else config
    if not isinstance(config, PPOConfig):
        raise ValueError(f"config must be a PPOConfig, got {type(config).__name__}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {type(callback).__name__}")
    seed_everything(seed)                                    # global RNGs: network initialisation
    generator = torch.Generator().manual_seed(seed)          # action sampling, minibatch order
    threads_before = torch.get_num_threads()
    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)
    envs = make_vector_env(env, config.num_envs)             # CartPole: gymnasium's vectorised one
    try:
        agent = ActorCritic(envs.single_observation_space.shape[0],
                            action_spec_from_space(envs.single_action_space), config.hidden_sizes,
                            config.normalize_obs, config.log_std_init)   # orthogonal init (detail 2)
        # Adam with eps 1e-5 instead of PyTorch's 1e-8 (detail 3); the fused kernel is the fastest here.
        params = list(agent.parameters())
        optimizer = torch.optim.Adam(params, lr=config.learning_rate, eps=1e-5, fused=True)
        collector = RolloutCollector(envs, agent, config.num_steps, config.gamma,
                                     config.normalize_reward, seed)
        batch_size = config.num_envs * config.num_steps
        num_updates = config.total_timesteps // batch_size
        history, recent_returns, global_step = [], deque(maxlen=20), 0
        start = time.perf_counter()
        for update in range(1, num_updates + 1):
            # Learning-rate annealing: linear from learning_rate to 0 over the run (detail 4).
            frac = 1.0 - (update - 1) / num_updates if config.anneal_lr else 1.0
            lr = frac * config.learning_rate
            for group in optimizer.param_groups:
                group["lr"] = lr

            # 1. Rollout: T steps of N envs with the current policy (next-step autoreset, see rollout.py).
            finished = collector.collect(agent, generator)
            global_step += batch_size
            recent_returns.extend(finished)

            # 2. GAE advantages and λ-returns, bootstrapping truncated episodes from V(s_final).
            adv, returns = collector.advantages_and_returns(config.gamma, config.gae_lambda)
            valid = collector.valid.reshape(-1)              # drop reset steps (not MDP transitions)
            b_obs = torch.from_numpy(collector.obs.reshape(batch_size, -1)[valid])
            b_actions = torch.from_numpy(collector.actions.reshape(batch_size, *collector.actions.shape[2:])[valid])
            b_logp = torch.from_numpy(collector.logp.reshape(-1)[valid])
            b_values = torch.from_numpy(collector.values.reshape(-1)[valid])
            b_adv = torch.from_numpy(adv.reshape(-1)[valid].astype(np.float32))
            b_returns = torch.from_numpy(returns.reshape(-1)[valid].astype(np.float32))

            # 3. Optimise the PPO objective for num_epochs passes over shuffled minibatches.
            stats = {"policy_loss": [], "value_loss": [], "entropy": [], "approx_kl": [], "clip_fraction": []}
            for epoch in range(1, config.num_epochs + 1):
                for mb in torch.randperm(len(b_adv), generator=generator).chunk(config.num_minibatches):
                    logp_new, entropy, values = agent.evaluate_actions(b_obs[mb], b_actions[mb])
                    mb_adv = b_adv[mb]
                    if config.norm_adv and len(mb) > 1:
                        mb_adv = normalize_advantages(mb_adv)          # per minibatch (detail 7)
                    pg_loss = clipped_surrogate_loss(logp_new, b_logp[mb], mb_adv, config.clip_eps)
                    if config.clip_vloss:                              # detail 9
                        v_loss = value_loss(values, b_returns[mb], b_values[mb], config.clip_eps)
                    else:
                        v_loss = value_loss(values, b_returns[mb])
                    # Minimise -L^CLIP + c1 L^V - c2 H (one optimiser for actor and critic, detail 10).
                    loss = pg_loss + config.vf_coef * v_loss
                    if config.ent_coef > 0:                            # no entropy graph when c2 = 0
                        loss = loss - config.ent_coef * entropy.mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    nn.utils.clip_grad_norm_(params, config.max_grad_norm, foreach=True)  # detail 11
                    optimizer.step()
                    with torch.no_grad():                              # debug variables (detail 12)
                        stats["approx_kl"].append(approx_kl(logp_new, b_logp[mb]))     # k3 estimator
                        stats["clip_fraction"].append(clip_fraction(logp_new, b_logp[mb], config.clip_eps))
                    stats["policy_loss"].append(pg_loss.detach())
                    stats["value_loss"].append(v_loss.detach())
                    stats["entropy"].append(entropy.detach().mean())
                # Early stopping of the epochs on a KL budget, checked after each epoch on its last
                # minibatch (as CleanRL's --target-kl; off by default).
                if config.target_kl is not None and stats["approx_kl"][-1].item() > config.target_kl:
                    break

            # 4. Diagnostics: explained variance of the value predictions (1 = perfect, <= 0 = useless).
            var_returns = b_returns.var().item() if len(b_returns) > 1 else float("nan")
            explained_var = (float("nan") if not var_returns > 0
                             else 1.0 - (b_returns - b_values).var().item() / var_returns)
            elapsed = time.perf_counter() - start
            record = {"update": update, "global_step": global_step, "episode_returns": finished,
                      "mean_return": float(np.mean(recent_returns)) if recent_returns else float("nan"),
                      **{k: torch.stack(v).double().mean().item() for k, v in stats.items()},
                      "explained_variance": explained_var, "sps": global_step / elapsed,
                      "learning_rate": lr, "elapsed": elapsed, "epochs": epoch}
            history.append(record)
            if callback is not None and callback(record) is True:
                break                                                  # the callback asked to stop
            if config.stop_at_return is not None and len(recent_returns) > 0 \
                    and record["mean_return"] >= config.stop_at_return:
                break                                                  # solved
    finally:
        envs.close()
        torch.set_num_threads(threads_before)
    agent.eval()
    return agent, history


def save_agent(agent: ActorCritic, path) -> None:
    """Save an agent as a plain dict (constructor arguments + ``state_dict``) with ``torch.save``,
    loadable with ``torch.load(path, weights_only=True)`` (no pickled classes)."""
    if not isinstance(agent, ActorCritic):
        raise ValueError(f"agent must be an ActorCritic, got {type(agent).__name__}")
    torch.save({"format": "rlft_core.ActorCritic/1", "init_kwargs": agent.init_kwargs(),
                "state_dict": agent.state_dict()}, path)


def load_agent(path) -> ActorCritic:
    """Load an agent saved by ``save_agent`` (``torch.load(..., weights_only=True)``)."""
    checkpoint = torch.load(path, weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != "rlft_core.ActorCritic/1":
        raise ValueError(f"path {path!r} does not hold an agent saved by rlft_core.ppo.save_agent")
    agent = ActorCritic(**checkpoint["init_kwargs"])
    agent.load_state_dict(checkpoint["state_dict"])
    return agent.eval()
