"""Checkers for the exercises of notebooks 09–11: the IPO loss (09), choosing best-of-n's n from a
KL budget (10), and the accuracy ceiling of a labeler that flips labels (11)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..i18n import tr
from ._core import Case, Mistake, run_check
from ._hints import Hints, register

HINTS = {
    "ipo_loss": Hints(
        start="Inputs: four (B,) tensors of summed log-probabilities (the policy's and the "
              "reference's, for the chosen and the rejected response) and beta. Return one loss per "
              "pair, shape (B,). Re-read 5.5 (IPO) of notebook 05.",
        idea="IPO keeps DPO's log-ratio difference h but, instead of pushing it up without end through a "
             "log-sigmoid, regresses it onto a finite target that shrinks as β grows.",
        formula="h = [log π(y_c) − log π_ref(y_c)] − [log π(y_r) − log π_ref(y_r)];   loss = (h − 1/(2β))²   (per pair)",
        notebook="09_applications_and_tools", function="my_ipo_loss", reference="rlft_core.dpo.dpo_loss"),
    "best_of_n_for_kl": Hints(
        start="Input: kl_budget, in nats (≥ 0). Return an int: the largest n whose best-of-n policy "
              "stays within the budget by the bound of 10.3, KL(best-of-n ‖ π_ref) ≤ log n − (n−1)/n.",
        idea="The bound grows with n, slowly (like log n) and without limit. Start at n = 1 (KL 0) and "
             "increase n while the *next* n still fits in the budget.",
        formula="KL(n) = ln n − (n − 1)/n;   answer = max{ n ≥ 1 : KL(n) ≤ kl_budget }   (natural log: math.log)",
        notebook="10_challenges_reward_hacking", function="best_of_n_for_kl",
        reference="rlft_core.exercises.beyond.reference_best_of_n_for_kl"),
    "noisy_ceiling": Hints(
        start="Inputs: a0, the fraction of pairs on which the labeler agrees with the true ordering "
              "without flips, and f, the probability that it flips a label (a float or a NumPy array). "
              "Return the fraction that agrees once every label is flipped with probability f.",
        idea="A label agrees with the truth in two ways: the labeler was right and the label was not "
             "flipped, or the labeler was wrong and the flip turned it right. Add the two probabilities.",
        formula="a(f) = a0·(1 − f) + (1 − a0)·f = a0 − f·(2·a0 − 1)",
        notebook="11_faq", function="noisy_ceiling", reference="rlft_core.exercises.beyond.reference_noisy_ceiling"),
}
register(HINTS)


# ---------------------------------------------------------------- 09: IPO
def _h(pc, pr, rc, rr):
    return (pc - rc) - (pr - rr)


def check_ipo_loss(fn) -> bool:
    """``fn(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)
    -> (B,)``: IPO's per-pair loss (h − 1/(2β))² (Azar et al. 2023, eq. 17)."""
    from ..dpo import dpo_loss

    def reference(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
        return dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
                        beta=beta, loss_type="ipo")[0]
    gen = torch.Generator().manual_seed(9)
    logps = [-(torch.rand(6, generator=gen, dtype=torch.float64) * 8 + 1) for _ in range(4)]
    on_target = [torch.tensor([-3.0, -6.0], dtype=torch.float64), torch.tensor([-4.0, -5.0], dtype=torch.float64),
                 torch.tensor([-2.0, -4.0], dtype=torch.float64), torch.tensor([-4.0, -2.0], dtype=torch.float64)]
    cases = [Case(tr("random log-probs, beta = 0.1"), (*logps, 0.1)),
             Case("beta = 0.5", (*logps, 0.5)),
             Case(tr("h = 1/(2β) exactly: the loss is 0 (beta = 0.25, h = 2)"), (*on_target, 0.25))]
    mistakes = [
        Mistake("the target is 1/(2β), not 1/β: loss = (h − 1/(2β))².",
                lambda pc, pr, rc, rr, beta: (_h(pc, pr, rc, rr) - 1 / beta) ** 2),
        Mistake("β goes into the target, not onto h: (h − 1/(2β))², not (β·h − 1/2)² (that is β² times it).",
                lambda pc, pr, rc, rr, beta: (beta * _h(pc, pr, rc, rr) - 0.5) ** 2),
        Mistake("h is the chosen log-ratio minus the rejected one: h = (π_c − ref_c) − (π_r − ref_r).",
                lambda pc, pr, rc, rr, beta: (-_h(pc, pr, rc, rr) - 1 / (2 * beta)) ** 2),
        Mistake("that is DPO's loss −log σ(β·h); IPO replaces it by a squared distance to a target.",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * _h(pc, pr, rc, rr))),
        Mistake("return one loss per pair (shape (B,)); do not average here.",
                lambda pc, pr, rc, rr, beta: ((_h(pc, pr, rc, rr) - 1 / (2 * beta)) ** 2).mean()),
    ]
    return run_check("check_ipo_loss", fn, reference, cases, mistakes=mistakes, exercise="ipo_loss")


# ---------------------------------------------------------------- 10: best-of-n from a KL budget
def _largest_n(kl_budget, kl_of_n):
    n = 1
    while kl_of_n(n + 1) <= kl_budget:
        n += 1
    return n


def reference_best_of_n_for_kl(kl_budget: float) -> int:
    r"""The largest :math:`n` whose best-of-n policy stays within ``kl_budget`` nats of the base
    policy by the bound :math:`\mathrm{KL}(n) = \log n - (n-1)/n` (Stiennon et al. 2020; Beirami et
    al. 2024): :math:`\max\{n \ge 1 : \mathrm{KL}(n) \le \text{budget}\}`."""
    from ..rlhf import best_of_n_kl
    if not np.isfinite(kl_budget) or kl_budget < 0:
        raise ValueError(f"kl_budget must be a finite number >= 0, got {kl_budget!r}")
    return _largest_n(kl_budget, best_of_n_kl)


def check_best_of_n_for_kl(fn) -> bool:
    """``fn(kl_budget) -> int``: the largest n with log n − (n−1)/n ≤ kl_budget."""
    from ..rlhf import best_of_n_kl
    best_of_n_for_kl = reference_best_of_n_for_kl
    # 1 nat comes early: the mistakes below first fail there, each with a different n
    budgets = {tr("a zero budget allows n = 1 only"): 0.0, tr("1 nat"): 1.0, tr("{nats} nats", nats=0.3): 0.3,
               tr("just above KL(8)"): best_of_n_kl(8) + 1e-9, tr("just below KL(8)"): best_of_n_kl(8) - 1e-9,
               tr("{nats} nats", nats=2.5): 2.5, tr("{nats} nats", nats=5): 5.0}
    cases = [Case(name, (budget,)) for name, budget in budgets.items()]
    mistakes = [
        Mistake("the bound is log n − (n−1)/n: the (n−1)/n term is missing (log n alone gives too small an n).",
                lambda kl_budget: _largest_n(kl_budget, math.log)),
        Mistake("one too many: that n already exceeds the budget; return the *largest* n that stays within it.",
                lambda kl_budget: best_of_n_for_kl(kl_budget) + 1),
        Mistake("KL is measured in nats: use the natural log (math.log), not log2.",
                lambda kl_budget: _largest_n(kl_budget, lambda n: math.log2(n) - (n - 1) / n)),
    ]
    return run_check("check_best_of_n_for_kl", fn, best_of_n_for_kl, cases, mistakes=mistakes,
                     exercise="best_of_n_for_kl")


# ---------------------------------------------------------------- 11: the ceiling under flip noise
def reference_noisy_ceiling(a0, f):
    r"""Agreement with the true ordering of a labeler that agrees on a fraction ``a0`` of pairs and
    then flips each label with probability ``f``: :math:`a_0(1-f) + (1-a_0)f = a_0 - f(2a_0 - 1)`
    (the flip noise of :meth:`rlft_core.preferences.BradleyTerryLabeler.agreement_rate`)."""
    return a0 * (1 - f) + (1 - a0) * f


def check_noisy_ceiling(fn) -> bool:
    """``fn(a0, f) -> float or array``: the agreement with the truth after flipping each label with
    probability f, a0 − f(2a0 − 1) (``BradleyTerryLabeler.agreement_rate``'s flip noise)."""
    noisy_ceiling = reference_noisy_ceiling
    cases = [Case(tr("no flips"), (0.9, 0.0)), Case("a0 = 0.9, f = 0.2", (0.9, 0.2)),
             Case(tr("f = 0.5: a coin flip, whatever a0"), (0.75, 0.5)),
             Case(tr("a perfect labeler, f = 0.3"), (1.0, 0.3)),
             Case(tr("an array of flip rates"), (0.85, np.array([0.0, 0.1, 0.2, 0.3, 0.4])))]
    mistakes = [
        Mistake("a flipped label is not always wrong: when the labeler was wrong (probability 1 − a0), a "
                "flip makes the label agree with the truth. Add that case: + (1 − a0)·f.",
                lambda a0, f: a0 * (1 - f)),
        Mistake("(1 − 2f)·a0 forgets the flips that turn a wrong label right: a(f) = a0(1 − f) + (1 − a0)f.",
                lambda a0, f: (1 - 2 * f) * a0),
        Mistake("a flip does not subtract f from the agreement: it moves the agreement towards ½, by "
                "f·(2a0 − 1).", lambda a0, f: a0 - f),
        Mistake("the flips only matter through a0: for a perfect labeler (a0 = 1) the answer is 1 − f, "
                "but in general a0(1 − f) + (1 − a0)f.", lambda a0, f: 1 - f + 0 * a0),
    ]
    return run_check("check_noisy_ceiling", fn, noisy_ceiling, cases, mistakes=mistakes, exercise="noisy_ceiling")
