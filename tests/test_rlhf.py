"""RLHF on the tiny LM: KL-shaped rewards, masked GAE, SFT, preference data, best-of-n, PPO, and the
whole pipeline end to end (PPO and DPO beat SFT on the true reward)."""
import copy
import math

import pytest
import torch

from rlft_core.preferences import BradleyTerryLabeler
from rlft_core.returns import gae
from rlft_core.review_language import ReviewLanguage
from rlft_core.rlhf import (PreferenceData, RewardModelConfig, SFTConfig, best_of_n, best_of_n_kl,
                            evaluate_policy, new_lm, sample_preference_data, train_sft, train_token_reward_model)
from rlft_core.rlhf_pipeline import PipelineConfig, run_pipeline
from rlft_core.rlhf_ppo import PPOLMConfig, kl_shaped_rewards, masked_gae, train_ppo_lm
from rlft_core.tiny_lm import GPTConfig, TokenRewardModel, generate


pytestmark = pytest.mark.usefixtures("one_thread")     # tests/conftest.py


def _batch(seed=0, B=4, T=6):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    ref_logp = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    lengths = torch.tensor([6, 3, 1, 5])[:B]
    mask = torch.arange(T)[None, :] < lengths[:, None]
    score = torch.randn(B, generator=g, dtype=torch.float64)
    return logp, ref_logp, mask, score


# ------------------------------------------------------------------ KL-shaped rewards
def test_kl_shaped_rewards_match_a_naive_loop():
    logp, ref_logp, mask, score = _batch()
    kl_coef = 0.3
    out = kl_shaped_rewards(logp, ref_logp, mask, score, kl_coef)
    for b in range(logp.shape[0]):
        n = int(mask[b].sum())
        for t in range(logp.shape[1]):
            expected = 0.0
            if t < n:
                expected = -kl_coef * (logp[b, t] - ref_logp[b, t]).item() + (score[b].item() if t == n - 1 else 0.0)
            assert out[b, t].item() == pytest.approx(expected, abs=1e-12)


def test_kl_shaped_rewards_sum_to_score_minus_beta_times_sampled_kl():
    logp, ref_logp, mask, score = _batch(seed=1)
    out = kl_shaped_rewards(logp, ref_logp, mask, score, 0.2)
    torch.testing.assert_close(out.sum(dim=1), score - 0.2 * ((logp - ref_logp) * mask).sum(dim=1))
    only_score = kl_shaped_rewards(logp, ref_logp, mask, score, 0.0)
    torch.testing.assert_close(only_score.sum(dim=1), score)
    assert (only_score != 0).sum() == len(score)


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(mask=a["mask"].float()), "mask"),
    (lambda a: a.update(mask=torch.tensor([[1, 0, 1, 0, 0, 0]] * 4, dtype=torch.bool)), "prefix"),
    (lambda a: a.update(mask=torch.zeros(4, 6, dtype=torch.bool)), "no response token"),
    (lambda a: a.update(score=a["score"][:2]), "score"),
    (lambda a: a.update(kl_coef=-0.1), "kl_coef"),
    (lambda a: a.update(ref_logp=a["ref_logp"][:, :5]), "ref_logp"),
    (lambda a: a.update(logp=a["logp"] * float("nan")), "logp"),
])
def test_kl_shaped_rewards_rejects_bad_inputs(change, match):
    logp, ref_logp, mask, score = _batch()
    args = dict(logp=logp, ref_logp=ref_logp, mask=mask, score=score, kl_coef=0.1)
    change(args)
    with pytest.raises(ValueError, match=match):
        kl_shaped_rewards(**args)


# ------------------------------------------------------------------ masked GAE
@pytest.mark.parametrize("gamma, lam", [(1.0, 0.95), (1.0, 1.0), (0.9, 0.0), (0.99, 0.5)])
def test_masked_gae_matches_a_naive_loop_over_each_response(gamma, lam):
    logp, ref_logp, mask, score = _batch(seed=2)
    rewards = kl_shaped_rewards(logp, ref_logp, mask, score, 0.1)
    values = torch.randn(rewards.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    adv, returns = masked_gae(rewards, values, mask, gamma, lam)
    for b in range(rewards.shape[0]):
        n = int(mask[b].sum())
        running = 0.0
        for t in reversed(range(n)):
            next_value = values[b, t + 1].item() if t + 1 < n else 0.0     # nothing after <eos>
            delta = rewards[b, t].item() + gamma * next_value - values[b, t].item()
            running = delta + gamma * lam * running
            assert adv[b, t].item() == pytest.approx(running, abs=1e-10)
            assert returns[b, t].item() == pytest.approx(running + values[b, t].item(), abs=1e-10)
        assert (adv[b, n:] == 0).all() and (returns[b, n:] == 0).all()


def test_masked_gae_with_lambda_one_is_return_to_go_minus_value():
    logp, ref_logp, mask, score = _batch(seed=4)
    rewards = kl_shaped_rewards(logp, ref_logp, mask, score, 0.1)
    values = torch.randn(rewards.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    adv, _ = masked_gae(rewards, values, mask, gamma=1.0, lam=1.0)
    return_to_go = rewards.flip(1).cumsum(1).flip(1)
    torch.testing.assert_close(adv, (return_to_go - values) * mask)


def test_masked_gae_agrees_with_returns_gae_on_one_unpadded_response():
    logp, ref_logp, mask, score = _batch(seed=6)
    rewards = kl_shaped_rewards(logp, ref_logp, mask, score, 0.1)
    values = torch.randn(rewards.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    adv, _ = masked_gae(rewards, values, mask, gamma=1.0, lam=0.9)
    n = int(mask[0].sum())
    dones = torch.zeros(n, dtype=torch.float64)
    dones[-1] = 1
    expected, _ = gae(rewards[0, :n], values[0, :n], dones, 0.0, gamma=1.0, lam=0.9)
    torch.testing.assert_close(adv[0, :n], expected)


def test_masked_gae_rejects_bad_inputs():
    logp, ref_logp, mask, score = _batch()
    with pytest.raises(ValueError, match="values"):
        masked_gae(logp, ref_logp[:, :3], mask)
    with pytest.raises(ValueError, match="lam"):
        masked_gae(logp, ref_logp, mask, lam=1.5)


# ------------------------------------------------------------------ best-of-n
def test_best_of_n_kl_closed_form():
    assert best_of_n_kl(1) == 0.0
    assert best_of_n_kl(2) == pytest.approx(math.log(2) - 0.5)
    assert best_of_n_kl(16) == pytest.approx(math.log(16) - 15 / 16)
    with pytest.raises(ValueError, match="n"):
        best_of_n_kl(0)


def test_best_of_n_keeps_the_candidate_the_reward_model_scores_highest():
    language = ReviewLanguage()
    model = new_lm(language, d_model=16, n_layer=1, n_head=2, seed=0)
    torch.manual_seed(1)
    reward_model = TokenRewardModel(model.config)
    prompts = language.prompts(5, torch.Generator().manual_seed(0))
    n = 4
    best, best_mask = best_of_n(model, reward_model, language, prompts, n, torch.Generator().manual_seed(2))
    # the same generator state gives the same candidates
    candidates, cand_mask = generate(model, prompts.repeat_interleave(n, 0), language.max_words + 1,
                                     generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        scores = reward_model(candidates, cand_mask).view(5, n)
        best_scores = reward_model(best, best_mask)
    torch.testing.assert_close(best_scores, scores.max(dim=1).values)


# ------------------------------------------------------------------ SFT and preference data
def test_train_sft_learns_the_review_language():
    language = ReviewLanguage()
    model = new_lm(language, seed=0)
    history = train_sft(model, language.sample_corpus(3000, seed=0), language.prompt_length,
                        SFTConfig(steps=200), seed=0)
    assert history[0]["loss"] > 3.0 and sum(r["loss"] for r in history[-20:]) / 20 < 1.1   # ln(45) = 3.8 at start
    assert history[-1]["lr"] == pytest.approx(3e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 199 / 200))))
    result = evaluate_policy(model, model, lambda s, m: torch.zeros(len(s)), language, n_samples=200)
    assert result["grammatical"] > 0.5                                # an untrained model writes ~0 % grammatical
    stopped = train_sft(model, language.sample_corpus(100, seed=1), language.prompt_length,
                        SFTConfig(steps=50), callback=lambda r: r["step"] == 3)
    assert len(stopped) == 3


def test_sample_preference_data_labels_responses_given_their_prompts():
    language = ReviewLanguage()
    model = new_lm(language, d_model=16, n_layer=1, n_head=2, seed=0)
    labeler = BradleyTerryLabeler(language.reward_of, temperature=0.0, seed=0)        # perfectly rational
    data = sample_preference_data(model, language, labeler, 50, test_fraction=0.2, seed=0)
    assert isinstance(data, PreferenceData) and len(data.train) == 40 and len(data.test) == 10
    for part in (data.train, data.test):
        for i in range(len(part)):
            prompt = part.prompt[i][part.prompt_mask[i]]
            chosen = torch.cat([prompt, part.chosen[i][part.chosen_mask[i]]])
            rejected = torch.cat([prompt, part.rejected[i][part.rejected_mask[i]]])
            assert prompt[0] == language.tokenizer.bos_id and len(prompt) == 2
            assert language.reward_of(chosen) >= language.reward_of(rejected)
    assert 0.5 <= data.ceiling <= 1.0


@pytest.mark.parametrize("make, match", [
    (lambda: SFTConfig(steps=0), "steps"), (lambda: SFTConfig(learning_rate=-1.0), "learning_rate"),
    (lambda: RewardModelConfig(epochs=0), "epochs"), (lambda: PPOLMConfig(kl_coef=-1.0), "kl_coef"),
    (lambda: PPOLMConfig(clip_eps=0.0), "clip_eps"), (lambda: PPOLMConfig(batch_size=1), "batch_size"),
    (lambda: PPOLMConfig(gae_lambda=2.0), "gae_lambda"), (lambda: PipelineConfig(best_of_n=(0,)), "best_of_n"),
])
def test_configs_reject_bad_values(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_stage_functions_reject_bad_arguments():
    language = ReviewLanguage()
    model = new_lm(language, d_model=16, n_layer=1, n_head=2)
    with pytest.raises(ValueError, match="corpus"):
        train_sft(model, [], language.prompt_length)
    with pytest.raises(ValueError, match="prompt_length"):
        train_sft(model, [[1, 4, 5]], 3)
    with pytest.raises(ValueError, match="config"):
        train_ppo_lm(model, model, TokenRewardModel(model.config), language, config={"kl_coef": 0.1})
    with pytest.raises(ValueError, match="policy"):
        evaluate_policy(None, model, TokenRewardModel(model.config), language, n_samples=4)
    with pytest.raises(ValueError, match="stages"):
        run_pipeline(stages=("rlaif",))
    with pytest.raises(ValueError, match="n"):
        best_of_n(model, TokenRewardModel(model.config), language, language.prompts(2), 0)
    with pytest.raises(ValueError, match="n_pairs"):
        sample_preference_data(model, language, BradleyTerryLabeler(language.reward_of), 1)
    with pytest.raises(ValueError, match="config"):
        train_token_reward_model(model, None, config={"epochs": 1})
    with pytest.raises(ValueError, match="data"):
        train_token_reward_model(model, None)
    with pytest.raises(ValueError, match="n"):
        language.prompts(0)
    with pytest.raises(ValueError, match="d_model"):
        new_lm(language, d_model=30, n_head=4)


# ------------------------------------------------------------------ PPO mechanics
def _tiny_rlhf_setup():
    """A one-layer reference LM and an untrained reward model on the review language."""
    language = ReviewLanguage()
    cfg = GPTConfig(len(language.tokenizer), language.block_size, n_layer=1, n_head=2, d_model=16)
    torch.manual_seed(0)
    return language, new_lm(language, d_model=16, n_layer=1, n_head=2, seed=0), TokenRewardModel(cfg)


def test_train_ppo_lm_logs_metrics_is_seeded_and_leaves_the_reference_alone():
    language, reference, reward_model = _tiny_rlhf_setup()
    reference_state = copy.deepcopy(reference.state_dict())
    config = PPOLMConfig(iterations=2, batch_size=8, minibatch_size=4, num_epochs=1)
    runs = []
    for _ in range(2):
        policy = copy.deepcopy(reference)
        runs.append(train_ppo_lm(policy, reference, reward_model, language, config, seed=1))
    assert runs[0] == runs[1] and len(runs[0]) == 2
    assert set(runs[0][0]) == {"iteration", "score", "true_reward", "kl", "objective", "length", "policy_loss",
                               "value_loss", "approx_kl", "clip_fraction"}
    assert runs[0][0]["kl"] == pytest.approx(0.0, abs=1e-5)                 # the first rollout is the reference's
    assert runs[0][1]["kl"] != 0.0
    for key, value in reference.state_dict().items():
        assert torch.equal(value, reference_state[key])
    assert all(p.requires_grad for p in reference.parameters())
    stopped = train_ppo_lm(copy.deepcopy(reference), reference, reward_model, language, config,
                           callback=lambda record: True)
    assert len(stopped) == 1


def test_train_ppo_lm_shapes_rewards_with_the_reward_fn_it_is_given():
    language, reference, reward_model = _tiny_rlhf_setup()
    config = PPOLMConfig(iterations=2, batch_size=8, minibatch_size=4, num_epochs=1)
    calls = []

    def spy(logp, ref_logp, mask, score, kl_coef):
        calls.append((logp.shape, mask.dtype, kl_coef))
        return kl_shaped_rewards(logp, ref_logp, mask, score, kl_coef)
    default = train_ppo_lm(copy.deepcopy(reference), reference, reward_model, language, config, seed=1)
    spied = train_ppo_lm(copy.deepcopy(reference), reference, reward_model, language, config, seed=1, reward_fn=spy)
    assert spied == default and len(calls) == 2
    assert calls[0][1] == torch.bool and calls[0][2] == config.kl_coef
    zero = train_ppo_lm(copy.deepcopy(reference), reference, reward_model, language, config, seed=1,
                        reward_fn=lambda logp, ref_logp, mask, score, kl_coef: torch.zeros_like(logp))
    assert zero[0]["score"] == default[0]["score"] and zero[1] != default[1]   # same first rollout, other update
    with pytest.raises(ValueError, match="reward_fn"):
        train_ppo_lm(reference, reference, reward_model, language, config, reward_fn=None)


# ------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def pipeline(one_thread):
    return run_pipeline(PipelineConfig(seed=0), stages=("ppo", "dpo"))


@pytest.mark.slow
def test_reward_model_learns_the_labelers_preferences(pipeline):
    assert pipeline["reward_model_accuracy"] > 0.7
    assert pipeline["reward_model_accuracy"] > pipeline["ceiling"] - 0.05


@pytest.mark.slow
def test_ppo_and_dpo_raise_the_true_reward_over_sft(pipeline):
    sft, ppo, dpo = (pipeline["evals"][k] for k in ("sft", "ppo", "dpo"))
    assert sft["kl"] == 0.0 and sft["win_rate"] == pytest.approx(0.5, abs=0.06)   # SFT against itself: a coin flip
    assert ppo["true_reward"] > sft["true_reward"] + 0.5
    assert dpo["true_reward"] > sft["true_reward"] + 0.3
    assert ppo["win_rate"] >= 0.70 and dpo["win_rate"] >= 0.70


@pytest.mark.slow
def test_ppo_keeps_the_kl_to_sft_bounded(pipeline):
    # If PPO did not lose objective against its starting point, J(π) = E_π[r_φ] − β KL ≥ J(π_ref) = E_ref[r_φ],
    # so KL(π‖π_ref) ≤ (E_π[r_φ] − E_ref[r_φ]) / β; and in nats, 10 is far from the SFT model already.
    sft, ppo = pipeline["evals"]["sft"], pipeline["evals"]["ppo"]
    beta = PipelineConfig().ppo.kl_coef
    assert 0.1 < ppo["kl"] <= (ppo["proxy_reward"] - sft["proxy_reward"]) / beta
    assert ppo["kl"] < 10.0
    assert ppo["grammatical"] > 0.9
