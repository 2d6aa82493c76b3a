r"""Trajectory clips from a gymnasium env, preferences between them, and a learned reward back in the env.

The setting of Christiano, Leike, Brown, Martic, Legg, Amodei 2017, "Deep Reinforcement Learning
from Human Preferences": roll out a policy, cut the trajectories into short clips of
:math:`k` steps, show a "human" two clips, and record which one they prefer. Here the human is a
:class:`~rlft_core.preferences.BradleyTerryLabeler` applied to a true criterion of a clip (its
sum of environment rewards, the highest position a car reached, ...).

**Features.** Step :math:`t` of a clip is described by the observation the action was chosen on,
followed (``include_actions=True``) by the action: one-hot for a ``Discrete`` space, the raw
vector for a ``Box``. :func:`step_features` is the one definition, used both here and by
:class:`LearnedRewardWrapper`, so a reward model sees the same features in training and
inside RL.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from ._validate import check_callable, check_int, open_env
from .preferences import BradleyTerryLabeler, PairDataset, _pad


def step_features(obs, action, action_space, include_actions: bool = True) -> np.ndarray:
    r"""Feature vector of one step: :math:`[\,o_t,\ \phi(a_t)\,]` as float32 ``(D,)``.

    :math:`\phi(a)` is the one-hot vector of a ``Discrete`` action and the flattened action of a
    ``Box`` action; without ``include_actions`` the features are the flattened observation alone.
    """
    obs_part = np.asarray(obs, dtype=np.float32).reshape(-1)
    if not include_actions:
        return obs_part
    if isinstance(action_space, gym.spaces.Discrete):
        index = int(action) - int(action_space.start)
        if not 0 <= index < action_space.n:
            raise ValueError(f"action must lie in the Discrete({action_space.n}) space, got {action}")
        action_part = np.zeros(int(action_space.n), dtype=np.float32)
        action_part[index] = 1.0
    elif isinstance(action_space, gym.spaces.Box):
        action_part = np.asarray(action, dtype=np.float32).reshape(-1)
        if action_part.size != int(np.prod(action_space.shape)):
            raise ValueError(f"action must have {int(np.prod(action_space.shape))} entries, "
                             f"got {action_part.size}")
    else:
        raise ValueError(f"action_space must be Discrete or Box to encode actions, got {action_space}; "
                         "pass include_actions=False")
    return np.concatenate([obs_part, action_part])


@dataclass
class Clip:
    """``k`` consecutive steps of one episode (``k`` ≤ ``clip_len``; shorter when the episode ended).

    ``obs``/``next_obs`` ``(k, obs_dim)``: the observation each action was chosen on and the one
    that followed; ``actions`` ``(k, ...)``; ``rewards`` ``(k,)`` true environment rewards;
    ``features`` ``(k, D)`` float32 from :func:`step_features`; ``terminated``/``truncated``: the
    episode ended inside this clip; ``episode``, ``start``: where the clip was cut from.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    features: np.ndarray
    terminated: bool
    truncated: bool
    episode: int
    start: int

    def __len__(self) -> int:
        return len(self.rewards)


def record_clips(env, policy=None, n_clips: int = 100, clip_len: int = 25, seed: int = 0,
                 include_actions: bool = True, keep_partial: bool = True) -> list[Clip]:
    """Roll out ``policy(obs) -> action`` (None: uniformly random actions) and cut ``n_clips`` clips.

    Episodes are cut into consecutive, non-overlapping windows of ``clip_len`` steps; the last
    window of an episode may be shorter (kept when ``keep_partial``, dropped otherwise). ``env`` is
    an id (``"MountainCar-v0"``), a factory, or an environment (left open). The first reset uses
    ``seed`` (so does the random policy's action space): same seed, same clips.
    Christiano et al. 2017, §2.2 (clips of 1–2 s of trajectory shown to the human).
    """
    for name, value in (("n_clips", n_clips), ("clip_len", clip_len)):
        check_int(name, value)
    check_callable("policy", policy, allow_none=True, signature="(obs -> action)")
    env, owned = open_env(env)
    env.action_space.seed(seed)
    clips: list[Clip] = []
    obs, _ = env.reset(seed=seed)
    episode, t, steps = 0, 0, []                    # steps: (obs, action, reward, next_obs, feature)
    try:
        while len(clips) < n_clips:
            action = env.action_space.sample() if policy is None else policy(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            steps.append((obs, action, float(reward), next_obs,
                          step_features(obs, action, env.action_space, include_actions)))
            t += 1
            done = terminated or truncated
            if len(steps) == clip_len or (done and keep_partial):
                o, a, r, no, f = (np.asarray(x) for x in zip(*steps))
                clips.append(Clip(o, a, r.astype(np.float64), no, f.astype(np.float32),
                                  bool(terminated), bool(truncated), episode, t - len(steps)))
                steps = []
            if done:
                steps, episode, t = [], episode + 1, 0
                obs, _ = env.reset()
            else:
                obs = next_obs
    finally:
        if owned:
            env.close()
    return clips


def label_clips(clips, criterion, n_pairs: int | None = None, seed: int = 0, return_indices: bool = False,
                **labeler_kwargs):
    r"""Compare random pairs of clips by ``criterion(clip) -> float`` through a Bradley–Terry labeler.

    :math:`P(\text{clip}_i \succ \text{clip}_j) = \sigma\big((c(\text{clip}_i) - c(\text{clip}_j))/T\big)`,
    with the noise, ties and bias options of :class:`BradleyTerryLabeler` (``labeler_kwargs``:
    ``temperature``, ``flip_prob``, ``tie_margin``, ``bias_fn``, ``bias_weight``).
    Christiano et al. 2017, §2.2.

    Pairs: with ``n_pairs`` ≤ ``len(clips) // 2`` (default: exactly that) every clip is used at
    most once; with more, pairs of distinct clips are drawn with replacement. Returns a
    :class:`PairDataset` whose ``chosen``/``rejected`` are ``(N, k, D)`` float32 clip features and
    masks ``(N, k)`` (all clips padded to the longest), plus ``(chosen_index, rejected_index)``
    into ``clips`` when ``return_indices``.
    """
    clips = list(clips)
    if len(clips) < 2:
        raise ValueError(f"clips must hold at least 2 clips to make a pair, got {len(clips)}")
    check_callable("criterion", criterion, signature="(clip -> float)")
    if n_pairs is None:
        n_pairs = len(clips) // 2
    check_int("n_pairs", n_pairs)
    rng = np.random.default_rng(seed)
    if n_pairs <= len(clips) // 2:
        order = rng.permutation(len(clips))[: 2 * n_pairs]
        index_a, index_b = order[0::2], order[1::2]
    else:
        index_a = rng.integers(0, len(clips), n_pairs)
        index_b = (index_a + rng.integers(1, len(clips), n_pairs)) % len(clips)   # never equal to a
    labeler = BradleyTerryLabeler(reward_fn=criterion, seed=seed, **labeler_kwargs)
    prefs, ties = labeler.label([clips[i] for i in index_a], [clips[j] for j in index_b])
    a_wins = prefs != 0.0                                       # ties keep the order (A, B)
    chosen_index = np.where(a_wins, index_a, index_b)
    rejected_index = np.where(a_wins, index_b, index_a)
    features, mask = _pad([c.features for c in clips], 0.0)    # (n_clips, k, D), (n_clips, k)
    chosen_t, rejected_t = torch.as_tensor(chosen_index), torch.as_tensor(rejected_index)
    dataset = PairDataset(features[chosen_t], features[rejected_t], mask[chosen_t], mask[rejected_t],
                          tie=torch.as_tensor(ties, dtype=torch.bool))
    if return_indices:
        return dataset, chosen_index, rejected_index
    return dataset


class LearnedRewardWrapper(gym.Wrapper):
    r"""Replace the environment's reward by a learned one: :math:`r_t = \hat r(x_t)`.

    :math:`x_t` = :func:`~rlft_core.clips.step_features` of the observation the action was taken
    on and the action (``include_actions`` must match :func:`~rlft_core.clips.record_clips`).
    With ``normalize``, rewards are shifted and scaled by the running mean and standard deviation
    of the predictions seen so far (Christiano et al. 2017 normalise :math:`\hat r` to zero mean and
    constant scale). ``info["env_reward"]`` keeps the true reward, ``info["learned_reward"]`` the raw
    prediction.
    """

    def __init__(self, env, model, normalize: bool = True, include_actions: bool = True):
        super().__init__(env)
        if not hasattr(model, "step_reward"):
            raise ValueError(f"model must have a step_reward(features) method, got {type(model).__name__}")
        dim = step_features(env.observation_space.sample(), env.action_space.sample(), env.action_space,
                            include_actions).size
        if getattr(model, "obs_dim", dim) != dim:
            raise ValueError(f"model expects {model.obs_dim} features but this env gives {dim} "
                             f"with include_actions={include_actions}")
        self.model, self.normalize, self.include_actions = model, normalize, include_actions
        self._count, self._mean, self._m2 = 0, 0.0, 0.0           # Welford's running moments
        self._last_obs = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._last_obs = obs
        return obs, info

    def step(self, action):
        features = step_features(self._last_obs, action, self.env.action_space, self.include_actions)
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        self._last_obs = obs
        reward = float(self.model.step_reward(torch.from_numpy(features)[None])[0])
        info = {**info, "env_reward": env_reward, "learned_reward": reward}
        if self.normalize:
            self._count += 1
            delta = reward - self._mean
            self._mean += delta / self._count
            self._m2 += delta * (reward - self._mean)
            reward = (reward - self._mean) / (math.sqrt(self._m2 / self._count) + 1e-8)
        return obs, reward, terminated, truncated, info
