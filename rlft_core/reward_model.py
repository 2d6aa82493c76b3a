r"""Reward models learned from pairwise preferences (the Bradley–Terry model).

A reward model :math:`r_\phi` scores a whole sequence (a trajectory clip, or a prompt and its
answer). Its preferences follow Bradley & Terry 1952,

.. math:: P(y_c \succ y_r) = \sigma\big(r_\phi(y_c) - r_\phi(y_r)\big),

and it is fit by maximum likelihood on labelled pairs (Christiano et al. 2017, "Deep RL from Human
Preferences"; Ouyang et al. 2022, "Training language models to follow instructions with human
feedback", eq. 1). Any ``torch.nn.Module`` with ``model(x, mask) -> (N,)`` (one scalar per
sequence) can be trained by :func:`train_reward_model`: :class:`ClipRewardModel` for clips here,
a token model for the tiny language model elsewhere.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_callable, check_finite, check_int, check_range, check_same_shape, check_tensor
from .preferences import PairDataset, pad_to_length


def _check_pair_scores(r_chosen, r_rejected, tie):
    check_tensor("r_chosen", r_chosen)
    check_tensor("r_rejected", r_rejected)
    check_same_shape(r_chosen=r_chosen, r_rejected=r_rejected)
    check_finite(r_chosen=r_chosen, r_rejected=r_rejected)
    if r_chosen.numel() == 0:
        raise ValueError("r_chosen is empty; expected at least one pair")
    if tie is not None:
        if not isinstance(tie, torch.Tensor) or tie.dtype != torch.bool:
            got = getattr(tie, "dtype", type(tie).__name__)
            raise ValueError(f"tie must be a bool tensor or None, got {got}")
        check_same_shape(r_chosen=r_chosen, tie=tie)


def bradley_terry_loss(r_chosen, r_rejected, margin=None, tie=None):
    r"""Negative log-likelihood of the preferences under the Bradley–Terry model.

    .. math:: L = -\,\mathbb E\big[\log\sigma(r_c - r_r - m)\big]

    Bradley & Terry 1952; Christiano et al. 2017, §2.2.3; Ouyang et al. 2022, eq. (1). The
    optional ``margin`` :math:`m \ge 0` (a number or one per pair) asks the chosen score to win by
    at least :math:`m` — Touvron et al. 2023 (Llama 2), eq. (2), with larger margins for pairs
    the annotators found clearly different. Pairs marked in ``tie`` (bool, one per pair) are fit
    to :math:`P = \tfrac12`: :math:`-\tfrac12\log\sigma(d) - \tfrac12\log\sigma(-d)`,
    :math:`d = r_c - r_r` (no margin), minimal at :math:`d = 0` (Christiano et al. 2017 put the
    label mass uniformly on both clips when the human finds them equally good).
    At :math:`d = 0` the loss is :math:`\log 2`; ``F.logsigmoid`` keeps it finite for any
    :math:`d` (:math:`L \approx -d` for :math:`d \ll 0`).
    """
    _check_pair_scores(r_chosen, r_rejected, tie)
    diff = r_chosen - r_rejected
    if margin is not None:
        if isinstance(margin, torch.Tensor):
            check_finite(margin=margin)
            if margin.numel() != 1:
                check_same_shape(r_chosen=r_chosen, margin=margin)
            if (margin < 0).any():
                raise ValueError("margin must be >= 0 (the chosen score should win by at least the margin)")
        else:
            check_range("margin", margin, 0.0, math.inf, high_open=True)
        loss = -F.logsigmoid(diff - margin)
    else:
        loss = -F.logsigmoid(diff)
    if tie is not None:
        loss = torch.where(tie, -0.5 * (F.logsigmoid(diff) + F.logsigmoid(-diff)), loss)
    return loss.mean()


def preference_accuracy(r_chosen, r_rejected, tie=None):
    r"""Fraction of pairs ranked correctly, :math:`\mathbb E[\mathbf 1(r_c > r_r)]` (a tensor).

    Strict: equal scores count as wrong. Pairs marked in ``tie`` are left out (NaN if all are).
    """
    _check_pair_scores(r_chosen, r_rejected, tie)
    correct = (r_chosen > r_rejected).to(r_chosen.dtype)
    if tie is not None:
        correct = correct[~tie]
    return correct.mean() if correct.numel() else torch.tensor(float("nan"))


class ClipRewardModel(nn.Module):
    r"""Per-step reward MLP summed over a clip: :math:`\hat R(\text{clip}) = \sum_t m_t\,\hat r(x_t)`.

    ``obs_dim`` is the size of the step features :math:`x_t` — the observation, plus the action
    when :func:`~rlft_core.clips.record_clips` used ``include_actions`` (see
    :func:`~rlft_core.clips.step_features`); :class:`~rlft_core.clips.LearnedRewardWrapper` puts
    :meth:`step_reward` inside an environment. Two hidden layers of ``hidden`` units with leaky ReLUs,
    as for the MuJoCo tasks of Christiano et al. 2017 (§A.1).
    """

    def __init__(self, obs_dim: int, hidden: int = 64):
        super().__init__()
        for name, value in (("obs_dim", obs_dim), ("hidden", hidden)):
            check_int(name, value)
        self.obs_dim = int(obs_dim)
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.LeakyReLU(0.01),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, 1))

    def forward(self, clips, mask=None):
        """``clips`` ``(N, k, obs_dim)``, ``mask`` ``(N, k)`` (True = real step) -> clip rewards ``(N,)``."""
        check_tensor("clips", clips, ndim=3)
        if clips.shape[-1] != self.obs_dim:
            raise ValueError(f"clips must have {self.obs_dim} features per step, "
                             f"got shape {tuple(clips.shape)}")
        step_rewards = self.net(clips).squeeze(-1)                    # (N, k)
        if mask is not None:
            if tuple(mask.shape) != tuple(clips.shape[:2]):
                raise ValueError(f"mask must have shape {tuple(clips.shape[:2])}, got {tuple(mask.shape)}")
            step_rewards = torch.where(mask.to(torch.bool), step_rewards, torch.zeros_like(step_rewards))
        return step_rewards.sum(dim=1)

    @torch.no_grad()
    def step_reward(self, features):
        """Learned reward of single steps, ``(B, obs_dim)`` -> ``(B,)``, without gradient (for RL)."""
        features = torch.as_tensor(features, dtype=self.net[0].weight.dtype)
        if features.ndim != 2 or features.shape[1] != self.obs_dim:
            raise ValueError(f"features must have shape (B, {self.obs_dim}), got {tuple(features.shape)}")
        return self.net(features).squeeze(-1)


class StandardizedClipRewardModel(ClipRewardModel):
    r"""A :class:`~rlft_core.reward_model.ClipRewardModel` on standardised step features,
    :math:`\hat r(x) = f_\phi((x - \mu)/\sigma)`, with :math:`\mu, \sigma` fixed by :meth:`fit_scaler`
    (on the first clips). MountainCar's velocity is ~0.01 and its position ~0.5: unscaled, the MLP
    barely sees the velocity, on which the energy gain depends (its accuracy stays near chance)."""

    def __init__(self, obs_dim: int, hidden: int = 64):
        super().__init__(obs_dim, hidden)
        self.register_buffer("feature_mean", torch.zeros(self.obs_dim))
        self.register_buffer("feature_std", torch.ones(self.obs_dim))

    def fit_scaler(self, features) -> None:
        """Set :math:`\\mu, \\sigma` to the mean and std of ``features`` ``(B, obs_dim)`` (σ ≥ 1e-6)."""
        features = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        if features.ndim != 2 or features.shape[1] != self.obs_dim or len(features) < 2:
            raise ValueError(f"features must have shape (B >= 2, {self.obs_dim}), got {tuple(features.shape)}")
        if not torch.isfinite(features).all():
            raise ValueError("features contains NaN or inf; expected finite numbers")
        self.feature_mean.copy_(features.mean(0))
        self.feature_std.copy_(features.std(0).clamp_min(1e-6))

    def forward(self, clips, mask=None):
        """``clips`` ``(N, k, obs_dim)``, ``mask`` ``(N, k)`` -> :math:`\\sum_t m_t \\hat r(x_t)`, ``(N,)``."""
        if not isinstance(clips, torch.Tensor) or clips.shape[-1:] != (self.obs_dim,):
            raise ValueError(f"clips must be a tensor (N, k, {self.obs_dim}), got {getattr(clips, 'shape', clips)}")
        return super().forward((clips - self.feature_mean) / self.feature_std, mask)

    @torch.no_grad()
    def step_reward(self, features):
        """Learned reward of single steps, ``(B, obs_dim)`` -> ``(B,)``."""
        features = torch.as_tensor(features, dtype=self.feature_mean.dtype)
        if features.ndim != 2 or features.shape[1] != self.obs_dim:
            raise ValueError(f"features must have shape (B, {self.obs_dim}), got {tuple(features.shape)}")
        return super().step_reward((features - self.feature_mean) / self.feature_std)


def join_prompt(prompt, prompt_mask, response, response_mask):
    """Pack each row's real prompt tokens followed by its real response tokens, right-padded.

    ``(N, Lp)`` and ``(N, L)`` token tensors with bool masks -> ``(tokens, mask)`` of length
    ``max_i(len_prompt_i + len_response_i)``. Padding positions keep the inputs' pad values.
    """
    tokens = torch.cat([prompt, response], dim=1)                     # (N, Lp + L)
    mask = torch.cat([prompt_mask, response_mask], dim=1).to(torch.bool)
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # real tokens first, in order
    tokens, mask = tokens.gather(1, order), mask.gather(1, order)
    length = int(mask.sum(dim=1).max())
    return tokens[:, :length], mask[:, :length]


def _score_pairs(model, data: PairDataset, include_prompt: bool):
    """One forward pass over chosen and rejected together -> ``(r_chosen, r_rejected)``, each ``(N,)``."""
    c, cm, r, rm = data.chosen, data.chosen_mask, data.rejected, data.rejected_mask
    if include_prompt and data.prompt is not None:
        c, cm = join_prompt(data.prompt, data.prompt_mask, c, cm)
        r, rm = join_prompt(data.prompt, data.prompt_mask, r, rm)
    length = max(c.shape[1], r.shape[1])
    (c, cm), (r, rm) = pad_to_length(c, cm, length), pad_to_length(r, rm, length)
    param = next(model.parameters())
    x = torch.cat([c, r]).to(param.device)
    x = x.to(param.dtype) if x.is_floating_point() else x
    scores = model(x, torch.cat([cm, rm]).to(param.device))
    n = len(data)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (2 * n,):
        raise ValueError(f"model(x, mask) must return one score per sequence, shape ({2 * n},), "
                         f"got {tuple(getattr(scores, 'shape', ()))}")
    return scores[:n], scores[n:]


def _ties(data: PairDataset, device):
    if data.tie is None:
        return torch.zeros(len(data), dtype=torch.bool, device=device)
    return data.tie.to(device=device, dtype=torch.bool)


@torch.no_grad()
def evaluate_reward_model(model, data: PairDataset, margin=None, batch_size: int = 256,
                          include_prompt: bool = True) -> dict:
    """Mean :func:`bradley_terry_loss` and :func:`preference_accuracy` (ties excluded) over ``data``."""
    was_training = model.training
    model.eval()
    total_loss, correct, counted = 0.0, 0.0, 0
    for start in range(0, len(data), batch_size):
        batch = data[start:start + batch_size]
        r_c, r_r = _score_pairs(model, batch, include_prompt)
        tie = _ties(batch, r_c.device)
        total_loss += bradley_terry_loss(r_c, r_r, margin, tie).item() * len(batch)
        correct += ((r_c > r_r) & ~tie).sum().item()
        counted += int((~tie).sum())
    model.train(was_training)
    return {"loss": total_loss / len(data), "accuracy": correct / counted if counted else float("nan")}


def train_reward_model(model, train: PairDataset, test: PairDataset | None = None, epochs: int = 10,
                       lr: float = 1e-3, batch_size: int = 64, weight_decay: float = 0.0, margin=None,
                       seed: int = 0, callback=None, progress: bool = False, include_prompt: bool = True,
                       loss_fn=None):
    r"""Fit ``model(x, mask) -> (N,)`` to preference pairs: AdamW on :func:`bradley_terry_loss`.

    .. math:: \min_\phi\ -\mathbb E_{(y_c, y_r)}\big[\log\sigma(r_\phi(y_c) - r_\phi(y_r) - m)\big]

    Christiano et al. 2017, §2.2.3; Ouyang et al. 2022, eq. (1). Chosen and rejected go through the model
    in one batch (padded to a common length). Tied pairs (``train.tie``) are fit to
    :math:`P = \tfrac12` and left out of the accuracies. When a dataset has a ``prompt`` and
    ``include_prompt``, the model sees prompt and response packed together (:func:`join_prompt`).
    ``seed`` fixes the order of minibatches (initialise the model yourself, after seeding).

    Returns the history: one dict per epoch with ``epoch`` (1-based), ``train_loss``,
    ``train_accuracy`` (running means over the epoch's minibatches, while the model changes),
    ``test_loss``, ``test_accuracy`` (after the epoch; NaN without ``test``). ``callback(record)``
    is called after each epoch; returning True stops training. The model is left in eval mode.

    ``loss_fn(r_chosen, r_rejected) -> scalar`` replaces :func:`bradley_terry_loss` in training
    (e.g. a student's own, notebook 05); it knows no margin and no ties, so it needs
    ``margin=None`` and a dataset without ties. The test loss is still :func:`bradley_terry_loss`.
    """
    if not isinstance(train, PairDataset):
        raise ValueError(f"train must be a PairDataset, got {type(train).__name__}")
    if test is not None and not isinstance(test, PairDataset):
        raise ValueError(f"test must be a PairDataset or None, got {type(test).__name__}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_int(name, value)
    check_range("lr", lr, 0.0, math.inf, low_open=True, high_open=True)
    check_range("weight_decay", weight_decay, 0.0, math.inf, high_open=True)
    if margin is not None:
        check_range("margin", margin, 0.0, math.inf, high_open=True)
    check_callable("callback", callback, allow_none=True)
    check_callable("loss_fn", loss_fn, allow_none=True, signature="(r_chosen, r_rejected)")
    if loss_fn is not None and (margin is not None or (train.tie is not None and bool(train.tie.any()))):
        raise ValueError("loss_fn(r_chosen, r_rejected) sees no margin and no ties: use it with "
                         "margin=None and a dataset without tied pairs")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters")

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(int(seed))
    epoch_iter = range(1, epochs + 1)
    if progress:
        from tqdm.auto import tqdm
        epoch_iter = tqdm(epoch_iter, desc="reward model")
    history = []
    for epoch in epoch_iter:
        model.train()
        total_loss, correct, counted = 0.0, 0.0, 0
        perm = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), batch_size):
            batch = train[perm[start:start + batch_size]]
            r_chosen, r_rejected = _score_pairs(model, batch, include_prompt)
            tie = _ties(batch, r_chosen.device)
            if loss_fn is None:
                loss = bradley_terry_loss(r_chosen, r_rejected, margin, tie)
            else:
                loss = loss_fn(r_chosen, r_rejected)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(batch)
            correct += ((r_chosen > r_rejected) & ~tie).sum().item()
            counted += int((~tie).sum())
        record = {"epoch": epoch, "train_loss": total_loss / len(train),
                  "train_accuracy": correct / counted if counted else float("nan"),
                  "test_loss": float("nan"), "test_accuracy": float("nan")}
        if test is not None:
            metrics = evaluate_reward_model(model, test, margin, include_prompt=include_prompt)
            record["test_loss"], record["test_accuracy"] = metrics["loss"], metrics["accuracy"]
        history.append(record)
        if progress:
            epoch_iter.set_postfix(loss=f"{record['train_loss']:.3f}",
                                   test_acc=f"{record['test_accuracy']:.3f}")
        if callback is not None and callback(record):
            break
    model.eval()
    return history
