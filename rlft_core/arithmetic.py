r"""A task with a verifiable reward: two-digit addition, ``"47+38="`` → ``"85"``.

RL with verifiable rewards (RLVR; Lambert et al. 2024, "Tülu 3", §6) replaces the learned
reward model of RLHF by a program that checks the answer: here an exact match. The task is small
enough for the course's :class:`~rlft_core.tiny_lm.TinyGPT` to learn on a CPU in seconds, and it
has the one property that makes RL necessary: a **flawed SFT corpus**. In a fraction
``wrong_carry_fraction`` of the examples that need a carry (the units digits add up to 10 or
more) the carry is dropped (``47+38=75``). With the default 0.6, imitation learns the majority
answer, so greedy decoding gets most carry problems wrong (about 45 % of all problems need a
carry) and SFT plateaus near 55-60 % accuracy; sampling still finds the right answer now and then,
and only the reward can tell which one it was.

Sequences are ``<bos> a + b = answer <eos>`` with one token per character: the prompt
``<bos>47+38=`` always has 7 tokens and the completion at most 4 (``"198"`` + ``<eos>``).
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch

from ._validate import check_range
from .tiny_lm import GPTConfig, TinyGPT, Tokenizer
from .utils import seed_everything

PROMPT_LENGTH = 7                  # <bos> d d + d d =
MAX_COMPLETION_LENGTH = 4          # up to three digits and <eos>
OPERANDS = range(10, 100)


class CharTokenizer(Tokenizer):
    """One token per character: ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``, then ``0-9 + =``
    (15 tokens). ``encode("47+38=")`` takes a plain string; ``decode`` joins without spaces."""

    def __init__(self, alphabet: str = "0123456789+="):
        super().__init__(list(alphabet))

    def encode(self, text) -> list[int]:
        unknown = sorted({c for c in text if c not in self.stoi})
        if unknown:
            raise ValueError(f"text contains characters outside the alphabet: {unknown}")
        return [self.stoi[c] for c in text]

    def decode(self, ids, as_words: bool = False, stop_at_eos: bool = False):
        chars = super().decode(ids, as_words=True, stop_at_eos=stop_at_eos)
        return chars if as_words else "".join(chars)


TOKENIZER = CharTokenizer()


def has_carry(a: int, b: int) -> bool:
    """True when the units digits of ``a`` and ``b`` add up to 10 or more."""
    return a % 10 + b % 10 >= 10


def dropped_carry_sum(a: int, b: int) -> int:
    """The sum with the units' carry forgotten: ``47 + 38 -> 75`` (the corpus's mistake)."""
    return (a // 10 + b // 10) * 10 + (a % 10 + b % 10) % 10


def all_problems() -> list[tuple[int, int]]:
    """Every pair ``(a, b)`` of two-digit numbers, 8100 in all."""
    return [(a, b) for a in OPERANDS for b in OPERANDS]


def split_problems(test_size: int = 500, seed: int = 0):
    """``(train, test)`` lists of problems; the test problems never appear in SFT or RL."""
    check_range("test_size", test_size, 1, 8099)
    problems = all_problems()
    random.Random(seed).shuffle(problems)
    return problems[int(test_size):], problems[:int(test_size)]


def encode_prompts(problems, tokenizer: CharTokenizer = TOKENIZER) -> torch.Tensor:
    """``(N, 7)`` long prompt tokens ``<bos>a+b=``."""
    return torch.tensor([[tokenizer.bos_id, *tokenizer.encode(f"{a}+{b}=")] for a, b in problems])


def sft_corpus(problems, n: int, wrong_carry_fraction: float = 0.6, seed: int = 0,
               tokenizer: CharTokenizer = TOKENIZER) -> list[list[int]]:
    """``n`` demonstrations ``<bos>a+b=answer<eos>`` drawn from ``problems``; in each carry example
    the answer drops the carry with probability ``wrong_carry_fraction`` (drawn per example)."""
    check_range("n", n, 1, math.inf)
    check_range("wrong_carry_fraction", wrong_carry_fraction, 0.0, 1.0)
    if len(problems) == 0:
        raise ValueError("problems is empty; expected a list of (a, b) pairs")
    rng = random.Random(seed)
    corpus = []
    for _ in range(int(n)):
        a, b = problems[rng.randrange(len(problems))]
        wrong = has_carry(a, b) and rng.random() < wrong_carry_fraction
        answer = dropped_carry_sum(a, b) if wrong else a + b
        corpus.append([tokenizer.bos_id, *tokenizer.encode(f"{a}+{b}={answer}"), tokenizer.eos_id])
    return corpus


def new_model(d_model: int = 64, n_layer: int = 2, n_head: int = 4, seed: int = 0) -> TinyGPT:
    """A freshly initialised :class:`TinyGPT` sized for the task (15 tokens, block of 11)."""
    seed_everything(seed)
    return TinyGPT(GPTConfig(len(TOKENIZER), PROMPT_LENGTH + MAX_COMPLETION_LENGTH, n_layer=n_layer,
                             n_head=n_head, d_model=d_model))


def completions(sequences: torch.Tensor, tokenizer: CharTokenizer = TOKENIZER) -> list[str]:
    """The text after the prompt up to ``<eos>`` (excluded); ``None``-free: a row cut before
    ``<eos>`` ends in ``"…"`` so that it never matches an answer."""
    texts = []
    for row in sequences[:, PROMPT_LENGTH:].tolist():
        if tokenizer.eos_id in row:
            texts.append(tokenizer.decode(row[:row.index(tokenizer.eos_id)]))
        else:
            texts.append(tokenizer.decode(row) + "…")
    return texts


def exact_match_rewards(sequences: torch.Tensor, problems, tokenizer: CharTokenizer = TOKENIZER) -> torch.Tensor:
    r"""The verifiable reward :math:`r = [\text{completion} = \text{str}(a + b)]`, ``(N,)`` float.

    ``sequences`` ``(N, 7 + T)`` from :func:`rlft_core.tiny_lm.generate`; row *i* answers
    ``problems[i]``. A completion must end with ``<eos>`` right after the digits."""
    if sequences.dim() != 2 or len(sequences) != len(problems):
        raise ValueError(f"sequences must be (N, L) with N = len(problems) = {len(problems)}, "
                         f"got {tuple(sequences.shape)}")
    texts = completions(sequences, tokenizer)
    return torch.tensor([float(t == str(a + b)) for t, (a, b) in zip(texts, problems)])


def pass_at_k(n, c, k: int):
    r"""Unbiased estimate of pass@k from *n* samples of which *c* are correct (Chen et al. 2021,
    "Evaluating Large Language Models Trained on Code", eq. (1)):

    .. math:: \text{pass@}k = 1 - \binom{n-c}{k}\Big/\binom{n}{k} = 1 - \prod_{i=n-c+1}^{n}\Big(1 - \frac{k}{i}\Big)

    The product form never forms a huge binomial. ``n`` and ``c`` may be arrays (one per problem);
    returns a float array of the same shape (or a float). pass@1 is simply c / n.
    """
    n_arr, c_arr = np.asarray(n), np.asarray(c)
    if np.any(n_arr < 1) or np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise ValueError(f"need n ≥ 1 and 0 ≤ c ≤ n, got n={n!r}, c={c!r}")
    check_range("k", k, 1, math.inf)
    if np.any(k > n_arr):
        raise ValueError(f"k must be ≤ n (k={k}, smallest n={n_arr.min()})")
    n_b, c_b = np.broadcast_arrays(n_arr, c_arr)
    out = np.empty(n_b.shape, dtype=np.float64)
    for idx in np.ndindex(n_b.shape):
        ni, ci = int(n_b[idx]), int(c_b[idx])
        out[idx] = 1.0 if ni - ci < k else 1.0 - float(np.prod(1.0 - k / np.arange(ni - ci + 1, ni + 1)))
    return float(out) if out.ndim == 0 else out
