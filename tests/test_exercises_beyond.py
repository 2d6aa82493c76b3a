"""The exercises of notebooks 09–11: right answers pass, stubs are not attempted, each classic
mistake gets its hint, and the reference formulas agree with the package's own numbers."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlft_core.exercises import check_best_of_n_for_kl, check_ipo_loss, check_noisy_ceiling
from rlft_core.preferences import BradleyTerryLabeler


def stub(*args):
    raise NotImplementedError()


def ipo(pc, pr, rc, rr, beta, target_scale=0.5, on_beta=False, sign=1.0):
    h = sign * ((pc - rc) - (pr - rr))
    return (beta * h - 0.5) ** 2 if on_beta else (h - target_scale / beta) ** 2


def bisect_n(kl_budget, kl=lambda n: math.log(n) - 1 + 1 / n):
    """The largest n with kl(n) <= budget, by doubling then bisection (not a linear scan)."""
    hi = 1
    while kl(2 * hi) <= kl_budget:
        hi *= 2
    lo, hi = hi, 2 * hi                     # kl(lo) <= budget < kl(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if kl(mid) <= kl_budget else (lo, mid)
    return lo


def ceiling(a0, f):
    return a0 - f * (2 * a0 - 1)


@pytest.mark.parametrize("checker,right", [
    (check_ipo_loss, ipo),
    (check_best_of_n_for_kl, bisect_n),
    (check_noisy_ceiling, ceiling),
])
def test_right_answers_pass_and_stubs_are_not_attempted(checker, right, capsys):
    assert checker(right) is True
    assert checker(stub) is False
    out = capsys.readouterr().out
    assert "✅" in out and "not attempted" in out and "hint()" in out


@pytest.mark.parametrize("checker,wrong,hint", [
    (check_ipo_loss, lambda *a: ipo(*a, target_scale=1.0), "not 1/β"),
    (check_ipo_loss, lambda *a: ipo(*a, on_beta=True), "β² times"),
    (check_ipo_loss, lambda *a: ipo(*a, sign=-1.0), "chosen log-ratio minus"),
    (check_ipo_loss, lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc - rc) - (pr - rr))), "DPO's loss"),
    (check_ipo_loss, lambda *a: ipo(*a).mean(), "one loss per pair"),
    (check_best_of_n_for_kl, lambda kl_budget: bisect_n(kl_budget, math.log), "term is missing"),
    (check_best_of_n_for_kl, lambda kl_budget: bisect_n(kl_budget) + 1, "one too many"),
    (check_best_of_n_for_kl, lambda kl_budget: bisect_n(kl_budget, lambda n: math.log2(n) - 1 + 1 / n), "natural log"),
    (check_noisy_ceiling, lambda a0, f: a0 * (1 - f), "a flipped label is not always wrong"),
    (check_noisy_ceiling, lambda a0, f: (1 - 2 * f) * a0, "forgets the flips"),
    (check_noisy_ceiling, lambda a0, f: a0 - f, "towards ½"),
])
def test_a_classic_mistake_gets_its_hint(checker, wrong, hint, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "💡 Hint:" in out and hint in out, out


def test_the_noisy_ceiling_formula_is_the_labelers_agreement_under_flips():
    """BradleyTerryLabeler.agreement_rate (its own closed form, and Monte Carlo) against a0 − f(2a0 − 1)."""
    rng = np.random.default_rng(0)
    items_a, items_b = list(rng.normal(size=(300, 3))), list(rng.normal(size=(300, 3)))
    reward = lambda x: float(x.sum())  # noqa: E731
    a0 = BradleyTerryLabeler(reward, temperature=0.5, seed=0).agreement_rate(items_a, items_b)
    for f in (0.1, 0.3):
        noisy = BradleyTerryLabeler(reward, temperature=0.5, flip_prob=f, seed=0)
        assert noisy.agreement_rate(items_a, items_b) == pytest.approx(ceiling(a0, f), abs=1e-9)
        assert noisy.agreement_rate(items_a, items_b, n_samples=200) == pytest.approx(ceiling(a0, f), abs=0.01)


def test_the_ipo_reference_is_zero_on_target_and_the_best_of_n_answer_brackets_the_budget():
    h_target = torch.tensor([2.0], dtype=torch.float64)               # 1/(2β) with β = 0.25
    zero = torch.zeros(1, dtype=torch.float64)
    assert ipo(h_target, zero, zero, zero, 0.25).item() == 0.0
    for budget in (0.7, 3.3):
        n = bisect_n(budget)
        assert math.log(n) - (n - 1) / n <= budget < math.log(n + 1) - n / (n + 1)


def test_the_reference_best_of_n_for_kl_refuses_a_negative_or_infinite_budget():
    from rlft_core.exercises import reference_best_of_n_for_kl
    assert reference_best_of_n_for_kl(0.0) == 1 and reference_best_of_n_for_kl(1.0) == bisect_n(1.0)
    for bad in (-0.1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="kl_budget"):
            reference_best_of_n_for_kl(bad)
