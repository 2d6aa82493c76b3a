"""What the exercises claim is true: a student's loss really trains the model when the notebook
says so ("Later cells use your function")."""
import math

import numpy as np
import pytest
import torch

from rlft_core.preferences import BradleyTerryLabeler, PairDataset
from rlft_core.reward_model import ClipRewardModel, train_reward_model

torch.set_num_threads(1)


def student_bt_loss(r_chosen, r_rejected):
    """Mean −log σ(Δ) written as log(1 + e^{−Δ}) with a stable softplus (independent of the package)."""
    gap = r_chosen - r_rejected
    return (torch.clamp(-gap, min=0) + torch.log1p(torch.exp(-gap.abs()))).mean()


def linear_pairs(n=300, seed=3):
    rng = np.random.default_rng(seed)
    labeler = BradleyTerryLabeler(lambda x: float(x.sum()), seed=seed)
    return labeler.make_pairs(list(rng.normal(size=(n, 2))), list(rng.normal(size=(n, 2))), encode=lambda x: x[None, :])


def trained(pairs, **kwargs):
    torch.manual_seed(0)
    model = ClipRewardModel(2)
    return model, train_reward_model(model, pairs, pairs, epochs=4, lr=3e-3, **kwargs)


def test_a_right_student_loss_trains_exactly_like_the_package_loss():
    pairs = linear_pairs()
    _, package = trained(pairs)
    _, student = trained(pairs, loss_fn=student_bt_loss)
    for a, b in zip(package, student):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-3)    # float32 rounding only
        assert math.isclose(a["test_accuracy"], b["test_accuracy"], abs_tol=0.02)


def test_the_student_loss_is_really_the_one_that_trains():
    """A sign-flipped loss learns the opposite ranking: held-out accuracy far under one half."""
    pairs = linear_pairs()
    _, right = trained(pairs, loss_fn=student_bt_loss)
    _, flipped = trained(pairs, loss_fn=lambda c, r: student_bt_loss(r, c))
    assert right[-1]["test_accuracy"] > 0.7 and flipped[-1]["test_accuracy"] < 0.3


def test_loss_fn_refuses_margins_and_ties_it_cannot_see():
    pairs = linear_pairs(20)
    with pytest.raises(ValueError, match="no margin and no ties"):
        train_reward_model(ClipRewardModel(2), pairs, epochs=1, margin=0.5, loss_fn=student_bt_loss)
    tied = PairDataset.from_pairs(pairs.chosen, pairs.rejected, tie=torch.ones(len(pairs), dtype=torch.bool))
    with pytest.raises(ValueError, match="no margin and no ties"):
        train_reward_model(ClipRewardModel(2), tied, epochs=1, loss_fn=student_bt_loss)
    with pytest.raises(ValueError, match="loss_fn must be callable"):
        train_reward_model(ClipRewardModel(2), pairs, epochs=1, loss_fn="bt")
