"""Synthetic labelers (Bradley–Terry humans) and trajectory-clip preferences."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlft_core.clips import Clip, label_clips, record_clips, step_features
from rlft_core.preferences import BradleyTerryLabeler, PairDataset


def logistic(x):
    return 1.0 / (1.0 + math.exp(-x))


def identity(x):
    return float(x)


def binomial_tolerance(p, n, z=4.5):
    return z * math.sqrt(max(p * (1 - p), 1e-4) / n)


# ---------------------------------------------------------------- Bradley–Terry labeler
def test_preference_frequency_matches_sigmoid_of_reward_gap_over_temperature():
    gaps, n, temperature = [-2.0, -0.5, 0.0, 0.7, 3.0], 20000, 1.5
    labeler = BradleyTerryLabeler(identity, temperature=temperature, seed=3)
    items_a = np.repeat(gaps, n)
    prefs, ties = labeler.label(items_a, np.zeros_like(items_a))
    assert not ties.any()
    assert set(np.unique(prefs)) <= {0.0, 1.0}
    for k, gap in enumerate(gaps):
        expected = logistic(gap / temperature)
        freq = prefs[k * n:(k + 1) * n].mean()
        assert abs(freq - expected) < binomial_tolerance(expected, n), (gap, freq, expected)


def test_temperature_zero_always_prefers_the_higher_reward():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(size=500)
    prefs, _ = BradleyTerryLabeler(identity, temperature=0.0, seed=0).label(a, b)
    np.testing.assert_array_equal(prefs, (a > b).astype(float))


def test_flip_noise_lowers_agreement_by_the_closed_form_amount():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3000), rng.normal(size=3000)
    flip = 0.2
    clean = BradleyTerryLabeler(identity, temperature=0.5).agreement_rate(a, b)
    noisy_labeler = BradleyTerryLabeler(identity, temperature=0.5, flip_prob=flip, seed=5)
    noisy = noisy_labeler.agreement_rate(a, b)
    # a pair agreeing with probability c under no noise agrees with (1-f)c + f(1-c) = c - f(2c-1)
    assert noisy == pytest.approx(clean - flip * (2 * clean - 1), abs=1e-12)
    assert noisy < clean
    empirical = np.mean([(noisy_labeler.label(a, b)[0] == (a > b)).mean() for _ in range(20)])
    assert abs(empirical - noisy) < binomial_tolerance(noisy, 20 * 3000)


def test_ties_are_declared_strictly_below_the_margin():
    gaps = np.array([0.49, -0.49, 0.5, -0.5, 0.51, 0.0, -3.0])
    labeler = BradleyTerryLabeler(identity, temperature=0.0, tie_margin=0.5)
    prefs, ties = labeler.label(gaps, np.zeros_like(gaps))
    np.testing.assert_array_equal(ties, [True, True, False, False, False, True, False])
    np.testing.assert_array_equal(prefs, [0.5, 0.5, 1.0, 0.0, 1.0, 0.5, 0.0])
    pairs = labeler.make_pairs(gaps, np.zeros_like(gaps), encode=lambda x: [x])
    np.testing.assert_array_equal(pairs.tie.numpy(), ties)
    # ties keep the order (A, B); decided pairs put the larger reward first
    np.testing.assert_allclose(pairs.chosen[:, 0].numpy(), [0.49, -0.49, 0.5, 0.0, 0.51, 0.0, 0.0])


def test_length_bias_makes_longer_answers_win_as_predicted():
    long_answer, short_answer = [1] * 6, [1] * 2
    n, bias_weight, temperature = 20000, 0.25, 1.0
    labeler = BradleyTerryLabeler(lambda tokens: 0.0, temperature=temperature, bias_fn=len,
                                  bias_weight=bias_weight, seed=2)
    prefs, _ = labeler.label([long_answer] * n, [short_answer] * n)
    expected = logistic(bias_weight * (6 - 2) / temperature)
    assert abs(prefs.mean() - expected) < binomial_tolerance(expected, n)
    # when the truth favours the short answer, the bias costs agreement with the truth
    quality = lambda tokens: 1.0 if len(tokens) == 2 else 0.0  # noqa: E731
    fair = BradleyTerryLabeler(quality, temperature=temperature)
    biased = BradleyTerryLabeler(quality, temperature=temperature, bias_fn=len, bias_weight=bias_weight)
    assert fair.agreement_rate([short_answer], [long_answer]) == pytest.approx(logistic(1.0))
    assert biased.agreement_rate([short_answer], [long_answer]) == pytest.approx(logistic(1.0 - 1.0))
    assert biased.agreement_rate([short_answer], [long_answer], against="perceived") == pytest.approx(0.5)


def test_agreement_rate_matches_empirical_agreement_with_noise_and_ties():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    labeler = BradleyTerryLabeler(identity, temperature=0.7, flip_prob=0.1, tie_margin=0.2, seed=9)
    closed_form = labeler.agreement_rate(a, b)
    agree, counted = 0, 0
    for _ in range(30):
        prefs, ties = labeler.label(a, b)
        agree += (prefs[~ties] == (a > b)[~ties]).sum()
        counted += (~ties).sum()
    assert abs(agree / counted - closed_form) < binomial_tolerance(closed_form, counted)
    monte_carlo = labeler.agreement_rate(a, b, n_samples=30)
    assert abs(monte_carlo - closed_form) < binomial_tolerance(closed_form, counted)


def test_equal_true_rewards_count_half_in_agreement():
    labeler = BradleyTerryLabeler(identity, temperature=1.0)
    assert labeler.agreement_rate([1.0, 2.0], [1.0, 0.0]) == pytest.approx((0.5 + logistic(2.0)) / 2)


def test_same_seed_gives_same_labels_and_other_seed_differs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=400), rng.normal(size=400)
    first = BradleyTerryLabeler(identity, seed=11).label(a, b)[0]
    again = BradleyTerryLabeler(identity, seed=11).label(a, b)[0]
    other = BradleyTerryLabeler(identity, seed=12).label(a, b)[0]
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def test_make_pairs_puts_the_preferred_item_first_with_prompts():
    a, b = np.array([3.0, -1.0, 2.0]), np.array([1.0, 4.0, 2.5])
    pairs = BradleyTerryLabeler(identity, temperature=0.0).make_pairs(
        a, b, encode=lambda x: np.full(int(abs(x)) + 1, x), prompts=[[7], [8, 9], [5]])
    assert isinstance(pairs, PairDataset) and len(pairs) == 3
    np.testing.assert_array_equal(pairs.chosen[:, 0].numpy(), [3.0, 4.0, 2.5])
    np.testing.assert_array_equal(pairs.rejected[:, 0].numpy(), [1.0, -1.0, 2.0])
    np.testing.assert_array_equal(pairs.chosen_mask.sum(1).numpy(), [4, 5, 3])
    np.testing.assert_array_equal(pairs.prompt_mask.sum(1).numpy(), [1, 2, 1])


@pytest.mark.parametrize("kwargs, name", [
    ({"temperature": -1.0}, "temperature"), ({"flip_prob": 0.6}, "flip_prob"),
    ({"tie_margin": -0.1}, "tie_margin"), ({"bias_weight": float("nan")}, "bias_weight"),
    ({"seed": -1}, "seed"), ({"bias_fn": 3}, "bias_fn"),
])
def test_labeler_rejects_bad_settings(kwargs, name):
    with pytest.raises(ValueError, match=name):
        BradleyTerryLabeler(identity, **kwargs)


def test_labeler_rejects_bad_calls():
    with pytest.raises(ValueError, match="reward_fn"):
        BradleyTerryLabeler(reward_fn=None)
    labeler = BradleyTerryLabeler(identity)
    with pytest.raises(ValueError, match="items_b"):
        labeler.label([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="reward_fn"):
        BradleyTerryLabeler(lambda x: float("nan")).label([1.0], [2.0])
    with pytest.raises(ValueError, match="against"):
        labeler.agreement_rate([1.0], [2.0], against="labels")
    with pytest.raises(ValueError, match="n_samples"):
        labeler.agreement_rate([1.0], [2.0], n_samples=0)
    with pytest.raises(ValueError, match="tie_margin"):
        BradleyTerryLabeler(identity, tie_margin=5.0).agreement_rate([1.0], [2.0])
    with pytest.raises(ValueError, match="encode"):
        labeler.make_pairs([1.0], [2.0], encode="tokens")
    with pytest.raises(ValueError, match="prompts"):
        labeler.make_pairs([[1.0]], [[2.0]], prompts=[[1], [2]])


# ---------------------------------------------------------------- trajectory clips
def test_record_clips_cartpole_shapes_features_and_continuity():
    clips = record_clips("CartPole-v1", None, n_clips=60, clip_len=8, seed=0)
    assert len(clips) == 60 and all(isinstance(c, Clip) for c in clips)
    for clip in clips:
        k = len(clip)
        assert 1 <= k <= 8
        assert clip.obs.shape == clip.next_obs.shape == (k, 4) and clip.features.shape == (k, 6)
        assert clip.features.dtype == np.float32
        np.testing.assert_array_equal(clip.rewards, np.ones(k))          # CartPole pays 1 per step
        np.testing.assert_allclose(clip.features[:, :4], clip.obs)
        np.testing.assert_array_equal(clip.features[:, 4:], np.eye(2)[clip.actions])
        np.testing.assert_array_equal(clip.next_obs[:-1], clip.obs[1:])
        if k < 8:
            assert clip.terminated or clip.truncated
    for prev, nxt in zip(clips, clips[1:]):                               # windows tile each episode
        if nxt.episode == prev.episode:
            assert nxt.start == prev.start + len(prev)
            np.testing.assert_array_equal(nxt.obs[0], prev.next_obs[-1])
        else:
            assert nxt.episode == prev.episode + 1 and nxt.start == 0 and (prev.terminated or prev.truncated)


def test_record_clips_replays_exactly_in_the_environment():
    clips = record_clips("CartPole-v1", None, n_clips=10, clip_len=5, seed=7)
    first_episode = [c for c in clips if c.episode == 0]
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=7)
    for clip in first_episode:
        for t, action in enumerate(clip.actions):
            np.testing.assert_array_equal(obs, clip.obs[t])
            obs, reward, *_ = env.step(int(action))
            assert reward == clip.rewards[t]
    env.close()


def test_record_clips_is_deterministic_and_uses_the_policy():
    def always_push_right(obs):
        return 1
    one = record_clips(lambda: gym.make("CartPole-v1"), always_push_right, n_clips=5, clip_len=4, seed=3,
                       include_actions=False)
    two = record_clips("CartPole-v1", always_push_right, n_clips=5, clip_len=4, seed=3, include_actions=False)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a.features, b.features)
    assert all(c.features.shape[1] == 4 and (c.actions == 1).all() for c in one)
    full_only = record_clips("CartPole-v1", None, n_clips=20, clip_len=6, seed=0, keep_partial=False)
    assert all(len(c) == 6 for c in full_only)


def test_label_clips_rational_labeler_chooses_the_clip_that_got_higher():
    clips = record_clips("MountainCar-v0", None, n_clips=80, clip_len=20, seed=1)

    def max_position(clip):
        return float(clip.next_obs[:, 0].max())
    pairs, chosen, rejected = label_clips(clips, max_position, seed=0, temperature=0.0, return_indices=True)
    assert len(pairs) == 40 and len(set(chosen) | set(rejected)) == 80        # disjoint pairs
    assert pairs.chosen.shape == pairs.rejected.shape == (40, 20, 5)
    assert pairs.chosen.dtype == torch.float32 and pairs.chosen_mask.shape == (40, 20)
    for i, (c, r) in enumerate(zip(chosen, rejected)):
        assert max_position(clips[c]) > max_position(clips[r])
        np.testing.assert_array_equal(pairs.chosen[i].numpy(), clips[c].features)
        np.testing.assert_array_equal(pairs.rejected[i].numpy(), clips[r].features)
    assert not pairs.tie.any()
    ties, chosen, rejected = label_clips(clips, max_position, seed=0, tie_margin=0.02, return_indices=True)
    gaps = np.array([max_position(clips[c]) - max_position(clips[r]) for c, r in zip(chosen, rejected)])
    np.testing.assert_array_equal(ties.tie.numpy(), np.abs(gaps) < 0.02)
    assert ties.tie.any() and not ties.tie.all()


def test_label_clips_pads_partial_cartpole_clips_with_masks():
    clips = record_clips("CartPole-v1", None, n_clips=100, clip_len=10, seed=2)
    pairs, chosen, rejected = label_clips(clips, lambda c: c.rewards.sum(), n_pairs=300, seed=1,
                                          temperature=1e-6, return_indices=True)
    assert len(pairs) == 300 and (chosen != rejected).all()
    lengths = np.array([len(c) for c in clips])
    np.testing.assert_array_equal(pairs.chosen_mask.sum(1).numpy(), lengths[chosen])
    np.testing.assert_array_equal(pairs.rejected_mask.sum(1).numpy(), lengths[rejected])
    assert (pairs.chosen[~pairs.chosen_mask] == 0).all()
    decided = lengths[chosen] != lengths[rejected]
    assert (lengths[chosen][decided] > lengths[rejected][decided]).all()


def test_step_features_encode_box_actions_and_reject_others():
    box = gym.spaces.Box(-1.0, 1.0, shape=(2,))
    np.testing.assert_array_equal(step_features([0.5, 1.5], np.array([0.1, -0.2]), box),
                                  np.array([0.5, 1.5, 0.1, -0.2], dtype=np.float32))
    with pytest.raises(ValueError, match="action_space"):
        step_features([0.0], (1, 2), gym.spaces.MultiDiscrete([2, 3]))
    with pytest.raises(ValueError, match="action"):
        step_features([0.0], 5, gym.spaces.Discrete(2))


def test_clip_functions_reject_bad_inputs():
    with pytest.raises(ValueError, match="clip_len"):
        record_clips("CartPole-v1", None, n_clips=2, clip_len=0)
    with pytest.raises(ValueError, match="n_clips"):
        record_clips("CartPole-v1", None, n_clips=-1, clip_len=3)
    with pytest.raises(ValueError, match="env"):
        record_clips(42, None, n_clips=2, clip_len=3)
    with pytest.raises(ValueError, match="policy"):
        record_clips("CartPole-v1", 3, n_clips=2, clip_len=3)
    clips = record_clips("CartPole-v1", None, n_clips=4, clip_len=3)
    with pytest.raises(ValueError, match="criterion"):
        label_clips(clips, "return")
    with pytest.raises(ValueError, match="clips"):
        label_clips(clips[:1], lambda c: 0.0)
    with pytest.raises(ValueError, match="n_pairs"):
        label_clips(clips, lambda c: 0.0, n_pairs=0)
    with pytest.raises(ValueError, match="flip_prob"):
        label_clips(clips, lambda c: 0.0, flip_prob=2.0)
