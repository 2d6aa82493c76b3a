"""Preference pairs as plain tensors, and synthetic labelers that play the human.

(The labelers are added below the dataset type.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable

import numpy as np
import torch

from ._validate import check_int, check_range


def _pad(seqs, pad_value):
    """Stack variable-length sequences (each ``(L,)`` or ``(L, D)``) into ``(N, Lmax, ...)`` + mask."""
    seqs = [torch.as_tensor(np.asarray(s)) for s in seqs]
    if not seqs:
        raise ValueError("need at least one sequence")
    length = max(s.shape[0] for s in seqs)
    tail = seqs[0].shape[1:]
    if any(s.shape[1:] != tail for s in seqs):
        raise ValueError(f"all sequences must share their trailing shape {tuple(tail)}")
    out = torch.full((len(seqs), length, *tail), pad_value, dtype=seqs[0].dtype)
    mask = torch.zeros(len(seqs), length, dtype=torch.bool)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = True
    return out, mask


def pad_to_length(x, mask, length: int):
    """Pad ``x`` ``(N, L, ...)`` with zeros and ``mask`` ``(N, L)`` with False up to ``L = length``."""
    extra = length - x.shape[1]
    if extra < 0:
        raise ValueError(f"length={length} is shorter than the sequences ({x.shape[1]})")
    if extra == 0:
        return x, mask
    x = torch.cat([x, x.new_zeros((x.shape[0], extra, *x.shape[2:]))], dim=1)
    return x, torch.cat([mask, mask.new_zeros((mask.shape[0], extra))], dim=1)


@dataclass
class PairDataset:
    """Preference pairs: ``chosen[i]`` was preferred to ``rejected[i]`` (given ``prompt[i]``).

    Plain tensors, first dimension = pair index:
    * token data: ``chosen``/``rejected`` are ``(N, L)`` long tensors, masks ``(N, L)`` bool
      (True = real token); ``prompt`` ``(N, Lp)`` with ``prompt_mask``;
    * trajectory clips: ``chosen``/``rejected`` are ``(N, k, obs_dim)`` float tensors (actions may
      be concatenated to the observations), masks ``(N, k)``; no prompt.
    ``tie`` (optional, ``(N,)`` bool) marks pairs judged equal; a tie is stored in either order.
    """

    chosen: torch.Tensor
    rejected: torch.Tensor
    chosen_mask: torch.Tensor | None = None
    rejected_mask: torch.Tensor | None = None
    prompt: torch.Tensor | None = None
    prompt_mask: torch.Tensor | None = None
    tie: torch.Tensor | None = None

    def __post_init__(self):
        n = self.chosen.shape[0]
        if self.rejected.shape[0] != n:
            raise ValueError(f"rejected has {self.rejected.shape[0]} pairs but chosen has {n}")
        if self.chosen_mask is None:
            self.chosen_mask = torch.ones(self.chosen.shape[:2], dtype=torch.bool)
        if self.rejected_mask is None:
            self.rejected_mask = torch.ones(self.rejected.shape[:2], dtype=torch.bool)
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value.shape[0] != n:
                raise ValueError(f"{f.name} has {value.shape[0]} rows, expected {n} (one per pair)")
        if tuple(self.chosen_mask.shape) != tuple(self.chosen.shape[:2]):
            raise ValueError(f"chosen_mask must have shape {tuple(self.chosen.shape[:2])}, "
                             f"got {tuple(self.chosen_mask.shape)}")
        if tuple(self.rejected_mask.shape) != tuple(self.rejected.shape[:2]):
            raise ValueError(f"rejected_mask must have shape {tuple(self.rejected.shape[:2])}, "
                             f"got {tuple(self.rejected_mask.shape)}")

    @classmethod
    def from_pairs(cls, chosen, rejected, prompts=None, pad_value=0, tie=None):
        """Build from lists of variable-length sequences (lists, arrays or tensors), padding them."""
        if len(chosen) != len(rejected):
            raise ValueError(f"chosen has {len(chosen)} items but rejected has {len(rejected)}")
        c, cm = _pad(chosen, pad_value)
        r, rm = _pad(rejected, pad_value)
        p = pm = None
        if prompts is not None:
            p, pm = _pad(prompts, pad_value)
        t = None if tie is None else torch.as_tensor(tie, dtype=torch.bool)
        return cls(c, r, cm, rm, p, pm, t)

    def __len__(self) -> int:
        return self.chosen.shape[0]

    def subset(self, index) -> "PairDataset":
        """The pairs at ``index`` (a tensor/array/list of indices, or a slice)."""
        if not isinstance(index, slice):
            index = torch.as_tensor(index, dtype=torch.long)
        return PairDataset(**{f.name: (None if getattr(self, f.name) is None else getattr(self, f.name)[index])
                              for f in fields(self)})

    __getitem__ = subset

    def split(self, test_fraction: float = 0.2, seed: int = 0):
        """Shuffle with ``seed`` and return ``(train, test)``."""
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        n = len(self)
        n_test = max(1, int(round(n * test_fraction)))
        if n - n_test < 1:
            raise ValueError(f"cannot split {n} pairs into non-empty train and test sets")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        return self.subset(perm[n_test:]), self.subset(perm[:n_test])

    def swapped(self) -> "PairDataset":
        """Chosen and rejected exchanged (for testing and label flipping)."""
        return PairDataset(self.rejected, self.chosen, self.rejected_mask, self.chosen_mask,
                           self.prompt, self.prompt_mask, self.tie)

    @staticmethod
    def concat(datasets) -> "PairDataset":
        """Concatenate datasets whose tensors share trailing shapes; sequences of different lengths
        are padded to the longest (mask False), e.g. clips of several labelling rounds."""
        datasets = list(datasets)
        padded = []
        for d in datasets:
            fields_ = {f.name: getattr(d, f.name) for f in fields(PairDataset)}
            for name in ("chosen", "rejected", "prompt"):
                if fields_[name] is not None:
                    length = max(getattr(e, name).shape[1] for e in datasets if getattr(e, name) is not None)
                    fields_[name], fields_[name + "_mask"] = pad_to_length(fields_[name], fields_[name + "_mask"], length)
            padded.append(fields_)
        return PairDataset(**{f.name: None if any(d[f.name] is None for d in padded)
                              else torch.cat([d[f.name] for d in padded]) for f in fields(PairDataset)})


# --------------------------------------------------------------------------------------------
# Synthetic labelers: a simulated human who compares two items and says which one is better.
# --------------------------------------------------------------------------------------------

def _sigmoid(x):
    """Logistic function, stable for any finite or infinite input (no overflow warnings)."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def _scores(name, fn, items) -> np.ndarray:
    """``fn(item)`` for every item, as a float64 array, checked finite."""
    values = np.empty(len(items), dtype=np.float64)
    for i, item in enumerate(items):
        value = fn(item)
        try:
            values[i] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must return a number for each item, "
                             f"got {type(value).__name__}") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} returned NaN or inf for some item; expected finite numbers")
    return values


@dataclass
class BradleyTerryLabeler:
    r"""A simulated, Boltzmann-rational human who compares items A and B.

    The labeler perceives :math:`\tilde R(x) = R(x) + w_b\, b(x)` (true reward plus an optional
    bias, e.g. a taste for longer answers) and, with :math:`\tilde\Delta = \tilde R(A) - \tilde R(B)`:

    * says **tie** when :math:`|\tilde\Delta| <` ``tie_margin``;
    * otherwise prefers A with probability :math:`p = \sigma(\tilde\Delta / T)` (the Bradley–Terry
      model, Bradley & Terry 1952; the Boltzmann-rational human of Christiano et al. 2017,
      "Deep RL from Human Preferences"); ``temperature`` :math:`T = 0` is a perfectly rational
      labeler (a coin flip only when :math:`\tilde\Delta = 0`);
    * then flips its answer with probability ``flip_prob`` :math:`f` (a careless click).

    So :math:`P(\text{label} = A) = (1-f)\,p + f\,(1-p)`. (Christiano et al. 2017 let the human
    answer uniformly at random 10% of the time: that is ``flip_prob=0.05``.) Labels come from a seeded
    ``numpy.random.Generator``: a new labeler with the same ``seed`` gives the same labels for the
    same calls; every call draws the same amount of randomness whatever the outcome.

    ``reward_fn(item) -> float`` and ``bias_fn(item) -> float`` take one item each (an array, a
    token list, a trajectory clip: anything). ``bias_weight`` scales ``bias_fn`` (ignored without it).
    """

    reward_fn: Callable
    temperature: float = 1.0
    flip_prob: float = 0.0
    tie_margin: float = 0.0
    bias_fn: Callable | None = None
    bias_weight: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if not callable(self.reward_fn):
            raise ValueError("reward_fn must be callable (item -> float), "
                             f"got {type(self.reward_fn).__name__}")
        if self.bias_fn is not None and not callable(self.bias_fn):
            raise ValueError("bias_fn must be callable (item -> float) or None, "
                             f"got {type(self.bias_fn).__name__}")
        check_range("temperature", self.temperature, 0.0, math.inf, high_open=True)
        check_range("flip_prob", self.flip_prob, 0.0, 0.5)
        check_range("tie_margin", self.tie_margin, 0.0, math.inf, high_open=True)
        check_range("bias_weight", self.bias_weight, -math.inf, math.inf, low_open=True, high_open=True)
        check_int("seed", self.seed, low=0)
        self.rng = np.random.default_rng(int(self.seed))

    # -- the model of the human ------------------------------------------------------------
    def _deltas(self, items_a, items_b):
        """True and perceived reward differences R(A) - R(B), each ``(N,)``."""
        if len(items_a) != len(items_b):
            raise ValueError(f"items_a has {len(items_a)} items but items_b has {len(items_b)}; "
                             "expected one B per A")
        if len(items_a) == 0:
            raise ValueError("items_a is empty; expected at least one pair")
        true_delta = (_scores("reward_fn", self.reward_fn, items_a)
                      - _scores("reward_fn", self.reward_fn, items_b))
        perceived = true_delta
        if self.bias_fn is not None and self.bias_weight != 0.0:
            bias_delta = _scores("bias_fn", self.bias_fn, items_a) - _scores("bias_fn", self.bias_fn, items_b)
            perceived = true_delta + self.bias_weight * bias_delta
        return true_delta, perceived

    def _prob_a(self, perceived):
        """P(label = A | not a tie) = (1-f) sigma(D/T) + f (1 - sigma(D/T))."""
        if self.temperature == 0.0:
            p = np.where(perceived > 0, 1.0, np.where(perceived < 0, 0.0, 0.5))
        else:
            p = _sigmoid(perceived / self.temperature)
        return (1.0 - self.flip_prob) * p + self.flip_prob * (1.0 - p)

    def preference_probability(self, items_a, items_b):
        r"""Closed form ``(p_a, ties)``: :math:`P(\text{label}=A)` per pair, and the tie mask.

        :math:`p_a = (1-f)\,\sigma(\tilde\Delta/T) + f\,(1-\sigma(\tilde\Delta/T))`; where
        ``ties`` is True the labeler always says tie and ``p_a`` is reported as 0.5.
        """
        _, perceived = self._deltas(items_a, items_b)
        ties = np.abs(perceived) < self.tie_margin
        return np.where(ties, 0.5, self._prob_a(perceived)), ties

    def label(self, items_a, items_b):
        """Label each pair: ``(prefs, ties)``, numpy arrays of shape ``(N,)``.

        ``prefs[i]`` is 1.0 if A was preferred, 0.0 if B was, and 0.5 for a tie (``ties[i]`` True).
        """
        p_a, ties = self.preference_probability(items_a, items_b)
        u = self.rng.random(len(p_a))                      # one uniform per pair, always drawn
        prefs = (u < p_a).astype(np.float64)
        prefs[ties] = 0.5
        return prefs, ties

    def make_pairs(self, items_a, items_b, encode=None, prompts=None, pad_value=0) -> PairDataset:
        """Label the pairs and return them as a :class:`PairDataset` (chosen = the preferred item).

        ``encode(item)`` turns an item into a sequence (array/tensor/list of shape ``(L,)`` or
        ``(L, D)``); by default the item itself is used. Sequences are right-padded with
        ``pad_value`` (masks mark real elements). A tie is stored as (A, B) with ``tie`` True.
        ``prompts`` (one sequence per pair, optional) is padded into ``prompt``/``prompt_mask``.
        """
        if encode is not None and not callable(encode):
            raise ValueError("encode must be callable (item -> sequence) or None, "
                             f"got {type(encode).__name__}")
        if prompts is not None and len(prompts) != len(items_a):
            raise ValueError(f"prompts has {len(prompts)} entries, expected one per pair ({len(items_a)})")
        prefs, ties = self.label(items_a, items_b)
        encode = encode or (lambda item: item)
        chosen, rejected = [], []
        for a, b, pref in zip(items_a, items_b, prefs):
            first, second = (b, a) if pref == 0.0 else (a, b)
            chosen.append(encode(first))
            rejected.append(encode(second))
        return PairDataset.from_pairs(chosen, rejected, prompts=prompts, pad_value=pad_value, tie=ties)

    def agreement_rate(self, items_a, items_b, against: str = "true", n_samples: int | None = None) -> float:
        r"""Expected fraction of the labeler's non-tie labels that agree with the sign of a reward difference.

        Closed form: over the pairs the labeler does not call a tie,

        .. math:: \text{agree} = \operatorname{mean}_i\ \begin{cases}
                  q_i & \Delta_i > 0\\ 1-q_i & \Delta_i < 0\\ \tfrac12 & \Delta_i = 0\end{cases},
                  \qquad q_i = P(\text{label}_i = A)

        with :math:`\Delta` the **true** difference (``against="true"``) or the perceived,
        biased one (``against="perceived"``). Flip noise lowers it by :math:`f(2a_0-1)` where
        :math:`a_0` is the noise-free agreement.

        **Why this is a ceiling.** For ``flip_prob`` ≤ ½, the label of a pair is most likely the
        sign of the perceived difference, so no model — however large — can predict held-out labels
        better, in expectation, than ``agreement_rate(..., against="perceived")``. Without a bias
        the perceived and true differences coincide: the ceiling is the agreement with the truth, and
        a reward model that recovered the true reward would score exactly it. With a bias, a model
        can beat the "true" figure on the labels only by learning the bias.

        ``n_samples`` instead returns a Monte-Carlo estimate from that many labelings of all pairs
        (drawn from a separate generator; the labeler's own stream is untouched).
        """
        if against not in ("true", "perceived"):
            raise ValueError(f"against must be 'true' or 'perceived', got {against!r}")
        true_delta, perceived = self._deltas(items_a, items_b)
        reference = true_delta if against == "true" else perceived
        labeled = np.abs(perceived) >= self.tie_margin
        if not labeled.any():
            raise ValueError("every pair is a tie under this tie_margin; agreement is undefined")
        q = self._prob_a(perceived)[labeled]
        sign = np.sign(reference[labeled])
        if n_samples is None:
            agree = np.where(sign > 0, q, np.where(sign < 0, 1.0 - q, 0.5))
            return float(agree.mean())
        check_int("n_samples", n_samples)
        rng = np.random.default_rng([int(self.seed), 1])
        says_a = rng.random((int(n_samples), q.size)) < q       # (n_samples, N_labeled)
        agree = np.where(sign > 0, says_a, np.where(sign < 0, ~says_a, 0.5))
        return float(agree.mean())
