"""Checkers for the preference exercises of notebook 05: the Bradley–Terry loss and the DPO loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ._core import Case, Mistake, run_check


def _pairs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(8, generator=gen, dtype=torch.float64) * 2,
            torch.randn(8, generator=gen, dtype=torch.float64) * 2)


def check_bradley_terry_loss(fn) -> bool:
    """``fn(r_chosen, r_rejected) -> scalar`` = mean(−log σ(r_chosen − r_rejected))."""
    from ..reward_model import bradley_terry_loss as ref
    r_c, r_r = _pairs(0)
    cases = [Case("random rewards", (r_c, r_r)),
             Case("ties: every loss is log 2", (r_c, r_c.clone())),
             Case("extreme gaps (±800)", (torch.tensor([800.0, -800.0], dtype=torch.float64),
                                          torch.tensor([-800.0, 800.0], dtype=torch.float64)))]
    mistakes = [
        Mistake("log(sigmoid(x)) overflows to −inf for very negative x; use F.logsigmoid(x), which "
                "computes the same thing stably.",
                lambda c, r: -torch.log(torch.sigmoid(c - r)).mean()),
        Mistake("flipped sign: the chosen reward should be *higher*, so the loss is −log σ(r_chosen − r_rejected).",
                lambda c, r: -F.logsigmoid(r - c).mean()),
        Mistake("the loss is the *negative* log-likelihood: −log σ(...).",
                lambda c, r: F.logsigmoid(c - r).mean()),
        Mistake("average over pairs with .mean(), not .sum().",
                lambda c, r: -F.logsigmoid(c - r).sum()),
    ]
    return run_check("check_bradley_terry_loss", fn, lambda c, r: ref(c, r), cases, mistakes=mistakes,
                     start_hint="return -F.logsigmoid(r_chosen - r_rejected).mean()  "
                                "(F is torch.nn.functional)")


def check_dpo_loss(fn) -> bool:
    """``fn(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)
    -> per-pair losses`` (the sigmoid DPO loss, not reduced)."""
    from ..dpo import dpo_loss

    def ref(pc, pr, rc, rr, beta):
        return dpo_loss(pc, pr, rc, rr, beta=beta)[0]
    gen = torch.Generator().manual_seed(1)
    logps = [-(torch.rand(6, generator=gen, dtype=torch.float64) * 20 + 1) for _ in range(4)]
    extreme = [torch.tensor([-2020.0], dtype=torch.float64), torch.tensor([-20.0], dtype=torch.float64),
               torch.tensor([-20.0], dtype=torch.float64), torch.tensor([-20.0], dtype=torch.float64)]
    cases = [Case("random log-probs, beta = 0.1", (*logps, 0.1)),
             Case("beta = 0.5", (*logps, 0.5)),
             Case("extreme: h = −2000, beta = 0.5 gives exactly 1000", (*extreme, 0.5))]

    def h(pc, pr, rc, rr):
        return (pc - rc) - (pr - rr)
    mistakes = [
        Mistake("β left out: the loss is −log σ(β·h), h = (π_c − ref_c) − (π_r − ref_r).",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(h(pc, pr, rc, rr))),
        Mistake("log(sigmoid(x)) overflows for very negative x; use F.logsigmoid.",
                lambda pc, pr, rc, rr, beta: -torch.log(torch.sigmoid(beta * h(pc, pr, rc, rr)))),
        Mistake("the reference log-probs are *subtracted*: log π/π_ref = logp − ref_logp.",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc + rc) - (pr + rr)))),
        Mistake("flipped sign: the chosen log-ratio minus the rejected one, inside −log σ(β·h).",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(-beta * h(pc, pr, rc, rr))),
        Mistake("return one loss per pair (shape (B,)); do not average here.",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * h(pc, pr, rc, rr)).mean()),
    ]
    return run_check("check_dpo_loss", fn, ref, cases, mistakes=mistakes,
                     start_hint="h = (policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - "
                                "ref_rejected_logps); return -F.logsigmoid(beta * h)")
