r"""Iterated preference-based RL: PPO on a reward learned from comparisons of trajectory clips.

Christiano, Leike, Brown, Martic, Legg, Amodei 2017, "Deep Reinforcement Learning from Human
Preferences", §2.2. Each round of :func:`train_pbrl`: (1) the current policy acts and its
trajectories are cut into clips (:func:`~rlft_core.clips.record_clips`); (2) a "human" compares
pairs of clips (:func:`~rlft_core.clips.label_clips`, a Bradley–Terry labeler judging a true
criterion); (3) the reward model is refit to every comparison so far
(:func:`~rlft_core.reward_model.train_reward_model`); (4) PPO improves the policy on the learned
reward (:class:`~rlft_core.clips.LearnedRewardWrapper`). The environment's reward is never seen.

One agent lives through all rounds: each round continues it with ``rlft_core.ppo.train_ppo(...,
agent=agent)``, the same trainer and update as everywhere else in the course.

For MountainCar-v0 the criterion is ``rlft_core.mountain_car.energy_gain``: how much higher the car
swings at the end of a clip than at its start.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch

from ._validate import (check_bool, check_callable, check_instance, check_int, check_positive, check_range,
                        env_factory)
from .clips import LearnedRewardWrapper, label_clips, record_clips, step_features
from .policies import ActorCritic, action_spec_from_space
from .ppo import PPOConfig, train_ppo
from .preferences import PairDataset
from .reward_model import StandardizedClipRewardModel, train_reward_model
from .rollout import success_rate
from .utils import seed_everything

__all__ = ["PbRLConfig", "train_pbrl"]


@dataclasses.dataclass
class PbRLConfig:
    """Hyperparameters of :func:`train_pbrl`; ``ppo`` holds PPO's (its ``total_timesteps`` and
    ``stop_at_return`` are unused: PPO runs ``ppo_updates_per_iteration`` updates per round)."""
    iterations: int = 3                  # rounds of {clips -> labels -> reward model -> PPO}
    pairs_per_iteration: int = 100       # labels asked per round (from 2 x this many fresh clips)
    clip_len: int = 25                   # steps per clip (Christiano et al.: 1-2 s of video)
    labeler_temperature: float = 0.01    # Bradley-Terry noise T of the simulated human (criterion units)
    labeler_flip_prob: float = 0.0       # chance the human clicks the wrong clip
    reward_hidden: int = 64              # width of the reward MLP
    reward_epochs: int = 30              # epochs over all pairs so far, per round (warm start)
    reward_lr: float = 3e-3
    ppo_updates_per_iteration: int = 8   # PPO rollouts + updates per round
    normalize_learned_reward: bool = True  # LearnedRewardWrapper: running zero mean, unit std
    ppo: PPOConfig = dataclasses.field(default_factory=lambda: PPOConfig(
        num_envs=8, num_steps=128, gamma=0.99, gae_lambda=0.95, num_epochs=4, num_minibatches=4,
        learning_rate=2.5e-3, anneal_lr=True, clip_eps=0.2, vf_coef=0.5, ent_coef=0.01, max_grad_norm=0.5,
        norm_adv=True, normalize_obs=True, normalize_reward=False, hidden_sizes=(64, 64)))
    eval_episodes: int = 20              # deterministic episodes of the true env after each round

    def __post_init__(self):
        for name in ("iterations", "pairs_per_iteration", "clip_len", "reward_hidden", "reward_epochs",
                     "ppo_updates_per_iteration", "eval_episodes"):
            check_int(name, getattr(self, name))
        check_range("labeler_temperature", self.labeler_temperature, 0.0, math.inf, high_open=True)
        check_range("labeler_flip_prob", self.labeler_flip_prob, 0.0, 0.5)
        check_positive(reward_lr=self.reward_lr)
        check_bool(normalize_learned_reward=self.normalize_learned_reward)
        check_instance("ppo", self.ppo, PPOConfig)


def train_pbrl(env, criterion, config: PbRLConfig | None = None, callback=None, seed: int = 0):
    r"""Learn a policy from preferences between clips judged by ``criterion(clip) -> float``.

    Each round: record :math:`2n` clips of ``clip_len`` steps with the current policy (uniformly
    random actions in round 1, whose clips also fix the reward model's feature scaler), label
    :math:`n` pairs, :math:`P(c_1 \succ c_2) = \sigma((\mathrm{crit}(c_1) - \mathrm{crit}(c_2))/T)`,
    refit :math:`\hat R(\text{clip}) = \sum_t \hat r(o_t, a_t)` to all pairs so far, then run
    ``ppo_updates_per_iteration`` PPO updates with :math:`\hat r` as the reward (termination and the
    time limit stay the environment's; truncations are bootstrapped). Christiano et al. 2017, §2.2.

    ``env``: a gymnasium id or a zero-argument factory (Discrete or 1-D Box actions).
    ``callback(record)`` after every round (returning True stops). Returns ``(agent, reward_model,
    history)``; one record per round: ``iteration``, ``labels`` (pairs labelled so far),
    ``env_steps`` (environment steps for learning so far: PPO rollouts plus clip recording),
    ``ppo_steps``, ``success_rate`` and ``eval_return`` (the true environment, ``eval_episodes``
    deterministic episodes), ``reward_accuracy`` (agreement of the reward model with the round's new
    labels *before* refitting on them: accuracy on unseen clips of the current policy), the PPO
    diagnostics of the round's last update, and ``elapsed`` seconds. Same seed, same history.
    """
    config = PbRLConfig() if config is None else config
    check_instance("config", config, PbRLConfig)
    check_callable("criterion", criterion, signature="(clip -> float)")
    check_callable("callback", callback, allow_none=True, signature="(record)")
    make_env, ppo = env_factory(env), config.ppo
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    threads_before = torch.get_num_threads()
    if ppo.torch_threads is not None:
        torch.set_num_threads(ppo.torch_threads)
    try:
        probe = make_env()
        agent = ActorCritic(probe.observation_space.shape[0], action_spec_from_space(probe.action_space),
                            ppo.hidden_sizes, ppo.normalize_obs, ppo.log_std_init)
        feature_dim = step_features(probe.observation_space.sample(), probe.action_space.sample(),
                                    probe.action_space).size
        probe.close()
        reward_model = StandardizedClipRewardModel(feature_dim, config.reward_hidden)
        round_steps = ppo.num_envs * ppo.num_steps * config.ppo_updates_per_iteration
        pairs, history, env_steps, ppo_steps = None, [], 0, 0
        start = time.perf_counter()
        for iteration in range(1, config.iterations + 1):
            # 1. Clips from the current policy, with sampled actions (the policy as it explores).
            policy = None if iteration == 1 else (lambda obs: agent.act(obs, False, generator))
            clips = record_clips(make_env, policy, 2 * config.pairs_per_iteration, config.clip_len,
                                 seed=seed + 1000 * iteration)
            env_steps += sum(len(c) for c in clips)
            if iteration == 1:
                reward_model.fit_scaler(np.concatenate([c.features for c in clips]))
            # 2. The simulated human compares pairs of fresh clips.
            new_pairs = label_clips(clips, criterion, config.pairs_per_iteration, seed=seed + iteration,
                                    temperature=config.labeler_temperature, flip_prob=config.labeler_flip_prob)
            with torch.no_grad():
                r_chosen = reward_model(new_pairs.chosen, new_pairs.chosen_mask)
                r_rejected = reward_model(new_pairs.rejected, new_pairs.rejected_mask)
            accuracy = float((r_chosen > r_rejected).float().mean())
            pairs = new_pairs if pairs is None else PairDataset.concat([pairs, new_pairs])
            # 3. Refit the reward model on every pair so far (warm start from the last round).
            train_reward_model(reward_model, pairs, epochs=config.reward_epochs, lr=config.reward_lr,
                               seed=seed + iteration)
            # 4. PPO on the learned reward, continuing the same agent (fresh wrappers restart their
            #    running reward normalisation). The learning rate follows one linear decay over all
            #    rounds, each round at the schedule's value at its midpoint.
            def learned_env():
                return LearnedRewardWrapper(make_env(), reward_model, config.normalize_learned_reward)
            lr_fraction = 1.0 - (iteration - 0.5) / config.iterations if ppo.anneal_lr else 1.0
            round_config = dataclasses.replace(ppo, total_timesteps=round_steps, stop_at_return=None,
                                               learning_rate=ppo.learning_rate * lr_fraction, anneal_lr=False)
            _, ppo_history = train_ppo(learned_env, round_config, seed=seed + 7919 * iteration, agent=agent)
            stats = {k: ppo_history[-1][k] for k in ("policy_loss", "value_loss", "entropy", "approx_kl",
                                                     "clip_fraction", "explained_variance")}
            ppo_steps += round_steps
            env_steps += round_steps
            rate, eval_return = success_rate(agent, make_env, config.eval_episodes, seed=10_000 + seed)
            record = {"iteration": iteration, "labels": len(pairs), "env_steps": env_steps,
                      "ppo_steps": ppo_steps, "success_rate": rate, "eval_return": eval_return,
                      "reward_accuracy": accuracy, **stats, "elapsed": time.perf_counter() - start}
            history.append(record)
            if callback is not None and callback(record) is True:
                break
    finally:
        torch.set_num_threads(threads_before)
    agent.eval()
    reward_model.eval()
    return agent, reward_model, history
