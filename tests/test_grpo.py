"""GRPO's pieces against naive loops, closed forms, exact enumeration and finite differences."""
import copy
import itertools
import math
import statistics

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlft_core.grpo import group_advantages, grpo_loss, kl_estimate, rloo_advantages, rloo_loss


# --------------------------------------------------------------------------------- advantages
def naive_group_advantages(rewards, G, scale, eps=1e-4):
    r = [float(x) for x in rewards]
    batch_std = statistics.stdev(r)
    out = []
    for g in range(0, len(r), G):
        group = r[g:g + G]
        mean = sum(group) / G
        std = {"group": statistics.stdev(group), "batch": batch_std, "none": None}[scale]
        for x in group:
            if len(set(group)) == 1:
                out.append(0.0)
            else:
                out.append((x - mean) if std is None else (x - mean) / (std + eps))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_match_a_loop_with_bessel_std(scale):
    rewards = torch.tensor([1.0, 0, 0, 1, 0, 0, 0, 1, 0.5, 2.0, -1.0, 0.0, 3, 3, 3, 3], dtype=torch.float64)
    torch.testing.assert_close(group_advantages(rewards, 4, scale=scale), naive_group_advantages(rewards, 4, scale))


def test_group_advantages_use_bessel_not_population_std():
    rewards = torch.tensor([1.0, 0.0], dtype=torch.float64)     # Bessel std = 1/sqrt(2), population std = 0.5
    adv = group_advantages(rewards, 2, eps=1e-12)
    torch.testing.assert_close(adv, torch.tensor([0.5, -0.5], dtype=torch.float64) * math.sqrt(2))


@settings(max_examples=60, deadline=None)
@given(value=st.floats(-1e6, 1e6), G=st.integers(2, 9), n_groups=st.integers(1, 4),
       scale=st.sampled_from(["group", "batch", "none"]))
def test_a_group_with_equal_rewards_gets_exactly_zero_advantage(value, G, n_groups, scale):
    rewards = torch.full((G * n_groups,), value, dtype=torch.float32)
    rewards[G:] = torch.linspace(-3, 5, len(rewards) - G) if n_groups > 1 else rewards[G:]
    adv = group_advantages(rewards, G, scale=scale)
    assert torch.all(adv[:G] == 0)
    assert torch.isfinite(adv).all()


@settings(max_examples=60, deadline=None)
@given(rewards=st.lists(st.floats(-1e30, 1e30), min_size=8, max_size=8), scale=st.sampled_from(["group", "batch", "none"]))
def test_group_advantages_stay_finite_at_extreme_rewards(rewards, scale):
    adv = group_advantages(torch.tensor(rewards, dtype=torch.float64), 4, scale=scale)
    assert torch.isfinite(adv).all()


def test_group_advantages_sum_to_zero_in_each_group():
    rewards = torch.randn(40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for scale in ("group", "batch", "none"):
        sums = group_advantages(rewards, 8, scale=scale).view(5, 8).sum(dim=1)
        torch.testing.assert_close(sums, torch.zeros(5, dtype=torch.float64))


def test_rloo_advantages_match_a_leave_one_out_loop_and_the_closed_form():
    rewards = torch.randn(24, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    G = 6
    loop = torch.tensor([rewards[i] - (sum(rewards[(i // G) * G:(i // G + 1) * G]) - rewards[i]) / (G - 1)
                         for i in range(len(rewards))], dtype=torch.float64)
    torch.testing.assert_close(rloo_advantages(rewards, G), loop)
    centred = rewards.view(-1, G) - rewards.view(-1, G).mean(1, keepdim=True)
    torch.testing.assert_close(rloo_advantages(rewards, G), (G / (G - 1) * centred).reshape(-1))


@pytest.mark.parametrize("fn", [group_advantages, rloo_advantages])
def test_advantage_errors_name_the_argument(fn):
    with pytest.raises(ValueError, match="group_size"):
        fn(torch.zeros(8), 1)
    with pytest.raises(ValueError, match="multiple of group_size"):
        fn(torch.zeros(7), 4)
    with pytest.raises(ValueError, match="rewards"):
        fn(torch.zeros(2, 4), 4)
    with pytest.raises(ValueError, match="rewards"):
        fn(torch.tensor([0.0, math.nan, 1.0, 0.0]), 2)


def test_group_advantages_reject_an_unknown_scale():
    with pytest.raises(ValueError, match="scale"):
        group_advantages(torch.zeros(4), 2, scale="std")


# ------------------------------------------------------------------------------ KL estimators
def exact_categorical():
    p = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05], dtype=torch.float64)
    q = torch.tensor([0.1, 0.3, 0.2, 0.25, 0.15], dtype=torch.float64)
    return p, q, float((p * (p / q).log()).sum())


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_k1_and_k3_are_unbiased_on_an_exact_categorical(estimator):
    p, q, true_kl = exact_categorical()
    per_outcome = kl_estimate(p.log(), q.log(), estimator)     # the estimate if y = outcome i
    assert float((p * per_outcome).sum()) == pytest.approx(true_kl, rel=1e-12)


def test_k2_is_biased_and_k3_has_lower_variance_than_k1_here():
    p, q, true_kl = exact_categorical()
    mean = {k: float((p * kl_estimate(p.log(), q.log(), k)).sum()) for k in ("k1", "k2", "k3")}
    var = {k: float((p * (kl_estimate(p.log(), q.log(), k) - mean[k]) ** 2).sum()) for k in ("k1", "k3")}
    assert abs(mean["k2"] - true_kl) > 0.01
    assert var["k3"] < var["k1"]


@settings(max_examples=100, deadline=None)
@given(logp=st.floats(-50, 0), ref_logp=st.floats(-50, 0))
def test_k2_and_k3_are_never_negative_and_all_are_finite(logp, ref_logp):
    lp, rf = torch.tensor([logp], dtype=torch.float64), torch.tensor([ref_logp], dtype=torch.float64)
    for estimator in ("k1", "k2", "k3"):
        assert torch.isfinite(kl_estimate(lp, rf, estimator)).all()
    assert kl_estimate(lp, rf, "k2").item() >= 0
    assert kl_estimate(lp, rf, "k3").item() >= 0


def test_kl_estimates_match_their_formulas():
    logp, ref = torch.tensor([-1.0, -0.2, -3.0]), torch.tensor([-0.5, -2.0, -3.0])
    d = logp - ref
    torch.testing.assert_close(kl_estimate(logp, ref, "k1"), d)
    torch.testing.assert_close(kl_estimate(logp, ref, "k2"), 0.5 * d ** 2)
    torch.testing.assert_close(kl_estimate(logp, ref, "k3"), torch.exp(-d) + d - 1)


def test_kl_estimate_rejects_unknown_estimators_and_shapes():
    with pytest.raises(ValueError, match="estimator"):
        kl_estimate(torch.zeros(3), torch.zeros(3), "k4")
    with pytest.raises(ValueError, match="ref_logp"):
        kl_estimate(torch.zeros(3), torch.zeros(4))


# ------------------------------------------------------------------------------------- the loss
def loss_inputs(B=4, T=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logp = (-torch.rand(B, T, generator=gen, dtype=torch.float64) * 3).requires_grad_()
    old_logp = logp.detach() + torch.randn(B, T, generator=gen, dtype=torch.float64) * 0.3   # ratios beyond the clip
    ref_logp = -torch.rand(B, T, generator=gen, dtype=torch.float64) * 3
    advantages = torch.randn(B, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([T, 2, 4, 1])[:B]
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return logp, old_logp, ref_logp, advantages, mask


def naive_grpo_loss(logp, old_logp, advantages, mask, eps, eps_high, loss_type, L, ref_logp, beta, estimator):
    B, T = logp.shape
    per_seq, total, count = [], 0.0, 0
    for i in range(B):
        seq = []
        for t in range(T):
            if not mask[i, t]:
                continue
            ratio = torch.exp(logp[i, t] - old_logp[i, t])
            clipped = torch.clamp(ratio, 1 - eps, 1 + eps_high)
            loss = -torch.minimum(ratio * advantages[i], clipped * advantages[i])
            if beta:
                x = ref_logp[i, t] - logp[i, t]
                kl = {"k1": -x, "k2": 0.5 * x ** 2, "k3": torch.exp(x) - x - 1}[estimator]
                loss = loss + beta * kl
            seq.append(loss)
            total, count = total + loss, count + 1
        per_seq.append(sum(seq) / len(seq) if seq else None)
    if loss_type == "grpo":
        return sum(per_seq) / B
    if loss_type == "dapo":
        return total / count
    return total / (B * L)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
@pytest.mark.parametrize("beta,estimator", [(0.0, "k3"), (0.1, "k3"), (0.3, "k1"), (0.05, "k2")])
@pytest.mark.parametrize("eps_high", [None, 0.28])
def test_grpo_loss_and_its_gradient_match_a_token_loop(loss_type, beta, estimator, eps_high):
    logp, old_logp, ref_logp, adv, mask = loss_inputs()
    kwargs = dict(clip_eps=0.2, clip_eps_high=eps_high, loss_type=loss_type, max_completion_length=8,
                  ref_logp=ref_logp, beta=beta, kl_estimator=estimator)
    ours = grpo_loss(logp, old_logp, adv, mask, **kwargs)
    (grad_ours,) = torch.autograd.grad(ours, logp)
    naive = naive_grpo_loss(logp, old_logp, adv, mask, 0.2, 0.2 if eps_high is None else eps_high,
                            loss_type, 8, ref_logp, beta, estimator)
    (grad_naive,) = torch.autograd.grad(naive, logp)
    torch.testing.assert_close(ours, naive)
    torch.testing.assert_close(grad_ours, grad_naive)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
def test_grpo_loss_gradient_matches_finite_differences(loss_type):
    logp, old_logp, ref_logp, adv, mask = loss_inputs(seed=3)
    fn = lambda lp: grpo_loss(lp, old_logp, adv, mask, loss_type=loss_type, max_completion_length=6,  # noqa: E731
                              ref_logp=ref_logp, beta=0.2, clip_eps_high=0.3)
    assert torch.autograd.gradcheck(fn, (logp,), eps=1e-7, atol=1e-6)


def test_on_policy_gradient_is_the_advantage_weighted_score_function():
    """ρ = 1 in value when old_logp = logp.detach(); 'dapo' then gives -A_i / n_tokens per token."""
    logp, _, _, adv, mask = loss_inputs(seed=5)
    loss = grpo_loss(logp, logp.detach(), adv, mask, loss_type="dapo")
    (grad,) = torch.autograd.grad(loss, logp)
    torch.testing.assert_close(grad, -adv[:, None].expand_as(logp) * mask / mask.sum())


def test_clipped_tokens_get_no_gradient_and_clip_higher_moves_the_upper_bound():
    logp = torch.log(torch.tensor([[1.25, 1.25]], dtype=torch.float64)).requires_grad_()   # ratio 1.25
    old = torch.zeros(1, 2, dtype=torch.float64)
    adv, mask = torch.tensor([1.0], dtype=torch.float64), torch.ones(1, 2, dtype=torch.bool)
    (g_clipped,) = torch.autograd.grad(grpo_loss(logp, old, adv, mask, clip_eps=0.2), logp)
    (g_higher,) = torch.autograd.grad(grpo_loss(logp, old, adv, mask, clip_eps=0.2, clip_eps_high=0.28), logp)
    assert torch.all(g_clipped == 0)
    torch.testing.assert_close(g_higher, torch.full((1, 2), -1.25 / 2, dtype=torch.float64))


def test_padding_never_reaches_the_loss():
    logp, old_logp, ref_logp, adv, mask = loss_inputs(seed=7)
    junk = logp.detach().clone()
    junk[~mask] = -40.0                                   # what a sampler may leave on padding
    a = grpo_loss(logp, old_logp, adv, mask, ref_logp=ref_logp, beta=0.1)
    b = grpo_loss(torch.where(mask, logp, junk), old_logp, adv, mask, ref_logp=ref_logp, beta=0.1)
    torch.testing.assert_close(a, b)


def test_loss_types_weigh_tokens_of_short_and_long_answers_differently():
    """CS336's example: a 4-token and a 7-token answer with the same advantage."""
    T = 7
    logp = torch.zeros(2, T, dtype=torch.float64, requires_grad=True)
    mask = torch.arange(T)[None, :] < torch.tensor([4, 7])[:, None]
    adv = torch.ones(2, dtype=torch.float64)
    weights = {}
    for loss_type in ("grpo", "dapo", "dr_grpo"):
        (g,) = torch.autograd.grad(grpo_loss(logp, logp.detach(), adv, mask, loss_type=loss_type,
                                             max_completion_length=T), logp)
        weights[loss_type] = (-g[0, 0].item(), -g[1, 0].item())
    assert weights["grpo"] == pytest.approx((1 / (2 * 4), 1 / (2 * 7)))
    assert weights["dapo"] == pytest.approx((1 / 11, 1 / 11))
    assert weights["dr_grpo"] == pytest.approx((1 / 14, 1 / 14))


@pytest.mark.parametrize("bad,match", [
    (dict(old_logp=torch.zeros(4, 5)), "old_logp"),
    (dict(advantages=torch.zeros(3)), "advantages"),
    (dict(mask=torch.ones(4, 6)), "mask"),
    (dict(loss_type="bnpo"), "loss_type"),
    (dict(beta=0.1), "ref_logp"),
    (dict(loss_type="dr_grpo"), "max_completion_length"),
    (dict(loss_type="dr_grpo", max_completion_length=3), "max_completion_length"),
    (dict(clip_eps=0.0), "clip_eps"),
    (dict(kl_estimator="k5"), "kl_estimator"),
])
def test_grpo_loss_errors_name_the_argument(bad, match):
    logp, old_logp, _, adv, mask = loss_inputs()
    args = dict(logp=logp, old_logp=old_logp, advantages=adv, mask=mask)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        grpo_loss(**args)


def test_an_empty_completion_is_an_error_only_where_it_would_divide_by_zero():
    logp, old_logp, _, adv, mask = loss_inputs()
    mask[3] = False
    with pytest.raises(ValueError, match="mask has a row"):
        grpo_loss(logp, old_logp, adv, mask, loss_type="grpo")
    assert torch.isfinite(grpo_loss(logp, old_logp, adv, mask, loss_type="dapo"))
    assert torch.isfinite(grpo_loss(logp, old_logp, adv, mask, loss_type="dr_grpo", max_completion_length=6))
    with pytest.raises(ValueError, match="no completion token"):
        grpo_loss(logp, old_logp, adv, torch.zeros_like(mask), loss_type="dapo")


@settings(max_examples=50, deadline=None)
@given(shift=st.floats(-60, 60), adv=st.floats(-1e4, 1e4), loss_type=st.sampled_from(["grpo", "dapo", "dr_grpo"]))
def test_grpo_loss_has_no_nan_at_extreme_ratios(shift, adv, loss_type):
    logp = torch.full((2, 3), -1.0, dtype=torch.float64, requires_grad=True)
    old = torch.full((2, 3), -1.0 - shift, dtype=torch.float64)
    loss = grpo_loss(logp, old, torch.tensor([adv, -adv], dtype=torch.float64), torch.ones(2, 3, dtype=torch.bool),
                     loss_type=loss_type, max_completion_length=3, ref_logp=old, beta=0.01)
    (grad,) = torch.autograd.grad(loss, logp)
    assert not torch.isnan(loss) and not torch.isnan(grad).any()


def test_rloo_loss_matches_a_sequence_loop():
    logp, old_logp, _, adv, mask = loss_inputs(seed=9)
    old_logp = logp.detach() + 0.05 * torch.randn(logp.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    terms = []
    for i in range(len(adv)):
        ratio = torch.exp(sum(logp[i, t] - old_logp[i, t] for t in range(logp.shape[1]) if mask[i, t]))
        terms.append(-torch.minimum(ratio * adv[i], ratio.clamp(0.8, 1.25) * adv[i]))
    torch.testing.assert_close(rloo_loss(logp, old_logp, adv, mask, clip_eps=0.2, clip_eps_high=0.25),
                               sum(terms) / len(terms))


# ------------------------------------------------------------------------------ the addition task
from rlft_core import arithmetic as task  # noqa: E402
from rlft_core.grpo_train import (ExpertIterationConfig, GRPOConfig, compute_advantages, evaluate,  # noqa: E402
                                  expert_iteration, sft_model, train_grpo)


def test_character_tokenizer_round_trips_and_keeps_the_special_ids():
    ids = task.TOKENIZER.encode("47+38=85")
    assert len(ids) == 8 and len(task.TOKENIZER) == 15
    assert task.TOKENIZER.decode([task.TOKENIZER.bos_id, *ids, task.TOKENIZER.eos_id, 0, 0]) == "<bos>47+38=85<eos>"
    with pytest.raises(ValueError, match="alphabet"):
        task.TOKENIZER.encode("4*3")


def test_dropped_carry_and_has_carry_against_digit_arithmetic():
    for a, b in task.all_problems()[::37]:
        units, tens = (a % 10 + b % 10), (a // 10 + b // 10)
        assert task.has_carry(a, b) == (units >= 10)
        assert task.dropped_carry_sum(a, b) == int(str(tens) + str(units % 10))
    assert task.dropped_carry_sum(47, 38) == 75 and task.dropped_carry_sum(12, 34) == 46


def test_corpus_drops_the_carry_in_the_requested_fraction():
    problems = task.all_problems()
    corpus = task.sft_corpus(problems, 4000, wrong_carry_fraction=0.6, seed=1)
    wrong_carry, carry, wrong_plain = 0, 0, 0
    for seq in corpus:
        text = task.TOKENIZER.decode(seq[1:-1])
        a, b = (int(x) for x in text.split("=")[0].split("+"))
        answer = int(text.split("=")[1])
        if task.has_carry(a, b):
            carry += 1
            wrong_carry += answer != a + b
        else:
            wrong_plain += answer != a + b
    assert wrong_plain == 0
    assert abs(wrong_carry / carry - 0.6) < 4 * math.sqrt(0.24 / carry)


def test_exact_match_reward_needs_the_sum_then_eos():
    problems = [(47, 38), (47, 38), (47, 38), (10, 10)]
    rows = [task.TOKENIZER.encode(s) for s in ("85", "75", "855", "20")]
    tok = task.TOKENIZER
    prompts = task.encode_prompts(problems)
    completions = torch.tensor([[*rows[0], tok.eos_id, 0], [*rows[1], tok.eos_id, 0], [*rows[2], tok.eos_id],
                                [*rows[3], 0, 0]])          # the last one was cut before <eos>
    rewards = task.exact_match_rewards(torch.cat([prompts, completions], dim=1), problems)
    assert rewards.tolist() == [1.0, 0.0, 0.0, 0.0]


def brute_force_pass_at_k(n, c, k):
    outcomes = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n,c,k", [(5, 0, 1), (5, 2, 1), (6, 2, 3), (8, 1, 4), (7, 7, 2), (10, 3, 10), (9, 4, 2)])
def test_pass_at_k_equals_enumeration_over_all_subsets(n, c, k):
    assert task.pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_takes_arrays_and_checks_its_arguments():
    np.testing.assert_allclose(task.pass_at_k(np.array([4, 4]), np.array([1, 2]), 1), [0.25, 0.5])
    with pytest.raises(ValueError, match="k"):
        task.pass_at_k(3, 1, 4)
    with pytest.raises(ValueError, match="c"):
        task.pass_at_k(3, 5, 1)


def test_no_baseline_advantage_is_the_raw_reward_and_unknown_names_fail():
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0])
    torch.testing.assert_close(compute_advantages(rewards, 2, "none"), rewards)
    torch.testing.assert_close(compute_advantages(rewards, 2, "rloo"), rloo_advantages(rewards, 2))
    with pytest.raises(ValueError, match="advantage"):
        compute_advantages(rewards, 2, "ppo")


@pytest.mark.parametrize("bad", [dict(num_generations=1), dict(advantage="ppo"), dict(loss_type="bnpo"),
                                 dict(learning_rate=0.0), dict(beta=-0.1), dict(epsilon=1.5), dict(steps=0)])
def test_grpo_config_rejects_bad_values_by_name(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        GRPOConfig(**bad)


def test_train_grpo_is_deterministic_and_logs_what_the_notebook_plots(one_thread):
    model = task.new_model(seed=0)
    train, test = task.split_problems()
    config = GRPOConfig(steps=2, prompts_per_step=4, eval_every=2, eval_problems=8, eval_samples=2, beta=0.1,
                        num_iterations=2)
    runs = [train_grpo(copy.deepcopy(model), train, test, config, seed=3) for _ in range(2)]
    for key in ("reward", "frac_zero_std", "kl", "completion_length", "greedy_accuracy", "pass_at_1"):
        assert key in runs[0][-1]
    assert [r["loss"] for r in runs[0][1:]] == [r["loss"] for r in runs[1][1:]]
    assert runs[0][1]["kl"] == 0.0                                   # step 1 samples from π_ref itself


@pytest.mark.slow
def test_grpo_lifts_the_flawed_sft_model_to_ninety_percent(one_thread):
    sft, train, test = sft_model(seed=1)                 # the notebook's SFT seed
    before = evaluate(sft, test[:256])["greedy_accuracy"]
    history = train_grpo(copy.deepcopy(sft), train, test, GRPOConfig(steps=40), seed=0)
    best = max(r["greedy_accuracy"] for r in history if "greedy_accuracy" in r)
    assert 0.4 <= before <= 0.75
    assert best >= 0.9


@pytest.mark.slow
def test_expert_iteration_improves_on_sft(one_thread):
    sft, train, test = sft_model(seed=0)
    history = expert_iteration(copy.deepcopy(sft), train, test, ExpertIterationConfig(rounds=3), seed=0)
    assert history[-1]["greedy_accuracy"] > history[0]["greedy_accuracy"] + 0.1
    assert all(r["kept"] > 0 for r in history[1:])


def test_train_grpo_leaves_the_reference_model_trainable_and_unchanged(one_thread):
    """The SFT model is reused as the start of later runs: training must not freeze or move it."""
    sft = task.new_model(seed=1)
    before = [p.detach().clone() for p in sft.parameters()]
    train, test = task.split_problems()
    train_grpo(copy.deepcopy(sft), train, test, GRPOConfig(steps=1, prompts_per_step=2, eval_problems=4, eval_samples=1),
               ref_model=sft, seed=0)
    assert all(p.requires_grad for p in sft.parameters())
    assert all(torch.equal(b, p) for b, p in zip(before, sft.parameters()))
