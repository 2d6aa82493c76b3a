r"""Collecting PPO rollouts from gymnasium vector environments, and evaluating an agent.

**Autoreset.** Gymnasium 1.x vector environments reset a finished sub-environment in
*next-step* mode (https://farama.org/Vector-Autoreset-Mode): the ``step`` that ends an episode
returns the episode's *final* observation with ``terminated`` or ``truncated`` set; the *next*
``step`` ignores that environment's action, resets it and returns the first observation of the new
episode with reward 0. Gymnasium's fast ``CartPoleVectorEnv`` only supports this mode, so the
course handles it everywhere:

* the step after an episode end (a *reset step*) is not a transition of the MDP: it is stored with
  ``valid = False`` and left out of the PPO loss, the advantage statistics and the reward scaler;
* at a reset step the observation fed to the network *is* the final observation of the episode
  that just ended, so the critic's value there is :math:`V(s_\text{final})` for free.

**Truncation.** A time limit is not part of the MDP: the state after a truncated step still has a
future. Following ``rlft_core.returns`` the truncated step gets
:math:`r_t + \gamma V(s_\text{final})` and ``done = 1`` (Pardo, Tavakoli, Levdik, Kormushev
2018, "Time Limits in Reinforcement Learning"). A *terminated* step gets :math:`r_t` and ``done = 1``.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from ._validate import check_instance, check_int, env_factory, open_env
from .policies import ActorCritic
from .returns import gae


def make_vector_env(env, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env`` (a gymnasium id, or a function returning one environment).

    An id with a vectorised implementation (CartPole-v1) uses it (``vector_entry_point``);
    other ids and factories use ``SyncVectorEnv`` (in-process; ``AsyncVectorEnv`` costs more than
    it saves on small environments).
    """
    check_int("num_envs", num_envs)
    factory = env_factory(env)                                   # checks the id or the factory
    if isinstance(env, str) and gym.spec(env).vector_entry_point is not None:
        envs = gym.make_vec(env, num_envs=num_envs, vectorization_mode="vector_entry_point")
    else:
        envs = gym.vector.SyncVectorEnv([factory] * num_envs)
    mode = envs.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
    if mode != gym.vector.AutoresetMode.NEXT_STEP:
        raise ValueError(f"env: the vector env must autoreset in next-step mode, got {mode}")
    if not isinstance(envs.single_observation_space, gym.spaces.Box) or len(envs.single_observation_space.shape) != 1:
        raise ValueError(f"env: observations must be a 1-D Box, got {envs.single_observation_space}")
    return envs


class RolloutCollector:
    """Steps ``N`` environments ``T`` times with the current policy; keeps the arrays of one rollout.

    Arrays (numpy, time-major ``(T, N, ...)``): ``obs`` (as fed to the network, i.e. normalised when
    the agent normalises), ``actions`` (unclipped samples), ``logp``, ``values``, ``rewards``
    (scaled when ``normalize_reward``), ``terminated``, ``truncated``, ``valid`` (False at reset
    steps). The last observation and the unfinished episodes carry over to the next rollout.
    """

    def __init__(self, envs, agent: ActorCritic, num_steps: int, gamma: float,
                 normalize_reward: bool, seed: int):
        T, N = num_steps, envs.num_envs
        self.envs, self.gamma, self.normalize_reward = envs, gamma, normalize_reward
        self.next_obs, _ = envs.reset(seed=seed)                 # env i is seeded with seed + i
        self.next_is_reset = np.zeros(N, dtype=bool)              # the next step only resets env i
        self.episode_return = np.zeros(N)                         # raw (unscaled) running returns
        self.discounted_return = np.zeros(N)                      # for the reward scaler
        act_shape = () if agent.discrete else (agent.action_dim,)
        self.obs = np.zeros((T, N, agent.obs_dim), dtype=np.float32)
        self.actions = np.zeros((T, N, *act_shape), dtype=np.int64 if agent.discrete else np.float32)
        self.logp, self.values, self.rewards = (np.zeros((T, N), dtype=np.float32) for _ in range(3))
        self.terminated, self.truncated, self.valid = (np.zeros((T, N), dtype=bool) for _ in range(3))
        self.last_value = np.zeros(N, dtype=np.float32)

    def _scale_rewards(self, agent, reward, done, valid):
        r"""Divide rewards by the running std of the discounted return
        :math:`G_t = \gamma G_{t-1} + r_t` (Engstrom et al. 2020, "Implementation Matters in Deep
        Policy Gradients"; Huang et al. 2022, continuous-control detail 8). The mean is not removed."""
        self.discounted_return = self.discounted_return * self.gamma + reward
        if valid.any():
            agent.reward_rms.update(torch.from_numpy(self.discounted_return[valid]))
        self.discounted_return[done] = 0.0
        return reward / np.sqrt(agent.reward_rms.var.item() + 1e-8)

    @torch.inference_mode()
    def collect(self, agent: ActorCritic, generator: torch.Generator) -> list[float]:
        """Fill the arrays with ``T`` steps; return the raw returns of the episodes that ended."""
        finished = []
        for t in range(self.obs.shape[0]):
            obs = torch.as_tensor(self.next_obs, dtype=torch.float32)               # (N, obs_dim)
            valid = ~self.next_is_reset
            if agent.normalize_obs and valid.any():
                agent.obs_rms.update(obs[torch.from_numpy(valid)])
            obs = agent.prepare_obs(obs)
            actions, logp, values = agent.sample(obs, generator)
            self.next_obs, reward, terminated, truncated, _ = self.envs.step(agent.to_env_actions(actions))
            done = terminated | truncated
            self.obs[t], self.actions[t] = obs.numpy(), actions.numpy()
            self.logp[t], self.values[t] = logp.numpy(), values.numpy()
            self.terminated[t], self.truncated[t], self.valid[t] = terminated, truncated, valid
            self.episode_return += reward                          # reset steps give reward 0
            if done.any():
                finished.extend(self.episode_return[done].tolist())
                self.episode_return[done] = 0.0
            if self.normalize_reward:
                reward = self._scale_rewards(agent, reward, done, valid)
            self.rewards[t] = reward
            self.next_is_reset = done
        obs = agent.prepare_obs(torch.as_tensor(self.next_obs, dtype=torch.float32))
        self.last_value = agent.value(obs).numpy()                 # V(s_T); V(s_final) if s_T is final
        return finished

    def advantages_and_returns(self, gamma: float, lam: float, advantage_fn=gae):
        r"""GAE advantages and λ-returns ``(T, N)`` with the truncation bootstrap.

        ``next_values[t]`` is the value of the observation after step ``t``: ``values[t+1]`` (which,
        after an episode end, is :math:`V(s_\text{final})`), or ``last_value`` for the last step. Then
        :math:`\tilde r_t = r_t + \gamma V(s_\text{final})` where truncated and not terminated, and
        ``done = terminated | truncated | ~valid`` (a reset step is cut off from both neighbours).
        """
        next_values = np.concatenate([self.values[1:], self.last_value[None]])
        bootstrap = self.truncated & ~self.terminated
        rewards = self.rewards + gamma * next_values * bootstrap
        dones = (self.terminated | self.truncated | ~self.valid).astype(np.float64)
        return advantage_fn(rewards.astype(np.float64), self.values.astype(np.float64), dones,
                            self.last_value.astype(np.float64), gamma, lam)

    def batch(self, gamma: float, lam: float, advantage_fn=gae) -> dict:
        """The rollout as one training batch: the valid steps only (reset steps are not MDP
        transitions), flattened from ``(T, N, ...)`` to ``(B, ...)`` torch tensors: ``obs``,
        ``actions``, ``logp_old``, ``values_old``, ``advantages`` (GAE) and ``returns`` (λ-returns).
        ``advantage_fn`` has :func:`rlft_core.returns.gae`'s signature (notebook 04 passes a student's)."""
        adv, returns = self.advantages_and_returns(gamma, lam, advantage_fn)      # (T, N) each
        valid = self.valid.reshape(-1)

        def flat(array):                                   # (T, N, ...) -> (B, ...), valid steps only
            return torch.from_numpy(np.ascontiguousarray(array.reshape(valid.size, *array.shape[2:])[valid]))
        return {"obs": flat(self.obs), "actions": flat(self.actions), "logp_old": flat(self.logp),
                "values_old": flat(self.values), "advantages": flat(adv.astype(np.float32)),
                "returns": flat(returns.astype(np.float32))}


def _play(agent: ActorCritic, env, episodes: int, seed: int, deterministic: bool):
    """Play ``episodes`` episodes (reset with seeds ``seed, seed+1, ...``); return the undiscounted
    returns and whether each episode terminated (True) or was truncated by its time limit (False)."""
    check_instance("agent", agent, ActorCritic)
    check_int("episodes", episodes)
    env, owned = open_env(env)
    generator = torch.Generator().manual_seed(seed)
    returns, terminated_flags = [], []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            total, terminated, truncated = 0.0, False, False
            while not (terminated or truncated):
                obs, reward, terminated, truncated, _ = env.step(agent.act(obs, deterministic, generator))
                total += float(reward)
            returns.append(total)
            terminated_flags.append(bool(terminated))
    finally:
        if owned:
            env.close()
    return returns, terminated_flags


def evaluate(agent: ActorCritic, env, episodes: int = 10, seed: int = 0, deterministic: bool = True) -> float:
    r"""Mean undiscounted return :math:`\frac1E\sum_e \sum_t r^{(e)}_t` of ``agent`` over ``episodes``
    episodes (reset with seeds ``seed, seed+1, ...``); the most probable action when
    ``deterministic``, else sampled. ``env`` is a gymnasium id, a zero-argument factory or an
    environment; its episodes must end (ids carry their time limit; wrap a factory's env in
    ``TimeLimit``)."""
    returns, _ = _play(agent, env, episodes, seed, deterministic)
    return float(np.mean(returns))


def success_rate(agent: ActorCritic, env, episodes: int = 20, seed: int = 0, deterministic: bool = True):
    """``(fraction of episodes that terminated, mean return)``, played as in :func:`evaluate`. In
    MountainCar-v0 terminating means reaching the flag (a time-limit truncation is a failure)."""
    returns, terminated = _play(agent, env, episodes, seed, deterministic)
    return float(np.mean(terminated)), float(np.mean(returns))
