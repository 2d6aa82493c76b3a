"""Each checker passes the reference, fails each known-wrong student variant with the right hint,
and survives student code that raises, returns NaN or the wrong shape, mutates, or hangs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlft_core import exercises as ex
from rlft_core.dpo import dpo_loss
from rlft_core.ppo_losses import clipped_surrogate_loss
from rlft_core.reinforce import reinforce_loss
from rlft_core.returns import gae
from rlft_core.reward_model import bradley_terry_loss
from rlft_core.tabular import q_learning_update, sarsa_update


def not_attempted(*args, **kwargs):
    raise NotImplementedError()


# ---- student-style implementations, written as a student would (independent of the checkers)
def student_gae(rewards, values, dones, last_value, gamma, lam, *, sign=1.0, shift=False, ignore_dones=False,
                lam_only=False):
    rewards, values, dones = np.asarray(rewards, float), np.asarray(values, float), np.asarray(dones, float)
    if shift:
        dones = np.concatenate([dones[1:], np.zeros_like(dones[:1])])
    if ignore_dones:
        dones = np.zeros_like(dones)
    adv = np.zeros_like(rewards)
    running = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        next_value = last_value if t == len(rewards) - 1 else values[t + 1]
        delta = sign * (rewards[t] + gamma * (1 - dones[t]) * next_value - values[t])
        running = delta + (1 if lam_only else gamma) * lam * (1 - dones[t]) * running
        adv[t] = running
    return adv, adv + values


def student_clip(logp_new, logp_old, adv, eps, *, variant="right"):
    ratio = torch.exp(logp_new - logp_old)
    if variant == "min_of_negated":
        return torch.min(-adv * ratio, -adv * ratio.clamp(1 - eps, 1 + eps)).mean()
    if variant == "objective_not_loss":
        return torch.min(adv * ratio, adv * ratio.clamp(1 - eps, 1 + eps)).mean()
    if variant == "detached":
        ratio = ratio.detach()
    return -torch.min(adv * ratio, adv * ratio.clamp(1 - eps, 1 + eps)).mean()


def student_q(Q, s, a, r, s_next, done, alpha, gamma, *, ignore_done=False):
    target = r if (done and not ignore_done) else r + gamma * np.max(Q[s_next])
    td = target - Q[s, a]
    Q[s, a] += alpha * td
    return td


def student_sarsa(Q, s, a, r, s_next, a_next, done, alpha, gamma, *, use_max=False):
    nxt = np.max(Q[s_next]) if use_max else Q[s_next, a_next]
    td = (r if done else r + gamma * nxt) - Q[s, a]
    Q[s, a] += alpha * td
    return td


def student_reinforce(logp, returns, baseline=None, *, detach=True, sign=1.0):
    if baseline is not None:
        baseline = baseline.detach() if detach else baseline
        returns = returns - baseline
    return -sign * (logp * returns).mean()


@pytest.mark.parametrize("checker,right", [
    (ex.check_discounted_return, lambda rewards, gamma: sum(gamma ** t * r for t, r in enumerate(rewards))),
    (ex.check_gae, gae),
    (ex.check_gae, student_gae),
    (ex.check_clipped_surrogate_loss, clipped_surrogate_loss),
    (ex.check_clipped_surrogate_loss, student_clip),
    (ex.check_q_learning_update, q_learning_update),
    (ex.check_q_learning_update, student_q),
    (ex.check_sarsa_update, sarsa_update),
    (ex.check_sarsa_update, student_sarsa),
    (ex.check_reinforce_loss, reinforce_loss),
    (ex.check_reinforce_loss, student_reinforce),
    (ex.check_bradley_terry_loss, bradley_terry_loss),
    (ex.check_bradley_terry_loss, lambda c, r: -F.logsigmoid(c - r).mean()),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: dpo_loss(pc, pr, rc, rr, beta=beta)[0]),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc - rc) - (pr - rr)))),
    (ex.check_heuristic_policy, lambda obs: int(obs[2] + 0.5 * obs[3] > 0)),
])
def test_checker_passes_a_right_answer(checker, right, capsys):
    assert checker(right) is True
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("checker", [ex.check_discounted_return, ex.check_gae, ex.check_clipped_surrogate_loss,
                                     ex.check_q_learning_update, ex.check_sarsa_update, ex.check_reinforce_loss,
                                     ex.check_bradley_terry_loss, ex.check_dpo_loss, ex.check_heuristic_policy])
def test_checker_on_an_unattempted_stub_says_how_to_start(checker, capsys):
    assert checker(not_attempted) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("checker,wrong,hint", [
    (ex.check_discounted_return, lambda rewards, gamma: sum(gamma ** (t + 1) * r for t, r in enumerate(rewards)), "γ^0"),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, sign=-1.0), "flipped sign"),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, shift=True), "off by one"),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, ignore_dones=True), "episode ends ignored"),
    (ex.check_gae, lambda *a, **k: student_gae(*a, **k, lam_only=True), "γ·λ"),
    (ex.check_gae, lambda *a, **k: (student_gae(*a, **k)[0],) * 2, "λ-return"),
    (ex.check_clipped_surrogate_loss, lambda *a: student_clip(*a, variant="min_of_negated"), "min/max sign pitfall"),
    (ex.check_clipped_surrogate_loss, lambda *a: student_clip(*a, variant="objective_not_loss"), "flipped sign"),
    (ex.check_clipped_surrogate_loss, lambda *a: student_clip(*a, variant="detached"), "detach"),
    (ex.check_q_learning_update, lambda *a, **k: student_q(*a, **k, ignore_done=True), "done"),
    (ex.check_sarsa_update, lambda *a, **k: student_sarsa(*a, **k, use_max=True), "on-policy"),
    (ex.check_reinforce_loss, lambda *a: student_reinforce(*a, detach=False), "detached"),
    (ex.check_reinforce_loss, lambda *a: student_reinforce(*a, sign=-1.0), "flipped sign"),
    (ex.check_bradley_terry_loss, lambda c, r: -torch.log(torch.sigmoid(c - r)).mean(), "logsigmoid"),
    (ex.check_bradley_terry_loss, lambda c, r: -F.logsigmoid(r - c).mean(), "flipped sign"),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: -F.logsigmoid((pc - rc) - (pr - rr)), "β left out"),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: -torch.log(torch.sigmoid(beta * ((pc - rc) - (pr - rr)))), "logsigmoid"),
    (ex.check_dpo_loss, lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean(), "per pair"),
    (ex.check_heuristic_policy, lambda obs: int(obs[2] > 0), "angular velocity"),
])
def test_checker_fails_a_known_mistake_with_its_hint(checker, wrong, hint, capsys):
    assert checker(wrong) is False
    out = capsys.readouterr().out
    assert "❌" in out and hint in out, out


def test_wrong_answer_report_shows_input_expected_and_got(capsys):
    ex.check_gae(lambda *a, **k: student_gae(*a, **k, sign=-1.0))
    out = capsys.readouterr().out
    assert "input:" in out and "expected:" in out and "got:" in out


@pytest.mark.parametrize("bad,message", [
    (lambda *a, **k: 1 / 0, "raised ZeroDivisionError"),
    (lambda *a, **k: (np.full(6, np.nan), np.full(6, np.nan)), "NaN or inf"),
    (lambda *a, **k: (np.zeros(5), np.zeros(5)), "expected shape"),
    (lambda *a, **k: None, "tuple of 2"),
    ("not a function", "expected a function"),
])
def test_checker_survives_broken_student_code(bad, message, capsys):
    assert ex.check_gae(bad) is False
    assert message in capsys.readouterr().out


def test_checker_reports_a_function_that_mutates_its_inputs(capsys):
    def mutating(rewards, values, dones, last_value, gamma, lam):
        result = gae(rewards, values, dones, last_value, gamma, lam)
        rewards[...] = 0.0
        return result
    assert ex.check_gae(mutating) is False
    assert "changed its inputs in place" in capsys.readouterr().out


def test_checker_stops_a_function_that_runs_too_long(capsys):
    def forever(logp_new, logp_old, adv, eps):
        while True:
            pass
    assert ex.run_check("loop", forever, clipped_surrogate_loss,
                        [ex.Case("c", (torch.zeros(2), torch.zeros(2), torch.ones(2), 0.2))],
                        start_hint="", time_limit=0.5) is False
    assert "longer than 0.5 s" in capsys.readouterr().out


def test_choose_picks_student_only_when_passed():
    student, reference = (lambda: "student"), (lambda: "reference")
    assert ex.choose(True, student, reference) is student
    assert ex.choose(False, student, reference) is reference


def test_choose_names_a_lambda_reference_by_the_students_function(capsys):
    def my_k3(logp, ref_logp):
        raise NotImplementedError
    ex.choose(False, my_k3, lambda logp, ref_logp: logp)
    out = capsys.readouterr().out
    assert "the package's version of my_k3" in out and "<lambda>" not in out
    ex.choose(False, my_k3, abs)
    assert "the reference abs" in capsys.readouterr().out


def test_checker_accepts_dicts_of_tensors_as_inputs_and_sees_their_mutation(capsys):
    def ref(batch):
        return batch["x"] * 2

    def mutating(batch):
        batch["x"] += 1
        return (batch["x"] - 1) * 2
    case = ex.Case("a dict", ({"x": torch.ones(3)},))
    assert ex.run_check("dict", ref, ref, [case], start_hint="") is True
    assert ex.run_check("dict", mutating, ref, [case], start_hint="") is False
    assert "changed its inputs in place" in capsys.readouterr().out


def test_checker_compares_dataclass_inputs_field_by_field(capsys):
    from dataclasses import dataclass

    @dataclass
    class Clip:
        obs: np.ndarray

    def ref(clip):
        return clip.obs.sum()

    def mutating(clip):
        total = clip.obs.sum()
        clip.obs[0] = 100.0
        return total
    case = ex.Case("a clip", (Clip(np.ones(3)),))
    assert ex.run_check("clip", ref, ref, [case], start_hint="") is True
    assert ex.run_check("clip", mutating, ref, [case], start_hint="") is False
    assert "changed its inputs in place" in capsys.readouterr().out
