r"""PPO for a language model against a learned reward, with a per-token KL penalty (RLHF's RL step).

Each response is an episode: the state is the prompt plus the tokens so far, the action is the
next token, and the episode ends at ``<eos>``. The reward is the reward model's score at the end,
minus a KL penalty to the frozen SFT model at every token (Ziegler et al. 2019, "Fine-Tuning
Language Models from Human Preferences"; Stiennon et al. 2020; Ouyang et al. 2022):

.. math::
    r_t = -\beta\,\big(\log\pi_\theta(y_t|s_t) - \log\pi_\text{ref}(y_t|s_t)\big)
          + [\,t = T\,]\; r_\phi(x, y)

Summed over the episode, the penalty is a Monte-Carlo estimate of
:math:`\beta\,\mathrm{KL}(\pi_\theta\|\pi_\text{ref})` for this prompt, so PPO maximises
:math:`\mathbb E[r_\phi] - \beta\,\mathrm{KL}`. Advantages come from GAE with :math:`\gamma = 1`,
the policy step is PPO's clipped surrogate and the value function (a copy of the reward model,
read at every position, as in InstructGPT) has a clipped value loss.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from ._validate import (check_callable, check_finite, check_instance, check_int, check_range,
                        check_same_shape, check_tensor)
from .ppo_losses import approx_kl, clip_fraction, clipped_surrogate_loss, normalize_advantages, value_loss
from .returns import gae
from .tiny_lm import TokenRewardModel, token_logprobs
from .utils import seed_everything


def _check_response_mask(mask, like):
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    check_same_shape(**like, mask=mask)
    if mask.dim() != 2:
        raise ValueError(f"mask must be (B, T), got shape {tuple(mask.shape)}")
    n_real = mask.sum(dim=1)
    if (n_real == 0).any():
        raise ValueError("mask has a row with no response token")
    if (mask != (torch.arange(mask.shape[1])[None, :] < n_real[:, None])).any():
        raise ValueError("mask must be True on a prefix of each row (right padding only)")


def kl_shaped_rewards(logp, ref_logp, mask, score, kl_coef):
    r"""Per-token rewards of RLHF: a KL penalty at every token plus the score at the last one.

    .. math:: r_t = -\beta\,(\log\pi_\theta(y_t) - \log\pi_\text{ref}(y_t))\,m_t
              \;+\; \mathbf 1[t = \text{last real token}]\;r_\phi(x, y)

    Ziegler et al. 2019, eq. (2); Stiennon et al. 2020, eq. (2); Ouyang et al. 2022, eq. (2).

    Args:
        logp, ref_logp: ``(B, T)`` log-probs of the sampled response tokens under the policy and
            the reference (SFT) model.
        mask: ``(B, T)`` bool, True on response tokens (a prefix of each row; ``<eos>`` included).
        score: ``(B,)`` reward-model score of each full response.
        kl_coef: :math:`\beta \ge 0`.
    Returns:
        ``(B, T)`` rewards, 0 on padding.
    """
    check_tensor("logp", logp, ndim=2)
    check_tensor("ref_logp", ref_logp, ndim=2)
    check_tensor("score", score, ndim=1)
    _check_response_mask(mask, {"logp": logp, "ref_logp": ref_logp})
    if score.shape[0] != logp.shape[0]:
        raise ValueError(f"score must have shape ({logp.shape[0]},), one per response, got {tuple(score.shape)}")
    check_finite(logp=logp, ref_logp=ref_logp, score=score)
    check_range("kl_coef", kl_coef, 0.0, math.inf, high_open=True)
    rewards = -kl_coef * (logp - ref_logp) * mask                         # (B, T)
    last = mask.sum(dim=1) - 1                                            # (B,) index of the last token
    return rewards.index_put((torch.arange(len(last)), last), score, accumulate=True)


def masked_gae(rewards, values, mask, gamma: float = 1.0, lam: float = 0.95):
    r"""GAE over a batch of right-padded responses: ``rlft_core.returns.gae`` with a done at each end.

    .. math:: \delta_t = r_t + \gamma V(s_{t+1})(1 - d_t) - V(s_t),\quad
              \hat A_t = \delta_t + \gamma\lambda(1 - d_t)\hat A_{t+1}

    where :math:`d_t = 1` at the last real token (nothing follows ``<eos>``). Schulman et al. 2016.

    Args:
        rewards, values: ``(B, T)`` (batch-major), mask ``(B, T)`` bool as in :func:`kl_shaped_rewards`.
    Returns:
        ``(advantages, returns)``, ``(B, T)``, 0 on padding.
    """
    check_tensor("rewards", rewards, ndim=2)
    check_tensor("values", values, ndim=2)
    _check_response_mask(mask, {"rewards": rewards, "values": values})
    last = mask.sum(dim=1, keepdim=True) - 1
    dones = (torch.arange(mask.shape[1])[None, :] >= last).to(rewards.dtype)    # done at the end and after
    adv, returns = gae((rewards * mask).T, (values * mask).T, dones.T, last_value=0.0, gamma=gamma, lam=lam)
    return adv.T * mask, returns.T * mask


@dataclass
class PPOLMConfig:
    """Hyperparameters of :func:`train_ppo_lm` (paper values in comments where ours differ)."""

    iterations: int = 40
    batch_size: int = 128          # responses per rollout (InstructGPT: 512 per batch)
    minibatch_size: int = 64
    num_epochs: int = 4            # passes over each batch of responses
    learning_rate: float = 3e-4    # tiny model; large LMs use ~1e-5
    kl_coef: float = 0.1           # β of the KL penalty (Ziegler 2019 ~0.1–0.2; InstructGPT 0.02)
    clip_eps: float = 0.2
    value_clip_eps: float = 0.2
    vf_coef: float = 0.5
    gamma: float = 1.0
    gae_lambda: float = 0.95
    max_grad_norm: float = 1.0

    def __post_init__(self):
        for name in ("iterations", "batch_size", "minibatch_size", "num_epochs"):
            value = getattr(self, name)
            check_int(name, value)
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (advantages are normalised), got {self.batch_size}")
        check_range("learning_rate", self.learning_rate, 0.0, math.inf, low_open=True, high_open=True)
        check_range("kl_coef", self.kl_coef, 0.0, math.inf, high_open=True)
        check_range("clip_eps", self.clip_eps, 0.0, 1.0, low_open=True)
        check_range("value_clip_eps", self.value_clip_eps, 0.0, math.inf, low_open=True, high_open=True)
        check_range("vf_coef", self.vf_coef, 0.0, math.inf, high_open=True)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_range("max_grad_norm", self.max_grad_norm, 0.0, math.inf, low_open=True, high_open=True)


@torch.no_grad()
def _rollout(policy, reference, reward_model, value_model, language, config, generator, reward_fn):
    """Sample responses and compute everything PPO needs about them, all ``(B, T)`` unless noted."""
    prompts = language.prompts(config.batch_size, generator)
    Lp = prompts.shape[1]
    sequences, mask = language.sample(policy, prompts, generator=generator)
    response_mask = mask[:, Lp:]
    logp = token_logprobs(policy, sequences, Lp)
    ref_logp = token_logprobs(reference, sequences, Lp)
    values = value_model.token_scores(sequences)[:, Lp - 1:-1]             # V(s_t): state before y_t
    score = reward_model(sequences, mask)                                  # (B,)
    rewards = reward_fn(logp, ref_logp, response_mask, score, config.kl_coef)
    adv, returns = masked_gae(rewards, values, response_mask, config.gamma, config.gae_lambda)
    return dict(sequences=sequences, mask=mask, response_mask=response_mask, logp=logp, ref_logp=ref_logp,
                values=values, score=score, adv=adv, returns=returns, prompt_length=Lp)


def train_ppo_lm(policy, reference, reward_model, language, config: PPOLMConfig | None = None,
                 value_model: TokenRewardModel | None = None, callback=None, seed: int = 0,
                 progress: bool = False, reward_fn=kl_shaped_rewards) -> list[dict]:
    r"""RLHF's PPO stage: maximise :math:`\mathbb E[r_\phi(x,y)] - \beta\,\mathrm{KL}(\pi_\theta\|\pi_\text{ref})`.

    Each iteration samples ``batch_size`` responses from ``policy`` (temperature 1), shapes the
    rewards with :func:`kl_shaped_rewards`, computes advantages with :func:`masked_gae`
    (:math:`\gamma = 1`) and takes ``num_epochs`` passes of minibatch updates of the clipped
    surrogate (token-level mean, advantages normalised over the batch's real tokens) and the
    clipped value loss. Schulman et al. 2017; Ziegler et al. 2019; Ouyang et al. 2022.

    ``reference`` (the SFT model) and ``reward_model`` stay frozen. ``value_model`` defaults to a
    copy of the reward model (InstructGPT). ``language`` provides ``prompts(n, generator)``,
    ``max_words``, ``tokenizer`` and ``sequence_rewards`` -- the true reward, logged only, never
    trained on. ``reward_fn(logp, ref_logp, mask, score, kl_coef) -> (B, T)`` shapes the rewards
    (default :func:`kl_shaped_rewards`; notebook 08 trains with the student's version).

    Returns one dict per iteration: ``iteration``, ``score`` (reward model), ``true_reward``,
    ``kl`` (mean summed :math:`\log\pi_\theta - \log\pi_\text{ref}` per response), ``objective``
    (score − β·kl), ``length``, ``policy_loss``, ``value_loss``, ``approx_kl`` (old → new
    policy), ``clip_fraction``. ``callback(record)`` returning True stops training.
    """
    config = config or PPOLMConfig()
    check_instance("config", config, PPOLMConfig)
    check_callable("callback", callback, allow_none=True, signature="(record)")
    check_callable("reward_fn", reward_fn, signature="(logp, ref_logp, mask, score, kl_coef)")
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    value_model = value_model if value_model is not None else copy.deepcopy(reward_model)
    reference.eval()                                   # frozen: only ever run under no_grad
    reward_model.eval()
    params = [*policy.parameters(), *value_model.parameters()]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    iterations = range(1, config.iterations + 1)
    if progress:
        from tqdm.auto import tqdm
        iterations = tqdm(iterations, desc=f"PPO (kl_coef={config.kl_coef})")
    history = []
    for iteration in iterations:
        policy.eval()
        batch = _rollout(policy, reference, reward_model, value_model, language, config, generator, reward_fn)
        real = batch["response_mask"]
        adv = batch["adv"].clone()
        adv[real] = normalize_advantages(adv[real])
        Lp = batch["prompt_length"]
        policy.train()
        value_model.train()
        stats = {"policy_loss": [], "value_loss": [], "approx_kl": [], "clip_fraction": []}
        for _ in range(config.num_epochs):
            perm = torch.randperm(config.batch_size, generator=generator)
            for start in range(0, config.batch_size, config.minibatch_size):
                idx = perm[start:start + config.minibatch_size]
                m = real[idx]
                logp_new = token_logprobs(policy, batch["sequences"][idx], Lp)[m]
                logp_old = batch["logp"][idx][m]
                values_new = value_model.token_scores(batch["sequences"][idx])[:, Lp - 1:-1][m]
                pg_loss = clipped_surrogate_loss(logp_new, logp_old, adv[idx][m], config.clip_eps)
                v_loss = value_loss(values_new, batch["returns"][idx][m], batch["values"][idx][m],
                                    config.value_clip_eps)
                optimizer.zero_grad()
                (pg_loss + config.vf_coef * v_loss).backward()
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                stats["policy_loss"].append(pg_loss.item())
                stats["value_loss"].append(v_loss.item())
                stats["approx_kl"].append(approx_kl(logp_new.detach(), logp_old).item())
                stats["clip_fraction"].append(clip_fraction(logp_new.detach(), logp_old, config.clip_eps).item())
        kl = ((batch["logp"] - batch["ref_logp"]) * real).sum(dim=1).mean().item()
        score = batch["score"].mean().item()
        record = {"iteration": iteration, "score": score,
                  "true_reward": language.sequence_rewards(batch["sequences"], batch["mask"]).mean().item(),
                  "kl": kl, "objective": score - config.kl_coef * kl, "length": real.sum(1).float().mean().item(),
                  **{k: sum(v) / len(v) for k, v in stats.items()}}
        history.append(record)
        if progress:
            iterations.set_postfix(score=f"{score:.2f}", true=f"{record['true_reward']:.2f}", kl=f"{kl:.2f}")
        if callback is not None and callback(record):
            break
    policy.eval()
    value_model.eval()
    return history
