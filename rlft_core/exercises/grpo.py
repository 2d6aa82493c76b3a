"""Checkers for notebook 12: group advantages, the masked clipped per-token GRPO loss, and k3.

Unattempted, a checker says where to start (never the answer); ``hint()`` gives more on request
(once the idea, twice the formula) and only ``show_solution()`` shows code, as for every exercise.
"""
from __future__ import annotations

import torch

from ..i18n import tr
from ._core import Case, Mistake, compare, run_check
from ._hints import Hints, register

HINTS = {
    "group_advantages": Hints(
        start="Inputs: rewards (N,) with each prompt's group_size samples consecutive, group_size, eps. "
              "Return (N,) advantages. Start by viewing the rewards as (num_prompts, group_size); "
              "re-read 12.2.",
        idea="Reshape the rewards to (num_prompts, group_size): each row is one prompt's group. Every "
             "statistic is taken along dim=1, inside a group, never over the whole batch.",
        formula="A_i = (r_i − mean of its group) / (std of its group + eps). A group whose rewards are all "
                "equal has std 0: the eps keeps 0 / (0 + eps) = 0 instead of 0 / 0 = NaN. Flatten back to (N,).",
        notebook="12_grpo_and_verifiable_rewards", function="my_group_advantages",
        reference="rlft_core.grpo.group_advantages"),
    "grpo_token_loss": Hints(
        start="Inputs: logp, old_logp (B, T), advantages (B,), mask (B, T) bool, clip_eps, loss_type, "
              "max_completion_length. Return one scalar loss. Start with the (B, T) ratio "
              "exp(logp − old_logp); re-read 12.5.",
        idea="Work per token on (B, T) tensors: ratio, clipped ratio, the pessimistic min, a minus sign; "
             "each sequence's advantage is broadcast along its tokens with advantages[:, None]. Then zero "
             "the padding with the mask before any sum.",
        formula="ℓ = −min(ρA, clip(ρ, 1−ε, 1+ε)A), ρ = exp(logp − old_logp). 'grpo': mean over rows of "
                "(Σ_t ℓ·m) / (Σ_t m); 'dapo': Σ ℓ·m / Σ m; 'dr_grpo': Σ ℓ·m / (B · max_completion_length).",
        notebook="12_grpo_and_verifiable_rewards", function="my_grpo_token_loss",
        reference="rlft_core.grpo.grpo_loss"),
    "k3": Hints(
        start="Inputs: logp and ref_logp, per-token log-probs of tokens sampled from π. Return the per-token "
              "estimate, same shape. Start from x = ref_logp − logp, token by token; re-read 12.6.",
        idea="Write x = log π_ref − log π (the log of the ratio π_ref/π). k3 is a function of x alone that "
             "is 0 at x = 0 and never negative.",
        formula="k3 = e^x − x − 1 with x = ref_logp − logp (torch.expm1(x) − x is the same, more precise near 0).",
        notebook="12_grpo_and_verifiable_rewards", function="my_k3", reference="rlft_core.grpo.kl_estimate"),
}
register(HINTS)


def _population_group_advantages(rewards, group_size, eps=1e-4):
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    return (centred / (grouped.std(dim=1, unbiased=False, keepdim=True) + eps)).reshape(-1)


def _both_group_advantages(rewards, group_size, eps=1e-4):
    from ..grpo import group_advantages
    return group_advantages(rewards, group_size, eps=eps), _population_group_advantages(rewards, group_size, eps)


def _either_std(expected, got):
    """Either standard deviation passes; the tolerance lets any small eps (1e-8 … 1e-4) pass too."""
    bessel, population = expected
    if compare(bessel, got, atol=1e-3, rtol=1e-3) is None or compare(population, got, atol=1e-3, rtol=1e-3) is None:
        return None
    return compare(bessel, got, atol=1e-3, rtol=1e-3)


def _group_cases():
    f = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return [Case(tr("two groups of 4 with 0/1 rewards"), (f(1, 0, 0, 0, 1, 1, 0, 1), 4), {"eps": 1e-4}),
            Case(tr("a group whose rewards are all equal (std 0)"), (f(1, 1, 1, 0, 1, 0), 3), {"eps": 1e-4}),
            Case(tr("groups on very different scales"), (f(0.1, 0.2, 0.3, 100, 300, 200), 3), {"eps": 1e-4}),
            Case(tr("one group of 8, every reward 0"), (torch.zeros(8, dtype=torch.float64), 8), {"eps": 1e-4})]


def check_group_advantages(fn) -> bool:
    r"""``fn(rewards (N,), group_size, eps=1e-4) -> (N,)``: GRPO's advantages
    :math:`(r_i - \mathrm{mean}_g)/(\mathrm{std}_g + \epsilon)` within consecutive groups. Population or
    Bessel standard deviation are both accepted (TRL uses Bessel's, i.e. ``torch.std``'s default)."""
    batch = lambda r, G, eps=1e-4: (r - r.view(-1, G).mean(1).repeat_interleave(G)) / (r.std() + eps)  # noqa: E731
    mistakes = [
        Mistake("that normalises with the whole batch's standard deviation: reshape to (num_prompts, "
                "group_size) and take the std along dim=1, one per group (TRL's scale_rewards='group').",
                batch),
        Mistake("that subtracts the whole batch's mean: the baseline is each group's own mean (dim=1).",
                lambda r, G, eps=1e-4: (r - r.mean()) / (r.std() + eps)),
        Mistake("a group whose rewards are all equal has std 0, and 0 / 0 is NaN: add eps to the std "
                "(the answer for that group is 0 — it teaches nothing).",
                lambda r, G, eps=1e-4: ((r.view(-1, G) - r.view(-1, G).mean(1, keepdim=True))
                                        / r.view(-1, G).std(1, keepdim=True)).reshape(-1)),
        Mistake("the rewards were divided by the std but not centred: subtract the group mean first.",
                lambda r, G, eps=1e-4: (r.view(-1, G) / (r.view(-1, G).std(1, keepdim=True) + eps)).reshape(-1)),
    ]
    passed = run_check("check_group_advantages", fn, _both_group_advantages, _group_cases(), mistakes=mistakes,
                       compare_fn=_either_std, compared=tr("expected: (with Bessel's std, with the population std)"),
                       exercise="group_advantages")
    if passed:
        rewards = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
        got = torch.as_tensor(fn(rewards.clone(), 4, eps=1e-4), dtype=torch.float64)
        bessel = compare(_both_group_advantages(rewards, 4)[0], got, atol=1e-3, rtol=1e-3) is None
        print("   " + (tr("You used Bessel's standard deviation (÷ (G−1)), as TRL and CS336 do.") if bessel else
                       tr("You used the population standard deviation (÷ G); TRL uses Bessel's (÷ (G−1), "
                          "torch.std's default), which gives slightly smaller advantages.")))
    return passed


# ------------------------------------------------------------------------- masked clipped token loss
def _with_gradient(loss_fn):
    def wrapped(logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length):
        logp = logp.clone().requires_grad_()
        loss = loss_fn(logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            return loss
        grad = torch.autograd.grad(loss, logp)[0] if loss.requires_grad else torch.zeros_like(logp)
        return loss.detach().reshape(()), grad
    return wrapped


def _reference_token_loss(logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length):
    from ..grpo import grpo_loss
    return grpo_loss(logp, old_logp, advantages, mask, clip_eps=clip_eps, loss_type=loss_type,
                     max_completion_length=max_completion_length)


def _token_cases():
    gen = torch.Generator().manual_seed(12)
    logp = -torch.rand(3, 5, generator=gen, dtype=torch.float64) * 2
    old = logp + torch.tensor([[0.3, -0.3, 0.05, 0.4, -0.1]] * 3, dtype=torch.float64)    # ratios in and out
    adv = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    mask = torch.arange(5)[None, :] < torch.tensor([5, 2, 4])[:, None]
    return [Case(tr("loss_type='{loss_type}', lengths 5, 2, 4, clip_eps 0.2", loss_type=t), (logp, old, adv, mask, 0.2, t, 6))
            for t in ("dapo", "grpo", "dr_grpo")]


def _token_loss_variant(mask_it=True, sign=-1.0, use_max=False, agg=None):
    def loss(logp, old, adv, mask, eps, loss_type, L):
        ratio = torch.exp(logp - old)
        a = adv[:, None]
        pick = torch.max if use_max else torch.min
        token = sign * pick(ratio * a, ratio.clamp(1 - eps, 1 + eps) * a)
        m = mask if mask_it else torch.ones_like(mask)
        token = token * m
        kind = agg or loss_type
        if kind == "grpo":
            return (token.sum(1) / m.sum(1)).mean()
        if kind == "dapo":
            return token.sum() / m.sum()
        return token.sum() / (logp.shape[0] * L)
    return _with_gradient(loss)


def check_grpo_token_loss(fn) -> bool:
    r"""``fn(logp, old_logp, advantages, mask, clip_eps, loss_type, max_completion_length) -> scalar``:
    :math:`\ell = -\min(\rho A, \mathrm{clip}(\rho, 1\pm\epsilon)A)` per token, masked, aggregated as TRL's
    ``loss_type`` ("grpo", "dapo", "dr_grpo"). Value and gradient with respect to ``logp`` are compared."""
    mistakes = [
        Mistake("padding tokens were counted: multiply the per-token loss by the mask and count only "
                "masked tokens in the denominators.", _token_loss_variant(mask_it=False)),
        Mistake("the sign: return a loss to minimise, −min(ρA, clip(ρ)A).", _token_loss_variant(sign=1.0)),
        Mistake("take the min of the two surrogate terms (the pessimistic one), not the max.",
                _token_loss_variant(use_max=True)),
        Mistake("'grpo' averages each sequence over its own tokens first, then averages the sequences: "
                "(Σ_t ℓ·m).sum(1) / m.sum(1), then .mean().", _token_loss_variant(agg="dapo")),
        Mistake("'dapo' divides the sum over all masked tokens by their total number (one pool of tokens), "
                "not by sequences.", _token_loss_variant(agg="grpo")),
        Mistake("'dr_grpo' divides by the constant B · max_completion_length, not by the number of tokens.",
                _token_loss_variant(agg="dapo")),
    ]
    return run_check("check_grpo_token_loss", _with_gradient(fn), _with_gradient(_reference_token_loss),
                     _token_cases(), mistakes=mistakes,
                     compared=tr("result 0 = the loss, result 1 = its gradient with respect to logp"),
                     exercise="grpo_token_loss")


# ---------------------------------------------------------------------------------------------- k3
def _reference_k3(logp, ref_logp):
    from ..grpo import kl_estimate
    return kl_estimate(logp, ref_logp, "k3")


def check_k3(fn) -> bool:
    r"""``fn(logp, ref_logp) -> same shape``: Schulman's k3 estimate of KL(π‖π_ref) per sampled token,
    :math:`e^{x} - x - 1` with :math:`x = \log\pi_{ref} - \log\pi`."""
    f = lambda *v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    cases = [Case(tr("a few tokens"), (f(-0.5, -1.2, -3.0, -0.1), f(-0.7, -0.4, -3.0, -2.5))),
             Case(tr("a (2, 3) batch"), (f(-1.0, -2.0, -0.3, -0.2, -4.0, -1.0).view(2, 3),
                                     f(-1.5, -1.0, -0.3, -0.9, -2.0, -3.0).view(2, 3))),
             Case(tr("policy equal to the reference gives 0"), (f(-0.3, -2.0), f(-0.3, -2.0)))]
    mistakes = [
        Mistake("x is log π_ref − log π (reference minus policy); with the difference the other way round "
                "you get an estimate of the reverse KL(π_ref‖π).",
                lambda lp, rf: torch.exp(lp - rf) - (lp - rf) - 1),
        Mistake("that is k1 = log π − log π_ref: unbiased but often negative. k3 adds the term e^x − 1.",
                lambda lp, rf: lp - rf),
        Mistake("that is k2 = ½(log π − log π_ref)², biased. k3 is e^x − x − 1.",
                lambda lp, rf: 0.5 * (lp - rf) ** 2),
        Mistake("the −1 is missing: at π = π_ref the estimate must be 0.",
                lambda lp, rf: torch.exp(rf - lp) - (rf - lp)),
    ]
    return run_check("check_k3", fn, _reference_k3, cases, mistakes=mistakes,
                     exercise="k3")
