"""Exercise of notebook 07: repair a PPO loss with six planted bugs.

The student gets :func:`buggy_ppo_loss` (the bugs are typical of the source chapter's §5.2 code
and of first PPO implementations) and writes a fixed copy. :func:`check_ppo_loss` compares the
loss and its gradients with :func:`reference_ppo_loss` on fixed batches; when the answer is exactly
the reference with some bugs left in, it says how many remain and names the first one.
``rlft_core.ppo.train_ppo(..., loss_fn=...)`` trains CartPole with any such loss, to see what the bugs do.
"""
from __future__ import annotations

import itertools
from types import SimpleNamespace

import torch

from ..i18n import tr
from ._core import Case, Mistake, run_check
from ._hints import Hints, register

HINTS = {
    "ppo_loss": Hints(
        start="Copy the body of buggy_ppo_loss (show_source(buggy_ppo_loss)) into your function and "
              "fix it line by line; run this check after each fix: it names the first bug that is "
              "left. There are six. Re-read 4.2 and 4.3 of notebook 04 for the loss you are aiming at.",
        idea="Go line by line and ask of each: is this the quantity of the formula? The advantage "
             "normalisation, what is a constant, the ratio, the sign of each term, the critic's "
             "target and the entropy's role each hide one bug.",
        formula="Â ← (Â − mean Â)/(std Â + 1e-8);  r = exp(log π_new − sg[log π_old]);  "
                "L = −mean[min(r·Â, clip(r, 1±ε)·Â)] + c1·½·mean[(V − R)²] − c2·mean[H]",
        notebook="07_ppo_in_practice", function="my_ppo_loss",
        reference="rlft_core.exercises.ppo_repair.reference_ppo_loss"),
}
register(HINTS)

__all__ = ["buggy_ppo_loss", "reference_ppo_loss", "check_ppo_loss", "ppo_loss_variant",
           "BUG_SLOTS"]


def buggy_ppo_loss(batch, logp_new, entropy, values, config):
    """PPO's loss to minimise, with six planted bugs (find them; notebook 07).

    ``batch``: dict of ``logp_old``, ``advantages`` (raw GAE), ``returns``, each ``(B,)``, from the
    rollout (``logp_old`` may still be attached to the graph that computed it); ``logp_new``,
    ``entropy``, ``values``: ``(B,)`` from the current networks; ``config``: a ``PPOConfig``
    (``clip_eps``, ``vf_coef``, ``ent_coef``).
    """
    adv = batch["advantages"]
    adv = (adv - adv.mean()) / (adv.var() + 1e-8)                        # standardise the advantages
    ratio = logp_new - batch["logp_old"]                                  # probability ratio
    clipped = torch.clamp(ratio, 1 - config.clip_eps, 1 + config.clip_eps)
    policy_loss = torch.min(ratio * adv, clipped * adv).mean()            # clipped surrogate
    value_loss = 0.5 * ((values - batch["advantages"]) ** 2).mean()       # critic regression
    return policy_loss + config.vf_coef * value_loss + config.ent_coef * entropy.mean()


def reference_ppo_loss(batch, logp_new, entropy, values, config):
    r"""PPO's loss :math:`-L^{CLIP} + c_1 L^V - c_2 H` on one minibatch (Schulman et al. 2017, eq. 9).

    .. math::
        \hat A \leftarrow \frac{\hat A - \mathrm{mean}(\hat A)}{\mathrm{std}(\hat A) + 10^{-8}},\quad
        r_t = \exp(\log\pi_\theta(a_t|s_t) - \mathrm{sg}[\log\pi_{\theta_\text{old}}(a_t|s_t)]),

        L = -\mathbb E_t[\min(r_t\hat A_t, \mathrm{clip}(r_t, 1\pm\epsilon)\hat A_t)]
            + c_1\,\tfrac12\mathbb E_t[(V_\theta(s_t) - R_t)^2] - c_2\,\mathbb E_t[H_t]

    (sg = stop-gradient: the old policy is a constant). Built from ``rlft_core.ppo_losses``.
    """
    from ..ppo_losses import clipped_surrogate_loss, normalize_advantages, value_loss
    if not isinstance(batch, dict) or not {"logp_old", "advantages", "returns"} <= set(batch):
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"batch must be a dict with logp_old, advantages and returns, got {got}")
    adv = normalize_advantages(batch["advantages"])
    policy_loss = clipped_surrogate_loss(logp_new, batch["logp_old"].detach(), adv, config.clip_eps)
    return (policy_loss + config.vf_coef * value_loss(values, batch["returns"])
            - config.ent_coef * entropy.mean())


def bug_slots(tr=tr) -> list:
    """Every line of the loss where a bug can hide, in the order of the code: (slot, {variant: hint}).

    The first variant of each slot is the planted bug of buggy_ppo_loss; the others are other
    common mistakes on the same line, or (ACCEPTED) another convention that is just as right.
    The hints are in the current language (``tr``), read when a check runs.
    """
    return [
        ("advantages", {
            "variance": tr("the advantages are divided by their *variance*; standardising divides by the "
                           "standard deviation: (adv - adv.mean()) / (adv.std() + 1e-8)."),
            "none": tr("the advantages are not standardised: (adv - adv.mean()) / (adv.std() + 1e-8) "
                       "(per minibatch, Huang et al. 2022, detail 7)."),
            "population_std": tr("not a bug: adv.std(unbiased=False) is the population std (numpy's "
                                 "default, used by OpenAI Baselines); torch's default adv.std() is the "
                                 "unbiased one (CleanRL). Both are accepted.")}),
        ("detach", {
            "attached": tr("batch['logp_old'] comes from the policy that collected the data: a constant. "
                           "Use batch['logp_old'].detach(), or the gradient also flows into the old log-probs.")}),
        ("ratio", {
            "log_ratio": tr("the ratio is exp(logp_new - logp_old); logp_new - logp_old is the *log*-ratio "
                            "(the source's “log probability ratio”)."),
            "inverted": tr("the ratio is π_new/π_old = exp(logp_new - logp_old), not exp(logp_old - logp_new).")}),
        ("policy_sign", {
            "objective": tr("the optimiser *minimises*: the policy loss is -min(r·A, clip(r)·A).mean(), "
                            "the negated clipped objective (the source's min E[log π·A] has this sign bug too)."),
            "min_of_negated": tr("negating turns min into max: the loss is max(-r·A, -clip(r)·A), not "
                                 "min(-r·A, -clip(r)·A).")}),
        ("value_target", {
            "advantages": tr("the critic regresses on the *returns* (R_t = A_t + V_old), not the advantages."),
            "no_half": tr("the value loss is 0.5 * mean((V - R)²) (rlft_core.ppo_losses.value_loss).")}),
        ("entropy", {
            "plus": tr("the entropy is a *bonus*: subtract ent_coef * entropy.mean() from the loss (adding it "
                       "punishes exploration and collapses the policy)."),
            "missing": tr("the entropy bonus is missing: - config.ent_coef * entropy.mean().")}),
    ]


BUG_SLOTS = bug_slots(tr=lambda text: text)     # in English: the slots and variants by name
ACCEPTED = {("advantages", "population_std")}     # variants that are not bugs


def ppo_loss_variant(bugs: dict):
    """The PPO loss with the mistakes ``{slot: variant}`` of :data:`BUG_SLOTS` (``{}``: correct)."""
    unknown = {s: v for s, v in bugs.items() if s not in dict(BUG_SLOTS) or v not in dict(BUG_SLOTS)[s]}
    if unknown:
        raise ValueError(f"bugs must map slots of BUG_SLOTS to their variants, got unknown {unknown}")

    def loss_fn(batch, logp_new, entropy, values, config):
        adv = batch["advantages"]
        norm = bugs.get("advantages")
        if norm != "none":
            scale = {"variance": adv.var(), "population_std": adv.std(unbiased=False)}.get(norm, adv.std())
            adv = (adv - adv.mean()) / (scale + 1e-8)
        logp_old = batch["logp_old"] if "detach" in bugs else batch["logp_old"].detach()
        ratio = {"log_ratio": logp_new - logp_old,
                 "inverted": torch.exp(logp_old - logp_new)}.get(bugs.get("ratio"), torch.exp(logp_new - logp_old))
        clipped = ratio.clamp(1 - config.clip_eps, 1 + config.clip_eps)
        if bugs.get("policy_sign") == "min_of_negated":
            policy_loss = torch.min(-ratio * adv, -clipped * adv).mean()
        else:
            surrogate = torch.min(ratio * adv, clipped * adv).mean()
            policy_loss = surrogate if bugs.get("policy_sign") == "objective" else -surrogate
        target = batch["advantages"] if bugs.get("value_target") == "advantages" else batch["returns"]
        half = 1.0 if bugs.get("value_target") == "no_half" else 0.5
        entropy_sign = {"plus": 1.0, "missing": 0.0}.get(bugs.get("entropy"), -1.0)
        return (policy_loss + config.vf_coef * half * ((values - target) ** 2).mean()
                + entropy_sign * config.ent_coef * entropy.mean())
    return loss_fn


def _with_gradients(loss_fn):
    """Call ``loss_fn`` on a batch built from plain tensors; return (loss, dL/dθ, dL/dV, dL/dH).

    θ stands for the policy's parameters: ``logp_new = logp_new0 + θ`` and, as when the old
    log-probs are recomputed by the network without ``no_grad``, ``logp_old = logp_old0 + θ/2``."""
    def wrapped(logp_old, logp_new, advantages, values, returns, entropy, config):
        data = {"logp_old": logp_old, "logp_new": logp_new, "advantages": advantages, "values": values,
                "returns": returns, "entropy": entropy}
        theta = torch.zeros_like(data["logp_new"], requires_grad=True)
        values = data["values"].clone().requires_grad_()
        entropy = data["entropy"].clone().requires_grad_()
        batch = {"logp_old": data["logp_old"] + 0.5 * theta, "advantages": data["advantages"].clone(),
                 "returns": data["returns"].clone()}
        loss = loss_fn(batch, data["logp_new"] + theta, entropy, values, config)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            return loss
        if not loss.requires_grad:
            return loss.detach(), torch.zeros_like(theta), torch.zeros_like(values), torch.zeros_like(entropy)
        grads = torch.autograd.grad(loss.reshape(()), [theta, values, entropy], allow_unused=True)
        grads = [torch.zeros_like(x) if g is None else g for g, x in zip(grads, (theta, values, entropy))]
        return (loss.detach().reshape(()), *grads)
    return wrapped


def _cases():
    f64 = dict(dtype=torch.float64)
    logp_old = torch.log(torch.tensor([0.5, 0.5, 0.2, 0.2, 0.7, 0.1, 0.4, 0.9], **f64))
    ratios = torch.tensor([1.5, 0.6, 1.15, 0.93, 1.3, 0.5, 1.02, 0.75], **f64)   # none on a clip edge
    data = {"logp_old": logp_old, "logp_new": logp_old + torch.log(ratios),
            "advantages": torch.tensor([3.0, -2.0, 0.5, -1.0, 4.5, 2.0, -3.5, 1.0], **f64),
            "values": torch.tensor([9.0, 7.5, 10.0, 8.0, 6.0, 9.5, 11.0, 8.5], **f64),
            "returns": torch.tensor([12.0, 5.0, 10.5, 7.5, 10.0, 11.0, 8.0, 9.0], **f64),
            "entropy": torch.tensor([0.69, 0.6, 0.5, 0.65, 0.3, 0.68, 0.4, 0.2], **f64)}
    small = {k: v[:5].clone() for k, v in data.items()}
    small["advantages"] = torch.tensor([0.2, -0.1, 0.3, 0.05, -0.4], **f64)
    order = ("logp_old", "logp_new", "advantages", "values", "returns", "entropy")
    return [Case(tr("a minibatch of 8, default coefficients"),
                 (*(data[k] for k in order), SimpleNamespace(clip_eps=0.2, vf_coef=0.5, ent_coef=0.01))),
            Case(tr("5 samples, small advantages, eps = 0.1, c1 = 1, c2 = 0.05"),
                 (*(small[k] for k in order), SimpleNamespace(clip_eps=0.1, vf_coef=1.0, ent_coef=0.05)))]


def _mistakes():
    """One Mistake per combination of bugs (at most one per slot), hint = how many + the first one."""
    options = [[None, *variants] for _, variants in BUG_SLOTS]
    slots = [slot for slot, _ in BUG_SLOTS]
    hints = dict(bug_slots())                       # in the current language
    mistakes = []
    for combo in itertools.product(*options):
        variant = {slot: v for slot, v in zip(slots, combo) if v is not None}
        bugs = {slot: v for slot, v in variant.items() if (slot, v) not in ACCEPTED}
        if not bugs:
            continue
        first_slot = next(s for s in slots if s in bugs)
        hint = hints[first_slot][bugs[first_slot]]
        if len(bugs) == 1:
            text = tr("{count} bug left. The first one ({slot}): {hint}", count=1, slot=first_slot, hint=hint)
        else:
            text = tr("{count} bugs left. The first one ({slot}): {hint}", count=len(bugs), slot=first_slot, hint=hint)
        mistakes.append((len(bugs), Mistake(text, _with_gradients(ppo_loss_variant(variant)))))
    return [m for _, m in sorted(mistakes, key=lambda pair: pair[0])]


def check_ppo_loss(fn) -> bool:
    """``fn(batch, logp_new, entropy, values, config) -> scalar loss``: the repaired
    :func:`buggy_ppo_loss`. Compares the loss and its gradients with :func:`reference_ppo_loss`."""
    return run_check(
        "check_ppo_loss", _with_gradients(fn), _with_gradients(reference_ppo_loss), _cases(),
        mistakes=_mistakes(), check_mutation=False,
        also_right=[_with_gradients(ppo_loss_variant(dict(ACCEPTED)))],
        compared=tr("result 0 = the loss; results 1, 2, 3 = its gradients with respect to the policy "
                    "parameters θ (logp_new = logp_new0 + θ, logp_old = logp_old0 + θ/2), the values "
                    "and the entropies"),
        exercise="ppo_loss")

