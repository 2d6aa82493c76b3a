"""Checkers for the RL exercises of notebooks 00–03: the discounted return, a CartPole heuristic,
Q-learning and SARSA updates, and the REINFORCE loss (notebook 04's are in ``ppo_math``)."""
from __future__ import annotations

import numpy as np
import torch

from ..i18n import tr
from ._core import Case, Mistake, _call_with_time_limit, _TimeLimit, run_check, stuck
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
}
register(HINTS)


# ---------------------------------------------------------------- 00: a warm-up
def check_discounted_return(fn) -> bool:
    """``fn(rewards, gamma) -> float``: the discounted return G_0 = Σ_t γ^t r_t of one episode."""
    def ref(rewards, gamma):
        return float(sum(gamma ** t * r for t, r in enumerate(rewards)))
    cases = [Case(tr("three rewards"), ([1.0, 2.0, 3.0], 0.5)), Case("gamma = 1", ([1.0, -1.0, 4.0], 1.0)),
             Case("gamma = 0", ([2.0, 5.0], 0.0)), Case(tr("one reward"), ([7.0], 0.9))]
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
                    raise ValueError(tr("the action must be 0 (push left) or 1 (push right), got {action}", action=action))
                obs, _, terminated, truncated, _ = env.step(action)
                steps += 1
                done = terminated or truncated
            lengths.append(steps)
    try:
        _call_with_time_limit(run_episodes, (), {}, time_limit)
    except NotImplementedError:
        print(tr("✏️  {title}: not attempted yet.", title=title) + f"\n{tr(HINTS['heuristic_policy'].start)}\n"
              + stuck())
        return False
    except _TimeLimit:
        print(tr("❌ {title}: the episodes took longer than {seconds:g} s; is your policy very slow?",
                 title=title, seconds=time_limit))
        return False
    except Exception as e:  # noqa: BLE001
        print(tr("❌ {title}: your policy raised {error}: {message}", title=title, error=type(e).__name__, message=e))
        return False
    finally:
        env.close()
    mean = float(np.mean(lengths))
    if mean >= min_steps:
        print(tr("✅ {title}: the pole stayed up {mean:.0f} steps on average (episode lengths {lengths}).",
                 title=title, mean=mean, lengths=lengths))
        return True
    print(tr("❌ {title}: the pole stayed up only {mean:.0f} steps on average (lengths {lengths}); {needed} needed.",
             title=title, mean=mean, lengths=lengths, needed=min_steps) + "\n"
          + tr("💡 Hint: {hint}", hint=tr("the pole angle alone reacts too late; add the angular velocity obs[3] "
                                         "(and a little of the cart velocity obs[1]).")))
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
        name = tr("terminal step {i}", i=i) if done else tr("non-terminal step {i}", i=i)
        cases.append(Case(name, kwargs=kwargs))
    return cases


def _tabular_compared() -> str:
    return tr("result 0 = the TD error you return, result 1 = the Q table after your update")


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
        *_return_value_mistakes(q_learning_update),
    ]
    return run_check("check_q_learning_update", _returning_q(fn), _returning_q(q_learning_update),
                     _tabular_cases(False), mistakes=mistakes, check_mutation=False, compared=_tabular_compared(),
                     exercise="q_learning_update")


def check_sarsa_update(fn) -> bool:
    """``fn(Q, s, a, r, s_next, a_next, done, alpha, gamma) -> td_error``, updating Q in place."""
    from ..tabular import sarsa_update
    mistakes = [
        Mistake("SARSA is on-policy: bootstrap from Q(s', a') for the action a' actually taken next, not the max.",
                _returning_q(lambda Q, s, a, r, s_next, a_next, done, alpha, gamma: _td_update(Q, s, a, r, Q[s_next].max(), done, alpha, gamma))),
        Mistake("when `done` is True there is no next state: the target is just r.",
                _returning_q(lambda Q, s, a, r, s_next, a_next, done, alpha, gamma: sarsa_update(Q, s, a, r, s_next, a_next, False, alpha, gamma))),
        *_return_value_mistakes(sarsa_update),
    ]
    return run_check("check_sarsa_update", _returning_q(fn), _returning_q(sarsa_update),
                     _tabular_cases(True), mistakes=mistakes, check_mutation=False, compared=_tabular_compared(),
                     exercise="sarsa_update")


def _return_value_mistakes(update):
    """Right update of Q, wrong thing returned: the table, or the new Q[s, a]."""
    def returning_table(**kwargs):
        update(**kwargs)
        return kwargs["Q"]

    def returning_new_value(**kwargs):
        update(**kwargs)
        return kwargs["Q"][kwargs["s"], kwargs["a"]]
    return [Mistake("return the TD error δ = target − Q[s, a] (one number), not the table Q: the table is "
                    "updated in place, so the caller already has it.", _returning_q(returning_table)),
            Mistake("return the TD error δ = target − Q[s, a] (computed *before* the update), not the new "
                    "value of Q[s, a].", _returning_q(returning_new_value))]


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
    cases = [Case(tr("no baseline"), (torch.randn(6, generator=gen, dtype=torch.float64) - 1,
                                  torch.randn(6, generator=gen, dtype=torch.float64) * 5, None)),
             Case(tr("with a baseline"), (torch.randn(8, generator=gen, dtype=torch.float64) - 1,
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
                     mistakes=mistakes, compared=tr("result 0 = the loss, result 1 = its gradient with "
                                                   "respect to logp, result 2 = its gradient with respect to the baseline"),
                     exercise="reinforce_loss")
