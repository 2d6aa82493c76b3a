"""Notebook 12's explorers, driven from code: move a slider, check what was drawn."""
import statistics

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from rlft_core.widgets.grpo_explorers import group_advantage_explorer, loss_aggregation_explorer  # noqa: E402


def test_group_explorer_draws_the_three_advantages_of_its_rewards():
    explorer = group_advantage_explorer((1, 0, 0, 1, 0, 0))
    rewards = [1, 0, 0, 1, 0, 0]
    mean, std = statistics.mean(rewards), statistics.stdev(rewards)
    np.testing.assert_allclose(explorer.data["GRPO"], [(r - mean) / (std + 1e-4) for r in rewards])
    np.testing.assert_allclose(explorer.data["Dr. GRPO"], [r - mean for r in rewards])
    loo = [r - (sum(rewards) - r) / 5 for r in rewards]
    np.testing.assert_allclose(explorer.data["RLOO"], loo)


def test_moving_a_reward_slider_redraws_and_equal_rewards_give_zero():
    explorer = group_advantage_explorer((1, 0, 0, 0, 0, 0))
    draws = explorer.n_draws
    explorer.controls["r1"].value = 0.0
    assert explorer.n_draws == draws + 1
    assert explorer.data["all_equal"]
    for name in ("GRPO", "Dr. GRPO", "RLOO"):
        assert np.all(explorer.data[name] == 0)
    assert "no gradient" in explorer.data["caption"]


def test_group_explorer_rejects_a_wrong_group_size():
    with pytest.raises(ValueError, match="rewards"):
        group_advantage_explorer((1, 0, 0))


def test_loss_aggregation_explorer_weights_follow_each_loss_type():
    explorer = loss_aggregation_explorer(4, 7, 8)
    w = explorer.data["weights"]
    np.testing.assert_allclose(w["grpo"][0, :4], 1 / (2 * 4))
    np.testing.assert_allclose(w["grpo"][1, :7], 1 / (2 * 7))
    np.testing.assert_allclose(w["dapo"][0, :4], 1 / 11)
    np.testing.assert_allclose(w["dr_grpo"][1, :7], 1 / 16)
    assert np.all(w["grpo"][0, 4:] == 0)                     # padding gets nothing
    np.testing.assert_allclose(explorer.data["totals"]["grpo"], [0.5, 0.5])


def test_moving_the_length_slider_changes_the_weights():
    explorer = loss_aggregation_explorer(4, 7, 8)
    before = explorer.data["totals"]["dapo"].copy()
    explorer.controls["long"].value = 10
    after = explorer.data["totals"]["dapo"]
    np.testing.assert_allclose(after, [4 / 14, 10 / 14])
    assert not np.allclose(before, after)
    assert explorer.data["max_completion_length"] == 10        # raised to fit the long answer
