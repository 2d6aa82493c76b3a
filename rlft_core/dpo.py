r"""Direct Preference Optimization (DPO) and IPO: losses, sequence log-probabilities, a trainer.

DPO (Rafailov, Sharma, Mitchell, Ermon, Manning, Finn 2023, "Direct Preference Optimization: Your
Language Model is Secretly a Reward Model") fits a policy to preference pairs directly. The
KL-regularised RLHF objective :math:`\max_\pi \mathbb E[r(x,y)] - \beta\,\mathrm{KL}(\pi\|\pi_\text{ref})`
has the optimum :math:`\pi^*(y|x) \propto \pi_\text{ref}(y|x)\,e^{r(x,y)/\beta}`
(:func:`kl_regularised_optimum`), so
:math:`r(x,y) = \beta\log\frac{\pi^*(y|x)}{\pi_\text{ref}(y|x)} + \beta\log Z(x)`; put into the
Bradley–Terry likelihood, :math:`Z` cancels and the reward model disappears:

.. math::
    L_\text{DPO} = -\log\sigma\big(\beta\,h\big),\qquad
    h = \Big[\log\tfrac{\pi_\theta(y_c|x)}{\pi_\text{ref}(y_c|x)}\Big]
      - \Big[\log\tfrac{\pi_\theta(y_r|x)}{\pi_\text{ref}(y_r|x)}\Big].

IPO (Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human
Preferences") regresses :math:`h` to a finite target instead, :math:`(h - \tfrac1{2\beta})^2`.

Token data follows the :class:`~rlft_core.preferences.PairDataset` convention: ``chosen`` and
``rejected`` hold the **responses**, ``prompt`` the prompts; they are packed together
(:func:`rlft_core.reward_model.join_prompt`) and only response tokens are scored. Without a
prompt, everything after the first token is the response.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import (as_array, check_callable, check_finite, check_int, check_positive, check_range,
                        check_same_shape, check_tensor)
from .preferences import PairDataset
from .reward_model import join_prompt
from .utils import seed_everything


def kl_regularised_optimum(ref_probs, rewards, beta: float) -> np.ndarray:
    r"""The policy that maximises :math:`\mathbb E_\pi[r] - \beta\,\mathrm{KL}(\pi\,\|\,\pi_\text{ref})`.

    .. math:: \pi^*(y) = \frac{1}{Z}\,\pi_\text{ref}(y)\,e^{r(y)/\beta}, \qquad
              Z = \sum_y \pi_\text{ref}(y)\,e^{r(y)/\beta}

    (Rafailov et al. 2023, "Direct Preference Optimization", eq. 4; Peters & Schaal 2007; Korbak,
    Perez & Buckley 2022). It is the target DPO fits and the one PPO with ``kl_coef`` β aims at.
    β → ∞ gives back :math:`\pi_\text{ref}`; β → 0 puts all mass on the best response
    :math:`\pi_\text{ref}` can produce. Computed as :math:`\exp` of a log-softmax of
    :math:`\log\pi_\text{ref} + r/\beta` (logsumexp), so a tiny β neither overflows nor gives NaN.

    Args:
        ref_probs: ``(..., K)`` reference probabilities (non-negative, each row summing to 1);
            broadcast against ``rewards`` (one ``(K,)`` reference for many rows of rewards).
        rewards: ``(..., K)`` rewards of the K responses.
        beta: KL coefficient > 0.
    Returns:
        ``(..., K)`` numpy array of probabilities, rows summing to 1.
    """
    ref_probs = np.asarray(as_array("ref_probs", ref_probs), dtype=np.float64)
    rewards = np.asarray(as_array("rewards", rewards), dtype=np.float64)
    check_finite(ref_probs=ref_probs, rewards=rewards)
    if ref_probs.shape[-1] != rewards.shape[-1]:
        raise ValueError(f"ref_probs and rewards must have one last dimension K, got {ref_probs.shape} "
                         f"and {rewards.shape}")
    if (ref_probs < 0).any() or not np.allclose(ref_probs.sum(axis=-1), 1.0, atol=1e-6):
        raise ValueError("ref_probs must be non-negative and sum to 1 over the last dimension")
    check_positive(beta=beta)
    with np.errstate(divide="ignore"):                              # log 0 = -inf: never chosen
        logits = np.log(ref_probs) + rewards / beta                 # (..., K)
    top = logits.max(axis=-1, keepdims=True)
    log_z = top + np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))   # logsumexp
    return np.exp(logits - log_z)


def sequence_logprobs(logits, labels, mask, average: bool = False):
    r"""Log-probability of each sequence's masked tokens: :math:`\sum_t m_t \log p(y_t)` per row.

    .. math:: \log\pi(y|x) = \sum_t m_t \log \mathrm{softmax}(\text{logits}_t)[y_t]
              \quad\Big(\text{or divided by } \textstyle\sum_t m_t \text{ with } \texttt{average}\Big)

    ``logits[:, t]`` must be the distribution of ``labels[:, t]``: for a causal LM, shift first,
    ``sequence_logprobs(logits[:, :-1], tokens[:, 1:], response_mask[:, 1:])``. ``mask`` is True
    on the tokens to score (the response, not the prompt nor padding); labels under a False mask
    are ignored, whatever they hold. A row with no masked token scores 0. DPO uses the sum
    (Rafailov et al. 2023); the average is a length-normalised variant (e.g. SimPO, Meng et al. 2024).

    Args:
        logits: ``(B, T, V)`` float. labels: ``(B, T)`` long. mask: ``(B, T)`` bool.
    Returns:
        ``(B,)`` float tensor.
    """
    check_tensor("logits", logits, ndim=3)
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long or labels.dim() != 2:
        raise ValueError(f"labels must be a (B, T) long tensor, got {getattr(labels, 'dtype', type(labels))}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    check_same_shape(labels=labels, mask=mask)
    if tuple(logits.shape[:2]) != tuple(labels.shape):
        raise ValueError(f"logits must have shape (B, T, V) = {tuple(labels.shape)} + (V,), "
                         f"got {tuple(logits.shape)}")
    safe_labels = labels.masked_fill(~mask, 0)
    if ((safe_labels < 0) | (safe_labels >= logits.shape[-1])).any():
        raise ValueError(f"labels must be in [0, {logits.shape[-1]}) where mask is True")
    token_logps = torch.log_softmax(logits, dim=-1).gather(2, safe_labels[..., None]).squeeze(2)
    summed = (token_logps * mask).sum(dim=1)                              # (B,)
    if average:
        return summed / mask.sum(dim=1).clamp(min=1)
    return summed


def _check_dpo_args(beta, loss_type, label_smoothing, **logps):
    for name, value in logps.items():
        check_tensor(name, value, ndim=1)
    check_same_shape(**logps)
    check_finite(**logps)
    check_positive(beta=beta)
    check_range("label_smoothing", label_smoothing, 0.0, 0.5, high_open=True)
    if loss_type not in ("sigmoid", "ipo"):
        raise ValueError(f"loss_type must be 'sigmoid' (DPO) or 'ipo', got {loss_type!r}")
    if loss_type == "ipo" and label_smoothing != 0.0:
        raise ValueError("label_smoothing applies to loss_type='sigmoid' only; use 0.0 with 'ipo'")


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
             beta: float = 0.1, loss_type: str = "sigmoid", label_smoothing: float = 0.0):
    r"""DPO or IPO loss per pair (not reduced), and the implicit rewards.

    With :math:`h = (\log\pi_c - \log\pi^\text{ref}_c) - (\log\pi_r - \log\pi^\text{ref}_r)`:

    * ``"sigmoid"`` (DPO, Rafailov et al. 2023, eq. 7):
      :math:`L = -(1-\epsilon)\log\sigma(\beta h) - \epsilon\log\sigma(-\beta h)`; ``label_smoothing``
      :math:`\epsilon > 0` assumes a fraction :math:`\epsilon` of labels are flipped
      (conservative DPO, Mitchell 2023). A tie (:math:`h = 0`) costs :math:`\log 2`.
    * ``"ipo"`` (Azar et al. 2023, eq. 17): :math:`L = (h - \tfrac{1}{2\beta})^2`.

    Implicit rewards (detached): :math:`\hat r_c = \beta(\log\pi_c - \log\pi^\text{ref}_c)`,
    :math:`\hat r_r = \beta(\log\pi_r - \log\pi^\text{ref}_r)`. ``F.logsigmoid`` keeps the loss
    finite for any :math:`h` (:math:`\approx -\beta h` far below zero).

    Returns ``(losses, chosen_rewards, rejected_rewards)``, each of the inputs' shape ``(N,)``.
    """
    _check_dpo_args(policy_chosen_logps=policy_chosen_logps, policy_rejected_logps=policy_rejected_logps,
                    ref_chosen_logps=ref_chosen_logps, ref_rejected_logps=ref_rejected_logps, beta=beta,
                    loss_type=loss_type, label_smoothing=label_smoothing)
    chosen_logratio = policy_chosen_logps - ref_chosen_logps                  # (N,)
    rejected_logratio = policy_rejected_logps - ref_rejected_logps
    h = chosen_logratio - rejected_logratio
    if loss_type == "sigmoid":
        losses = (-(1.0 - label_smoothing) * F.logsigmoid(beta * h)
                  - label_smoothing * F.logsigmoid(-beta * h))
    else:
        losses = (h - 1.0 / (2.0 * beta)) ** 2
    return losses, beta * chosen_logratio.detach(), beta * rejected_logratio.detach()


def pair_logprobs(model, data: PairDataset, average: bool = False):
    """``(logp_chosen, logp_rejected)`` of the responses of ``data`` under a causal LM, each ``(N,)``.

    ``model(tokens (B, L)) -> logits (B, L, V)``; one forward pass over chosen and rejected."""
    if not isinstance(data, PairDataset) or data.chosen.dtype != torch.long or data.chosen.dim() != 2:
        raise ValueError("data must be a PairDataset of token ids: (N, L) long chosen/rejected tensors")
    sides = []
    for tokens, mask in ((data.chosen, data.chosen_mask), (data.rejected, data.rejected_mask)):
        if data.prompt is None:
            response = mask.clone()
            response[:, 0] = False                            # the first token is the context
        else:
            tokens, mask = join_prompt(data.prompt, data.prompt_mask, tokens, mask)
            prompt_len = data.prompt_mask.sum(dim=1, keepdim=True)
            response = mask & (torch.arange(mask.shape[1])[None, :] >= prompt_len)
        sides.append((tokens, response))
    length = max(t.shape[1] for t, _ in sides)
    tokens = torch.cat([F.pad(t, (0, length - t.shape[1])) for t, _ in sides])          # (2N, L)
    response = torch.cat([F.pad(m, (0, length - m.shape[1])) for _, m in sides])
    logits = model(tokens)
    logps = sequence_logprobs(logits[:, :-1].float(), tokens[:, 1:], response[:, 1:], average)
    return logps[:len(data)], logps[len(data):]


@dataclass
class DPOConfig:
    """Hyperparameters of :func:`train_dpo` (Rafailov et al. 2023 use β = 0.1 and lr 1e-6 on large
    LMs; the tiny LM wants a larger learning rate, and a larger β keeps it fluent)."""

    beta: float = 0.5
    loss_type: str = "sigmoid"          # or "ipo"
    label_smoothing: float = 0.0
    average_logps: bool = False         # score responses by mean instead of summed log-prob
    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0

    def __post_init__(self):
        check_positive(beta=self.beta, learning_rate=self.learning_rate, max_grad_norm=self.max_grad_norm)
        check_range("label_smoothing", self.label_smoothing, 0.0, 0.5, high_open=True)
        check_range("weight_decay", self.weight_decay, 0.0, math.inf, high_open=True)
        if self.loss_type not in ("sigmoid", "ipo"):
            raise ValueError(f"loss_type must be 'sigmoid' or 'ipo', got {self.loss_type!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            check_int(name, value)


def train_dpo(policy, reference, data: PairDataset, config: DPOConfig | None = None, callback=None,
              seed: int = 0, progress: bool = False, loss_fn=None) -> list[dict]:
    r"""Fine-tune ``policy`` on preference pairs with the DPO (or IPO) loss, against a frozen ``reference``.

    .. math:: \min_\theta\ \mathbb E_{(x, y_c, y_r)}\Big[-\log\sigma\Big(\beta\log\tfrac{\pi_\theta(y_c|x)}{\pi_\text{ref}(y_c|x)}
              - \beta\log\tfrac{\pi_\theta(y_r|x)}{\pi_\text{ref}(y_r|x)}\Big)\Big]

    Rafailov et al. 2023, eq. 7. The reference log-probabilities are computed once, up front.
    Pairs marked as ties are left out. ``policy`` and ``reference`` map tokens ``(B, L)`` to
    logits ``(B, L, V)`` (the reference is typically the SFT model, and the policy starts as a
    copy of it).

    Returns the history, one dict per optimisation step: ``step``, ``epoch``, ``loss``,
    ``chosen_reward`` and ``rejected_reward`` (mean implicit rewards), ``margin`` (their mean
    difference) and ``accuracy`` (fraction of pairs with chosen reward > rejected reward).
    ``callback(record)`` is called after every step; returning True stops training.
    ``loss_fn(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)
    -> (B,)`` per-pair losses replaces :func:`dpo_loss` (e.g. a student's, notebook 05); the
    records' implicit rewards are still :math:`\beta(\log\pi - \log\pi_\text{ref})`.
    """
    config = config or DPOConfig()
    if not isinstance(config, DPOConfig):
        raise ValueError(f"config must be a DPOConfig, got {type(config).__name__}")
    if not isinstance(data, PairDataset):
        raise ValueError(f"data must be a PairDataset, got {type(data).__name__}")
    if data.chosen.dtype != torch.long:
        raise ValueError(f"data must hold token ids (long tensors), got {data.chosen.dtype}")
    check_callable("callback", callback, allow_none=True)
    check_callable("loss_fn", loss_fn, allow_none=True)
    if data.tie is not None:
        data = data[torch.nonzero(~data.tie).squeeze(1)]
    if len(data) == 0:
        raise ValueError("data has no non-tied pairs to learn from")
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)

    reference.eval()
    with torch.no_grad():                                       # π_ref log-probs, once
        ref_chosen, ref_rejected = zip(*(pair_logprobs(reference, data[i:i + 256], config.average_logps)
                                         for i in range(0, len(data), 256)))
        ref_chosen, ref_rejected = torch.cat(ref_chosen), torch.cat(ref_rejected)

    optimizer = torch.optim.AdamW(policy.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(data) / config.batch_size)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=config.epochs * steps_per_epoch, desc=f"DPO ({config.loss_type})")
    history, step = [], 0
    policy.train()
    for epoch in range(1, config.epochs + 1):
        perm = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data), config.batch_size):
            idx = perm[start:start + config.batch_size]
            logp_chosen, logp_rejected = pair_logprobs(policy, data[idx], config.average_logps)
            losses, chosen_rewards, rejected_rewards = dpo_loss(
                logp_chosen, logp_rejected, ref_chosen[idx], ref_rejected[idx],
                beta=config.beta, loss_type=config.loss_type, label_smoothing=config.label_smoothing)
            if loss_fn is not None:                             # e.g. a student's DPO loss
                losses = loss_fn(logp_chosen, logp_rejected, ref_chosen[idx], ref_rejected[idx], config.beta)
            loss = losses.mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
            optimizer.step()
            step += 1
            record = {"step": step, "epoch": epoch, "loss": loss.item(),
                      "chosen_reward": chosen_rewards.mean().item(),
                      "rejected_reward": rejected_rewards.mean().item(),
                      "margin": (chosen_rewards - rejected_rewards).mean().item(),
                      "accuracy": (chosen_rewards > rejected_rewards).float().mean().item()}
            history.append(record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['accuracy']:.2f}")
            if callback is not None and callback(record):
                if bar is not None:
                    bar.close()
                policy.eval()
                return history
    if bar is not None:
        bar.close()
    policy.eval()
    return history
