r"""A synthetic language of short product reviews, with an exact grammar and a hidden true reward.

Small enough for a tiny GPT to learn on a CPU in seconds, rich enough to have preferences about.
A *prompt* names a product; a *review* answers it::

    review   := sentence+ <eos>
    sentence := clause [("and" | "but") clause] "."   |   "i" VERB "this" PRODUCT "."
    clause   := "the" ASPECT "is" ["very" | "not"] ADJECTIVE

and it is **on topic**: every ASPECT belongs to the prompted product (a phone has a battery,
not a lens) and PRODUCT is the prompted one. :meth:`ReviewLanguage.is_grammatical` checks this
exactly.

Each clause carries a sentiment: the adjective's value (``great`` +1, ``good`` +0.5,
``poor`` -0.5, ``awful`` -1, ...), times 1.5 after ``very`` and times -0.5 after ``not``
("not bad" is mildly positive); a verb sentence carries the verb's value (``love`` +1, ...).
The **true reward** -- the human the course pretends to have -- is

.. math::
    r^\star(y) = \underbrace{\operatorname{mean}(\text{sentiments})}_{[-1.5,\ 1.5]}
    \;-\; 0.1\,\max(0,\ |y| - 10) \;-\; 1\cdot[\,y\text{ is ungrammatical}\,]

(the defaults of ``length_penalty``, ``target_length`` and ``ungrammatical_penalty``):
positive, to the point (no more than 10 words) and grammatical. The sentiment is read off the
words (every adjective, with the modifier before it, and every verb), so it is defined for any
text. The maximum, 1.5, needs a short review made only of "very" + strong praise, which the
pretraining corpus rarely contains. A labeler with a length bias
(``bias_fn=language.length_of``) prefers the long reviews this reward penalises: room for
reward hacking (over-optimisation).

The pretraining corpus (:meth:`ReviewLanguage.sample_corpus`) mixes positive, negative and mixed
reviews of 1-3 sentences. It is grammatical by default; a tiny model trained on it still makes a
few percent of mistakes of its own when sampling (a wrong aspect, a missing word). With
``corruption_prob > 0`` some corpus reviews are corrupted (a word dropped, repeated or swapped,
an off-topic aspect, a missing end), and the model learns to be disfluent more often.

Why these defaults. A reward model (a tiny GPT with a scalar head) fit to a few thousand noisy
comparisons learns the sentiment and the length term well, but barely learns to detect rare
grammar mistakes; with a fluent corpus those are rare among SFT samples, so the reward model
gets within a few points of the labeler's ceiling. Negation ("not") is in the grammar but not
in the default corpus (``modifier_probs``): a reward model trained on a few thousand comparisons
misreads "not bad" as negative, which costs it several points of accuracy.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from ._validate import check_positive, check_range
from .tiny_lm import Tokenizer, generate

ASPECTS = {
    "phone": ("battery", "screen", "price", "design"),
    "laptop": ("battery", "screen", "keyboard", "price"),
    "camera": ("lens", "battery", "price", "design"),
    "headphones": ("sound", "comfort", "price", "design"),
    "watch": ("strap", "battery", "screen", "design"),
    "blender": ("motor", "noise", "price", "design"),
}
PRODUCTS = tuple(ASPECTS)
ADJECTIVES = {"excellent": 1.0, "amazing": 1.0, "great": 1.0, "good": 0.5, "nice": 0.5, "decent": 0.5,
              "mediocre": -0.5, "poor": -0.5, "weak": -0.5, "bad": -1.0, "awful": -1.0, "terrible": -1.0}
VERBS = {"love": 1.0, "like": 0.5, "dislike": -0.5, "hate": -1.0}
MODIFIERS = {"very": 1.5, "not": -0.5}
FUNCTION_WORDS = ("the", "is", "and", "but", "i", "this", ".")


@dataclass
class ReviewLanguage:
    """The review language: its tokenizer, grammar checker, sentiment, true reward and corpus.

    Args:
        target_length: reviews longer than this many words (``<eos>`` not counted) are penalised.
        length_penalty: true-reward penalty per word beyond ``target_length``.
        ungrammatical_penalty: subtracted from the true reward of an ungrammatical review.
        max_words: longest review the corpus contains (and a sampler should be allowed).
        corruption_prob: fraction of corpus reviews that are corrupted (made ungrammatical).
        corruptions: the kinds of corruption to draw from.
        modifier_probs: probabilities of a clause having no modifier, "very", "not".
    """

    target_length: int = 10
    length_penalty: float = 0.1
    ungrammatical_penalty: float = 1.0
    max_words: int = 20
    corruption_prob: float = 0.0
    corruptions: tuple = ("drop", "repeat", "swap", "off_topic", "no_end")
    modifier_probs: tuple = (0.75, 0.25, 0.0)      # no modifier, "very", "not"

    def __post_init__(self):
        check_range("target_length", self.target_length, 1, 1000)
        check_range("length_penalty", self.length_penalty, 0.0, 100.0)
        check_range("ungrammatical_penalty", self.ungrammatical_penalty, 0.0, 100.0)
        check_range("max_words", self.max_words, 6, 1000)
        check_range("corruption_prob", self.corruption_prob, 0.0, 1.0)
        known = ("drop", "repeat", "swap", "off_topic", "no_end")
        if not self.corruptions or any(c not in known for c in self.corruptions):
            raise ValueError(f"corruptions must be a non-empty tuple drawn from {known}, got {self.corruptions!r}")
        probs = np.asarray(self.modifier_probs, dtype=float)
        if probs.shape != (3,) or (probs < 0).any() or abs(probs.sum() - 1.0) > 1e-9:
            raise ValueError(f"modifier_probs must be 3 probabilities (none, very, not) summing to 1, "
                             f"got {self.modifier_probs!r}")
        aspects = sorted({a for group in ASPECTS.values() for a in group})
        words = [*FUNCTION_WORDS, *MODIFIERS, *PRODUCTS, *aspects, *ADJECTIVES, *VERBS]
        self.tokenizer = Tokenizer(words)
        self.prompt_length = 2                      # <bos> PRODUCT
        self.block_size = self.prompt_length + self.max_words + 1

    # ------------------------------------------------------------------ grammar and reward
    def parse(self, product: str, words) -> list[float] | None:
        """Clause sentiments of a review (a list of words ending in ``<eos>``), or None if ungrammatical."""
        words = list(words)
        if product not in ASPECTS or len(words) < 2 or words[-1] != Tokenizer.EOS:
            return None
        words, clauses, i = words[:-1], [], 0

        def clause(j):                              # "the" ASPECT "is" [very|not] ADJ
            if words[j:j + 1] != ["the"] or j + 2 >= len(words):
                return None, j
            if words[j + 1] not in ASPECTS[product] or words[j + 2] != "is":
                return None, j
            scale, k = 1.0, j + 3
            if k < len(words) and words[k] in MODIFIERS:
                scale, k = MODIFIERS[words[k]], k + 1
            if k >= len(words) or words[k] not in ADJECTIVES:
                return None, j
            return scale * ADJECTIVES[words[k]], k + 1

        while i < len(words):
            if words[i] == "i":                     # "i" VERB "this" PRODUCT "."
                if (len(words) < i + 5 or words[i + 1] not in VERBS or words[i + 2] != "this"
                        or words[i + 3] != product or words[i + 4] != "."):
                    return None
                clauses.append(VERBS[words[i + 1]])
                i += 5
                continue
            value, i = clause(i)
            if value is None:
                return None
            clauses.append(value)
            if i < len(words) and words[i] in ("and", "but"):
                value, i = clause(i + 1)
                if value is None:
                    return None
                clauses.append(value)
            if i >= len(words) or words[i] != ".":
                return None
            i += 1
        return clauses or None

    def is_grammatical(self, product: str, words) -> bool:
        """True if ``words`` (ending in ``<eos>``) is a review of ``product`` in the grammar above."""
        return self.parse(product, words) is not None

    @staticmethod
    def sentiment(words) -> float:
        """Mean sentiment of the adjectives and verbs in ``words`` (0 if there are none).

        An adjective counts ×1.5 after "very" and ×(-0.5) after "not". On a grammatical review
        this is the mean over its clauses; it is defined for any list of words."""
        values = [VERBS[w] if w in VERBS else ADJECTIVES[w] * MODIFIERS.get(prev, 1.0)
                  for prev, w in zip([None, *words], words) if w in VERBS or w in ADJECTIVES]
        return float(np.mean(values)) if values else 0.0

    def true_reward(self, product: str, words) -> float:
        r"""The hidden reward :math:`r^\star(y)` of the module docstring, for one review."""
        words = list(words)
        n_words = len(words) - (1 if words and words[-1] == Tokenizer.EOS else 0)
        penalty = self.length_penalty * max(0, n_words - self.target_length)
        grammatical = self.is_grammatical(product, words)
        return self.sentiment(words) - penalty - (0.0 if grammatical else self.ungrammatical_penalty)

    # ------------------------------------------------------------------ token sequences
    def split(self, tokens) -> tuple[str, list[str]]:
        """``(product, response words)`` of one token sequence ``<bos> PRODUCT w1 ... [<eos>]``.

        The response stops after the first ``<eos>``; padding is dropped."""
        ids = [int(t) for t in tokens]
        if len(ids) < self.prompt_length or ids[0] != self.tokenizer.bos_id:
            raise ValueError("tokens must start with the prompt <bos> PRODUCT")
        words = self.tokenizer.decode(ids[self.prompt_length:], as_words=True, stop_at_eos=True)
        return self.tokenizer.decode(ids[1:2], as_words=True)[0], words

    def reward_of(self, tokens) -> float:
        """True reward of one token sequence ``<bos> PRODUCT response`` (a labeler's ``reward_fn``)."""
        return self.true_reward(*self.split(tokens))

    def length_of(self, tokens) -> float:
        """Number of response words, ``<eos>`` not counted (a ``bias_fn`` for a length-loving labeler)."""
        words = self.split(tokens)[1]
        return float(len(words) - (1 if words and words[-1] == Tokenizer.EOS else 0))

    def sequence_rewards(self, sequences: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """True reward of each row of ``sequences`` ``(B, L)`` (prompt + response), as a ``(B,)`` tensor."""
        rows = sequences if mask is None else [s[m] for s, m in zip(sequences, mask)]
        return torch.tensor([self.true_reward(*self.split(s)) for s in rows])

    def grammatical(self, sequences: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B,)`` bool: is each row's response grammatical and on topic."""
        rows = sequences if mask is None else [s[m] for s, m in zip(sequences, mask)]
        return torch.tensor([self.is_grammatical(*self.split(s)) for s in rows])

    def text(self, tokens) -> str:
        """A readable rendering: ``[phone] the battery is great .``"""
        product, words = self.split(tokens)
        ending = "" if words and words[-1] == Tokenizer.EOS else " …(no <eos>)"
        return f"[{product}] " + " ".join(w for w in words if w != Tokenizer.EOS) + ending

    def sample(self, model, prompts: torch.Tensor, generator: torch.Generator | None = None,
               temperature: float = 1.0):
        """Reviews ``model`` writes after ``prompts`` ``(B, Lp)``: :func:`~rlft_core.tiny_lm.generate`
        with this language's limit (``max_words`` words, then ``<eos>``) and special tokens.
        Returns ``(sequences, mask)``, ``(B, Lp + T)``."""
        return generate(model, prompts, self.max_words + 1, temperature=temperature, generator=generator,
                        eos_id=self.tokenizer.eos_id, pad_id=self.tokenizer.pad_id)

    def prompts(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(n, 2)`` prompts ``<bos> PRODUCT`` with products drawn uniformly."""
        check_positive(n=n)
        product_ids = torch.tensor(self.tokenizer.encode(list(PRODUCTS)))
        pick = torch.randint(len(PRODUCTS), (int(n),), generator=generator)
        return torch.stack([torch.full((int(n),), self.tokenizer.bos_id), product_ids[pick]], dim=1)

    # ------------------------------------------------------------------ the pretraining corpus
    def _review(self, product: str, rng: random.Random) -> list[str]:
        """One clean review: a mood, 1-3 sentences whose clauses mostly follow it."""
        mood = rng.choices([1.0, -1.0, 0.0], weights=[0.4, 0.4, 0.2])[0]     # positive, negative, mixed

        def sign():
            follow = 0.85 if mood != 0 else 0.5
            base = mood if mood != 0 else 1.0
            return base if rng.random() < follow else -base

        def clause(target):
            modifier = rng.choices(["", "very", "not"], weights=self.modifier_probs)[0]
            want = -target if modifier == "not" else target        # "not" flips the adjective
            strong = rng.random() < 0.5
            choices = [a for a, v in ADJECTIVES.items() if np.sign(v) == want and (abs(v) == 1.0) == strong]
            words = ["the", rng.choice(ASPECTS[product]), "is"] + ([modifier] if modifier else [])
            return words + [rng.choice(choices)]

        words = []
        for _ in range(rng.choices([1, 2, 3], weights=[0.4, 0.4, 0.2])[0]):
            kind = rng.choices(["verb", "simple", "compound"], weights=[0.25, 0.5, 0.25])[0]
            if kind == "verb":
                target = sign()
                verbs = [v for v, s in VERBS.items() if np.sign(s) == target]
                words += ["i", rng.choice(verbs), "this", product, "."]
            elif kind == "simple":
                words += clause(sign()) + ["."]
            else:
                first, second = sign(), sign()
                words += clause(first) + ["and" if first == second else "but"] + clause(second) + ["."]
        return words + [Tokenizer.EOS]

    def _corrupt(self, product: str, words: list[str], rng: random.Random) -> list[str]:
        """Make a review disfluent: drop, repeat or swap a word, go off topic, or lose the end."""
        words, body = list(words), len(words) - 1
        kind = rng.choice(self.corruptions)
        i = rng.randrange(body)
        if kind == "drop":
            del words[i]
        elif kind == "repeat":
            words.insert(i, words[i])
        elif kind == "swap" and body >= 2:
            i = min(i, body - 2)
            words[i], words[i + 1] = words[i + 1], words[i]
        elif kind == "off_topic":
            others = [a for p in PRODUCTS for a in ASPECTS[p] if a not in ASPECTS[product]]
            slots = [j for j, w in enumerate(words) if w in ASPECTS[product] or w == product]
            if slots:
                words[rng.choice(slots)] = rng.choice(others)
        else:
            words = words[:-2] + [Tokenizer.EOS]                    # the final "." goes missing
        return words

    def sample_corpus(self, n: int, seed: int = 0) -> list[list[int]]:
        """``n`` token sequences ``<bos> PRODUCT review <eos>`` for pretraining (SFT), seeded."""
        check_positive(n=n)
        rng = random.Random(seed)
        corpus = []
        while len(corpus) < n:
            product = rng.choice(PRODUCTS)
            words = self._review(product, rng)
            if rng.random() < self.corruption_prob:
                words = self._corrupt(product, words, rng)
            if len(words) - 1 <= self.max_words:
                corpus.append(self.tokenizer.encode([Tokenizer.BOS, product, *words]))
        return corpus
