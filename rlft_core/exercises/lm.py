"""Checkers for the language-model exercises of notebook 08: summed sequence log-probabilities
with a padding mask, and RLHF's KL-shaped per-token reward."""
from __future__ import annotations

import torch

from ..i18n import tr
from ._core import Case, Mistake, run_check
from ._hints import Hints, register

HINTS = {
    "sequence_logprobs": Hints(
        start="Inputs: logits (B, T, V), labels (B, T) token ids, mask (B, T) bool; logits[:, t] "
              "already scores labels[:, t]. Return a (B,) tensor: for each row, the log-probability "
              "of its labels where mask is True. Re-read Step 1 (a sequence's log-probability).",
        idea="Turn the logits into log-probabilities over the vocabulary (stably), pick the "
             "log-probability of each label, and add them up over the positions the mask keeps.",
        formula="log p(y) = Σ_t m_t · log softmax(logits_t)[y_t]   (log_softmax over the last dim; "
                "gather with labels.unsqueeze(-1))",
        notebook="08_rlhf_for_language_models", function="my_sequence_logprobs",
        reference="rlft_core.dpo.sequence_logprobs"),
    "kl_shaped_rewards": Hints(
        start="Inputs: logp and ref_logp (B, T), the log-probs of the sampled tokens under the policy "
              "and the reference; mask (B, T) bool, right-padded; score (B,), the reward model's "
              "score of each response; kl_coef. Return (B, T) rewards per token, 0 on padding. "
              "Re-read Step 3 (the reward per token).",
        idea="Every real token pays a KL penalty for moving away from the reference; the reward "
             "model's score is earned once, at the last real token of the row.",
        formula="r_t = −β·(log π(y_t) − log π_ref(y_t))·m_t  +  score · [t = last real token]   "
                "(last real token: mask.sum(dim=1) − 1)",
        notebook="08_rlhf_for_language_models", function="my_kl_shaped_rewards",
        reference="rlft_core.rlhf_ppo.kl_shaped_rewards"),
}
register(HINTS)


# ---------------------------------------------------------------- sequence log-probabilities
def _logprob_cases():
    """Aligned ``(logits (B, T, V), labels (B, T), mask (B, T) bool)`` in float64.

    V = 5 < T so that a gather along the time axis runs (and is caught by its hint) instead of
    raising; labels under a False mask are ordinary ids, so counting them changes the result."""
    gen = torch.Generator().manual_seed(8)

    def draw(B, T, V=5, scale=2.0):
        logits = torch.randn(B, T, V, generator=gen, dtype=torch.float64) * scale
        return logits, torch.randint(V, (B, T), generator=gen)

    logits_full, labels_full = draw(2, 6)
    logits_pad, labels_pad = draw(3, 7)
    mask_pad = torch.tensor([[0, 0, 1, 1, 1, 1, 1],               # prompt (2 tokens), full response
                             [0, 0, 1, 1, 1, 0, 0],               # prompt, 3 response tokens, padding
                             [0, 0, 1, 0, 0, 0, 0]], dtype=torch.bool)   # only <eos>
    logits_empty, labels_empty = draw(2, 6)
    mask_empty = torch.tensor([[0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    logits_big = torch.tensor([[[1000.0, 0, 0, 0, 0], [0, 0, 0, 0, -1000.0]] * 3], dtype=torch.float64)
    labels_big = torch.tensor([[4, 4, 0, 1, 2, 3]])
    return [Case(tr("no padding: every token scored"), (logits_full, labels_full, torch.ones(2, 6, dtype=torch.bool))),
            Case(tr("prompt and right padding masked out"), (logits_pad, labels_pad, mask_pad)),
            Case(tr("a row with no scored token gives 0"), (logits_empty, labels_empty, mask_empty)),
            Case(tr("extreme logits (±1000): log-probs near −1000 stay finite"),
                 (logits_big, labels_big, torch.ones(1, 6, dtype=torch.bool)))]


def _reference_sequence_logprobs(logits, labels, mask):
    from ..dpo import sequence_logprobs
    return sequence_logprobs(logits, labels, mask)


def _gather(logp, labels):
    return logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def check_sequence_logprobs(fn) -> bool:
    r"""``fn(logits (B, T, V), labels (B, T), mask (B, T) bool) -> (B,)``:
    :math:`\sum_t m_t \log\mathrm{softmax}(\text{logits}_t)[\text{labels}_t]` per row, where
    ``logits[:, t]`` already scores ``labels[:, t]`` (no shift inside)."""
    mistakes = [
        Mistake("padding and prompt tokens were counted: multiply the per-token log-probs by the mask "
                "(`* mask`) before summing, so only the tokens where mask is True contribute.",
                lambda lg, lb, m: _gather(torch.log_softmax(lg, -1), lb).sum(1)),
        Mistake("those are probabilities, not log-probabilities: use torch.log_softmax(logits, dim=-1).",
                lambda lg, lb, m: (_gather(torch.softmax(lg, -1), lb) * m).sum(1)),
        Mistake("torch.log(torch.softmax(...)) underflows to −inf when a probability is below ~1e-308 "
                "(1e-38 in float32); torch.log_softmax computes the same thing stably.",
                lambda lg, lb, m: (_gather(torch.log(torch.softmax(lg, -1)), lb) * m).sum(1)),
        Mistake("that is an average log-prob per token (.mean() or a division by the length); a "
                "sequence's log-probability is the *sum* over its tokens (the log of a product).",
                lambda lg, lb, m: (_gather(torch.log_softmax(lg, -1), lb) * m).sum(1) / m.sum(1).clamp(min=1)),
        Mistake("the inputs are already aligned (logits[:, t] scores labels[:, t]); do not shift them "
                "again — the shift by one happens outside, when you call the function.",
                lambda lg, lb, m: (_gather(torch.log_softmax(lg[:, :-1], -1), lb[:, 1:]) * m[:, 1:]).sum(1)),
        Mistake("normalise over the vocabulary, the last dimension: torch.log_softmax(logits, dim=-1).",
                lambda lg, lb, m: (_gather(torch.log_softmax(lg, 1), lb) * m).sum(1)),
        Mistake("gather along the vocabulary dimension (dim=-1 or 2), with labels.unsqueeze(-1) as index.",
                lambda lg, lb, m: (torch.log_softmax(lg, -1).gather(1, lb.unsqueeze(-1)).squeeze(-1) * m).sum(1)),
    ]
    return run_check("check_sequence_logprobs", fn, _reference_sequence_logprobs, _logprob_cases(),
                     mistakes=mistakes,
                     exercise="sequence_logprobs")


# ---------------------------------------------------------------- KL-shaped per-token reward
def _kl_cases():
    """``(logp, ref_logp, mask, score, kl_coef)`` with right-padded masks; the log-probs under a
    False mask are junk (as a sampler leaves them), so a penalty left unmasked shows."""
    gen = torch.Generator().manual_seed(3)

    def logps(B, T):
        return (-torch.rand(B, T, generator=gen, dtype=torch.float64) * 3,
                -torch.rand(B, T, generator=gen, dtype=torch.float64) * 3)

    lp_full, ref_full = logps(2, 4)
    lp_pad, ref_pad = logps(3, 6)
    mask_pad = torch.arange(6)[None, :] < torch.tensor([6, 3, 1])[:, None]
    score_pad = torch.tensor([1.5, -0.7, 0.4], dtype=torch.float64)
    lp_same = -torch.rand(2, 5, generator=gen, dtype=torch.float64)
    mask_same = torch.arange(5)[None, :] < torch.tensor([2, 5])[:, None]
    return [Case(tr("no padding, kl_coef = 0.1"),
                 (lp_full, ref_full, torch.ones(2, 4, dtype=torch.bool),
                  torch.tensor([0.8, -1.2], dtype=torch.float64), 0.1)),
            Case(tr("right padding (lengths 6, 3, 1), kl_coef = 0.5"), (lp_pad, ref_pad, mask_pad, score_pad, 0.5)),
            Case(tr("policy = reference: only the score, at the last real token"),
                 (lp_same, lp_same.clone(), mask_same, torch.tensor([2.0, -1.0], dtype=torch.float64), 0.2)),
            Case("kl_coef = 0", (lp_pad, ref_pad, mask_pad, score_pad, 0.0))]


def _reference_kl_shaped_rewards(logp, ref_logp, mask, score, kl_coef):
    from ..rlhf_ppo import kl_shaped_rewards
    return kl_shaped_rewards(logp, ref_logp, mask, score, kl_coef)


def _last_index(mask):
    return mask.sum(dim=1) - 1


def _with_score_at(penalty, score, index):
    rewards = penalty.clone()
    rewards[torch.arange(len(score)), index] += score
    return rewards


def check_kl_shaped_rewards(fn) -> bool:
    r"""``fn(logp, ref_logp, mask, score, kl_coef) -> (B, T)`` rewards
    :math:`r_t = -\beta(\log\pi_\theta(y_t) - \log\pi_\text{ref}(y_t))\,m_t + [t = \text{last real token}]\,r_\phi`,
    0 on padding (``rlft_core.rlhf_ppo.kl_shaped_rewards``)."""
    mistakes = [
        Mistake("the KL penalty has the wrong sign: a token the policy likes *more* than the reference "
                "costs reward, r_t = −β·(logp − ref_logp).",
                lambda lp, rf, m, s, b: _with_score_at(b * (lp - rf) * m, s, _last_index(m))),
        Mistake("β (kl_coef) was left out of the penalty: −kl_coef · (logp − ref_logp).",
                lambda lp, rf, m, s, b: _with_score_at(-(lp - rf) * m, s, _last_index(m))),
        Mistake("the reward model scores the whole response once: add the score at the last real "
                "token only, not at every token.",
                lambda lp, rf, m, s, b: -b * (lp - rf) * m + s[:, None] * m),
        Mistake("the score went to the last *column*, which is padding for shorter responses: put it "
                "at the last real token, index mask.sum(dim=1) - 1 of each row.",
                lambda lp, rf, m, s, b: _with_score_at(-b * (lp - rf) * m, s, torch.full_like(s, m.shape[1] - 1, dtype=torch.long))),
        Mistake("padding positions must get reward 0: multiply the penalty by the mask.",
                lambda lp, rf, m, s, b: _with_score_at(-b * (lp - rf), s, _last_index(m))),
        Mistake("the score was added one position after the last real token (an off-by-one): the "
                "last real token of a row is at index mask.sum(dim=1) - 1.",
                lambda lp, rf, m, s, b: _with_score_at(-b * (lp - rf) * m, s, (_last_index(m) + 1).clamp(max=m.shape[1] - 1))),
    ]
    return run_check("check_kl_shaped_rewards", fn, _reference_kl_shaped_rewards, _kl_cases(),
                     mistakes=mistakes,
                     exercise="kl_shaped_rewards")
