"""Bradley–Terry loss, clip reward model, training loop and the learned-reward wrapper."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn

from rlft_core.clips import LearnedRewardWrapper, step_features
from rlft_core.preferences import BradleyTerryLabeler, PairDataset
from rlft_core.reward_model import (ClipRewardModel, bradley_terry_loss,
                                    evaluate_reward_model, join_prompt, preference_accuracy,
                                    train_reward_model)

torch.set_num_threads(1)


def naive_bt_loss(r_chosen, r_rejected, margin=0.0):
    return sum(math.log1p(math.exp(-(c - r - margin))) for c, r in zip(r_chosen, r_rejected)) / len(r_chosen)


# ---------------------------------------------------------------- loss and accuracy
def test_bt_loss_at_zero_gap_is_log_two():
    scores = torch.tensor([0.3, -1.0, 2.0])
    assert bradley_terry_loss(scores, scores.clone()).item() == pytest.approx(math.log(2.0), abs=1e-7)


def test_bt_loss_matches_a_naive_closed_form():
    gen = torch.Generator().manual_seed(0)
    r_c = torch.randn(50, generator=gen, dtype=torch.float64)
    r_r = torch.randn(50, generator=gen, dtype=torch.float64)
    expected = naive_bt_loss(r_c.tolist(), r_r.tolist())
    assert bradley_terry_loss(r_c, r_r).item() == pytest.approx(expected, rel=1e-12)


def test_bt_loss_margin_shifts_the_gap_as_in_the_closed_form():
    r_c = torch.tensor([1.0, 0.2, -0.5], dtype=torch.float64)
    r_r = torch.tensor([0.0, 0.4, -2.0], dtype=torch.float64)
    for margin in (0.0, 0.5, 3.0):
        assert bradley_terry_loss(r_c, r_r, margin=margin).item() == pytest.approx(
            naive_bt_loss(r_c.tolist(), r_r.tolist(), margin), rel=1e-12)
    per_pair = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    expected = sum(math.log1p(math.exp(-(c - r - m)))
                   for c, r, m in zip(r_c.tolist(), r_r.tolist(), per_pair.tolist())) / 3
    assert bradley_terry_loss(r_c, r_r, margin=per_pair).item() == pytest.approx(expected, rel=1e-12)
    assert bradley_terry_loss(r_c, r_r, margin=1.0) > bradley_terry_loss(r_c, r_r)


def test_bt_loss_gradients_match_finite_differences():
    gen = torch.Generator().manual_seed(1)
    r_c = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
    r_r = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
    tie = torch.tensor([False, True, False, False, True, False])
    assert torch.autograd.gradcheck(lambda c, r: bradley_terry_loss(c, r), (r_c, r_r))
    assert torch.autograd.gradcheck(lambda c, r: bradley_terry_loss(c, r, margin=0.7, tie=tie), (r_c, r_r))


def test_bt_loss_stays_finite_at_extreme_gaps():
    r_c = torch.tensor([1000.0, -1000.0], requires_grad=True)
    r_r = torch.zeros(2)
    loss = bradley_terry_loss(r_c, r_r)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(1000.0 / 2, rel=1e-6)
    # d/dr_c of -log sigma(d) / N is -(1 - sigma(d)) / N: 0 when d = +1000, -1/2 when d = -1000
    torch.testing.assert_close(r_c.grad, torch.tensor([0.0, -0.5]))


def test_tie_pairs_are_fit_to_one_half_and_minimal_at_equal_scores():
    d = torch.tensor([0.0, 1.5, -2.0], dtype=torch.float64, requires_grad=True)
    tie = torch.ones(3, dtype=torch.bool)
    loss = bradley_terry_loss(d, torch.zeros(3, dtype=torch.float64), tie=tie)
    expected = sum(0.5 * math.log1p(math.exp(-x)) + 0.5 * math.log1p(math.exp(x))
                   for x in (0.0, 1.5, -2.0)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    assert d.grad[0].item() == pytest.approx(0.0, abs=1e-15)
    assert d.grad[1] > 0 and d.grad[2] < 0                    # pushed back towards a gap of zero


def test_accuracy_counts_equal_scores_as_wrong_and_skips_ties():
    r_c, r_r = torch.tensor([2.0, 1.0, 0.5, 3.0]), torch.tensor([1.0, 1.0, 0.7, 0.0])
    assert preference_accuracy(r_c, r_r).item() == pytest.approx(2 / 4)
    assert preference_accuracy(torch.zeros(3), torch.zeros(3)).item() == 0.0
    tie = torch.tensor([False, True, True, False])
    assert preference_accuracy(r_c, r_r, tie=tie).item() == pytest.approx(1.0)
    assert math.isnan(preference_accuracy(r_c, r_r, tie=torch.ones(4, dtype=torch.bool)).item())


def test_loss_and_accuracy_reject_bad_inputs():
    good = torch.zeros(3)
    with pytest.raises(ValueError, match="r_rejected"):
        bradley_terry_loss(good, torch.zeros(4))
    with pytest.raises(ValueError, match="r_chosen"):
        bradley_terry_loss(torch.tensor([0.0, float("nan"), 1.0]), good)
    with pytest.raises(ValueError, match="r_chosen"):
        preference_accuracy(torch.zeros(3, dtype=torch.long), good)
    with pytest.raises(ValueError, match="margin"):
        bradley_terry_loss(good, good, margin=-1.0)
    with pytest.raises(ValueError, match="margin"):
        bradley_terry_loss(good, good, margin=torch.tensor([0.0, float("inf"), 0.0]))
    with pytest.raises(ValueError, match="tie"):
        preference_accuracy(good, good, tie=torch.zeros(3))


# ---------------------------------------------------------------- clip reward model
def test_clip_reward_is_the_masked_sum_of_step_rewards():
    torch.manual_seed(0)
    model = ClipRewardModel(obs_dim=3, hidden=8)
    clips = torch.randn(4, 5, 3)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 0]]).bool()
    expected = torch.stack([sum(model.step_reward(clips[i, t:t + 1])[0] for t in range(5) if mask[i, t])
                            for i in range(4)])
    torch.testing.assert_close(model(clips, mask), expected)
    padded = clips.clone()
    padded[~mask] = 123.0                                      # padding must not leak into the score
    torch.testing.assert_close(model(padded, mask), expected)
    torch.testing.assert_close(model(clips), model(clips, torch.ones(4, 5, dtype=torch.bool)))


def test_clip_reward_model_rejects_bad_shapes():
    model = ClipRewardModel(obs_dim=3)
    with pytest.raises(ValueError, match="clips"):
        model(torch.zeros(2, 5, 4), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        model(torch.zeros(2, 5, 3), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="features"):
        model.step_reward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="obs_dim"):
        ClipRewardModel(obs_dim=0)


# ---------------------------------------------------------------- training recovers a known reward
def nonlinear_step_reward(x):
    return np.sin(2 * x[..., 0]) + 0.5 * x[..., 1] ** 2 - x[..., 2]


def test_reward_model_reaches_the_labelers_agreement_ceiling_on_held_out_pairs():
    """Clips of 3 steps, true clip reward = sum of a nonlinear step reward, labels sampled at T = 1.

    No model can predict held-out labels better (in expectation) than the true ordering, which
    agrees with them at the labeler's agreement rate; a model that recovered the reward gets there.
    """
    rng = np.random.default_rng(0)
    n_train, n_test, k, dim = 10000, 4000, 3, 3
    clips_a = rng.normal(size=(n_train + n_test, k, dim)).astype(np.float32)
    clips_b = rng.normal(size=(n_train + n_test, k, dim)).astype(np.float32)
    labeler = BradleyTerryLabeler(lambda clip: float(nonlinear_step_reward(clip).sum()),
                                  temperature=1.0, seed=0)
    pairs = labeler.make_pairs(list(clips_a), list(clips_b))
    train, test = pairs[:n_train], pairs[n_train:]
    ceiling = labeler.agreement_rate(list(clips_a[n_train:]), list(clips_b[n_train:]))
    torch.manual_seed(0)
    model = ClipRewardModel(obs_dim=dim)
    history = train_reward_model(model, train, test, epochs=10, lr=3e-3, batch_size=256, weight_decay=1e-3)
    assert abs(history[-1]["test_accuracy"] - ceiling) <= 0.03, (history[-1], ceiling)
    # ... and it orders held-out clips by their TRUE reward almost always
    true_order = (nonlinear_step_reward(clips_a[n_train:]).sum(1)
                  > nonlinear_step_reward(clips_b[n_train:]).sum(1))
    with torch.no_grad():
        predicted = model(torch.from_numpy(clips_a[n_train:])) > model(torch.from_numpy(clips_b[n_train:]))
    assert (predicted.numpy() == true_order).mean() > 0.92


def test_linear_reward_single_step_reaches_the_ceiling_with_flip_noise():
    rng = np.random.default_rng(1)
    weights = np.array([1.5, -0.75, 1.2, 0.45])
    items_a, items_b = rng.normal(size=(8000, 4)), rng.normal(size=(8000, 4))
    labeler = BradleyTerryLabeler(lambda x: float(x @ weights), temperature=1.0, flip_prob=0.1, seed=1)
    pairs = labeler.make_pairs(list(items_a), list(items_b), encode=lambda x: x[None, :])   # float64, k = 1
    ceiling = labeler.agreement_rate(list(items_a[4000:]), list(items_b[4000:]))
    torch.manual_seed(1)
    history = train_reward_model(ClipRewardModel(4), pairs[:4000], pairs[4000:], epochs=8, lr=3e-3,
                                 batch_size=128, weight_decay=1e-2)
    assert abs(history[-1]["test_accuracy"] - ceiling) <= 0.03, (history[-1], ceiling)


class BagOfTokensReward(nn.Module):
    """A token reward model: sum of one learned score per real token."""

    def __init__(self, vocab):
        super().__init__()
        self.token_score = nn.Embedding(vocab, 1)

    def forward(self, tokens, mask):
        return (self.token_score(tokens).squeeze(-1) * mask).sum(1)


def test_token_reward_model_learns_which_tokens_the_labeler_likes():
    rng = np.random.default_rng(2)
    answers_a = [list(rng.integers(1, 8, size=rng.integers(2, 9))) for _ in range(3000)]
    answers_b = [list(rng.integers(1, 8, size=rng.integers(2, 9))) for _ in range(3000)]
    labeler = BradleyTerryLabeler(lambda t: t.count(3) - t.count(5), temperature=0.5, seed=2)
    pairs = labeler.make_pairs(answers_a, answers_b, prompts=[[9]] * 3000)
    torch.manual_seed(2)
    model = BagOfTokensReward(10)
    train_reward_model(model, pairs, epochs=10, lr=0.05)
    scores = model.token_score.weight.squeeze(-1).detach()
    neutral = scores[[1, 2, 4, 6, 7]]
    assert (scores[3] > neutral.max() + 1.0) and (scores[5] < neutral.min() - 1.0)


def test_join_prompt_packs_real_tokens_like_a_loop():
    gen = torch.Generator().manual_seed(5)
    prompt_len = torch.randint(1, 30, (40,), generator=gen)
    response_len = torch.randint(1, 60, (40,), generator=gen)
    prompt_mask = torch.arange(30)[None, :] < prompt_len[:, None]            # right-padded, (40, 30)
    response_mask = torch.arange(60)[None, :] < response_len[:, None]        # (40, 60)
    prompt = torch.randint(1, 50, (40, 30), generator=gen) * prompt_mask
    response = torch.randint(1, 50, (40, 60), generator=gen) * response_mask
    tokens, mask = join_prompt(prompt, prompt_mask, response, response_mask)
    assert tokens.shape[1] == int((prompt_len + response_len).max())
    for i in range(40):
        expected = prompt[i][prompt_mask[i]].tolist() + response[i][response_mask[i]].tolist()
        assert tokens[i][mask[i]].tolist() == expected
        assert mask[i].tolist() == [True] * len(expected) + [False] * (tokens.shape[1] - len(expected))


def test_history_callback_stops_training_and_seed_repeats_it():
    rng = np.random.default_rng(3)
    items_a, items_b = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    labeler = BradleyTerryLabeler(lambda x: float(x.sum()), seed=3)
    pairs = labeler.make_pairs(list(items_a), list(items_b), encode=lambda x: x[None, :])
    seen = []
    torch.manual_seed(0)
    history = train_reward_model(ClipRewardModel(2), pairs, epochs=10,
                                 callback=lambda r: seen.append(r) or r["epoch"] == 3)
    assert [r["epoch"] for r in history] == [1, 2, 3] and seen == history
    assert set(history[0]) == {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"}
    assert math.isnan(history[0]["test_loss"]) and math.isnan(history[0]["test_accuracy"])
    torch.manual_seed(0)
    again = train_reward_model(ClipRewardModel(2), pairs, epochs=3)
    assert [(r["train_loss"], r["train_accuracy"]) for r in again] == \
        [(r["train_loss"], r["train_accuracy"]) for r in history]


def test_tied_pairs_train_towards_equal_scores_and_are_left_out_of_accuracy():
    rng = np.random.default_rng(4)
    chosen = torch.tensor(rng.normal(size=(200, 1, 2)), dtype=torch.float32)
    rejected = chosen + torch.tensor(rng.normal(size=(200, 1, 2)), dtype=torch.float32)
    ties = PairDataset(chosen, rejected, tie=torch.ones(200, dtype=torch.bool))
    torch.manual_seed(4)
    model = ClipRewardModel(2, hidden=16)
    history = train_reward_model(model, ties, ties, epochs=40, lr=1e-2)
    assert math.isnan(history[-1]["train_accuracy"]) and math.isnan(history[-1]["test_accuracy"])
    # log 2 is the minimum of the tie loss, reached at equal scores
    assert history[-1]["test_loss"] < math.log(2.0) + 1e-3
    mixed = PairDataset(chosen, rejected, tie=torch.arange(200) % 2 == 0)
    with torch.no_grad():
        before = model(chosen) > model(rejected)
    one_batch = train_reward_model(model, mixed, epochs=1, batch_size=200)   # accuracy taken before the step
    assert one_batch[0]["train_accuracy"] == pytest.approx(before[~mixed.tie].float().mean().item())
    metrics = evaluate_reward_model(model, mixed)
    with torch.no_grad():
        r_c, r_r = model(chosen), model(rejected)
    decided = ~mixed.tie
    assert metrics["accuracy"] == pytest.approx((r_c[decided] > r_r[decided]).float().mean().item())
    assert metrics["loss"] == pytest.approx(bradley_terry_loss(r_c, r_r, tie=mixed.tie).item(), rel=1e-5)


def test_train_reward_model_rejects_bad_arguments():
    pairs = PairDataset(torch.zeros(4, 1, 2), torch.ones(4, 1, 2))
    model = ClipRewardModel(2)
    for kwargs, name in [({"epochs": 0}, "epochs"), ({"lr": 0.0}, "lr"), ({"batch_size": -1}, "batch_size"),
                         ({"weight_decay": -0.1}, "weight_decay"), ({"margin": -1.0}, "margin"),
                         ({"callback": 5}, "callback"), ({"test": [1, 2]}, "test")]:
        with pytest.raises(ValueError, match=name):
            train_reward_model(model, pairs, **kwargs)
    with pytest.raises(ValueError, match="train"):
        train_reward_model(model, [(0, 1)])

    class OneScoreForAll(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def forward(self, x, mask):
            return self.w * x.sum()
    with pytest.raises(ValueError, match="model"):
        train_reward_model(OneScoreForAll(), pairs)


# ---------------------------------------------------------------- the learned reward inside RL
def test_wrapper_replaces_the_reward_with_the_model_on_obs_and_action():
    torch.manual_seed(0)
    model = ClipRewardModel(obs_dim=6, hidden=8)                   # CartPole: 4 obs + one-hot of 2 actions
    wrapped = LearnedRewardWrapper(gym.make("CartPole-v1"), model, normalize=False)
    plain = gym.make("CartPole-v1")
    obs, _ = wrapped.reset(seed=5)
    plain_obs, _ = plain.reset(seed=5)
    raw = []
    for t in range(15):
        action = t % 2
        expected = model.step_reward(step_features(plain_obs, action, plain.action_space)[None])[0].item()
        obs, reward, terminated, truncated, info = wrapped.step(action)
        plain_obs, plain_reward, *_ = plain.step(action)
        np.testing.assert_array_equal(obs, plain_obs)
        assert reward == pytest.approx(expected, abs=1e-6) and info["env_reward"] == plain_reward
        raw.append(info["learned_reward"])
        if terminated or truncated:
            break
    normalized = LearnedRewardWrapper(gym.make("CartPole-v1"), model, normalize=True)
    normalized.reset(seed=5)
    for t, _ in enumerate(raw):
        reward = normalized.step(t % 2)[1]
        prefix = np.array(raw[: t + 1])
        assert reward == pytest.approx((prefix[-1] - prefix.mean()) / (prefix.std() + 1e-8), abs=1e-4)


def test_wrapper_rejects_a_model_with_other_features():
    with pytest.raises(ValueError, match="include_actions"):
        LearnedRewardWrapper(gym.make("CartPole-v1"), ClipRewardModel(obs_dim=6), include_actions=False)
    with pytest.raises(ValueError, match="model"):
        LearnedRewardWrapper(gym.make("CartPole-v1"), nn.Linear(6, 1))
