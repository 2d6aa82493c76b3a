r"""A tiny GPT in plain PyTorch: word tokenizer, causal transformer, reward head, sampling.

nanoGPT-like (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners";
Karpathy's nanoGPT): learned positional embeddings, pre-LayerNorm blocks of causal
self-attention (Vaswani et al. 2017) and an MLP, and an output layer tied to the token embedding
(Press & Wolf 2017). A few layers of width 64 learn the course's review language in seconds.

Sequence conventions used by ``generate``, ``rlhf`` and ``dpo``:

* a sequence is ``<bos> prompt... response... <eos>`` padded on the **right** with ``<pad>``;
* ``mask`` ``(B, L)`` bool is True on real tokens (prompt and response, ``<eos>`` included);
* all prompts of a batch have the same length, so the response starts at one column;
* ``logits[:, t]`` is the distribution of ``tokens[:, t + 1]``: shift by one before scoring.

Because attention is causal and padding is on the right, padded positions never influence
real ones and no attention mask is needed.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._validate import check_positive, check_range


class Tokenizer:
    """Word-level tokenizer: ids 0, 1, 2 are ``<pad>``, ``<bos>``, ``<eos>``; then ``words``."""

    PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"

    def __init__(self, words):
        self.itos = [self.PAD, self.BOS, self.EOS, *words]
        if len(set(self.itos)) != len(self.itos):
            raise ValueError("words must be unique and must not contain <pad>, <bos> or <eos>")
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text) -> list[int]:
        """Ids of a whitespace-separated string or a list of words."""
        words = text.split() if isinstance(text, str) else list(text)
        unknown = [w for w in words if w not in self.stoi]
        if unknown:
            raise ValueError(f"text contains words outside the vocabulary: {unknown[:5]}")
        return [self.stoi[w] for w in words]

    def decode(self, ids, as_words: bool = False, stop_at_eos: bool = False):
        """Words of ``ids`` (padding dropped), joined by spaces unless ``as_words``.

        With ``stop_at_eos`` the output ends at the first ``<eos>`` (kept)."""
        words = []
        for i in (int(t) for t in ids):
            if not 0 <= i < len(self.itos):
                raise ValueError(f"ids must be in [0, {len(self.itos)}), got {i}")
            if i == self.pad_id:
                continue
            words.append(self.itos[i])
            if stop_at_eos and i == self.eos_id:
                break
        return words if as_words else " ".join(words)


@dataclass
class GPTConfig:
    """Size of the tiny GPT. ``block_size`` is the longest sequence (prompt + response)."""

    vocab_size: int
    block_size: int
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64
    dropout: float = 0.0

    def __post_init__(self):
        check_positive(vocab_size=self.vocab_size, block_size=self.block_size, n_layer=self.n_layer,
                       n_head=self.n_head, d_model=self.d_model)
        check_range("dropout", self.dropout, 0.0, 1.0, high_open=True)
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})")


class CausalSelfAttention(nn.Module):
    r"""Multi-head self-attention where position t sees positions ≤ t:
    :math:`\mathrm{softmax}(QK^\top/\sqrt{d_h} + \text{causal mask})\,V` (Vaswani et al. 2017)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x, past=None):                        # x: (B, T, d_model)
        """Returns ``(y, (k, v))``; ``past`` holds the keys/values of earlier positions (the KV
        cache used by :func:`generate`), in which case ``x`` is the one newest position."""
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(B, T, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        if past is not None:                                # the new position sees every earlier one
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, T, d)), (k, v)


class Block(nn.Module):
    """Pre-LN transformer block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_attn, self.ln_mlp = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                                 nn.Linear(4 * cfg.d_model, cfg.d_model), nn.Dropout(cfg.dropout))

    def forward(self, x, past=None):
        attn_out, present = self.attn(self.ln_attn(x), past)
        x = x + attn_out
        return x + self.mlp(self.ln_mlp(x)), present


class TinyGPT(nn.Module):
    """A causal language model: ``forward(tokens (B, T) long) -> logits (B, T, vocab)``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.config = cfg
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.position_embedding = nn.Embedding(cfg.block_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_final = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.token_embedding.weight          # weight tying
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def hidden_states(self, tokens: torch.Tensor, past=None):
        """Final-layer features ``(B, T, d_model)`` (after the last LayerNorm).

        With ``past`` (a list of per-layer ``(k, v)``, or ``[]`` to start one) it returns
        ``(features, present)`` and treats ``tokens`` as coming after the cached positions."""
        if tokens.dtype != torch.long or tokens.dim() != 2:
            raise ValueError(f"tokens must be a (B, T) long tensor, got {tuple(tokens.shape)} {tokens.dtype}")
        offset = 0 if not past else past[0][0].shape[2]
        if offset + tokens.shape[1] > self.config.block_size:
            raise ValueError(f"tokens has length {offset + tokens.shape[1]} > block_size {self.config.block_size}")
        if past and tokens.shape[1] != 1:
            raise ValueError("with a KV cache, feed one new position at a time")
        positions = torch.arange(offset, offset + tokens.shape[1], device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        present = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, past[i] if past else None)
            present.append(kv)
        x = self.ln_final(x)
        return x if past is None else (x, present)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.hidden_states(tokens))             # (B, T, vocab)

    def next_token_logits(self, tokens: torch.Tensor, past=None):
        """``(logits of the last position (B, vocab), new cache)``: :func:`generate`'s fast path."""
        x, present = self.hidden_states(tokens, [] if past is None else past)
        return self.lm_head(x[:, -1]), present


class TokenRewardModel(nn.Module):
    r"""A scalar head on a tiny-GPT backbone: :math:`r_\phi(x, y)` read at the **last real token**.

    ``forward(tokens (N, L) long, mask (N, L) bool) -> (N,)``, the interface of
    ``rlft_core.reward_model.train_reward_model``. ``token_scores`` gives the head at every
    position, which PPO uses as a value function :math:`V(s_t)`. As in InstructGPT (Ouyang et
    al. 2022) the backbone is best initialised from the SFT model: :meth:`from_lm`.
    """

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.backbone = TinyGPT(cfg)
        self.head = nn.Linear(cfg.d_model, 1)
        nn.init.normal_(self.head.weight, 0.0, 0.02)
        nn.init.zeros_(self.head.bias)

    @classmethod
    def from_lm(cls, lm: TinyGPT) -> "TokenRewardModel":
        """A reward model whose backbone is a copy of ``lm`` (which is left untouched)."""
        model = cls(lm.config)
        model.backbone = copy.deepcopy(lm)
        return model

    def token_scores(self, tokens: torch.Tensor) -> torch.Tensor:
        """The head at every position, ``(N, L)``."""
        return self.head(self.backbone.hidden_states(tokens)).squeeze(-1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if mask.dtype != torch.bool or mask.shape != tokens.shape:
            raise ValueError(f"mask must be a bool tensor of shape {tuple(tokens.shape)}, "
                             f"got {mask.dtype} {tuple(mask.shape)}")
        last = mask.sum(dim=1) - 1                                    # (N,) index of last real token
        if (last < 0).any():
            raise ValueError("mask has a row with no real token")
        return self.token_scores(tokens).gather(1, last[:, None]).squeeze(1)


def token_logprobs(model: nn.Module, sequences: torch.Tensor, start: int) -> torch.Tensor:
    r"""Per-token :math:`\log\pi(y_t \mid x, y_{<t})` of ``sequences[:, start:]``, shape ``(B, L - start)``.

    Padding is not masked here: multiply or index with the response mask."""
    if not 1 <= start < sequences.shape[1]:
        raise ValueError(f"start must be in [1, {sequences.shape[1]}), got {start}")
    logits = model(sequences)[:, start - 1:-1]                        # logits[:, t] scores token t+1
    return torch.log_softmax(logits.float(), dim=-1).gather(2, sequences[:, start:, None]).squeeze(2)


@torch.no_grad()
def generate(model: nn.Module, prompt_tokens: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, generator: torch.Generator | None = None, eos_id: int = 2,
             pad_id: int = 0):
    r"""Sample continuations of a batch of equal-length prompts; stop each row at ``<eos>``.

    At each step :math:`y_t \sim \mathrm{softmax}(\text{logits}/T)` restricted to the ``top_k``
    most likely tokens (``temperature=0`` is greedy). A row that produced ``<eos>`` is padded with
    ``pad_id`` afterwards; the loop ends when every row has ended or after ``max_new_tokens``.

    Returns ``(sequences, mask)``: ``(B, Lp + T)`` long tokens and a bool mask that is True on the
    prompt and on the generated tokens up to and including ``<eos>`` (T ≤ ``max_new_tokens``).
    A row without ``<eos>`` was cut at the length limit.
    """
    if prompt_tokens.dtype != torch.long or prompt_tokens.dim() != 2 or prompt_tokens.shape[1] < 1:
        raise ValueError(f"prompt_tokens must be a (B, Lp) long tensor with Lp ≥ 1, "
                         f"got {tuple(prompt_tokens.shape)} {prompt_tokens.dtype}")
    check_positive(max_new_tokens=max_new_tokens)
    check_range("temperature", temperature, 0.0, math.inf)
    if top_k is not None:
        check_range("top_k", top_k, 1, math.inf)
    block_size = getattr(getattr(model, "config", None), "block_size", None)
    if block_size is not None and prompt_tokens.shape[1] + max_new_tokens > block_size:
        raise ValueError(f"prompt length {prompt_tokens.shape[1]} + max_new_tokens {max_new_tokens} "
                         f"exceeds the model's block_size {block_size}")
    was_training = model.training
    model.eval()
    sequences = prompt_tokens.clone()
    finished = torch.zeros(len(sequences), dtype=torch.bool)
    mask_columns = [torch.ones_like(prompt_tokens, dtype=torch.bool)]
    cached = hasattr(model, "next_token_logits")                        # KV cache if the model has one
    past, feed = None, sequences
    for _ in range(int(max_new_tokens)):
        if cached:
            logits, past = model.next_token_logits(feed, past)
            logits = logits.float()
        else:
            logits = model(sequences)[:, -1].float()                    # (B, vocab): recompute all
        if temperature == 0:
            next_token = logits.argmax(dim=-1)
        else:
            logits = logits / temperature
            if top_k is not None and top_k < logits.shape[-1]:
                kth = torch.topk(logits, int(top_k), dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, -math.inf)
            probs = torch.softmax(logits, dim=-1)
            next_token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        next_token = next_token.masked_fill(finished, pad_id)
        mask_columns.append(~finished[:, None])
        sequences = torch.cat([sequences, next_token[:, None]], dim=1)
        feed = next_token[:, None]
        finished = finished | (next_token == eos_id)
        if finished.all():
            break
    model.train(was_training)
    return sequences, torch.cat(mask_columns, dim=1)
