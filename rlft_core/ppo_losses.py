r"""The losses and diagnostics of PPO, one function per equation.

Schulman, Wolski, Dhariwal, Radford, Klimov 2017, "Proximal Policy Optimization Algorithms".
All functions take torch tensors of log-probabilities of the *taken* actions, shape ``(B,)``,
and return scalar tensors (differentiable where a loss).
"""
from __future__ import annotations

import torch

from ._validate import check_finite, check_positive, check_same_shape, check_tensor


def _check_tensors(**named):
    """Each named tensor is a finite float tensor, all of one shape."""
    for name, x in named.items():
        check_tensor(name, x)
    check_same_shape(**named)
    check_finite(**named)


def _check_value_args(values, returns, old_values, clip_eps):
    _check_tensors(values=values, returns=returns)
    if (old_values is None) != (clip_eps is None):
        raise ValueError("old_values and clip_eps go together: pass both to clip, or neither")
    if old_values is not None:
        _check_tensors(values=values, old_values=old_values)
        check_positive(clip_eps=clip_eps)


def clipped_surrogate_loss(logp_new, logp_old, advantages, clip_eps):
    r"""PPO's clipped surrogate objective, as a loss to minimise.

    .. math::
        L = -\mathbb E_t\big[\min(r_t \hat A_t,\ \mathrm{clip}(r_t, 1-\epsilon, 1+\epsilon)\hat A_t)\big],
        \qquad r_t = \frac{\pi_\theta(a_t|s_t)}{\pi_{\theta_\text{old}}(a_t|s_t)}

    Minimising :math:`\max(-\hat A r, -\hat A\,\mathrm{clip}(r))` is maximising the paper's
    :math:`L^{CLIP}`. Where the ratio is clipped on the side the advantage pushes it (r > 1+ε with
    A > 0, r < 1−ε with A < 0) the loss is flat and its gradient is zero.
    Schulman et al. 2017, eq. (7).
    """
    _check_tensors(logp_new=logp_new, logp_old=logp_old, advantages=advantages)
    check_positive(clip_eps=clip_eps)
    ratio = torch.exp(logp_new - logp_old)                                  # (B,)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps)
    return torch.max(unclipped, clipped).mean()


def value_loss(values, returns, old_values=None, clip_eps=None):
    r"""Value-function loss, optionally clipped around the old predictions.

    .. math::
        L^V = \tfrac12\,\mathbb E_t[(V(s_t) - R_t)^2]

    With ``old_values`` and ``clip_eps`` (the PPO2 / OpenAI baselines variant):

    .. math::
        V^{clip} = V_\text{old} + \mathrm{clip}(V - V_\text{old}, -\epsilon, \epsilon),\quad
        L^V = \tfrac12\,\mathbb E_t[\max((V - R)^2, (V^{clip} - R)^2)]

    Schulman et al. 2017, eq. (9) (the :math:`L^{VF}` term); clipping from Dhariwal et al. 2017,
    OpenAI Baselines, and discussed in Engstrom et al. 2020 / Andrychowicz et al. 2021.
    """
    _check_value_args(values, returns, old_values, clip_eps)
    unclipped = (values - returns) ** 2                                     # (B,)
    if old_values is None:
        return 0.5 * unclipped.mean()
    values_clipped = old_values + (values - old_values).clamp(-clip_eps, clip_eps)
    clipped = (values_clipped - returns) ** 2
    return 0.5 * torch.max(unclipped, clipped).mean()


def approx_kl(logp_new, logp_old):
    r"""Low-variance estimate of :math:`\mathrm{KL}(\pi_\text{old}\,\|\,\pi_\text{new})`.

    .. math:: \widehat{KL} = \mathbb E_t[(r_t - 1) - \log r_t] \ \ge 0

    Unbiased when the actions were sampled from :math:`\pi_\text{old}` and never negative.
    J. Schulman 2020, "Approximating KL Divergence" (the k3 estimator), as used by CleanRL.
    """
    _check_tensors(logp_new=logp_new, logp_old=logp_old)
    log_ratio = logp_new - logp_old
    return ((torch.exp(log_ratio) - 1) - log_ratio).mean()


def clip_fraction(logp_new, logp_old, clip_eps):
    r"""Fraction of samples whose ratio left the trust region: :math:`\mathbb E_t[|r_t - 1| > \epsilon]`."""
    _check_tensors(logp_new=logp_new, logp_old=logp_old)
    check_positive(clip_eps=clip_eps)
    ratio = torch.exp(logp_new - logp_old)
    return ((ratio - 1.0).abs() > clip_eps).float().mean()


def normalize_advantages(adv):
    r"""Standardise advantages within a (mini)batch: :math:`(\hat A - \mu) / (\sigma + 10^{-8})`.

    σ is the *unbiased* standard deviation (``ddof=1``, torch's default), as in CleanRL; OpenAI
    Baselines uses numpy's population std (``ddof=0``). Both are fine: they differ by the factor
    :math:`\sqrt{(n-1)/n}`. Needs at least two samples.
    """
    check_tensor("adv", adv)
    check_finite(adv=adv)
    if adv.numel() < 2:
        raise ValueError(f"adv must hold at least 2 elements to normalise, got shape {tuple(adv.shape)}")
    return (adv - adv.mean()) / (adv.std() + 1e-8)


def entropy_bonus(entropy):
    r"""Mean policy entropy :math:`\mathbb E_t[H(\pi_\theta(\cdot|s_t))]`; PPO *adds*
    ``ent_coef`` times it to the objective (subtracts it from the loss). Schulman et al. 2017, eq. (9)."""
    check_tensor("entropy", entropy)
    return entropy.mean()
