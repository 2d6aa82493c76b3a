"""Checkers for the preference exercises of notebook 05: the Bradley–Terry loss and the DPO loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..i18n import tr
from ._core import Case, Mistake, run_check
from ._hints import Hints, register

HINTS = {
    "bradley_terry_loss": Hints(
        start="Inputs: r_chosen and r_rejected, (B,) tensors of the reward model's scores for the "
              "chosen and the rejected item of each pair. Return one scalar: the loss to minimise, "
              "averaged over the pairs. Re-read 5.1 (the Bradley–Terry model, then the reward-model loss).",
        idea="Bradley–Terry says the chosen item wins with probability σ(r_chosen − r_rejected). The "
             "loss is the negative log of that probability, averaged over the pairs; PyTorch has a "
             "numerically stable log σ.",
        formula="L = −(1/B) Σ_i log σ(r_chosen,i − r_rejected,i)   (torch.nn.functional.logsigmoid is log σ)",
        notebook="05_preferences_and_dpo_math", function="my_bradley_terry_loss",
        reference="rlft_core.reward_model.bradley_terry_loss"),
    "dpo_loss": Hints(
        start="Inputs: four (B,) tensors of summed log-probabilities (the policy's and the reference's, "
              "for the chosen and the rejected response) and beta. Return one loss per pair, shape "
              "(B,), not averaged. Re-read 5.3 (DPO derived step by step).",
        idea="The implicit reward of a response is β times its log-ratio log π/π_ref. DPO is the "
             "Bradley–Terry loss on the difference of the implicit rewards of chosen and rejected.",
        formula="h = [log π(y_c) − log π_ref(y_c)] − [log π(y_r) − log π_ref(y_r)];   loss = −log σ(β·h)   (per pair)",
        notebook="05_preferences_and_dpo_math", function="my_dpo_loss", reference="rlft_core.dpo.dpo_loss"),
}
register(HINTS)


def _pairs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(8, generator=gen, dtype=torch.float64) * 2,
            torch.randn(8, generator=gen, dtype=torch.float64) * 2)


def check_bradley_terry_loss(fn) -> bool:
    """``fn(r_chosen, r_rejected) -> scalar`` = mean(−log σ(r_chosen − r_rejected))."""
    from ..reward_model import bradley_terry_loss as ref
    r_c, r_r = _pairs(0)
    cases = [Case(tr("random rewards"), (r_c, r_r)),
             Case(tr("ties: every loss is log 2"), (r_c, r_c.clone())),
             Case(tr("extreme gaps (±800)"), (torch.tensor([800.0, -800.0], dtype=torch.float64),
                                          torch.tensor([-800.0, 800.0], dtype=torch.float64)))]
    mistakes = [
        Mistake("log(sigmoid(x)) underflows to −inf for very negative x (sigmoid rounds to 0); use F.logsigmoid(x), which "
                "computes the same thing stably.",
                lambda c, r: -torch.log(torch.sigmoid(c - r)).mean()),
        Mistake("flipped sign: the chosen reward should be *higher*, so the loss is −log σ(r_chosen − r_rejected).",
                lambda c, r: -F.logsigmoid(r - c).mean()),
        Mistake("the loss is the *negative* log-likelihood: −log σ(...).",
                lambda c, r: F.logsigmoid(c - r).mean()),
        Mistake("average over pairs with .mean(), not .sum().",
                lambda c, r: -F.logsigmoid(c - r).sum()),
        Mistake("that is one loss per pair, shape (B,); the reward-model loss is their mean, one scalar "
                "(add .mean()).", lambda c, r: -F.logsigmoid(c - r)),
    ]
    def reference(r_chosen, r_rejected):
        return ref(r_chosen, r_rejected)
    return run_check("check_bradley_terry_loss", fn, reference, cases, mistakes=mistakes,
                     exercise="bradley_terry_loss")


def check_dpo_loss(fn) -> bool:
    """``fn(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)
    -> per-pair losses`` (the sigmoid DPO loss, not reduced)."""
    from ..dpo import dpo_loss

    def ref(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
        return dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=beta)[0]
    gen = torch.Generator().manual_seed(1)
    logps = [-(torch.rand(6, generator=gen, dtype=torch.float64) * 20 + 1) for _ in range(4)]
    extreme = [torch.tensor([-2020.0], dtype=torch.float64), torch.tensor([-20.0], dtype=torch.float64),
               torch.tensor([-20.0], dtype=torch.float64), torch.tensor([-20.0], dtype=torch.float64)]
    cases = [Case(tr("random log-probs, beta = 0.1"), (*logps, 0.1)),
             Case("beta = 0.5", (*logps, 0.5)),
             Case(tr("extreme: h = −2000, beta = 0.5 gives exactly 1000"), (*extreme, 0.5))]

    def h(pc, pr, rc, rr):
        return (pc - rc) - (pr - rr)
    mistakes = [
        Mistake("β left out: the loss is −log σ(β·h), h = (π_c − ref_c) − (π_r − ref_r).",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(h(pc, pr, rc, rr))),
        Mistake("β belongs inside the log-sigmoid: −log σ(β·h), not −β·log σ(h). β scales the implicit "
                "rewards β·log π/π_ref before they are compared, so it changes where the loss saturates, "
                "not just its size.", lambda pc, pr, rc, rr, beta: -beta * F.logsigmoid(h(pc, pr, rc, rr))),
        Mistake("multiply by β, do not divide: the implicit reward is β·log π/π_ref, so the loss is "
                "−log σ(β·h), not −log σ(h/β).", lambda pc, pr, rc, rr, beta: -F.logsigmoid(h(pc, pr, rc, rr) / beta)),
        Mistake("log(sigmoid(x)) underflows to −inf for very negative x (sigmoid rounds to 0); use F.logsigmoid.",
                lambda pc, pr, rc, rr, beta: -torch.log(torch.sigmoid(beta * h(pc, pr, rc, rr)))),
        Mistake("the reference log-probs are *subtracted*: log π/π_ref = logp − ref_logp.",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc + rc) - (pr + rr)))),
        Mistake("flipped sign: the chosen log-ratio minus the rejected one, inside −log σ(β·h).",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(-beta * h(pc, pr, rc, rr))),
        Mistake("return one loss per pair (shape (B,)); do not average here.",
                lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * h(pc, pr, rc, rr)).mean()),
    ]
    return run_check("check_dpo_loss", fn, ref, cases, mistakes=mistakes,
                     exercise="dpo_loss")
