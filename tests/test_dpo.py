"""DPO / IPO: closed forms, finite differences, the direction of a step, masked sequence log-probs."""
import copy
import math

import pytest
import torch

from rlft_core.dpo import DPOConfig, dpo_loss, pair_logprobs, sequence_logprobs, train_dpo
from rlft_core.preferences import PairDataset
from rlft_core.tiny_lm import GPTConfig, TinyGPT


pytestmark = pytest.mark.usefixtures("one_thread")     # tests/conftest.py


def _logps(n=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [-5 * torch.rand(n, generator=g, dtype=dtype) for _ in range(4)]


# ------------------------------------------------------------------ sequence_logprobs
def test_sequence_logprobs_with_padding_matches_naive_loop():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 6, 7, generator=g, dtype=torch.float64)
    labels = torch.randint(7, (3, 6), generator=g)
    mask = torch.tensor([[0, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [0, 0, 1, 0, 0, 0]], dtype=torch.bool)
    labels[~mask] = -100                                  # padding labels must be ignored, whatever they are
    expected_sum, expected_mean = [], []
    for b in range(3):
        total, count = 0.0, 0
        for t in range(6):
            if mask[b, t]:
                row = logits[b, t]
                total += (row[labels[b, t]] - math.log(sum(math.exp(v) for v in row.tolist()))).item()
                count += 1
        expected_sum.append(total)
        expected_mean.append(total / count)
    torch.testing.assert_close(sequence_logprobs(logits, labels, mask), torch.tensor(expected_sum, dtype=torch.float64))
    torch.testing.assert_close(sequence_logprobs(logits, labels, mask, average=True),
                               torch.tensor(expected_mean, dtype=torch.float64))


def test_sequence_logprobs_of_a_row_without_tokens_is_zero():
    logits = torch.randn(2, 3, 4)
    labels = torch.zeros(2, 3, dtype=torch.long)
    mask = torch.tensor([[False] * 3, [True] * 3])
    out = sequence_logprobs(logits, labels, mask, average=True)
    assert out[0].item() == 0.0 and out[1].item() < 0


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": torch.zeros(2, 3)}, "labels"),
    ({"mask": torch.ones(2, 3)}, "mask"),
    ({"mask": torch.ones(2, 4, dtype=torch.bool)}, "mask"),
    ({"logits": torch.randn(2, 4, 5)}, "logits"),
    ({"labels": torch.full((2, 3), 9)}, "labels"),
])
def test_sequence_logprobs_rejects_bad_inputs(kwargs, match):
    args = {"logits": torch.randn(2, 3, 5), "labels": torch.zeros(2, 3, dtype=torch.long),
            "mask": torch.ones(2, 3, dtype=torch.bool)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sequence_logprobs(**args)


# ------------------------------------------------------------------ dpo_loss: closed forms
def test_dpo_loss_of_a_tie_is_log_2():
    zeros = torch.zeros(4)
    logps = torch.tensor([-3.0, -1.0, -7.0, -2.0])
    losses, chosen_r, rejected_r = dpo_loss(logps, logps, zeros, zeros, beta=0.3)
    torch.testing.assert_close(losses, torch.full((4,), math.log(2.0)))
    torch.testing.assert_close(chosen_r, 0.3 * logps)
    torch.testing.assert_close(chosen_r, rejected_r)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.3])
def test_dpo_sigmoid_loss_matches_closed_form(label_smoothing):
    pc, pr, rc, rr = _logps()
    beta = 0.7
    losses, chosen_r, rejected_r = dpo_loss(pc, pr, rc, rr, beta=beta, label_smoothing=label_smoothing)
    for i in range(len(pc)):
        h = (pc[i] - rc[i]) - (pr[i] - rr[i])
        x = beta * h.item()
        expected = ((1 - label_smoothing) * math.log(1 + math.exp(-x))
                    + label_smoothing * math.log(1 + math.exp(x)))
        assert losses[i].item() == pytest.approx(expected, rel=1e-12)
        assert chosen_r[i].item() == pytest.approx(beta * (pc[i] - rc[i]).item())
        assert rejected_r[i].item() == pytest.approx(beta * (pr[i] - rr[i]).item())


def test_ipo_loss_matches_closed_form():
    pc, pr, rc, rr = _logps(seed=3)
    beta = 0.25
    losses, _, _ = dpo_loss(pc, pr, rc, rr, beta=beta, loss_type="ipo")
    h = (pc - rc) - (pr - rr)
    for i in range(len(pc)):
        assert losses[i].item() == pytest.approx((h[i].item() - 1 / (2 * beta)) ** 2, rel=1e-12)


def test_ipo_loss_is_zero_at_its_target_margin():
    beta = 0.5                                    # target h = 1 / (2 beta) = 1
    losses, _, _ = dpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([0.0]), torch.tensor([0.0]),
                            beta=beta, loss_type="ipo")
    assert losses.item() == 0.0


def test_dpo_loss_is_stable_at_extreme_inputs():
    # h = -240 at beta = 0.5: -logsigmoid(-120) = 120 (+ e^-120, below float precision)
    pc, pr, zero = torch.tensor([-240.0]), torch.tensor([0.0]), torch.tensor([0.0])
    losses, _, _ = dpo_loss(pc, pr, zero, zero, beta=0.5)
    assert losses.item() == 120.0
    losses, _, _ = dpo_loss(pr, pc, zero, zero, beta=0.5)          # h = +240: loss ~ e^-120
    assert 0.0 <= losses.item() < 1e-30
    big = torch.tensor([-1e4, 1e4])
    for loss_type in ("sigmoid", "ipo"):
        losses, _, _ = dpo_loss(big, -big, torch.zeros(2), torch.zeros(2), beta=10.0, loss_type=loss_type)
        assert torch.isfinite(losses).all()
        pc_grad = big.clone().requires_grad_(True)
        dpo_loss(pc_grad, -big, torch.zeros(2), torch.zeros(2), beta=10.0, loss_type=loss_type)[0].sum().backward()
        assert torch.isfinite(pc_grad.grad).all()


def test_dpo_rewards_are_detached():
    pc, pr, rc, rr = (x.clone().requires_grad_(True) for x in _logps())
    _, chosen_r, rejected_r = dpo_loss(pc, pr, rc, rr)
    assert not chosen_r.requires_grad and not rejected_r.requires_grad


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("loss_type, label_smoothing", [("sigmoid", 0.0), ("sigmoid", 0.2), ("ipo", 0.0)])
def test_dpo_loss_gradients_match_finite_differences(loss_type, label_smoothing):
    inputs = tuple(x.requires_grad_(True) for x in _logps(n=4, seed=7))
    assert torch.autograd.gradcheck(
        lambda *a: dpo_loss(*a, beta=0.4, loss_type=loss_type, label_smoothing=label_smoothing)[0], inputs)


def test_dpo_gradient_is_beta_sigma_of_minus_beta_h():
    # dL/d log pi_c = -beta * sigma(-beta h): the weight that makes DPO focus on misordered pairs
    pc, pr, rc, rr = _logps(seed=11)
    pc.requires_grad_(True)
    beta = 0.5
    dpo_loss(pc, pr, rc, rr, beta=beta)[0].sum().backward()
    h = ((pc - rc) - (pr - rr)).detach()
    torch.testing.assert_close(pc.grad, -beta * torch.sigmoid(-beta * h))


def _tiny_pairs(seed=0, n=16):
    g = torch.Generator().manual_seed(seed)
    prompts = [torch.tensor([1, 3 + int(torch.randint(3, (1,), generator=g))]) for _ in range(n)]
    chosen = [torch.randint(3, 12, (int(torch.randint(2, 6, (1,), generator=g)),), generator=g) for _ in range(n)]
    rejected = [torch.randint(3, 12, (int(torch.randint(2, 6, (1,), generator=g)),), generator=g) for _ in range(n)]
    return PairDataset.from_pairs(chosen, rejected, prompts=prompts, pad_value=0)


def _tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return TinyGPT(GPTConfig(vocab_size=12, block_size=10, n_layer=1, n_head=2, d_model=16))


def test_pair_logprobs_scores_only_the_response_tokens():
    data = _tiny_pairs(n=4)
    model = _tiny_gpt()
    logp_chosen, logp_rejected = pair_logprobs(model, data)
    for i in range(len(data)):
        for side, got in ((data.chosen, logp_chosen), (data.rejected, logp_rejected)):
            mask = data.chosen_mask if side is data.chosen else data.rejected_mask
            prompt = data.prompt[i][data.prompt_mask[i]]
            response = side[i][mask[i]]
            tokens = torch.cat([prompt, response])[None]
            logprobs = torch.log_softmax(model(tokens)[0], dim=-1)
            expected = sum(logprobs[len(prompt) - 1 + j, response[j]] for j in range(len(response)))
            assert got[i].item() == pytest.approx(expected.item(), abs=1e-5)


def test_a_dpo_step_raises_the_chosen_minus_rejected_log_ratio():
    data = _tiny_pairs(seed=2)
    reference = _tiny_gpt()
    policy = copy.deepcopy(reference)

    def margin():
        with torch.no_grad():
            pc, pr = pair_logprobs(policy, data)
            rc, rr = pair_logprobs(reference, data)
        return ((pc - rc) - (pr - rr)).mean().item()

    assert margin() == pytest.approx(0.0, abs=1e-6)
    train_dpo(policy, reference, data, DPOConfig(epochs=1, batch_size=len(data), learning_rate=1e-3))
    assert margin() > 0.0


def test_train_dpo_logs_metrics_fits_the_pairs_and_stops_on_callback():
    data = _tiny_pairs(seed=4, n=32)
    reference = _tiny_gpt(seed=1)
    policy = copy.deepcopy(reference)
    history = train_dpo(policy, reference, data, DPOConfig(beta=0.5, epochs=15, batch_size=16, learning_rate=3e-3), seed=0)
    assert set(history[0]) == {"step", "epoch", "loss", "chosen_reward", "rejected_reward", "margin", "accuracy"}
    assert len(history) == 15 * 2
    assert history[0]["loss"] == pytest.approx(math.log(2), abs=1e-6)      # policy = reference at the start
    last_epoch = history[-2:]
    assert min(r["accuracy"] for r in last_epoch) >= 0.9
    assert max(r["loss"] for r in last_epoch) < 0.5 * math.log(2)
    for record in history:
        assert record["margin"] == pytest.approx(record["chosen_reward"] - record["rejected_reward"], abs=1e-5)
    stopped = train_dpo(copy.deepcopy(reference), reference, data, DPOConfig(epochs=3, batch_size=16),
                        callback=lambda record: record["step"] == 2)
    assert len(stopped) == 2


def test_train_dpo_is_seeded():
    data = _tiny_pairs(seed=5)
    reference = _tiny_gpt()
    runs = [train_dpo(copy.deepcopy(reference), reference, data, DPOConfig(epochs=2, batch_size=4), seed=3)
            for _ in range(2)]
    assert runs[0] == runs[1]


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("kwargs, match", [
    ({"beta": 0.0}, "beta"),
    ({"loss_type": "hinge"}, "loss_type"),
    ({"label_smoothing": 0.5}, "label_smoothing"),
    ({"loss_type": "ipo", "label_smoothing": 0.1}, "label_smoothing"),
])
def test_dpo_loss_rejects_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dpo_loss(*_logps(), **kwargs)


def test_dpo_loss_rejects_bad_logps():
    pc, pr, rc, rr = _logps()
    with pytest.raises(ValueError, match="ref_rejected_logps"):
        dpo_loss(pc, pr, rc, rr[:3])
    with pytest.raises(ValueError, match="policy_chosen_logps"):
        dpo_loss(torch.full_like(pc, float("nan")), pr, rc, rr)
    with pytest.raises(ValueError, match="policy_rejected_logps"):
        dpo_loss(pc, pr.long(), rc, rr)


@pytest.mark.parametrize("kwargs, match", [({"beta": -1.0}, "beta"), ({"epochs": 0}, "epochs"),
                                           ({"loss_type": "kto"}, "loss_type"), ({"learning_rate": 0.0}, "learning_rate")])
def test_dpo_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DPOConfig(**kwargs)


def test_train_dpo_and_pair_logprobs_reject_data_that_is_not_token_pairs():
    clips = PairDataset(torch.randn(4, 3, 2), torch.randn(4, 3, 2))
    with pytest.raises(ValueError, match="data"):
        train_dpo(_tiny_gpt(), _tiny_gpt(), clips)
    with pytest.raises(ValueError, match="data"):
        pair_logprobs(_tiny_gpt(), clips)
    with pytest.raises(ValueError, match="data"):
        pair_logprobs(_tiny_gpt(), {"chosen": torch.zeros(2, 3, dtype=torch.long)})
