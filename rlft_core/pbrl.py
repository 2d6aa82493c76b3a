r"""Iterated preference-based RL: PPO on a reward learned from comparisons of trajectory clips.

Christiano, Leike, Brown, Martic, Legg, Amodei 2017, "Deep Reinforcement Learning from Human
Preferences", §2.2. Each round of :func:`train_pbrl`: (1) the current policy acts and its
trajectories are cut into clips (:func:`~rlft_core.clips.record_clips`); (2) a "human" compares
pairs of clips (:func:`~rlft_core.clips.label_clips`, a Bradley–Terry labeler judging a true
criterion); (3) the reward model is refit to every comparison so far
(:func:`~rlft_core.reward_model.train_reward_model`); (4) PPO improves the policy on the learned
reward (:class:`~rlft_core.clips.LearnedRewardWrapper`). The environment's reward is never seen.

One agent and one optimiser live through all rounds (``rlft_core.ppo.train_ppo`` builds a new agent
on every call), so :func:`ppo_update` writes the update out with ``rlft_core.ppo_losses``.

For MountainCar-v0 the criterion is ``rlft_core.mountain_car.energy_gain``: how much higher the car
swings at the end of a clip than at its start.
"""
from __future__ import annotations

import dataclasses
import math
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn

from ._validate import check_positive, check_range
from .clips import LearnedRewardWrapper, label_clips, record_clips, step_features
from .policies import ActorCritic, action_spec_from_space
from .ppo import PPOConfig
from .ppo_losses import approx_kl, clip_fraction, clipped_surrogate_loss, normalize_advantages, value_loss
from .preferences import PairDataset
from .reward_model import ClipRewardModel, train_reward_model
from .rollout import RolloutCollector, make_vector_env
from .utils import seed_everything

__all__ = ["PbRLConfig", "train_pbrl", "ppo_update", "success_rate", "StandardizedClipRewardModel"]


class StandardizedClipRewardModel(ClipRewardModel):
    r"""A :class:`~rlft_core.reward_model.ClipRewardModel` on standardised step features,
    :math:`\hat r(x) = f_\phi((x - \mu)/\sigma)`, with :math:`\mu, \sigma` fixed by :meth:`fit_scaler`
    (on the first clips). MountainCar's velocity is ~0.01 and its position ~0.5: unscaled, the MLP
    barely sees the velocity, on which the energy gain depends (its accuracy stays near chance)."""

    def __init__(self, obs_dim: int, hidden: int = 64):
        super().__init__(obs_dim, hidden)
        self.register_buffer("feature_mean", torch.zeros(self.obs_dim))
        self.register_buffer("feature_std", torch.ones(self.obs_dim))

    def fit_scaler(self, features) -> None:
        """Set :math:`\\mu, \\sigma` to the mean and std of ``features`` ``(B, obs_dim)`` (σ ≥ 1e-6)."""
        features = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        if features.ndim != 2 or features.shape[1] != self.obs_dim or len(features) < 2:
            raise ValueError(f"features must have shape (B >= 2, {self.obs_dim}), got {tuple(features.shape)}")
        if not torch.isfinite(features).all():
            raise ValueError("features contains NaN or inf; expected finite numbers")
        self.feature_mean.copy_(features.mean(0))
        self.feature_std.copy_(features.std(0).clamp_min(1e-6))

    def forward(self, clips, mask=None):
        """``clips`` ``(N, k, obs_dim)``, ``mask`` ``(N, k)`` -> :math:`\\sum_t m_t \\hat r(x_t)`, ``(N,)``."""
        if not isinstance(clips, torch.Tensor) or clips.shape[-1:] != (self.obs_dim,):
            raise ValueError(f"clips must be a tensor (N, k, {self.obs_dim}), got {getattr(clips, 'shape', clips)}")
        return super().forward((clips - self.feature_mean) / self.feature_std, mask)

    @torch.no_grad()
    def step_reward(self, features):
        """Learned reward of single steps, ``(B, obs_dim)`` -> ``(B,)``."""
        features = torch.as_tensor(features, dtype=self.feature_mean.dtype)
        if features.ndim != 2 or features.shape[1] != self.obs_dim:
            raise ValueError(f"features must have shape (B, {self.obs_dim}), got {tuple(features.shape)}")
        return super().step_reward((features - self.feature_mean) / self.feature_std)


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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        check_range("labeler_temperature", self.labeler_temperature, 0.0, math.inf, high_open=True)
        check_range("labeler_flip_prob", self.labeler_flip_prob, 0.0, 0.5)
        check_positive(reward_lr=self.reward_lr)
        if not isinstance(self.normalize_learned_reward, bool):
            raise ValueError(f"normalize_learned_reward must be a bool, got {self.normalize_learned_reward!r}")
        if not isinstance(self.ppo, PPOConfig):
            raise ValueError(f"ppo must be a PPOConfig, got {type(self.ppo).__name__}")


def _factory(env):
    if isinstance(env, str):
        try:
            gym.spec(env)
        except gym.error.Error as e:
            raise ValueError(f"env must be a registered gymnasium id or a factory: {e}") from None
        return lambda: gym.make(env)
    if callable(env):
        return env
    raise ValueError(f"env must be a gymnasium id (str) or a zero-argument factory, got {type(env).__name__}")


def success_rate(agent: ActorCritic, env, episodes: int = 20, seed: int = 0, deterministic: bool = True):
    """``(fraction of episodes that terminated, mean true return)`` over ``episodes`` episodes reset
    with seeds ``seed, seed+1, ...``. In MountainCar-v0 terminating means reaching the flag
    (a time-limit truncation is a failure)."""
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    if not isinstance(agent, ActorCritic):
        raise ValueError(f"agent must be an ActorCritic, got {type(agent).__name__}")
    env = _factory(env)()
    generator = torch.Generator().manual_seed(seed)
    reached, returns = 0, []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            total, terminated, truncated = 0.0, False, False
            while not (terminated or truncated):
                obs, reward, terminated, truncated, _ = env.step(agent.act(obs, deterministic, generator))
                total += float(reward)
            reached += int(terminated)
            returns.append(total)
    finally:
        env.close()
    return reached / episodes, float(np.mean(returns))


def _pad_clips(data: PairDataset, length: int) -> PairDataset:
    """Pad chosen/rejected ``(N, k', D)`` to ``(N, length, D)`` (mask False) so rounds concatenate."""
    def pad(x, mask):
        extra = length - x.shape[1]
        return (torch.cat([x, x.new_zeros(x.shape[0], extra, x.shape[2])], 1),
                torch.cat([mask, mask.new_zeros(mask.shape[0], extra)], 1))
    chosen, chosen_mask = pad(data.chosen, data.chosen_mask)
    rejected, rejected_mask = pad(data.rejected, data.rejected_mask)
    return PairDataset(chosen, rejected, chosen_mask, rejected_mask, tie=data.tie)


def ppo_update(agent: ActorCritic, optimizer, collector: RolloutCollector, config: PPOConfig,
               generator: torch.Generator, loss_fn=None) -> dict:
    r"""One PPO update on the rollout in ``collector``: minimise
    :math:`-L^{CLIP} + c_1 L^V - c_2 H` over ``num_epochs`` passes of ``num_minibatches`` shuffled
    minibatches, advantages standardised per minibatch, gradient norm clipped, optional value clipping
    and KL early stopping (Schulman et al. 2017, eq. 9; the same steps as inside
    ``rlft_core.ppo.train_ppo``'s loop, as a function that keeps working on one agent).

    ``loss_fn(batch, logp_new, entropy, values, config) -> loss`` replaces the loss (``batch``: dict
    of ``logp_old``, ``advantages`` (raw GAE), ``returns``, each ``(B,)``); used by the repair
    exercise. Returns the means over minibatches of ``policy_loss``, ``value_loss``, ``entropy``,
    ``approx_kl``, ``clip_fraction``, and the rollout's ``explained_variance``.
    """
    if not isinstance(config, PPOConfig):
        raise ValueError(f"config must be a PPOConfig, got {type(config).__name__}")
    if loss_fn is not None and not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable or None, got {type(loss_fn).__name__}")
    adv, returns = collector.advantages_and_returns(config.gamma, config.gae_lambda)   # (T, N) each
    valid = collector.valid.reshape(-1)                    # drop reset steps: not MDP transitions

    def flat(array):                                       # (T, N, ...) -> (B, ...), valid steps only
        return torch.from_numpy(np.ascontiguousarray(array.reshape(valid.size, *array.shape[2:])[valid]))
    b_obs, b_actions, b_logp_old, b_values_old = (flat(a) for a in (collector.obs, collector.actions,
                                                                    collector.logp, collector.values))
    b_adv, b_returns = flat(adv.astype(np.float32)), flat(returns.astype(np.float32))
    stats = {"policy_loss": [], "value_loss": [], "entropy": [], "approx_kl": [], "clip_fraction": []}
    for epoch in range(config.num_epochs):
        for mb in torch.randperm(len(b_adv), generator=generator).chunk(config.num_minibatches):
            logp_new, entropy, values = agent.evaluate_actions(b_obs[mb], b_actions[mb])
            if loss_fn is not None:                        # the repair exercise plugs its loss in here
                batch = {"logp_old": b_logp_old[mb], "advantages": b_adv[mb], "returns": b_returns[mb]}
                loss = loss_fn(batch, logp_new, entropy, values, config)
            else:
                mb_adv = normalize_advantages(b_adv[mb]) if config.norm_adv and len(mb) > 1 else b_adv[mb]
                pg_loss = clipped_surrogate_loss(logp_new, b_logp_old[mb], mb_adv, config.clip_eps)
                v_loss = (value_loss(values, b_returns[mb], b_values_old[mb], config.clip_eps) if config.clip_vloss
                          else value_loss(values, b_returns[mb]))
                loss = pg_loss + config.vf_coef * v_loss - config.ent_coef * entropy.mean()   # -L^CLIP + c1 L^V - c2 H
                stats["policy_loss"].append(pg_loss.item())
                stats["value_loss"].append(v_loss.item())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                stats["approx_kl"].append(approx_kl(logp_new, b_logp_old[mb]).item())
                stats["clip_fraction"].append(clip_fraction(logp_new, b_logp_old[mb], config.clip_eps).item())
            stats["entropy"].append(entropy.mean().item())
        if config.target_kl is not None and stats["approx_kl"][-1] > config.target_kl:
            break                                          # the KL budget is spent: stop the epochs
    var_returns = b_returns.var().item()
    explained = 1.0 - (b_returns - b_values_old).var().item() / var_returns if var_returns > 0 else float("nan")
    means = {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}
    return {**means, "explained_variance": explained}


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
    if not isinstance(config, PbRLConfig):
        raise ValueError(f"config must be a PbRLConfig, got {type(config).__name__}")
    if not callable(criterion):
        raise ValueError(f"criterion must be callable (clip -> float), got {type(criterion).__name__}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {type(callback).__name__}")
    make_env, ppo = _factory(env), config.ppo
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
        optimizer = torch.optim.Adam(agent.parameters(), lr=ppo.learning_rate, eps=1e-5)
        total_updates = config.iterations * config.ppo_updates_per_iteration
        pairs, history, env_steps, ppo_steps, update = None, [], 0, 0, 0
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
            new_pairs = _pad_clips(label_clips(clips, criterion, config.pairs_per_iteration,
                                               seed=seed + iteration, temperature=config.labeler_temperature,
                                               flip_prob=config.labeler_flip_prob), config.clip_len)
            with torch.no_grad():
                r_chosen = reward_model(new_pairs.chosen, new_pairs.chosen_mask)
                r_rejected = reward_model(new_pairs.rejected, new_pairs.rejected_mask)
            accuracy = float((r_chosen > r_rejected).float().mean())
            pairs = new_pairs if pairs is None else PairDataset.concat([pairs, new_pairs])
            # 3. Refit the reward model on every pair so far (warm start from the last round).
            train_reward_model(reward_model, pairs, epochs=config.reward_epochs, lr=config.reward_lr,
                               seed=seed + iteration)
            # 4. PPO on the learned reward; fresh wrappers restart their running normalisation.
            def learned_env():
                return LearnedRewardWrapper(make_env(), reward_model, config.normalize_learned_reward)
            envs = make_vector_env(learned_env, ppo.num_envs)
            try:
                collector = RolloutCollector(envs, agent, ppo.num_steps, ppo.gamma, ppo.normalize_reward,
                                             seed + 7919 * iteration)
                for _ in range(config.ppo_updates_per_iteration):
                    update += 1
                    if ppo.anneal_lr:                             # linear decay over all rounds
                        for group in optimizer.param_groups:
                            group["lr"] = ppo.learning_rate * (1.0 - (update - 1) / total_updates)
                    collector.collect(agent, generator)
                    ppo_steps += ppo.num_envs * ppo.num_steps
                    stats = ppo_update(agent, optimizer, collector, ppo, generator)
            finally:
                envs.close()
            env_steps += ppo.num_envs * ppo.num_steps * config.ppo_updates_per_iteration
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
