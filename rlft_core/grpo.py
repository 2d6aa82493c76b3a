r"""Critic-free RL fine-tuning: group advantages, KL estimators and the GRPO / DAPO / Dr. GRPO loss.

PPO (notebook 04) needs a value network to turn a sequence reward into advantages. GRPO (Shao et
al. 2024, "DeepSeekMath", §4.1) drops the critic: it samples a *group* of G completions for each
prompt and uses the group's own rewards as the baseline. RLOO (Ahmadian et al. 2024, "Back to
Basics") does the same with a leave-one-out mean. This module holds the pieces as pure tensor
functions; the trainer is :mod:`rlft_core.grpo_train`.

Conventions (the same as TRL's ``GRPOTrainer``, so that names carry over):

* ``rewards`` ``(N,)`` with ``N = num_prompts × group_size``: rows ``g·G … g·G + G − 1`` are the G
  samples of prompt ``g`` (consecutive blocks, as ``torch.repeat_interleave`` lays them out);
* ``logp``, ``old_logp``, ``ref_logp`` ``(B, T)``: per-token log-probabilities of the completion
  tokens; ``mask`` ``(B, T)`` bool, True on completion tokens (``<eos>`` included), False on padding.
"""
from __future__ import annotations

import math

import torch

from ._validate import check_finite, check_range, check_same_shape, check_tensor

LOSS_TYPES = ("grpo", "dapo", "dr_grpo")
KL_ESTIMATORS = ("k1", "k2", "k3")
SCALES = ("group", "batch", "none")


# ------------------------------------------------------------------------------ argument checks
def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _check_grouped_rewards(rewards, group_size) -> None:
    check_tensor("rewards", rewards, ndim=1)
    check_finite(rewards=rewards)
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
        raise ValueError(f"group_size must be an integer ≥ 2 (a baseline needs other samples), got {group_size!r}")
    if len(rewards) % group_size:
        raise ValueError(f"rewards has {len(rewards)} entries, not a multiple of group_size={group_size}; "
                         "expected (num_prompts × group_size,) with each prompt's samples consecutive")


def _check_token_tensors(logp, mask, **others) -> None:
    check_tensor("logp", logp, ndim=2)
    check_same_shape(logp=logp, mask=mask, **others)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True on completion tokens), got "
                         f"{getattr(mask, 'dtype', type(mask).__name__)}")
    check_finite(logp=logp, **others)


# ---------------------------------------------------------------------------------- advantages
def group_advantages(rewards: torch.Tensor, group_size: int, scale: str = "group", eps: float = 1e-4) -> torch.Tensor:
    r"""GRPO's advantage: each sample's reward against the other samples of its prompt.

    .. math:: \hat A_i = \frac{r_i - \operatorname{mean}(r_{g(i)})}{\operatorname{std}(r_{g(i)}) + \epsilon}

    with :math:`r_{g(i)}` the G rewards of sample *i*'s group and the standard deviation **with
    Bessel's correction** (divide by G − 1), as TRL and Stanford CS336 compute it. ``scale``:

    * ``"group"``: divide by the group's std (Shao et al. 2024, "DeepSeekMath", §4.1.2);
    * ``"batch"``: centre by the group mean, divide by the std of the whole batch (TRL's
      ``scale_rewards="batch"``);
    * ``"none"``: only centre (Liu et al. 2025, "Understanding R1-Zero-Like Training", Dr. GRPO:
      dividing by the group std up-weights prompts that are nearly always right or wrong).

    A group whose rewards are all equal gets advantage exactly 0: it carries no signal (DAPO's
    dynamic sampling drops such groups). Returns ``(N,)``.
    """
    _check_grouped_rewards(rewards, group_size)
    _check_choice("scale", scale, SCALES)
    check_range("eps", eps, 0.0, math.inf, low_open=True, high_open=True)
    grouped = rewards.view(-1, group_size)                                  # (num_prompts, G)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale == "group":
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)        # Bessel: divides by G-1
    elif scale == "batch":
        centred = centred / (rewards.std() + eps)
    all_equal = (grouped == grouped[:, :1]).all(dim=1, keepdim=True)        # no signal in this group
    return centred.masked_fill(all_equal, 0.0).reshape(-1)


def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    r"""REINFORCE leave-one-out: each reward minus the mean of the *other* G − 1 of its group.

    .. math:: \hat A_i = r_i - \frac{1}{G-1}\sum_{j \in g(i),\, j \ne i} r_j = \frac{G}{G-1}\,(r_i - \bar r_{g(i)})

    The baseline does not depend on sample *i*, so the policy gradient stays unbiased (Kool et al.
    2019, "Buy 4 REINFORCE Samples, Get a Baseline for Free!"; Ahmadian et al. 2024, "Back to
    Basics: Revisiting REINFORCE-Style Optimization for Learning from Human Feedback in LLMs").
    No division by a standard deviation. Returns ``(N,)``.
    """
    _check_grouped_rewards(rewards, group_size)
    grouped = rewards.view(-1, group_size)                                  # (num_prompts, G)
    others_mean = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)
    return (grouped - others_mean).reshape(-1)


# ------------------------------------------------------------------------------ KL estimators
def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    r"""Per-token estimates of :math:`\mathrm{KL}(\pi\,\|\,\pi_{ref})` from tokens sampled from π.

    With :math:`\log\rho = \log\pi_{ref}(y) - \log\pi(y)` (Schulman 2020, "Approximating KL
    Divergence", http://joschu.net/blog/kl-approx.html):

    * ``"k1"`` :math:`= -\log\rho`: unbiased, but negative on many samples (high variance);
    * ``"k2"`` :math:`= \tfrac12(\log\rho)^2`: always ≥ 0, biased (low bias when π ≈ π_ref);
    * ``"k3"`` :math:`= \rho - 1 - \log\rho`: unbiased (since :math:`\mathbb E_\pi[\rho] = 1`) **and**
      always ≥ 0 (because :math:`x - 1 \ge \log x`); GRPO's choice (Shao et al. 2024, eq. (4)).

    "Unbiased" holds for the expectation over π's samples; the estimate of one token can be far
    from the true KL. Same shape as the inputs.
    """
    check_tensor("logp", logp)
    check_same_shape(logp=logp, ref_logp=ref_logp)
    _check_choice("estimator", estimator, KL_ESTIMATORS)
    log_ratio = ref_logp - logp                                             # log π_ref/π
    if estimator == "k1":
        return -log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio ** 2
    return torch.expm1(log_ratio) - log_ratio                               # e^x - 1 - x, stable near 0


# ------------------------------------------------------------------------------------- the loss
def _check_loss_args(logp, old_logp, advantages, mask, clip_eps, clip_eps_high, loss_type,
                     max_completion_length, ref_logp, beta, kl_estimator) -> None:
    _check_token_tensors(logp, mask, old_logp=old_logp, ref_logp=ref_logp)
    check_tensor("advantages", advantages, ndim=1)
    if len(advantages) != logp.shape[0]:
        raise ValueError(f"advantages must have shape ({logp.shape[0]},), one per completion, "
                         f"got {tuple(advantages.shape)}")
    check_finite(advantages=advantages)
    check_range("clip_eps", clip_eps, 0.0, 1.0, low_open=True, high_open=True)
    if clip_eps_high is not None:
        check_range("clip_eps_high", clip_eps_high, 0.0, math.inf, low_open=True, high_open=True)
    _check_choice("loss_type", loss_type, LOSS_TYPES)
    _check_choice("kl_estimator", kl_estimator, KL_ESTIMATORS)
    check_range("beta", beta, 0.0, math.inf, high_open=True)
    if beta > 0 and ref_logp is None:
        raise ValueError("beta > 0 needs ref_logp, the reference model's per-token log-probs (B, T)")
    if loss_type == "grpo" and not mask.any(dim=1).all():
        raise ValueError("mask has a row with no completion token; loss_type='grpo' divides each row by "
                         "its token count (drop empty completions first)")
    if loss_type == "dapo" and not mask.any():
        raise ValueError("mask has no completion token at all; loss_type='dapo' divides by their number")
    if loss_type == "dr_grpo":
        if isinstance(max_completion_length, bool) or not isinstance(max_completion_length, int) \
                or max_completion_length < logp.shape[1]:
            raise ValueError(f"loss_type='dr_grpo' needs max_completion_length, an integer ≥ T = "
                             f"{logp.shape[1]} (logp's width), got {max_completion_length!r}")


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              clip_eps: float = 0.2, clip_eps_high: float | None = None, loss_type: str = "dapo",
              max_completion_length: int | None = None, ref_logp: torch.Tensor | None = None,
              beta: float = 0.0, kl_estimator: str = "k3") -> torch.Tensor:
    r"""The clipped per-token policy loss of GRPO and its variants, aggregated as TRL does.

    Per completion token *t* of sequence *i*, with :math:`\rho_{i,t} = \exp(\log\pi_\theta - \log\pi_{old})`:

    .. math:: \ell_{i,t} = -\min\big(\rho_{i,t}\hat A_i,\ \operatorname{clip}(\rho_{i,t}, 1-\epsilon, 1+\epsilon_{high})\hat A_i\big)
              + \beta\,\widehat{\mathrm{KL}}_{i,t}

    (Shao et al. 2024, "DeepSeekMath", eq. (3); ``clip_eps_high`` > ``clip_eps`` is DAPO's
    "clip-higher", Yu et al. 2025, §3.1; the KL term uses :func:`kl_estimate` against ``ref_logp``).
    ``loss_type`` says how the masked :math:`\ell_{i,t}` become one number (TRL's names):

    * ``"grpo"``: :math:`\frac1B\sum_i \frac{1}{|y_i|}\sum_t \ell_{i,t}`, a mean of sequence means
      (a token of a short answer weighs more than one of a long answer: the length bias);
    * ``"dapo"``: :math:`\sum_{i,t}\ell_{i,t} / \sum_i |y_i|`, every token of the batch weighs the
      same (Yu et al. 2025, "DAPO", §3.3 token-level loss; TRL's default);
    * ``"dr_grpo"``: :math:`\sum_{i,t}\ell_{i,t} / (B\cdot L_{max})` with ``max_completion_length``
      :math:`L_{max}`, a constant (Liu et al. 2025, "Understanding R1-Zero-Like Training", Dr. GRPO).

    With one update per batch (``num_iterations=1``) :math:`\rho = 1` in value, yet its gradient is
    :math:`\nabla\log\pi_\theta`: pass ``old_logp = logp.detach()``. Returns a scalar.
    """
    _check_loss_args(logp, old_logp, advantages, mask, clip_eps, clip_eps_high, loss_type,
                     max_completion_length, ref_logp, beta, kl_estimator)
    eps_high = clip_eps if clip_eps_high is None else clip_eps_high
    adv = advantages[:, None]                                               # (B, 1) one per sequence
    ratio = torch.exp(logp - old_logp)                                      # (B, T)
    clipped_ratio = ratio.clamp(1 - clip_eps, 1 + eps_high)
    token_loss = -torch.min(ratio * adv, clipped_ratio * adv)               # (B, T)
    if beta > 0:
        token_loss = token_loss + beta * kl_estimate(logp, ref_logp, kl_estimator)
    token_loss = token_loss.masked_fill(~mask, 0.0)                         # padding: exactly 0, even if inf
    if loss_type == "grpo":
        return (token_loss.sum(dim=1) / mask.sum(dim=1)).mean()
    if loss_type == "dapo":
        return token_loss.sum() / mask.sum()
    return token_loss.sum() / (logp.shape[0] * max_completion_length)


def rloo_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              clip_eps: float = 0.2, clip_eps_high: float | None = None) -> torch.Tensor:
    r"""RLOO's clipped *sequence-level* loss (TRL's ``RLOOTrainer``).

    The importance ratio is over whole completions, :math:`\rho_i = \exp\big(\sum_t m_{i,t}(\log\pi_\theta
    - \log\pi_{old})\big)`, and

    .. math:: L = \frac1B\sum_i -\min\big(\rho_i\hat A_i,\ \operatorname{clip}(\rho_i, 1-\epsilon, 1+\epsilon_{high})\hat A_i\big)

    with :math:`\hat A` from :func:`rloo_advantages` (Ahmadian et al. 2024, "Back to Basics": the
    whole completion is modelled as one action). Returns a scalar.
    """
    _check_token_tensors(logp, mask, old_logp=old_logp)
    check_tensor("advantages", advantages, ndim=1)
    if len(advantages) != logp.shape[0]:
        raise ValueError(f"advantages must have shape ({logp.shape[0]},), got {tuple(advantages.shape)}")
    check_range("clip_eps", clip_eps, 0.0, 1.0, low_open=True, high_open=True)
    if clip_eps_high is not None:
        check_range("clip_eps_high", clip_eps_high, 0.0, math.inf, low_open=True, high_open=True)
    eps_high = clip_eps if clip_eps_high is None else clip_eps_high
    seq_log_ratio = ((logp - old_logp) * mask).sum(dim=1)                   # (B,)
    ratio = torch.exp(seq_log_ratio)
    clipped_ratio = ratio.clamp(1 - clip_eps, 1 + eps_high)
    return -torch.min(ratio * advantages, clipped_ratio * advantages).mean()
