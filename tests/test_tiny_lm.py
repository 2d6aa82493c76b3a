"""The tiny GPT: tokenizer, causality, weight tying, KV-cached sampling, reward head, log-probs."""
import math

import pytest
import torch

from rlft_core.tiny_lm import GPTConfig, TinyGPT, Tokenizer, TokenRewardModel, generate, token_logprobs


pytestmark = pytest.mark.usefixtures("one_thread")     # tests/conftest.py


def _model(seed=0, vocab=9, block=12, dropout=0.0):
    torch.manual_seed(seed)
    return TinyGPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, d_model=16, dropout=dropout))


class FixedLogits(torch.nn.Module):
    """A 'model' whose next-token logits are the same everywhere (no KV cache)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.as_tensor(logits, dtype=torch.float32)

    def forward(self, tokens):
        return self.logits.expand(*tokens.shape, -1).clone()


class NoCache(torch.nn.Module):
    """The same GPT, seen without its KV-cache fast path: generate recomputes every position."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config

    def forward(self, tokens):
        return self.model(tokens)


# ------------------------------------------------------------------ tokenizer
def test_tokenizer_round_trips_and_reserves_special_ids():
    tok = Tokenizer(["the", "cat", "sat"])
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2) and len(tok) == 6
    ids = tok.encode("the cat sat")
    assert ids == [3, 4, 5]
    assert tok.decode([1, *ids, 2, 0, 0]) == "<bos> the cat sat <eos>"
    assert tok.decode([4, 2, 5, 0], as_words=True, stop_at_eos=True) == ["cat", "<eos>"]


def test_tokenizer_rejects_unknown_words_and_bad_ids():
    tok = Tokenizer(["a"])
    with pytest.raises(ValueError, match="vocabulary"):
        tok.encode("a b")
    with pytest.raises(ValueError, match="ids"):
        tok.decode([7])
    with pytest.raises(ValueError, match="words"):
        Tokenizer(["a", "a"])


# ------------------------------------------------------------------ the transformer
def test_gpt_is_causal_future_tokens_do_not_change_past_logits():
    model = _model()
    tokens = torch.tensor([[1, 3, 4, 5, 6, 7]])
    changed = tokens.clone()
    changed[0, 4:] = torch.tensor([8, 2])
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_gpt_ties_output_layer_to_token_embedding():
    model = _model()
    assert model.lm_head.weight is model.token_embedding.weight
    hidden = model.hidden_states(torch.tensor([[1, 3]]))
    torch.testing.assert_close(model(torch.tensor([[1, 3]])), hidden @ model.token_embedding.weight.T)


def test_kv_cache_gives_the_same_logits_as_a_full_forward_pass():
    model = _model(seed=3)
    tokens = torch.tensor([[1, 4, 6, 3, 8, 5], [1, 7, 7, 2, 0, 0]])
    with torch.no_grad():
        full = model(tokens)
        logits, past = model.next_token_logits(tokens[:, :2])
        torch.testing.assert_close(logits, full[:, 1])
        for t in range(2, tokens.shape[1]):
            logits, past = model.next_token_logits(tokens[:, t:t + 1], past)
            torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)


def test_gpt_rejects_bad_inputs():
    model = _model(block=4)
    with pytest.raises(ValueError, match="tokens"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="d_model"):
        GPTConfig(vocab_size=5, block_size=4, n_head=3, d_model=16)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(vocab_size=5, block_size=4, dropout=1.0)


# ------------------------------------------------------------------ sampling
def test_generate_with_kv_cache_matches_recomputing_everything():
    model = _model(seed=1)
    prompts = torch.tensor([[1, 3], [1, 4], [1, 5]])
    runs = [generate(m, prompts, 8, generator=torch.Generator().manual_seed(0)) for m in (model, NoCache(model))]
    torch.testing.assert_close(runs[0][0], runs[1][0])
    torch.testing.assert_close(runs[0][1], runs[1][1])


def test_generate_stops_at_eos_pads_after_it_and_masks_padding():
    # eos (id 2) has most of the mass: rows end early and at different steps
    model = FixedLogits([0.0, -9.0, 1.5, 0.5, 0.5])
    seq, mask = generate(model, torch.ones(64, 1, dtype=torch.long), 10, generator=torch.Generator().manual_seed(0))
    assert seq.shape[1] <= 11 and mask.shape == seq.shape
    for row, row_mask in zip(seq, mask):
        eos = (row == 2).nonzero()
        assert len(eos) >= 1 or row_mask.all()                       # ended, or cut at the limit
        if len(eos):
            end = int(eos[0])
            assert row_mask[:end + 1].all() and not row_mask[end + 1:].any()
            assert (row[end + 1:] == 0).all()                        # padding after <eos>
    assert len({int(m.sum()) for m in mask}) > 1                        # rows really end at different steps


def test_generate_is_seeded_and_greedy_equals_top_1():
    model = _model(seed=2)
    prompts = torch.tensor([[1, 3], [1, 6]])
    a = generate(model, prompts, 6, generator=torch.Generator().manual_seed(5))
    b = generate(model, prompts, 6, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0])
    greedy = generate(model, prompts, 6, temperature=0.0)
    top1 = generate(model, prompts, 6, top_k=1, generator=torch.Generator().manual_seed(9))
    assert torch.equal(greedy[0], top1[0])


def test_generate_samples_softmax_of_logits_over_temperature():
    logits = torch.tensor([0.0, -30.0, -30.0, 1.0, 0.0, -1.0])        # pad and eos never drawn
    temperature = 2.0
    model = FixedLogits(logits)
    seq, _ = generate(model, torch.ones(20000, 1, dtype=torch.long), 1, temperature=temperature,
                      generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(seq[:, 1], minlength=6).float() / 20000
    expected = torch.softmax(logits / temperature, dim=0)
    assert torch.allclose(freq, expected, atol=0.015)


def test_generate_top_k_only_draws_the_k_most_likely_tokens():
    logits = torch.tensor([-30.0, -30.0, -30.0, 3.0, 2.0, 1.0, 0.5, 0.0])
    seq, _ = generate(FixedLogits(logits), torch.ones(3000, 1, dtype=torch.long), 1, top_k=2,
                      generator=torch.Generator().manual_seed(0))
    drawn = set(seq[:, 1].tolist())
    assert drawn == {3, 4}
    freq_3 = (seq[:, 1] == 3).float().mean().item()
    assert freq_3 == pytest.approx(math.e / (math.e + 1), abs=0.03)   # renormalised over the top 2


@pytest.mark.parametrize("kwargs, match", [({"temperature": -1.0}, "temperature"), ({"top_k": 0}, "top_k"),
                                           ({"max_new_tokens": 0}, "max_new_tokens"),
                                           ({"max_new_tokens": 20}, "block_size")])
def test_generate_rejects_bad_arguments(kwargs, match):
    args = {"max_new_tokens": 3}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        generate(_model(), torch.tensor([[1, 3]]), **args)
    with pytest.raises(ValueError, match="prompt_tokens"):
        generate(_model(), torch.tensor([[1.0, 3.0]]), 3)


# ------------------------------------------------------------------ reward head and log-probs
def test_reward_model_reads_the_last_real_token_and_ignores_padding():
    torch.manual_seed(0)
    rm = TokenRewardModel(GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=2, d_model=16))
    tokens = torch.tensor([[1, 3, 4, 2, 0, 0], [1, 5, 6, 7, 8, 2]])
    mask = tokens != 0
    mask[1] = True
    scores = rm(tokens, mask)
    per_position = rm.token_scores(tokens)
    torch.testing.assert_close(scores, torch.stack([per_position[0, 3], per_position[1, 5]]))
    other_padding = tokens.clone()
    other_padding[0, 4:] = torch.tensor([7, 7])                      # garbage after the end changes nothing
    torch.testing.assert_close(rm(other_padding, mask)[0], scores[0])


def test_reward_model_from_lm_copies_the_backbone_without_sharing_it():
    lm = _model()
    rm = TokenRewardModel.from_lm(lm)
    tokens = torch.tensor([[1, 3, 4]])
    torch.testing.assert_close(rm.backbone.hidden_states(tokens), lm.hidden_states(tokens))
    with torch.no_grad():
        rm.backbone.token_embedding.weight.add_(1.0)
    assert not torch.allclose(rm.backbone.hidden_states(tokens), lm.hidden_states(tokens))


def test_reward_model_rejects_bad_masks():
    rm = TokenRewardModel(GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=2, d_model=16))
    tokens = torch.tensor([[1, 3, 4]])
    with pytest.raises(ValueError, match="mask"):
        rm(tokens, torch.ones(1, 3))
    with pytest.raises(ValueError, match="mask"):
        rm(tokens, torch.zeros(1, 3, dtype=torch.bool))


def test_token_logprobs_match_log_softmax_of_shifted_logits():
    model = _model(seed=4)
    tokens = torch.tensor([[1, 3, 4, 5, 2], [1, 6, 7, 2, 0]])
    out = token_logprobs(model, tokens, start=2)
    with torch.no_grad():
        logits = model(tokens)
    for b in range(2):
        for j, t in enumerate(range(2, 5)):
            expected = torch.log_softmax(logits[b, t - 1], dim=-1)[tokens[b, t]]
            assert out[b, j].item() == pytest.approx(expected.item(), abs=1e-5)
    with pytest.raises(ValueError, match="start"):
        token_logprobs(model, tokens, start=0)
