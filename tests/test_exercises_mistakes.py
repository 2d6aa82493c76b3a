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


# ---- failure reports: inputs named by argument, each printed in its own type
def test_report_names_each_input_and_prints_ints_and_bools_as_such(capsys):
    ex.check_q_learning_update(lambda Q, s, a, r, s_next, done, alpha, gamma: 0.0)
    out = capsys.readouterr().out
    lines = {line.split("=")[0].strip(): line.split("=", 1)[1].strip() for line in out.splitlines()
             if line.startswith("      ") and "=" in line}
    assert set(lines) == {"Q", "s", "a", "r", "s_next", "done", "alpha", "gamma"}
    assert lines["s"].isdigit() and lines["a"].isdigit() and lines["s_next"].isdigit()
    assert lines["done"] in ("True", "False") and lines["alpha"] == "0.5"
    assert "(shape 6 × 3)" in lines["Q"] and "\n" not in lines["Q"]


@pytest.mark.parametrize("checker,wrong,names", [
    (ex.check_gae, lambda *a, **k: (np.zeros(6), np.zeros(6)), ["rewards", "values", "dones", "last_value", "gamma", "lam"]),
    (ex.check_clipped_surrogate_loss, lambda n, o, a, e: (n - o).mean(), ["logp_new", "logp_old", "advantages", "clip_eps"]),
    (ex.check_bradley_terry_loss, lambda c, r: c.mean(), ["r_chosen", "r_rejected"]),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: pc,
     ["policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps", "beta"]),
    (ex.check_ppo_loss, lambda batch, logp_new, entropy, values, config: logp_new.mean(),
     ["logp_old", "logp_new", "advantages", "values", "returns", "entropy", "config"]),
])
def test_report_names_the_inputs_of_positional_cases(checker, wrong, names, capsys):
    checker(wrong)
    out = capsys.readouterr().out
    named = [line.split("=")[0].strip() for line in out.splitlines() if line.startswith("      ") and " = " in line]
    assert named == names, out


def test_report_prints_a_tensor_of_ints_as_ints_and_floats_as_floats(capsys):
    labels = torch.tensor([[4, 1, 0]])
    ex.run_check("demo", lambda labels, scale: labels.sum() * scale, lambda labels, scale: labels.sum() * scale + 1,
                 [ex.Case("c", (labels, 1.0))])
    out = capsys.readouterr().out
    assert "labels = [[4 1 0]]  (shape 1 × 3)" in out and "scale  = 1.0" in out
    assert "expected: 6.0" in out and "got:      5.0" in out
