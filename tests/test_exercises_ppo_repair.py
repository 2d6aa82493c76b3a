"""The "repair a buggy PPO loss" exercise: the reference passes, the buggy loss and each partly
repaired student version fail with a hint naming the first remaining bug, and the losses behave as
claimed when they train CartPole."""
import re
from types import SimpleNamespace

import pytest
import torch

from rlft_core.exercises._core import compare
from rlft_core.exercises.ppo_repair import (BUG_SLOTS, _cases, _mistakes, _with_gradients, buggy_ppo_loss,
                                            check_ppo_loss, ppo_loss_variant, reference_ppo_loss)
from rlft_core.ppo import PPOConfig, train_ppo

torch.set_num_threads(1)
PLANTED = ["variance", "attached", "log_ratio", "objective", "advantages", "plus"]


def run(fn, capsys):
    ok = check_ppo_loss(fn)
    return ok, capsys.readouterr().out


def student_loss(batch, logp_new, entropy, values, config, *, fixed=frozenset(range(1, 7)), std_ddof=1):
    """Written as a student repairs buggy_ppo_loss line by line: bug i is fixed when i in ``fixed``."""
    adv = batch["advantages"]
    spread = (adv.std(unbiased=std_ddof == 1) if 1 in fixed else adv.var())
    adv = (adv - adv.mean()) / (spread + 1e-8)
    logp_old = batch["logp_old"].detach() if 2 in fixed else batch["logp_old"]
    ratio = (logp_new - logp_old).exp() if 3 in fixed else logp_new - logp_old
    clipped = torch.clamp(ratio, 1 - config.clip_eps, 1 + config.clip_eps)
    objective = torch.min(ratio * adv, clipped * adv).mean()
    policy_loss = -objective if 4 in fixed else objective
    target = batch["returns"] if 5 in fixed else batch["advantages"]
    value_loss = 0.5 * ((values - target) ** 2).mean()
    entropy_term = -config.ent_coef * entropy.mean() if 6 in fixed else config.ent_coef * entropy.mean()
    return policy_loss + config.vf_coef * value_loss + entropy_term


def naive_reference(batch, logp_new, entropy, values, config):
    """PPO's loss with a Python loop over samples (independent of rlft_core.ppo_losses)."""
    adv = batch["advantages"].tolist()
    n = len(adv)
    mean = sum(adv) / n
    std = (sum((a - mean) ** 2 for a in adv) / (n - 1)) ** 0.5
    total = 0.0
    for i in range(n):
        a = (adv[i] - mean) / (std + 1e-8)
        r = torch.exp(logp_new[i] - batch["logp_old"][i].detach())
        clipped_r = min(max(r, 1 - config.clip_eps), 1 + config.clip_eps)
        total = total - min(r * a, clipped_r * a) + config.vf_coef * 0.5 * (values[i] - batch["returns"][i]) ** 2 \
            - config.ent_coef * entropy[i]
    return total / n


def test_reference_passes_and_matches_a_naive_loop_with_gradients(capsys):
    ok, out = run(reference_ppo_loss, capsys)
    assert ok and "✅" in out
    for case in _cases():
        expected = _with_gradients(naive_reference)(*case.args)
        assert compare(expected, _with_gradients(reference_ppo_loss)(*case.args), atol=1e-10) is None


def test_a_correct_student_repair_passes(capsys):
    ok, out = run(student_loss, capsys)
    assert ok and "correct" in out


def test_unattempted_says_how_to_start(capsys):
    def stub(batch, logp_new, entropy, values, config):
        raise NotImplementedError()
    ok, out = run(stub, capsys)
    assert not ok and "not attempted" in out and "buggy_ppo_loss" in out


def test_buggy_loss_is_the_reference_with_all_six_planted_bugs():
    planted = {slot: variant for (slot, _), variant in zip(BUG_SLOTS, PLANTED)}
    assert list(next(iter(variants)) for _, variants in BUG_SLOTS) == PLANTED
    for case in _cases():
        assert compare(_with_gradients(ppo_loss_variant(planted))(*case.args),
                       _with_gradients(buggy_ppo_loss)(*case.args), atol=1e-12) is None
    assert compare(_with_gradients(ppo_loss_variant({}))(*_cases()[0].args),
                   _with_gradients(reference_ppo_loss)(*_cases()[0].args), atol=1e-12) is None


def test_buggy_loss_fails_naming_six_bugs_and_the_first(capsys):
    ok, out = run(buggy_ppo_loss, capsys)
    assert not ok and "6 bugs left" in out and "(advantages)" in out and "standard deviation" in out


@pytest.mark.parametrize("fixed_upto,first_slot", [(1, "detach"), (2, "ratio"), (3, "policy_sign"),
                                                   (4, "value_target"), (5, "entropy")])
def test_each_partial_repair_names_the_next_bug(capsys, fixed_upto, first_slot):
    fixed = frozenset(range(1, fixed_upto + 1))
    ok, out = run(lambda *a: student_loss(*a, fixed=fixed), capsys)
    left = 6 - fixed_upto
    assert not ok
    assert re.search(rf"{left} bugs? left\. The first one \({first_slot}\)", out), out


@pytest.mark.parametrize("bug", range(1, 7))
def test_each_single_bug_is_named(capsys, bug):
    fixed = frozenset(range(1, 7)) - {bug}
    ok, out = run(lambda *a: student_loss(*a, fixed=fixed), capsys)
    assert not ok and f"1 bug left. The first one ({BUG_SLOTS[bug - 1][0]})" in out


def test_population_std_is_accepted_as_well_as_the_unbiased_one(capsys):
    """OpenAI Baselines standardises with numpy's population std, CleanRL with torch's unbiased one:
    both are right, alone and beside a remaining bug (which is still the one named)."""
    ok, out = run(lambda *a: student_loss(*a, std_ddof=0), capsys)
    assert ok and "✅" in out
    ok, out = run(lambda *a: student_loss(*a, std_ddof=0, fixed=frozenset({1, 3, 4, 5, 6})), capsys)
    assert not ok and "1 bug left. The first one (detach)" in out and "std" not in out.split("Hint:")[1]


def test_other_common_mistakes_get_their_hints(capsys):

    def min_of_negated(batch, logp_new, entropy, values, config):
        adv = (batch["advantages"] - batch["advantages"].mean()) / (batch["advantages"].std() + 1e-8)
        ratio = torch.exp(logp_new - batch["logp_old"].detach())
        clipped = ratio.clamp(1 - config.clip_eps, 1 + config.clip_eps)
        return (torch.min(-ratio * adv, -clipped * adv).mean()
                + config.vf_coef * 0.5 * ((values - batch["returns"]) ** 2).mean() - config.ent_coef * entropy.mean())
    ok, out = run(min_of_negated, capsys)
    assert not ok and "min into max" in out

    def no_entropy(b, lp, e, v, c):
        return student_loss(b, lp, e, v, SimpleNamespace(clip_eps=c.clip_eps, vf_coef=c.vf_coef, ent_coef=0.0))
    ok, out = run(no_entropy, capsys)
    assert not ok and "entropy bonus is missing" in out


def test_student_errors_are_reported_not_raised(capsys):
    def broken(batch, logp_new, entropy, values, config):
        return batch["no_such_key"]
    ok, out = run(broken, capsys)
    assert not ok and "KeyError" in out


def test_every_combination_of_bugs_gives_a_different_answer():
    for case in _cases():
        outputs = [m.fn(*case.args) for m in _mistakes()] + [_with_gradients(reference_ppo_loss)(*case.args)]
        flat = [torch.cat([torch.as_tensor(x).reshape(-1) for x in out]) for out in outputs]
        stacked = torch.stack(flat)                                      # (variants, 1 + 3 B)
        distances = torch.cdist(stacked, stacked) + torch.eye(len(flat)) * 1e9
        assert distances.min() > 1e-6                                    # no two variants coincide


@pytest.mark.slow
def test_fixed_loss_learns_cartpole_and_the_buggy_one_collapses():
    config = PPOConfig(total_timesteps=20_000)
    _, good = train_ppo("CartPole-v1", config, seed=0, loss_fn=reference_ppo_loss)
    _, bad = train_ppo("CartPole-v1", config, seed=0, loss_fn=buggy_ppo_loss)
    assert good[-1]["mean_return"] > 100
    assert bad[-1]["mean_return"] < 30 and bad[-1]["entropy"] < 0.05     # a deterministic, falling policy


def test_bad_inputs_raise():
    config = SimpleNamespace(clip_eps=0.2, vf_coef=0.5, ent_coef=0.01)
    x = torch.zeros(4)
    with pytest.raises(ValueError, match="batch"):
        reference_ppo_loss({"logp_old": x, "advantages": x}, x, x, x, config)
    with pytest.raises(ValueError, match="values"):
        reference_ppo_loss({"logp_old": x, "advantages": torch.randn(4), "returns": x}, x, x, torch.zeros(3), config)
    with pytest.raises(ValueError, match="bugs"):
        ppo_loss_variant({"ratio": "squared"})
    with pytest.raises(ValueError, match="loss_fn"):
        train_ppo("CartPole-v1", PPOConfig(total_timesteps=512), loss_fn=3)
