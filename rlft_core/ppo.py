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

from ._validate import (check_bool, check_callable, check_instance, check_int, check_positive, check_range,
                        check_sizes)
from .policies import ActorCritic, action_spec_from_space, load_agent, save_agent
from .ppo_losses import (approx_kl, clip_fraction, clipped_surrogate_loss, entropy_bonus, normalize_advantages,
                         value_loss)
from .returns import gae
from .rollout import RolloutCollector, evaluate, make_vector_env
from .utils import seed_everything

# Re-exported so that a notebook needs one import: the trainer, its update, and what they use.
__all__ = ["PPOConfig", "train_ppo", "ppo_update", "explained_variance", "evaluate", "save_agent", "load_agent",
           "ActorCritic", "clipped_surrogate_loss", "value_loss", "approx_kl", "clip_fraction", "normalize_advantages"]


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
            check_int(name, getattr(self, name))
        check_int("torch_threads", self.torch_threads, allow_none=True)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_positive(learning_rate=self.learning_rate, clip_eps=self.clip_eps, max_grad_norm=self.max_grad_norm)
        check_range("vf_coef", self.vf_coef, 0.0, math.inf, high_open=True)
        check_range("ent_coef", self.ent_coef, 0.0, math.inf, high_open=True)
        check_range("log_std_init", self.log_std_init, -20.0, 5.0)
        if self.target_kl is not None:
            check_positive(target_kl=self.target_kl)
        if self.stop_at_return is not None:
            check_range("stop_at_return", self.stop_at_return, -math.inf, math.inf, True, True)
        check_bool(anneal_lr=self.anneal_lr, clip_vloss=self.clip_vloss, norm_adv=self.norm_adv,
                   normalize_obs=self.normalize_obs, normalize_reward=self.normalize_reward)
        self.hidden_sizes = check_sizes("hidden_sizes", self.hidden_sizes)
        if self.num_envs * self.num_steps < 4 * self.num_minibatches:
            raise ValueError(f"num_minibatches={self.num_minibatches} is too many for a rollout of "
                             f"num_envs*num_steps={self.num_envs * self.num_steps} steps (need >= 4 per minibatch)")
        if self.total_timesteps < self.num_envs * self.num_steps:
            raise ValueError(f"total_timesteps={self.total_timesteps} is less than one rollout "
                             f"(num_envs*num_steps={self.num_envs * self.num_steps})")


def ppo_update(agent: ActorCritic, optimizer: torch.optim.Optimizer, batch: dict, config: PPOConfig,
               generator: torch.Generator, loss_fn=None) -> dict:
    r"""One PPO update on one rollout: ``num_epochs`` passes over ``num_minibatches`` shuffled
    minibatches, each an Adam step on

    .. math:: \text{loss} = -L^{CLIP} + c_1 L^V - c_2 H

    (Schulman et al. 2017, eq. 9), advantages standardised per minibatch, the global gradient norm
    clipped, optionally the value loss clipped and the epochs stopped early on a KL budget.

    ``batch``: ``RolloutCollector.batch(...)`` (``obs``, ``actions``, ``logp_old``, ``values_old``,
    ``advantages``, ``returns``; ``(B, ...)``). ``loss_fn(batch, logp_new, entropy, values,
    config) -> loss``, when given, replaces the loss above (the repair exercise of notebook 07);
    it gets the minibatch's raw advantages. Returns the means over minibatches of ``loss``,
    ``policy_loss``, ``value_loss`` (the terms above, logged even when ``loss_fn`` trains),
    ``entropy``, ``approx_kl``, ``clip_fraction``, and ``epochs`` (fewer when ``target_kl`` stopped them).
    """
    _check_update_args(optimizer, batch, config, loss_fn)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    stats = {k: [] for k in ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")}
    for epoch in range(1, config.num_epochs + 1):
        for mb in torch.randperm(len(batch["advantages"]), generator=generator).chunk(config.num_minibatches):
            logp_new, entropy, values = agent.evaluate_actions(batch["obs"][mb], batch["actions"][mb])
            logp_old, adv = batch["logp_old"][mb], batch["advantages"][mb]
            if config.norm_adv and len(mb) > 1:
                adv = normalize_advantages(adv)                                  # per minibatch (detail 7)
            pg_loss = clipped_surrogate_loss(logp_new, logp_old, adv, config.clip_eps)
            if config.clip_vloss:                                                # detail 9
                v_loss = value_loss(values, batch["returns"][mb], batch["values_old"][mb], config.clip_eps)
            else:
                v_loss = value_loss(values, batch["returns"][mb])
            if loss_fn is None:
                # Minimise -L^CLIP + c1 L^V - c2 H (one optimiser for actor and critic, detail 10);
                # no entropy graph when c2 = 0.
                loss = pg_loss + config.vf_coef * v_loss
                if config.ent_coef > 0:
                    loss = loss - config.ent_coef * entropy_bonus(entropy)
            else:
                minibatch = {"logp_old": logp_old, "advantages": batch["advantages"][mb],
                             "returns": batch["returns"][mb]}
                loss = loss_fn(minibatch, logp_new, entropy, values, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, config.max_grad_norm, foreach=True)     # detail 11
            optimizer.step()
            with torch.no_grad():                                                # debug variables (detail 12)
                for name, value in (("loss", loss), ("policy_loss", pg_loss), ("value_loss", v_loss),
                                    ("entropy", entropy.mean()), ("approx_kl", approx_kl(logp_new, logp_old)),
                                    ("clip_fraction", clip_fraction(logp_new, logp_old, config.clip_eps))):
                    stats[name].append(value.detach())
        # Early stopping of the epochs on a KL budget, checked after each epoch on its last
        # minibatch (as CleanRL's --target-kl; off by default).
        if config.target_kl is not None and stats["approx_kl"][-1].item() > config.target_kl:
            break
    return {**{k: torch.stack(v).double().mean().item() for k, v in stats.items()}, "epochs": epoch}


def _check_update_args(optimizer, batch, config, loss_fn):
    check_instance("optimizer", optimizer, torch.optim.Optimizer)
    check_instance("config", config, PPOConfig)
    check_callable("loss_fn", loss_fn, allow_none=True, signature="(batch, logp_new, entropy, values, config)")
    missing = {"obs", "actions", "logp_old", "values_old", "advantages", "returns"} - set(batch)
    if missing:
        raise ValueError(f"batch is missing {sorted(missing)}; expected RolloutCollector.batch(...)'s dict")
    if len(batch["advantages"]) < config.num_minibatches:
        raise ValueError(f"batch holds {len(batch['advantages'])} steps, fewer than "
                         f"num_minibatches={config.num_minibatches}")


def train_ppo(env, config: PPOConfig | None = None, callback=None, seed: int = 0, agent: ActorCritic | None = None,
              loss_fn=None, advantage_fn=None):
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
        agent: continue training this agent (its networks and observation statistics) instead of a
            new one; a fresh Adam optimiser is made either way. Preference-based RL uses it between
            labelling rounds (``rlft_core.pbrl``).
        loss_fn: ``loss_fn(batch, logp_new, entropy, values, config) -> loss`` replaces PPO's loss
            (see :func:`ppo_update`); notebook 07's repair exercise trains with the student's loss.
        advantage_fn: replaces :func:`rlft_core.returns.gae` (same signature, ``(T, N)`` arrays);
            notebook 04 trains with the student's GAE.

    ``history`` holds one dict per update: ``update``, ``global_step`` (env steps so far, counting
    reset steps), ``episode_returns`` (returns of the episodes finished in this update),
    ``mean_return`` (mean of the last 20 finished episodes, NaN before the first), ``loss``,
    ``policy_loss``, ``value_loss``, ``entropy``, ``approx_kl``, ``clip_fraction`` (means over the
    minibatches), ``epochs`` (fewer when ``target_kl`` stopped them), ``explained_variance``, ``sps``
    (env steps per second so far), ``learning_rate``, ``elapsed`` (seconds).

    While training, ``torch.set_num_threads(config.torch_threads)`` is in force (1 is fastest for
    these small networks and makes runs reproducible); the previous setting is restored at the end.
    """
    config = PPOConfig() if config is None else config
    _check_train_args(config, callback, agent, loss_fn, advantage_fn)
    seed_everything(seed)                                    # global RNGs: network initialisation
    generator = torch.Generator().manual_seed(seed)          # action sampling, minibatch order
    threads_before = torch.get_num_threads()
    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)
    envs = make_vector_env(env, config.num_envs)             # CartPole: gymnasium's vectorised one
    try:
        if agent is None:
            agent = ActorCritic(envs.single_observation_space.shape[0],
                                action_spec_from_space(envs.single_action_space), config.hidden_sizes,
                                config.normalize_obs, config.log_std_init)   # orthogonal init (detail 2)
        _check_agent_fits(agent, envs, config)
        agent.train()
        # Adam with eps 1e-5 instead of PyTorch's 1e-8 (detail 3); the fused kernel is the fastest here.
        optimizer = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5, fused=True)
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

            # 2. GAE advantages and λ-returns, bootstrapping truncated episodes from V(s_final);
            #    reset steps are dropped (they are not MDP transitions).
            batch = collector.batch(config.gamma, config.gae_lambda, advantage_fn or gae)

            # 3. Optimise the PPO objective for num_epochs passes over shuffled minibatches.
            stats = ppo_update(agent, optimizer, batch, config, generator, loss_fn)

            # 4. Diagnostics: explained variance of the value predictions (1 = perfect, <= 0 = useless).
            elapsed = time.perf_counter() - start
            record = {"update": update, "global_step": global_step, "episode_returns": finished,
                      "mean_return": float(np.mean(recent_returns)) if recent_returns else float("nan"),
                      **stats, "explained_variance": explained_variance(batch["values_old"], batch["returns"]),
                      "sps": global_step / elapsed, "learning_rate": lr, "elapsed": elapsed}
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


def explained_variance(values, returns) -> float:
    r""":math:`1 - \mathrm{Var}[R - V] / \mathrm{Var}[R]`: 1 for perfect value predictions, ≤ 0 for
    predictions no better than a constant; NaN when the returns do not vary."""
    var_returns = returns.var().item() if len(returns) > 1 else float("nan")
    return float("nan") if not var_returns > 0 else 1.0 - (returns - values).var().item() / var_returns


def _check_train_args(config, callback, agent, loss_fn, advantage_fn):
    check_instance("config", config, PPOConfig)
    check_callable("callback", callback, allow_none=True, signature="(record)")
    check_instance("agent", agent, ActorCritic, allow_none=True)
    check_callable("loss_fn", loss_fn, allow_none=True, signature="(batch, logp_new, entropy, values, config)")
    check_callable("advantage_fn", advantage_fn, allow_none=True,
                   signature="(rewards, values, dones, last_value, gamma, lam)")


def _check_agent_fits(agent, envs, config):
    spec = action_spec_from_space(envs.single_action_space)
    if agent.obs_dim != envs.single_observation_space.shape[0] or agent.action_spec != spec:
        raise ValueError(f"agent does not fit env: it takes {agent.obs_dim} observations and actions "
                         f"{agent.action_spec}, the env has {envs.single_observation_space.shape[0]} and {spec}")
    if agent.normalize_obs != config.normalize_obs:
        raise ValueError(f"agent.normalize_obs={agent.normalize_obs} but config.normalize_obs="
                         f"{config.normalize_obs}: they must agree when training an existing agent")

