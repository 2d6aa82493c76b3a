"""The language-model checkers of notebook 08: correct student-style solutions pass, a stub is
"not attempted", and each well-known wrong variant fails with its own hint."""
import pytest
import torch
import torch.nn.functional as F

from rlft_core.exercises.lm import check_kl_shaped_rewards, check_sequence_logprobs


# ------------------------------------------------------------------ sequence log-probabilities
def logprobs_gather(logits, labels, mask):
    logp = torch.log_softmax(logits, dim=-1)
    return (logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1) * mask).sum(dim=1)


def logprobs_loop(logits, labels, mask):
    """Sound and independent: a loop over rows and positions with F.cross_entropy."""
    out = torch.zeros(logits.shape[0], dtype=logits.dtype)
    for b in range(logits.shape[0]):
        for t in range(logits.shape[1]):
            if mask[b, t]:
                out[b] -= F.cross_entropy(logits[b, t][None], labels[b, t][None])
    return out


def logprobs_where(logits, labels, mask):
    """Sound: masked_fill before the gather, like the reference, written differently."""
    token_logp = torch.log_softmax(logits, -1).gather(2, labels[..., None]).squeeze(2)
    return torch.where(mask, token_logp, torch.zeros_like(token_logp)).sum(-1)


def logprobs_stub(logits, labels, mask):
    raise NotImplementedError()


def no_mask(logits, labels, mask):
    return torch.log_softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1).sum(1)


def probs_not_logprobs(logits, labels, mask):
    return (torch.softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1) * mask).sum(1)


def log_of_softmax(logits, labels, mask):
    return (torch.log(torch.softmax(logits, -1)).gather(-1, labels.unsqueeze(-1)).squeeze(-1) * mask).sum(1)


def averaged(logits, labels, mask):
    token_logp = torch.log_softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (token_logp * mask).sum(1) / mask.sum(1).clamp(min=1)


def mean_over_positions(logits, labels, mask):
    return (torch.log_softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1) * mask).mean(1)


def shifted_again(logits, labels, mask):
    logp = torch.log_softmax(logits[:, :-1], -1)
    return (logp.gather(-1, labels[:, 1:].unsqueeze(-1)).squeeze(-1) * mask[:, 1:]).sum(1)


def softmax_over_time(logits, labels, mask):
    return (torch.log_softmax(logits, 1).gather(-1, labels.unsqueeze(-1)).squeeze(-1) * mask).sum(1)


def gather_over_time(logits, labels, mask):
    return (torch.log_softmax(logits, -1).gather(1, labels.unsqueeze(-1)).squeeze(-1) * mask).sum(1)


@pytest.mark.parametrize("fn", [logprobs_gather, logprobs_loop, logprobs_where])
def test_sound_sequence_logprobs_pass(fn, capsys):
    assert check_sequence_logprobs(fn) is True
    assert "✅" in capsys.readouterr().out


def test_sequence_logprobs_stub_is_not_attempted(capsys):
    assert check_sequence_logprobs(logprobs_stub) is False
    out = capsys.readouterr().out
    assert "not attempted" in out and "(B, T, V)" in out and "log_softmax" not in out


@pytest.mark.parametrize("fn, case, hint", [
    (no_mask, "prompt and right padding masked out", "multiply the per-token log-probs by the mask"),
    (probs_not_logprobs, "no padding", "those are probabilities"),
    (log_of_softmax, "extreme logits", "underflows"),
    (averaged, "no padding", "average log-prob per token"),
    (mean_over_positions, "no padding", "average log-prob per token"),
    (shifted_again, "no padding", "already aligned"),
    (softmax_over_time, "no padding", "normalise over the vocabulary"),
    (gather_over_time, "no padding", "gather along the vocabulary dimension"),
])
def test_sequence_logprobs_mistakes_fail_with_their_hint(fn, case, hint, capsys):
    assert check_sequence_logprobs(fn) is False
    out = capsys.readouterr().out
    assert f"wrong on case '{case}" in out and hint in out


def test_sequence_logprobs_that_raises_is_reported_not_raised(capsys):
    def wrong_gather(logits, labels, mask):
        return torch.log_softmax(logits, -1).gather(-1, labels).sum(1)     # index not unsqueezed
    assert check_sequence_logprobs(wrong_gather) is False
    assert "raised RuntimeError" in capsys.readouterr().out


# ------------------------------------------------------------------ KL-shaped rewards
def kl_rewards_index(logp, ref_logp, mask, score, kl_coef):
    rewards = -kl_coef * (logp - ref_logp) * mask
    last = mask.sum(dim=1) - 1
    rewards[torch.arange(len(last)), last] += score
    return rewards


def kl_rewards_loop(logp, ref_logp, mask, score, kl_coef):
    """Sound and independent: a loop that walks each row to its last real token."""
    rewards = torch.zeros_like(logp)
    for b in range(logp.shape[0]):
        last = -1
        for t in range(logp.shape[1]):
            if mask[b, t]:
                rewards[b, t] = -kl_coef * (logp[b, t] - ref_logp[b, t])
                last = t
        rewards[b, last] += score[b]
    return rewards


def kl_rewards_onehot(logp, ref_logp, mask, score, kl_coef):
    """Sound: the end of each row found as the last True of the mask, added with a one-hot."""
    is_last = mask & ~torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)
    return torch.where(mask, -kl_coef * (logp - ref_logp), torch.zeros_like(logp)) + is_last * score[:, None]


def kl_stub(logp, ref_logp, mask, score, kl_coef):
    raise NotImplementedError()


def _at_last(rewards, mask, score, index=None):
    rewards = rewards.clone()
    index = mask.sum(1) - 1 if index is None else index
    rewards[torch.arange(len(score)), index] += score
    return rewards


def kl_sign_flipped(logp, ref_logp, mask, score, kl_coef):
    return _at_last(kl_coef * (logp - ref_logp) * mask, mask, score)


def kl_coef_left_out(logp, ref_logp, mask, score, kl_coef):
    return _at_last(-(logp - ref_logp) * mask, mask, score)


def score_everywhere(logp, ref_logp, mask, score, kl_coef):
    return (-kl_coef * (logp - ref_logp) + score[:, None]) * mask


def score_in_last_column(logp, ref_logp, mask, score, kl_coef):
    rewards = -kl_coef * (logp - ref_logp) * mask
    rewards[:, -1] += score
    return rewards


def penalty_not_masked(logp, ref_logp, mask, score, kl_coef):
    return _at_last(-kl_coef * (logp - ref_logp), mask, score)


def score_one_past_the_end(logp, ref_logp, mask, score, kl_coef):
    index = mask.sum(1).clamp(max=mask.shape[1] - 1)
    return _at_last(-kl_coef * (logp - ref_logp) * mask, mask, score, index)


@pytest.mark.parametrize("fn", [kl_rewards_index, kl_rewards_loop, kl_rewards_onehot])
def test_sound_kl_shaped_rewards_pass(fn, capsys):
    assert check_kl_shaped_rewards(fn) is True
    assert "✅" in capsys.readouterr().out


def test_kl_shaped_rewards_stub_is_not_attempted(capsys):
    assert check_kl_shaped_rewards(kl_stub) is False
    out = capsys.readouterr().out
    assert "not attempted" in out and "right-padded" in out and "mask.sum(dim=1) - 1" not in out


@pytest.mark.parametrize("fn, case, hint", [
    (kl_sign_flipped, "no padding", "wrong sign"),
    (kl_coef_left_out, "no padding", "left out"),
    (score_everywhere, "no padding", "last real token only"),
    (score_in_last_column, "right padding", "last *column*"),
    (penalty_not_masked, "right padding", "padding positions must get reward 0"),
    (score_one_past_the_end, "right padding", "off-by-one"),
])
def test_kl_shaped_rewards_mistakes_fail_with_their_hint(fn, case, hint, capsys):
    assert check_kl_shaped_rewards(fn) is False
    out = capsys.readouterr().out
    assert f"wrong on case '{case}" in out and hint in out


def test_kl_shaped_rewards_that_mutates_its_input_is_caught(capsys):
    def in_place(logp, ref_logp, mask, score, kl_coef):
        logp.sub_(ref_logp).mul_(-kl_coef).mul_(mask)                      # overwrites logp
        logp[torch.arange(len(score)), mask.sum(1) - 1] += score
        return logp
    assert check_kl_shaped_rewards(in_place) is False
    assert "changed its inputs in place" in capsys.readouterr().out
