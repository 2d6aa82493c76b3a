"""PPO losses against hand-computed values, finite differences and the clipping rule."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlft_core.ppo_losses import (approx_kl, clip_fraction, clipped_surrogate_loss, entropy_bonus,
                                  normalize_advantages, value_loss)


def t(*xs):
    return torch.tensor(xs, dtype=torch.float64)


def test_clipped_surrogate_hand_computed():
    # ratios 1.5 (A=+1 -> clipped at 1.2), 0.5 (A=-2 -> clipped at 0.8), 1.1 (A=+3 -> not clipped),
    # 0.5 (A=+1 -> min picks the unclipped 0.5, pessimistic)
    ratios = t(1.5, 0.5, 1.1, 0.5)
    adv = t(1.0, -2.0, 3.0, 1.0)
    logp_old = t(-1.0, -2.0, -0.5, -0.3)
    logp_new = logp_old + torch.log(ratios)
    per_sample_objective = [1.2 * 1.0, 0.8 * -2.0, 1.1 * 3.0, 0.5 * 1.0]
    expected = -sum(per_sample_objective) / 4
    loss = clipped_surrogate_loss(logp_new, logp_old, adv, 0.2)
    assert loss.item() == pytest.approx(expected, abs=1e-12)


def test_clipped_surrogate_gradient_matches_finite_differences():
    torch.manual_seed(0)
    logp_old = torch.randn(16, dtype=torch.float64)
    logp_new = (logp_old + 0.3 * torch.randn(16, dtype=torch.float64)).requires_grad_()
    adv = torch.randn(16, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda lp: clipped_surrogate_loss(lp, logp_old, adv, 0.2), (logp_new,))


@pytest.mark.parametrize("adv_sign,log_ratio,clipped", [
    (+1, math.log(1.5), True),    # A > 0, r > 1+eps: clipped on the side A pushes -> flat
    (-1, math.log(0.5), True),    # A < 0, r < 1-eps: flat
    (+1, math.log(0.5), False),   # A > 0, r < 1-eps: the min keeps the unclipped term -> gradient
    (-1, math.log(1.5), False),   # A < 0, r > 1+eps: gradient
    (+1, math.log(1.1), False),   # inside the trust region
])
def test_zero_policy_gradient_only_where_clipped_on_the_pushed_side(adv_sign, log_ratio, clipped):
    logp_old = torch.zeros(1, dtype=torch.float64)
    logp_new = torch.full((1,), log_ratio, dtype=torch.float64, requires_grad=True)
    adv = torch.full((1,), 2.0 * adv_sign, dtype=torch.float64)
    clipped_surrogate_loss(logp_new, logp_old, adv, 0.2).backward()
    grad = logp_new.grad.item()
    if clipped:
        assert grad == 0.0
    else:
        # d/dlogp of -A * exp(logp - logp_old) = -A * r
        assert grad == pytest.approx(-2.0 * adv_sign * math.exp(log_ratio))


def test_value_loss_unclipped_and_clipped_hand_computed():
    values, returns, old = t(1.0, 3.0), t(2.0, 0.0), t(0.0, 2.5)
    assert value_loss(values, returns).item() == pytest.approx(0.5 * (1 + 9) / 2)
    # clipped values: old + clip(v - old, -0.5, 0.5) = (0.5, 3.0)
    # max((1-2)^2, (0.5-2)^2) = 2.25 ; max(9, 9) = 9
    assert value_loss(values, returns, old, 0.5).item() == pytest.approx(0.5 * (2.25 + 9) / 2)


def test_value_loss_gradient_matches_finite_differences():
    torch.manual_seed(1)
    v = torch.randn(10, dtype=torch.float64, requires_grad=True)
    r, old = torch.randn(10, dtype=torch.float64), torch.randn(10, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: value_loss(x, r, old, 0.3), (v,))


def test_approx_kl_closed_form_and_nonnegative():
    logp_old = t(-1.0, -1.0)
    logp_new = t(-1.0 + math.log(2.0), -1.0 + math.log(0.5))
    expected = ((2 - 1) - math.log(2) + (0.5 - 1) - math.log(0.5)) / 2
    assert approx_kl(logp_new, logp_old).item() == pytest.approx(expected)
    torch.manual_seed(2)
    a, b = torch.randn(1000), torch.randn(1000)
    assert approx_kl(a, b).item() >= 0


def test_approx_kl_estimates_true_kl_from_samples():
    """Samples from p, k3 = (r-1) - log r with r = q/p estimates KL(p||q)."""
    torch.manual_seed(3)
    p = torch.distributions.Categorical(probs=torch.tensor([0.5, 0.3, 0.2]))
    q = torch.distributions.Categorical(probs=torch.tensor([0.4, 0.4, 0.2]))
    actions = p.sample((200_000,))
    estimate = approx_kl(q.log_prob(actions), p.log_prob(actions)).item()
    exact = torch.distributions.kl_divergence(p, q).item()
    assert estimate == pytest.approx(exact, rel=0.05)


def test_clip_fraction_counts_ratios_outside_the_region():
    logp_old = torch.zeros(4)
    logp_new = torch.log(torch.tensor([1.0, 1.25, 0.7, 1.19]))
    assert clip_fraction(logp_new, logp_old, 0.2).item() == pytest.approx(0.5)


def test_normalize_advantages_uses_unbiased_std():
    adv = t(1.0, 2.0, 3.0, 4.0)
    mean = 2.5
    std_unbiased = math.sqrt(sum((x - mean) ** 2 for x in [1, 2, 3, 4]) / 3)
    expected = [(x - mean) / (std_unbiased + 1e-8) for x in [1, 2, 3, 4]]
    assert normalize_advantages(adv).tolist() == pytest.approx(expected)


def test_entropy_bonus_is_the_mean():
    assert entropy_bonus(t(0.5, 1.5)).item() == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=8), st.floats(-1e4, 1e4))
def test_losses_finite_on_extreme_log_ratios(log_ratios, adv_value):
    logp_new = torch.tensor(log_ratios, dtype=torch.float64)
    logp_old = torch.zeros_like(logp_new)
    adv = torch.full_like(logp_new, adv_value)
    assert torch.isfinite(clipped_surrogate_loss(logp_new, logp_old, adv, 0.2))
    assert torch.isfinite(approx_kl(logp_new, logp_old))


@pytest.mark.parametrize("call,match", [
    (lambda: clipped_surrogate_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3), 0.0), "clip_eps"),
    (lambda: clipped_surrogate_loss(torch.zeros(3), torch.zeros(4), torch.zeros(3), 0.2), "logp_old has shape"),
    (lambda: clipped_surrogate_loss(torch.zeros(3), torch.zeros(3), torch.tensor([0, float("nan"), 0]), 0.2), "advantages contains NaN"),
    (lambda: clipped_surrogate_loss([0.0], torch.zeros(1), torch.zeros(1), 0.2), "logp_new must be a torch.Tensor"),
    (lambda: value_loss(torch.zeros(3), torch.zeros(2)), "returns has shape"),
    (lambda: value_loss(torch.zeros(3), torch.zeros(3), old_values=torch.zeros(3)), "clip_eps"),
    (lambda: value_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3), -1.0), "clip_eps"),
    (lambda: approx_kl(torch.zeros(3, dtype=torch.long), torch.zeros(3)), "logp_new must be a floating"),
    (lambda: clip_fraction(torch.zeros(3), torch.zeros(3), -0.1), "clip_eps"),
    (lambda: normalize_advantages(torch.zeros(1)), "adv must hold at least 2"),
    (lambda: entropy_bonus(None), "entropy"),
])
def test_ppo_losses_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
