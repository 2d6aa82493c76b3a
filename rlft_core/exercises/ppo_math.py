"""Checkers for the exercises of notebook 04: GAE and PPO's clipped surrogate loss."""
from __future__ import annotations

import numpy as np
import torch

from ..i18n import tr
from ._core import Case, Mistake, run_check
from ._hints import Hints, register

HINTS = {
    "gae": Hints(
        start="Inputs: rewards, values, dones, each (T,) or (T, N) for N environments; last_value, the "
              "value of the state after the last step; gamma and lam. Return a pair (advantages, "
              "returns), each shaped like rewards. Re-read 4.1 (the TD error, then GAE).",
        idea="Compute each step's TD error, then sum them backwards in time with weight γλ per step. "
             "dones[t] = 1 means the episode ended at step t: nothing after it may leak into step t. "
             "The returns the critic learns are advantages + values.",
        formula="δ_t = r_t + γ(1 − d_t)·V_{t+1} − V_t   (V_T = last_value);   "
                "A_t = δ_t + γλ(1 − d_t)·A_{t+1}   (A_T = 0);   R_t = A_t + V_t",
        notebook="04_ppo_math", function="my_gae", reference="rlft_core.returns.gae"),
    "clipped_surrogate_loss": Hints(
        start="Inputs: logp_new, logp_old, advantages, each a (B,) tensor, and clip_eps. Return one "
              "scalar tensor, the loss to *minimise*, keeping the gradient of logp_new. Re-read 4.2 "
              "and the min/max sign pitfall.",
        idea="The probability ratio π_new/π_old comes from the log-probs by exponentiating their "
             "difference. Take the pessimistic (smaller) of the plain and the clipped objective, "
             "average, and negate to get a loss.",
        formula="r_t = exp(log π_new − log π_old);   L = −mean_t[ min(r_t·A_t, clip(r_t, 1 − ε, 1 + ε)·A_t) ]",
        notebook="04_ppo_math", function="my_clipped_surrogate_loss", reference="rlft_core.ppo_losses.clipped_surrogate_loss"),
}
register(HINTS)


# ---------------------------------------------------------------- 04: GAE and the clipped loss
def _gae_cases():
    rng = np.random.default_rng(1)
    rewards, values = rng.normal(size=6).round(2), rng.normal(size=6).round(2)
    cases = [Case(tr("one episode, no end"), kwargs=dict(rewards=rewards, values=values, dones=np.zeros(6),
                                                     last_value=0.5, gamma=0.9, lam=0.8))]
    dones = np.array([0, 0, 1, 1, 0, 1.0])
    cases.append(Case(tr("two ends in a row and one at the last step"),
                      kwargs=dict(rewards=rewards, values=values, dones=dones, last_value=0.5, gamma=0.9, lam=0.8)))
    R, V = rng.normal(size=(7, 3)).round(2), rng.normal(size=(7, 3)).round(2)
    D = np.zeros((7, 3))
    D[2, 0] = D[6, 1] = D[4, 2] = 1
    cases.append(Case(tr("three environments, shape (T, N)"),
                      kwargs=dict(rewards=R, values=V, dones=D, last_value=rng.normal(size=3).round(2), gamma=0.99, lam=0.95)))
    return cases


def gae_variant(rewards, values, dones, last_value, gamma, lam, *, mask_delta=True, mask_recursion=True,
                decay="gamma_lam", use_last_value=True, shift_dones=False):
    """GAE by a plain backward loop, with the switches of the classic mistakes (all defaults: right)."""
    rewards, values, dones = (np.asarray(x, dtype=np.float64) for x in (rewards, values, dones))
    if shift_dones:                                        # d_{t+1} used where d_t belongs
        dones = np.concatenate([dones[1:], np.zeros_like(dones[:1])])
    advantages, running = np.zeros_like(rewards), np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        if t == len(rewards) - 1:
            next_value = np.asarray(last_value, dtype=np.float64) if use_last_value else np.zeros_like(rewards[0])
        else:
            next_value = values[t + 1]
        not_done = 1.0 - dones[t]
        delta = rewards[t] + gamma * (not_done if mask_delta else 1.0) * next_value - values[t]
        running = delta + (gamma * lam if decay == "gamma_lam" else lam) * (not_done if mask_recursion else 1.0) * running
        advantages[t] = running
    return advantages, advantages + values


def _gae_mistake(**switches):
    return lambda rewards, values, dones, last_value, gamma, lam: gae_variant(
        rewards, values, dones, last_value, gamma, lam, **switches)


def check_gae(fn) -> bool:
    """``fn(rewards, values, dones, last_value, gamma, lam) -> (advantages, returns)``."""
    from ..returns import gae
    mistakes = [
        Mistake("off by one at episode ends: dones[t] ends the episode *at* step t, so it masks both "
                "V(s_{t+1}) in δ_t and the recursion from A_{t+1}.", _gae_mistake(shift_dones=True)),
        Mistake("episode ends ignored: multiply by (1 − dones[t]) in δ_t and in the recursion.",
                _gae_mistake(mask_delta=False, mask_recursion=False)),
        Mistake("(1 − dones[t]) is missing in the recursion: δ_t is masked, but A_t still adds γλ·A_{t+1} "
                "from the *next* episode. Write A_t = δ_t + γλ(1 − d_t)·A_{t+1}.", _gae_mistake(mask_recursion=False)),
        Mistake("(1 − dones[t]) is missing in δ_t: at an episode's last step there is no next state, so "
                "δ_t = r_t − V(s_t); the recursion is masked, but δ_t still bootstraps from the next "
                "episode's first value.", _gae_mistake(mask_delta=False)),
        Mistake("last_value was ignored: at the last step t = T−1 (if the episode goes on) δ bootstraps "
                "from V(s_T) = last_value, the value of the state after the rollout, not from 0.",
                _gae_mistake(use_last_value=False)),
        Mistake("the recursion decays by γ·λ, not λ alone: A_t = δ_t + γλ(1−d_t)A_{t+1}.", _gae_mistake(decay="lam")),
        Mistake("flipped sign: δ_t = r_t + γV(s_{t+1}) − V(s_t).",
                lambda *a, **k: (lambda adv, ret: (-adv, ret - 2 * adv))(*gae(*a, **k))),
        Mistake("the two outputs are swapped: return (advantages, returns), in that order.",
                lambda *a, **k: tuple(reversed(gae(*a, **k)))),
        Mistake("returns are advantages + values (the λ-return), not the advantages themselves.",
                lambda *a, **k: (gae(*a, **k)[0], gae(*a, **k)[0])),
    ]
    return run_check("check_gae", fn, gae, _gae_cases(), mistakes=mistakes,
                     compared=tr("result 0 = advantages, result 1 = returns"),
                     exercise="gae")


def _with_logp_gradient(loss_fn):
    def wrapped(logp_new, logp_old, advantages, clip_eps):
        logp_new = logp_new.clone().requires_grad_()
        loss = loss_fn(logp_new, logp_old, advantages, clip_eps)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            return loss
        grad = torch.autograd.grad(loss, logp_new)[0] if loss.requires_grad else torch.zeros_like(logp_new)
        return loss.detach(), grad
    return wrapped


def check_clipped_surrogate_loss(fn) -> bool:
    """``fn(logp_new, logp_old, advantages, clip_eps) -> scalar loss`` (to minimise)."""
    from ..ppo_losses import clipped_surrogate_loss as ref
    logp_old = torch.log(torch.tensor([0.5, 0.5, 0.2, 0.2, 0.7, 0.1], dtype=torch.float64))
    ratios = torch.tensor([1.5, 0.6, 1.1, 0.9, 1.3, 0.5], dtype=torch.float64)
    adv = torch.tensor([1.0, -2.0, 0.5, -1.0, -0.5, 2.0], dtype=torch.float64)
    cases = [Case(tr("ratios inside and outside the clip range, both signs of A"),
                  (logp_old + torch.log(ratios), logp_old, adv, 0.2)),
             Case(tr("small batch, eps = 0.1"), (logp_old[:3] + 0.3, logp_old[:3], adv[:3], 0.1))]
    clamp = lambda r, e: r.clamp(1 - e, 1 + e)  # noqa: E731
    mistakes = [
        Mistake("the min/max sign pitfall: the loss is −min(rA, clip(r)A) = max(−rA, −clip(r)A); "
                "taking min of the negated terms is not the same.",
                _with_logp_gradient(lambda n, o, a, e: torch.min(-a * torch.exp(n - o), -a * clamp(torch.exp(n - o), e)).mean())),
        Mistake("flipped sign: return the *loss* to minimise, −L^CLIP.",
                _with_logp_gradient(lambda n, o, a, e: -ref(n, o, a, e))),
        Mistake("the ratio is π_new/π_old = exp(logp_new − logp_old), not its inverse exp(logp_old − logp_new).",
                _with_logp_gradient(lambda n, o, a, e: ref(o, n, a, e))),
        Mistake("exp is missing: logp_new − logp_old is the *log* of the ratio; the ratio (1 when nothing "
                "changed) is torch.exp(logp_new − logp_old), and that is what gets clipped to [1 − ε, 1 + ε].",
                _with_logp_gradient(lambda n, o, a, e: -torch.min((n - o) * a, clamp(n - o, e) * a).mean())),
        Mistake("clip the ratio, not the advantage.",
                _with_logp_gradient(lambda n, o, a, e: -torch.min(torch.exp(n - o) * a, torch.exp(n - o) * a.clamp(1 - e, 1 + e)).mean())),
        Mistake("the ratio must keep its gradient: do not .detach() logp_new.",
                _with_logp_gradient(lambda n, o, a, e: ref(n.detach(), o, a, e))),
    ]
    return run_check("check_clipped_surrogate_loss", _with_logp_gradient(fn), _with_logp_gradient(ref), cases,
                     mistakes=mistakes, compared=tr("result 0 = the loss, result 1 = its gradient with "
                                                   "respect to logp_new"),
                     exercise="clipped_surrogate_loss")
