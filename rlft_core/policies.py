r"""Actor-critic networks for PPO, and the running normaliser saved with them.

* Discrete actions: a categorical policy :math:`\pi(a|s) = \mathrm{softmax}(f_\theta(s))_a`.
* Box actions: a Gaussian :math:`\mathcal N(\mu_\theta(s), \mathrm{diag}(\sigma^2))` whose log-std
  is a free parameter, the same in every state. The sample is clipped to the action bounds when it
  is sent to the environment; its log-probability is that of the *unclipped* sample.
* The actor and the critic are separate MLPs with tanh units, initialised orthogonally with gain
  :math:`\sqrt2` in the hidden layers, 0.01 in the policy head (a near-uniform first policy) and 1
  in the value head (Huang et al. 2022, "The 37 Implementation Details of PPO", detail 2; separate
  networks: detail 13; the Gaussian head: continuous-control details 1-3 and 5).

The network is evaluated with ``F.linear`` in a loop instead of ``nn.Sequential``: on a batch of 8
observations the module-call overhead is half of the forward pass. Rollouts sample straight from
the logits (Gumbel-max) without building ``torch.distributions`` objects, which cost more than the
network itself at this size.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_instance, check_int, check_sizes

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class RunningMeanStd(nn.Module):
    r"""Running mean and variance of a stream of batches, kept as buffers (saved in ``state_dict``).

    Batches are merged with the parallel update of Chan, Golub, LeVeque 1979: for counts
    :math:`n_a, n_b`, means :math:`\mu_a, \mu_b` and variances :math:`v_a, v_b`,
    :math:`\delta = \mu_b - \mu_a`, :math:`n = n_a + n_b`, :math:`\mu = \mu_a + \delta n_b / n`,
    :math:`v = (n_a v_a + n_b v_b + \delta^2 n_a n_b / n) / n`.
    ``normalize`` returns :math:`\mathrm{clip}((x - \mu)/\sqrt{v + 10^{-8}}, -c, c)`.
    """

    def __init__(self, shape=(), clip: float = 10.0):
        super().__init__()
        self.clip = float(clip)
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        batch = batch.to(torch.float64).reshape(-1, *self.mean.shape)
        n_b = batch.shape[0]
        mean_b, var_b = batch.mean(0), batch.var(0, unbiased=False)
        n = self.count + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.var.copy_((self.var * self.count + var_b * n_b + delta**2 * self.count * n_b / n) / n)
        self.count.copy_(n)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        scaled = (x - self.mean) / torch.sqrt(self.var + 1e-8)
        return scaled.clamp(-self.clip, self.clip).to(x.dtype)


def _mlp(sizes, out_gain: float) -> nn.ModuleList:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]``, orthogonal init (Saxe et al. 2014), zero biases."""
    layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
    for i, layer in enumerate(layers):
        nn.init.orthogonal_(layer.weight, gain=out_gain if i == len(layers) - 1 else math.sqrt(2))
        nn.init.zeros_(layer.bias)
    return layers


def _forward(layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """tanh MLP: ``tanh`` after every layer but the last."""
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        x = F.linear(x, layer.weight, layer.bias)
        if i < last:
            x = torch.tanh(x)
    return x


def action_spec_from_space(action_space) -> dict:
    """Describe a gymnasium ``Discrete`` or 1-D ``Box`` action space with plain Python types."""
    import gymnasium as gym
    if isinstance(action_space, gym.spaces.Discrete):
        return {"kind": "discrete", "n": int(action_space.n), "start": int(action_space.start)}
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        return {"kind": "continuous", "low": action_space.low.astype(float).tolist(),
                "high": action_space.high.astype(float).tolist()}
    raise ValueError(f"action_space must be Discrete or a 1-D Box, got {action_space}")


class ActorCritic(nn.Module):
    r"""Separate actor and critic MLPs for a flat observation vector.

    Args:
        obs_dim: length of the observation vector.
        action_spec: ``{"kind": "discrete", "n": n, "start": 0}`` or
            ``{"kind": "continuous", "low": [...], "high": [...]}`` (see ``action_spec_from_space``).
        hidden_sizes: widths of the hidden layers of each network.
        normalize_obs: keep running observation statistics and feed normalised observations.
        log_std_init: initial log standard deviation of the Gaussian policy.
    """

    def __init__(self, obs_dim: int, action_spec: dict, hidden_sizes=(64, 64),
                 normalize_obs: bool = False, log_std_init: float = 0.0):
        super().__init__()
        check_int("obs_dim", obs_dim)
        if not isinstance(action_spec, dict) or action_spec.get("kind") not in ("discrete", "continuous"):
            raise ValueError(f"action_spec must be a dict with kind 'discrete' or 'continuous', got {action_spec!r}")
        hidden_sizes = check_sizes("hidden_sizes", hidden_sizes)
        self.obs_dim, self.action_spec, self.hidden_sizes = obs_dim, dict(action_spec), hidden_sizes
        self.normalize_obs, self.log_std_init = bool(normalize_obs), float(log_std_init)
        self.discrete = action_spec["kind"] == "discrete"
        if self.discrete:
            self.action_dim = int(action_spec["n"])
        else:
            self.register_buffer("action_low", torch.tensor(action_spec["low"], dtype=torch.float32))
            self.register_buffer("action_high", torch.tensor(action_spec["high"], dtype=torch.float32))
            self.action_dim = len(action_spec["low"])
            self.actor_logstd = nn.Parameter(torch.full((self.action_dim,), self.log_std_init))
        self.actor = _mlp((obs_dim, *hidden_sizes, self.action_dim), out_gain=0.01)
        self.critic = _mlp((obs_dim, *hidden_sizes, 1), out_gain=1.0)
        self.obs_rms = RunningMeanStd((obs_dim,))
        # Statistics of the discounted return when the trainer scales rewards (normalize_reward):
        # the critic then predicts returns in units of sqrt(reward_rms.var). Saved, unused by act().
        self.reward_rms = RunningMeanStd(())

    def init_kwargs(self) -> dict:
        """Constructor arguments as plain Python types (what ``save_agent`` stores)."""
        return {"obs_dim": self.obs_dim, "action_spec": self.action_spec,
                "hidden_sizes": list(self.hidden_sizes), "normalize_obs": self.normalize_obs,
                "log_std_init": self.log_std_init}

    def prepare_obs(self, obs: torch.Tensor) -> torch.Tensor:
        """Float32 observations, normalised by the running statistics when ``normalize_obs``."""
        obs = obs.to(torch.float32)
        return self.obs_rms.normalize(obs) if self.normalize_obs else obs

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """:math:`V_\\phi(s)` for prepared observations ``(B, obs_dim)`` -> ``(B,)``."""
        return _forward(self.critic, obs).squeeze(-1)

    def sample(self, obs: torch.Tensor, generator: torch.Generator):
        r"""Sample actions for a rollout: returns ``(actions, logp, values)``, each with batch dim B.

        Categorical, by the Gumbel-max trick (Gumbel 1954; Maddison et al. 2014):
        :math:`a = \arg\max_i (\ell_i + g_i)`, :math:`g_i = -\log(-\log u_i)`, :math:`u_i \sim U(0,1)`,
        which draws :math:`a` with probability :math:`\mathrm{softmax}(\ell)_a`.
        Gaussian: :math:`a = \mu + \sigma\varepsilon`, :math:`\log\pi(a) = \sum_j
        (-\tfrac12\varepsilon_j^2 - \log\sigma_j - \tfrac12\log 2\pi)`.
        """
        out = _forward(self.actor, obs)
        values = self.value(obs)
        if self.discrete:
            gumbel = -torch.log(-torch.log(torch.rand(out.shape, generator=generator)))
            actions = torch.argmax(out + gumbel, dim=-1)                           # (B,)
            logp = torch.log_softmax(out, -1).gather(-1, actions[:, None]).squeeze(-1)
        else:
            noise = torch.randn(out.shape, generator=generator)                     # (B, act_dim)
            actions = out + torch.exp(self.actor_logstd) * noise
            logp = (-0.5 * noise**2 - self.actor_logstd - LOG_SQRT_2PI).sum(-1)
        return actions, logp, values

    def evaluate_actions(self, obs: torch.Tensor, actions: torch.Tensor):
        r"""Log-probability of given actions, policy entropy and values: ``(logp, entropy, values)``.

        Categorical: :math:`H = -\sum_a \pi_a \log \pi_a`. Gaussian with diagonal covariance:
        :math:`\log\pi(a) = \sum_j -\tfrac12 ((a_j-\mu_j)/\sigma_j)^2 - \log\sigma_j - \tfrac12\log 2\pi`,
        :math:`H = \sum_j \log\sigma_j + \tfrac12(1 + \log 2\pi)`.
        """
        out = _forward(self.actor, obs)
        values = self.value(obs)
        if self.discrete:
            log_probs = torch.log_softmax(out, -1)                                  # (B, n)
            logp = log_probs.gather(-1, actions.long()[:, None]).squeeze(-1)
            entropy = -(log_probs.exp() * log_probs).sum(-1)
        else:
            log_std = self.actor_logstd.expand_as(out)
            z = (actions - out) / torch.exp(log_std)
            logp = (-0.5 * z**2 - log_std - LOG_SQRT_2PI).sum(-1)
            entropy = (log_std + 0.5 + LOG_SQRT_2PI).sum(-1)
        return logp, entropy, values

    def to_env_actions(self, actions: torch.Tensor) -> np.ndarray:
        """Actions in the environment's format: int64 indices, or float32 clipped to the bounds."""
        if self.discrete:
            return (actions.detach() + self.action_spec.get("start", 0)).numpy().astype(np.int64)
        return torch.clamp(actions.detach(), self.action_low, self.action_high).numpy().astype(np.float32)

    @torch.no_grad()
    def act(self, obs, deterministic: bool = True, generator: torch.Generator | None = None):
        """Action(s) for one observation ``(obs_dim,)`` or a batch ``(B, obs_dim)``, as numpy.

        ``deterministic`` takes the most probable action (the Gaussian's mean, clipped); otherwise
        an action is sampled. Observation normalisation, if any, uses the saved statistics.
        """
        obs = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        single = obs.ndim == 1
        if obs.shape[-1:] != (self.obs_dim,) or obs.ndim not in (1, 2):
            raise ValueError(f"obs must have shape ({self.obs_dim},) or (B, {self.obs_dim}), got {tuple(obs.shape)}")
        obs = self.prepare_obs(obs[None] if single else obs)
        if deterministic:
            out = _forward(self.actor, obs)
            actions = torch.argmax(out, -1) if self.discrete else out
        else:
            actions = self.sample(obs, generator if generator is not None else torch.default_generator)[0]
        env_actions = self.to_env_actions(actions)
        return env_actions[0] if single else env_actions


def save_agent(agent: ActorCritic, path) -> None:
    """Save an agent as a plain dict (constructor arguments + ``state_dict``) with ``torch.save``,
    loadable with ``torch.load(path, weights_only=True)`` (no pickled classes)."""
    check_instance("agent", agent, ActorCritic)
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
