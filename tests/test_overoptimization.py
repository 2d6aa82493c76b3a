"""Best-of-n and KL-tilted estimates on a fixed pool, Gao et al.'s fit, and pool sampling."""
import itertools
import math

import numpy as np
import pytest
import torch

from rlft_core.overoptimization import (best_of_n_estimate, best_of_n_weights, gao_bon_fit, sample_pool,
                                        score_in_batches, tilted_estimate, tilted_weights)
from rlft_core.review_language import PRODUCTS, ReviewLanguage
from rlft_core.rlhf import best_of_n_kl, new_lm
from rlft_core.dpo import kl_regularised_optimum

torch.set_num_threads(1)


def brute_force_best_of_n(proxy_row, value_row, n):
    """Mean value of the proxy-argmax over every n-subset of one pool (a naive enumeration)."""
    picks = [value_row[max(subset, key=lambda i: proxy_row[i])]
             for subset in itertools.combinations(range(len(proxy_row)), n)]
    return float(np.mean(picks))


# ------------------------------------------------------------------------ best-of-n
def test_best_of_n_weights_equal_the_rank_frequencies_of_subset_maxima():
    pool_size = 7
    for n in range(1, pool_size + 1):
        counts = np.zeros(pool_size)
        subsets = list(itertools.combinations(range(pool_size), n))
        for subset in subsets:
            counts[max(subset)] += 1                    # rank = index when the pool is sorted ascending
        assert np.allclose(best_of_n_weights(pool_size, n), counts / len(subsets), atol=1e-12)


def test_best_of_n_weights_stay_finite_and_normalised_for_a_large_pool():
    weights = best_of_n_weights(4096, 2048)
    assert np.all(np.isfinite(weights)) and weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(weights[:2047] == 0.0)


def test_best_of_n_estimate_equals_the_mean_over_all_subsets():
    rng = np.random.default_rng(0)
    proxy, values = rng.normal(size=(3, 9)), rng.normal(size=(3, 9))
    ns = [1, 2, 4, 9]
    expected = [np.mean([brute_force_best_of_n(p, v, n) for p, v in zip(proxy, values)]) for n in ns]
    assert np.allclose(best_of_n_estimate(proxy, values, ns), expected, atol=1e-12)


def test_best_of_n_extremes_are_the_pool_mean_and_the_proxy_argmax():
    rng = np.random.default_rng(1)
    proxy, values = rng.normal(size=(4, 50)), rng.normal(size=(4, 50))
    first, last = best_of_n_estimate(proxy, values, [1, 50])
    assert first == pytest.approx(values.mean(), abs=1e-12)
    assert last == pytest.approx(values[np.arange(4), proxy.argmax(axis=1)].mean(), abs=1e-12)


def test_best_of_n_proxy_curve_is_non_decreasing_and_matches_monte_carlo():
    rng = np.random.default_rng(2)
    proxy = rng.normal(size=(2, 64))
    curve = best_of_n_estimate(proxy, proxy, [1, 2, 4, 8, 16, 32, 64])
    assert np.all(np.diff(curve) >= -1e-12)
    subsets = np.argsort(rng.random((20000, 2, 64)), axis=2)[:, :, :8]          # 20000 random 8-subsets per prompt
    draws = np.take_along_axis(np.broadcast_to(proxy, (20000, 2, 64)), subsets, axis=2).max(axis=2)
    assert best_of_n_estimate(proxy, proxy, [8])[0] == pytest.approx(draws.mean(), abs=0.02)


# ------------------------------------------------------------------------ KL-tilted pool
def test_tilted_weights_equal_the_kl_regularised_optimum_with_a_uniform_reference():
    rng = np.random.default_rng(3)
    proxy = rng.normal(size=(2, 12))
    for beta in (0.05, 0.7, 5.0):
        w = tilted_weights(proxy, beta)
        for row, p in zip(w, proxy):
            assert np.allclose(row, kl_regularised_optimum(np.full(12, 1 / 12), p, beta), atol=1e-12)


def test_kl_regularised_optimum_is_finite_at_tiny_beta_and_broadcasts_one_reference_over_rows():
    ref = np.array([0.0, 0.2, 0.5, 0.3])
    rewards = np.array([[5.0, 1.0, -1.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    pi = kl_regularised_optimum(ref, rewards, 1e-6)        # exp(5e6) would overflow a naive softmax
    assert np.all(np.isfinite(pi))
    # row 0: all mass on the best response the reference can produce (not y0, which it never does)
    np.testing.assert_array_equal(pi[0], [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(pi[1], ref, atol=1e-12)   # equal rewards: π* = π_ref
    for beta in (0.3, 2.0):                                 # each row on its own, by the definition
        row = kl_regularised_optimum(ref, rewards[0], beta)
        tilted = ref * np.exp(rewards[0] / beta)
        np.testing.assert_allclose(row, tilted / tilted.sum(), rtol=1e-12)


def test_tilted_kl_matches_the_closed_form_through_the_partition_function():
    rng = np.random.default_rng(4)
    proxy = rng.normal(size=(3, 40))
    betas = [0.2, 1.0, 3.0]
    out = tilted_estimate(proxy, proxy, betas)
    for j, beta in enumerate(betas):
        # KL(π*‖π_ref) = E_π*[r]/β − log E_ref[e^{r/β}] for π* ∝ π_ref e^{r/β}
        w = np.exp(proxy / beta)
        w /= w.sum(axis=1, keepdims=True)
        kl = ((w * proxy).sum(1) / beta - np.log(np.exp(proxy / beta).mean(1))).mean()
        assert out["kl"][j] == pytest.approx(kl, rel=1e-9)
        assert out["value"][j] == pytest.approx((w * proxy).sum(1).mean(), rel=1e-12)


def test_tilted_estimate_moves_from_the_reference_to_best_of_pool_as_beta_shrinks():
    rng = np.random.default_rng(5)
    proxy, true = rng.normal(size=(2, 30)), rng.normal(size=(2, 30))
    out = tilted_estimate(proxy, {"true": true, "proxy": proxy}, [1e6, 1.0, 1e-4])
    assert out["kl"][0] == pytest.approx(0.0, abs=1e-9) and out["ess"][0] == pytest.approx(30.0, rel=1e-6)
    assert out["true"][0] == pytest.approx(true.mean(), abs=1e-6)
    assert out["kl"][2] == pytest.approx(math.log(30), abs=1e-6) and out["ess"][2] == pytest.approx(1.0, abs=1e-6)
    assert out["true"][2] == pytest.approx(true[np.arange(2), proxy.argmax(1)].mean(), abs=1e-9)
    assert np.all(np.diff(out["kl"]) > 0) and np.all(np.diff(out["proxy"]) > 0)


# ------------------------------------------------------------------------ Gao et al.'s fit
def test_gao_fit_recovers_the_coefficients_of_a_noiseless_curve():
    kl = np.array([best_of_n_kl(n) for n in (1, 2, 4, 8, 16, 64, 256, 1024)])
    d = np.sqrt(kl)
    alpha, beta = gao_bon_fit(kl, d * (1.3 - 0.4 * d))
    assert alpha == pytest.approx(1.3, abs=1e-9) and beta == pytest.approx(0.4, abs=1e-9)


# ------------------------------------------------------------------------ pools of the tiny LM
def test_sample_pool_is_prompt_major_seeded_and_scored_the_same_in_batches():
    language = ReviewLanguage()
    model = new_lm(language, d_model=16, n_layer=1, n_head=2, seed=0)
    seq, mask = sample_pool(model, language, 5, seed=3, batch_size=7)
    again, _ = sample_pool(model, language, 5, seed=3, batch_size=7)
    assert seq.shape[0] == len(PRODUCTS) * 5 and torch.equal(seq, again)
    products = [language.split(s[m])[0] for s, m in zip(seq, mask)]
    assert products == [p for p in PRODUCTS for _ in range(5)]
    lengths = mask.sum(1)
    assert torch.equal(mask, torch.arange(mask.shape[1])[None, :] < lengths[:, None])   # right padding only
    torch.manual_seed(0)
    from rlft_core.tiny_lm import TokenRewardModel
    reward_model = TokenRewardModel.from_lm(model)
    assert torch.allclose(score_in_batches(reward_model, seq, mask, batch_size=4),
                          reward_model(seq, mask), atol=1e-6)


# ------------------------------------------------------------------------ bad inputs
def test_bad_inputs_raise_value_errors_naming_the_argument():
    proxy = np.zeros((2, 5))
    with pytest.raises(ValueError, match="n must"):
        best_of_n_weights(5, 6)
    with pytest.raises(ValueError, match="pool_size"):
        best_of_n_weights(0, 1)
    with pytest.raises(ValueError, match="values"):
        best_of_n_estimate(proxy, np.zeros((2, 4)), [1])
    with pytest.raises(ValueError, match="proxy"):
        best_of_n_estimate(np.full((2, 5), np.nan), proxy, [1])
    with pytest.raises(ValueError, match="beta"):
        tilted_weights(proxy, 0.0)
    with pytest.raises(ValueError, match="betas"):
        tilted_estimate(proxy, proxy, [])
    with pytest.raises(ValueError, match="kl"):
        gao_bon_fit([-1.0, 1.0], [0.0, 1.0])
    language = ReviewLanguage()
    model = new_lm(language, d_model=16, n_layer=1, n_head=2)
    with pytest.raises(ValueError, match="n_per_prompt"):
        sample_pool(model, language, 0)
    with pytest.raises(ValueError, match="sequences"):
        score_in_batches(model, torch.zeros(3, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.bool))


# ------------------------------------------------------------------------ the β-slider explorer
def _runs():
    return [{"label": "1", "kl": 0.1, "proxy": 0.2, "true": 0.0, "samples": ["<b>bold</b> & co"]},
            {"label": "0.1", "kl": 1.0, "proxy": 0.8, "true": 0.5, "samples": ["a"]},
            {"label": "0.01", "kl": 3.0, "proxy": 1.0, "true": -0.2, "samples": ["b"]}]


def test_explorer_slider_selects_a_run_and_escapes_its_samples():
    from rlft_core.widgets import overoptimization_explorer
    explorer = overoptimization_explorer(_runs(), curves={"bon": {"kl": [0, 1, 2], "proxy": [0, 1, 2], "true": [0, 1, 0]}})
    assert explorer.data["label"] == "1" and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in explorer.data["caption"]
    assert "<b>bold</b>" not in explorer.data["caption"].split("</b>:", 1)[1]
    draws = explorer.n_draws
    explorer.controls["run"].value = "0.1"
    assert explorer.n_draws == draws + 1
    assert (explorer.data["index"], explorer.data["kl"], explorer.data["true"]) == (1, 1.0, 0.5)
    highlighted = explorer.axes[1].lines[-1].get_data()                 # the circled point on the true panel
    assert (float(highlighted[0][0]), float(highlighted[1][0])) == (1.0, 0.5)


def test_explorer_rejects_bad_runs():
    from rlft_core.widgets import overoptimization_explorer
    with pytest.raises(ValueError, match="runs"):
        overoptimization_explorer([])
    with pytest.raises(ValueError, match=r"runs\[0\]\['kl'\]"):
        overoptimization_explorer([{"label": "a", "kl": float("nan"), "proxy": 0.0, "true": 0.0}])
    with pytest.raises(ValueError, match="distinct labels"):
        overoptimization_explorer([_runs()[0], _runs()[0]])
    with pytest.raises(ValueError, match="initial"):
        overoptimization_explorer(_runs(), initial="7")
