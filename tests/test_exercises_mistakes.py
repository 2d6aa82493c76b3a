"""The classic mistakes of each exercise, written as a student would, get their targeted hint."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlft_core import exercises as ex


def student_gae(rewards, values, dones, last_value, gamma, lam, *, done_in_delta=True, done_in_recursion=True,
                bootstrap_last=True, swap=False):
    """A student's GAE: one backward loop over time, with one classic slip switched on."""
    T = len(rewards)
    advantages = np.zeros_like(np.asarray(rewards, dtype=float))
    gae_t = 0.0
    for t in range(T - 1, -1, -1):
        v_next = (last_value if bootstrap_last else 0.0) if t == T - 1 else values[t + 1]
        keep = 1.0 - dones[t]
        delta = rewards[t] + gamma * (keep if done_in_delta else 1.0) * v_next - values[t]
        gae_t = delta + gamma * lam * (keep if done_in_recursion else 1.0) * gae_t
        advantages[t] = gae_t
    returns = advantages + values
    return (returns, advantages) if swap else (advantages, returns)


def student_clip_on_log_ratio(logp_new, logp_old, advantages, clip_eps):
    log_ratio = logp_new - logp_old                                   # exp forgotten
    clipped = torch.clamp(log_ratio, 1 - clip_eps, 1 + clip_eps)
    return -torch.min(log_ratio * advantages, clipped * advantages).mean()


def dpo_margin(pc, pr, rc, rr):
    return (pc - rc) - (pr - rr)


def student_q_returning_table(Q, s, a, r, s_next, done, alpha, gamma):
    target = r if done else r + gamma * Q[s_next].max()
    Q[s, a] = Q[s, a] + alpha * (target - Q[s, a])
    return Q


def student_q_returning_new_value(Q, s, a, r, s_next, done, alpha, gamma):
    target = r if done else r + gamma * Q[s_next].max()
    Q[s, a] = Q[s, a] + alpha * (target - Q[s, a])
    return Q[s, a]


def student_sarsa_returning_table(Q, s, a, r, s_next, a_next, done, alpha, gamma):
    target = r if done else r + gamma * Q[s_next, a_next]
    Q[s, a] += alpha * (target - Q[s, a])
    return Q


@pytest.mark.parametrize("checker,wrong,hint", [
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, done_in_recursion=False), "missing in the recursion"),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, done_in_delta=False), "is missing in δ_t"),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, done_in_delta=False, done_in_recursion=False), "episode ends ignored"),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, bootstrap_last=False), "last_value was ignored"),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, swap=True), "outputs are swapped"),
    (ex.check_clipped_surrogate_loss, student_clip_on_log_ratio, "exp is missing"),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: -beta * F.logsigmoid(dpo_margin(pc, pr, rc, rr)), "β belongs inside"),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: -F.logsigmoid(dpo_margin(pc, pr, rc, rr) / beta), "do not divide"),
    (ex.check_q_learning_update, student_q_returning_table, "not the table Q"),
    (ex.check_q_learning_update, student_q_returning_new_value, "not the new value"),
    (ex.check_sarsa_update, student_sarsa_returning_table, "not the table Q"),
    (ex.check_bradley_terry_loss, lambda r_chosen, r_rejected: -F.logsigmoid(r_chosen - r_rejected), "one loss per pair"),
])
def test_a_classic_mistake_gets_its_targeted_hint(checker, wrong, hint, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "❌" in out and "💡 Hint:" in out and hint in out, out


def test_the_student_gae_without_slips_passes(capsys):
    assert ex.check_gae(student_gae) is True
