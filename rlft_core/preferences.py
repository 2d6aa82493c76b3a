"""Preference pairs as plain tensors, and synthetic labelers that play the human.

(The labelers are added below the dataset type.)
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch


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
        """Concatenate datasets whose tensors share trailing shapes (pad first if they do not)."""
        datasets = list(datasets)
        out = {}
        for f in fields(PairDataset):
            vals = [getattr(d, f.name) for d in datasets]
            out[f.name] = None if any(v is None for v in vals) else torch.cat(vals)
        return PairDataset(**out)
