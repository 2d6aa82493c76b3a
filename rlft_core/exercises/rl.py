"""Checkers for the RL exercises of notebooks 01–04: CartPole heuristic, Q-learning and SARSA
updates, the REINFORCE loss, GAE and PPO's clipped surrogate loss."""
from __future__ import annotations

import numpy as np
import torch

from ._core import Case, Mistake, _call_with_time_limit, _TimeLimit, run_check
from ._hints import Hints, register, remember


HINTS = {
    "discounted_return": Hints(
        start="Inputs: `rewards`, a list r_0, ..., r_{T-1}, and `gamma`. Return one number, G_0: every "
              "reward weighted by a power of γ that grows with its step. Re-read 0.3.",
        idea="A reward k steps in the future is worth γ^k times as much as the same reward now; the "
             "first reward (k = 0) counts fully.",
        formula="G_0 = Σ_{t=0}^{T-1} γ^t · r_t   (with enumerate(rewards) you get t and r_t together)",
        notebook="00_start_here", function="discounted_return"),
    "heuristic_policy": Hints(
        start="Input: one observation obs = (cart position, cart velocity, pole angle θ, angular "
              "velocity ω). Return an int: 0 pushes the cart left, 1 pushes it right. Re-read 1.1 "
              "and move the sliders first: the rule you find there is a good start.",
        idea="Push the cart under the pole: towards the side the pole is falling to. The angle alone "
             "reacts late; the angular velocity tells you where the pole is going.",
        formula="push right (1) when θ + k·ω > 0, left (0) otherwise, for a weight k around 0.3–1",
        notebook="01_background", function="my_policy", reference="rlft_core.exercises.rl.reference_heuristic_policy"),
    "q_learning_update": Hints(
        start="Inputs: the table Q (states × actions, a NumPy array), one transition s, a, r, s_next, "
              "done, and alpha, gamma. Change Q[s, a] in place and return the TD error (one number, "
              "not the table). Re-read 2.2.",
        idea="Move Q(s, a) a step α towards a target: the reward plus the discounted value of the "
             "*best* action in the next state. After a terminal step there is no next state.",
        formula="target = r + γ·max_a' Q(s', a')  (target = r when done);  δ = target − Q(s, a);  "
                "Q(s, a) ← Q(s, a) + α·δ;  return δ",
        notebook="02_core_concepts", function="my_q_learning_update", reference="rlft_core.tabular.q_learning_update"),
    "sarsa_update": Hints(
        start="Inputs: the table Q, one transition s, a, r, s_next, the next action a_next, done, and "
              "alpha, gamma. Change Q[s, a] in place and return the TD error (one number). Re-read 2.2.",
        idea="Like Q-learning, but on-policy: the target uses the action the agent really takes "
             "next (a_next), exploration included, not the best one.",
        formula="target = r + γ·Q(s', a')  (target = r when done);  δ = target − Q(s, a);  "
                "Q(s, a) ← Q(s, a) + α·δ;  return δ",
        notebook="02_core_concepts", function="my_sarsa_update", reference="rlft_core.tabular.sarsa_update"),
    "reinforce_loss": Hints(
        start="Inputs: logp (B,) = log π(a_t|s_t) with its gradient, returns (B,) = G_t, and baseline "
              "(B,) or None. Return one scalar tensor: the loss an optimiser *minimises*. Re-read 3.1.",
        idea="Weight each action's log-probability by how much better than expected it turned out "
             "(G − b); the baseline is a constant for the policy's gradient; minimising means negating.",
        formula="L = −(1/B) Σ_t log π(a_t|s_t) · (G_t − sg[b_t])   (sg = stop-gradient; b = 0 without a baseline)",
        notebook="03_policy_gradient_to_ppo", function="my_reinforce_loss", reference="rlft_core.reinforce.reinforce_loss"),
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


# ---------------------------------------------------------------- 00: a warm-up
def check_discounted_return(fn) -> bool:
    """``fn(rewards, gamma) -> float``: the discounted return G_0 = Σ_t γ^t r_t of one episode."""
    def ref(rewards, gamma):
        return float(sum(gamma ** t * r for t, r in enumerate(rewards)))
    cases = [Case("three rewards", ([1.0, 2.0, 3.0], 0.5)), Case("gamma = 1", ([1.0, -1.0, 4.0], 1.0)),
             Case("gamma = 0", ([2.0, 5.0], 0.0)), Case("one reward", ([7.0], 0.9))]
    mistakes = [Mistake("the first reward is not discounted: the weights are γ^0, γ^1, γ^2, ...",
                        lambda rewards, gamma: float(sum(gamma ** (t + 1) * r for t, r in enumerate(rewards))))]
    return run_check("check_discounted_return", fn, ref, cases, mistakes=mistakes,
                     exercise="discounted_return")


# ---------------------------------------------------------------- 01: a hand-written policy
def reference_heuristic_policy(obs) -> int:
    """A hand-written CartPole policy: push towards the side the pole is falling to, judged by its
    angle and angular velocity (a linear rule, θ + 0.5·ω > 0 → push right)."""
    return int(obs[2] + 0.5 * obs[3] > 0)


def check_heuristic_policy(policy, episodes: int = 5, min_steps: int = 200, seed: int = 0,
                           time_limit: float = 20.0) -> bool:
    """Run ``policy(obs) -> action`` on CartPole-v1 for ``episodes`` seeded episodes; pass when the
    pole stays up for ``min_steps`` steps on average."""
    import gymnasium as gym
    title = "check_heuristic_policy"
    remember("heuristic_policy")
    env = gym.make("CartPole-v1")
    lengths = []

    def run_episodes():
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            steps, done = 0, False
            while not done:
                action = int(np.asarray(policy(obs)).item())
                if action not in (0, 1):
                    raise ValueError(f"the action must be 0 (push left) or 1 (push right), got {action}")
                obs, _, terminated, truncated, _ = env.step(action)
                steps += 1
                done = terminated or truncated
            lengths.append(steps)
    try:
        _call_with_time_limit(run_episodes, (), {}, time_limit)
    except NotImplementedError:
        print(f"✏️  {title}: not attempted yet.\n{HINTS['heuristic_policy'].start}\n"
              "Stuck? Call hint() for a hint (once: the idea; twice: the formula).")
        return False
    except _TimeLimit:
        print(f"❌ {title}: the episodes took longer than {time_limit:g} s; is your policy very slow?")
        return False
    except Exception as e:  # noqa: BLE001
        print(f"❌ {title}: your policy raised {type(e).__name__}: {e}")
        return False
    finally:
        env.close()
    mean = float(np.mean(lengths))
    if mean >= min_steps:
        print(f"✅ {title}: the pole stayed up {mean:.0f} steps on average (episode lengths {lengths}).")
        return True
    print(f"❌ {title}: the pole stayed up only {mean:.0f} steps on average (lengths {lengths}); "
          f"{min_steps} needed.\n💡 Hint: the pole angle alone reacts too late; add the angular "
          "velocity obs[3] (and a little of the cart velocity obs[1]).")
    return False


# ---------------------------------------------------------------- 02: tabular updates
def _tabular_cases(with_next_action: bool):
    rng = np.random.default_rng(0)
    cases = []
    for i, done in enumerate([False, True, False, False]):
        Q = rng.normal(size=(6, 3)).round(2)
        s, a, s_next, a_next = int(rng.integers(6)), int(rng.integers(3)), int(rng.integers(6)), int(rng.integers(3))
        if i == 3:
            s_next = s                     # a self-loop: read Q[s'] before writing Q[s]
        kwargs = dict(Q=Q, s=s, a=a, r=round(float(rng.normal()), 2), s_next=s_next, done=done,
                      alpha=0.5, gamma=0.9)
        if with_next_action:
            kwargs["a_next"] = a_next
        cases.append(Case(f"{'terminal' if done else 'non-terminal'} step {i}", kwargs=kwargs))
    return cases


_TABULAR = "result 0 = the TD error you return, result 1 = the Q table after your update"


def _returning_q(update):
    def wrapped(**kwargs):
        td_error = update(**kwargs)
        return np.asarray(td_error, dtype=np.float64), kwargs["Q"]
    return wrapped


def check_q_learning_update(fn) -> bool:
    """``fn(Q, s, a, r, s_next, done, alpha, gamma) -> td_error``, updating Q in place."""
    from ..tabular import q_learning_update
    mistakes = [
        Mistake("when `done` is True there is no next state: the target is just r.",
                _returning_q(lambda Q, s, a, r, s_next, done, alpha, gamma: q_learning_update(Q, s, a, r, s_next, False, alpha, gamma))),
        Mistake("Q-learning bootstraps from max_a' Q(s', a'), not the mean or Q(s', a).",
                _returning_q(lambda Q, s, a, r, s_next, done, alpha, gamma: _td_update(Q, s, a, r, Q[s_next].mean(), done, alpha, gamma))),
    ]
    return run_check("check_q_learning_update", _returning_q(fn), _returning_q(q_learning_update),
                     _tabular_cases(False), mistakes=mistakes, check_mutation=False, compared=_TABULAR,
                     exercise="q_learning_update")


def check_sarsa_update(fn) -> bool:
    """``fn(Q, s, a, r, s_next, a_next, done, alpha, gamma) -> td_error``, updating Q in place."""
    from ..tabular import sarsa_update
    mistakes = [
        Mistake("SARSA is on-policy: bootstrap from Q(s', a') for the action a' actually taken next, not the max.",
                _returning_q(lambda Q, s, a, r, s_next, a_next, done, alpha, gamma: _td_update(Q, s, a, r, Q[s_next].max(), done, alpha, gamma))),
        Mistake("when `done` is True there is no next state: the target is just r.",
                _returning_q(lambda Q, s, a, r, s_next, a_next, done, alpha, gamma: sarsa_update(Q, s, a, r, s_next, a_next, False, alpha, gamma))),
    ]
    return run_check("check_sarsa_update", _returning_q(fn), _returning_q(sarsa_update),
                     _tabular_cases(True), mistakes=mistakes, check_mutation=False, compared=_TABULAR,
                     exercise="sarsa_update")


def _td_update(Q, s, a, r, next_value, done, alpha, gamma):
    td_error = r + (0.0 if done else gamma * next_value) - Q[s, a]
    Q[s, a] += alpha * td_error
    return td_error


# ---------------------------------------------------------------- 03: REINFORCE
def _with_gradients(loss_fn):
    """Wrap a REINFORCE loss so the checker sees (loss, dloss/dlogp, dloss/dbaseline)."""
    def wrapped(logp, returns, baseline=None):
        logp = logp.clone().requires_grad_()
        if baseline is not None:
            baseline = baseline.clone().requires_grad_()
        loss = loss_fn(logp, returns, baseline)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            return loss
        if loss.requires_grad:
            grad_b = torch.autograd.grad(loss, [logp] + ([baseline] if baseline is not None else []), allow_unused=True)
            grad_logp = grad_b[0] if grad_b[0] is not None else torch.zeros_like(logp)
            grad_base = grad_b[1] if baseline is not None and grad_b[1] is not None else torch.zeros_like(logp)
        else:
            grad_logp, grad_base = torch.zeros_like(logp), torch.zeros_like(logp)
        return loss.detach(), grad_logp, grad_base
    return wrapped


def check_reinforce_loss(fn) -> bool:
    """``fn(logp, returns, baseline=None) -> scalar loss`` = −mean(logp · (G − b)), b detached."""
    from ..reinforce import reinforce_loss
    gen = torch.Generator().manual_seed(0)
    cases = [Case("no baseline", (torch.randn(6, generator=gen, dtype=torch.float64) - 1,
                                  torch.randn(6, generator=gen, dtype=torch.float64) * 5, None)),
             Case("with a baseline", (torch.randn(8, generator=gen, dtype=torch.float64) - 1,
                                      torch.randn(8, generator=gen, dtype=torch.float64) * 5,
                                      torch.randn(8, generator=gen, dtype=torch.float64)))]
    mistakes = [
        Mistake("flipped sign: the optimiser *minimises* the loss, so the loss is −mean(logp·(G−b)).",
                _with_gradients(lambda lp, g, b: -reinforce_loss(lp, g, b))),
        Mistake("the baseline must be detached (`baseline.detach()`): it may not receive the policy gradient.",
                _with_gradients(lambda lp, g, b: -(lp * (g - (0 if b is None else b))).mean())),
        Mistake("subtract the baseline from the returns: (G − b).",
                _with_gradients(lambda lp, g, b: reinforce_loss(lp, g, None))),
        Mistake("average over the batch with .mean(), not .sum().",
                _with_gradients(lambda lp, g, b: reinforce_loss(lp, g, b) * lp.numel())),
    ]
    return run_check("check_reinforce_loss", _with_gradients(fn), _with_gradients(reinforce_loss), cases,
                     mistakes=mistakes, compared="result 0 = the loss, result 1 = its gradient with "
                     "respect to logp, result 2 = its gradient with respect to the baseline",
                     exercise="reinforce_loss")


# ---------------------------------------------------------------- 04: GAE and the clipped loss
def _gae_cases():
    rng = np.random.default_rng(1)
    rewards, values = rng.normal(size=6).round(2), rng.normal(size=6).round(2)
    cases = [Case("one episode, no end", kwargs=dict(rewards=rewards, values=values, dones=np.zeros(6),
                                                     last_value=0.5, gamma=0.9, lam=0.8))]
    dones = np.array([0, 0, 1, 1, 0, 1.0])
    cases.append(Case("two ends in a row and one at the last step",
                      kwargs=dict(rewards=rewards, values=values, dones=dones, last_value=0.5, gamma=0.9, lam=0.8)))
    R, V = rng.normal(size=(7, 3)).round(2), rng.normal(size=(7, 3)).round(2)
    D = np.zeros((7, 3))
    D[2, 0] = D[6, 1] = D[4, 2] = 1
    cases.append(Case("three environments, shape (T, N)",
                      kwargs=dict(rewards=R, values=V, dones=D, last_value=rng.normal(size=3).round(2), gamma=0.99, lam=0.95)))
    return cases


def check_gae(fn) -> bool:
    """``fn(rewards, values, dones, last_value, gamma, lam) -> (advantages, returns)``."""
    from ..returns import gae

    def gae_shifted_dones(rewards, values, dones, last_value, gamma, lam):
        shifted = np.concatenate([dones[1:], np.zeros_like(dones[:1])])
        return gae(rewards, values, shifted, last_value, gamma, lam)

    def gae_lambda_only_on_delta(rewards, values, dones, last_value, gamma, lam):
        next_values = np.concatenate([values[1:], np.broadcast_to(last_value, values[:1].shape)])
        deltas = rewards + gamma * (1 - dones) * next_values - values
        adv, running = np.zeros_like(rewards), np.zeros_like(rewards[0])
        for t in reversed(range(len(rewards))):
            running = deltas[t] + lam * (1 - dones[t]) * running
            adv[t] = running
        return adv, adv + values
    mistakes = [
        Mistake("off by one at episode ends: dones[t] ends the episode *at* step t, so it masks both "
                "V(s_{t+1}) in δ_t and the recursion from A_{t+1}.", gae_shifted_dones),
        Mistake("episode ends ignored: multiply by (1 − dones[t]) in δ_t and in the recursion.",
                lambda rewards, values, dones, last_value, gamma, lam: gae(rewards, values, 0 * dones, last_value, gamma, lam)),
        Mistake("the recursion decays by γ·λ, not λ alone: A_t = δ_t + γλ(1−d_t)A_{t+1}.", gae_lambda_only_on_delta),
        Mistake("flipped sign: δ_t = r_t + γV(s_{t+1}) − V(s_t).",
                lambda *a, **k: (lambda adv, ret: (-adv, ret - 2 * adv))(*gae(*a, **k))),
        Mistake("returns are advantages + values (the λ-return), not the advantages themselves.",
                lambda *a, **k: (gae(*a, **k)[0], gae(*a, **k)[0])),
    ]
    return run_check("check_gae", fn, gae, _gae_cases(), mistakes=mistakes,
                     compared="result 0 = advantages, result 1 = returns",
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
    cases = [Case("ratios inside and outside the clip range, both signs of A",
                  (logp_old + torch.log(ratios), logp_old, adv, 0.2)),
             Case("small batch, eps = 0.1", (logp_old[:3] + 0.3, logp_old[:3], adv[:3], 0.1))]
    clamp = lambda r, e: r.clamp(1 - e, 1 + e)  # noqa: E731
    mistakes = [
        Mistake("the min/max sign pitfall: the loss is −min(rA, clip(r)A) = max(−rA, −clip(r)A); "
                "taking min of the negated terms is not the same.",
                _with_logp_gradient(lambda n, o, a, e: torch.min(-a * torch.exp(n - o), -a * clamp(torch.exp(n - o), e)).mean())),
        Mistake("flipped sign: return the *loss* to minimise, −L^CLIP.",
                _with_logp_gradient(lambda n, o, a, e: -ref(n, o, a, e))),
        Mistake("the ratio is exp(logp_new − logp_old), not logp_new − logp_old or its inverse.",
                _with_logp_gradient(lambda n, o, a, e: ref(o, n, a, e))),
        Mistake("clip the ratio, not the advantage.",
                _with_logp_gradient(lambda n, o, a, e: -torch.min(torch.exp(n - o) * a, torch.exp(n - o) * a.clamp(1 - e, 1 + e)).mean())),
        Mistake("the ratio must keep its gradient: do not .detach() logp_new.",
                _with_logp_gradient(lambda n, o, a, e: ref(n.detach(), o, a, e))),
    ]
    return run_check("check_clipped_surrogate_loss", _with_logp_gradient(fn), _with_logp_gradient(ref), cases,
                     mistakes=mistakes, compared="result 0 = the loss, result 1 = its gradient with "
                     "respect to logp_new",
                     exercise="clipped_surrogate_loss")
