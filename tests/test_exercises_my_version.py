"""Train with my version: the student's function really drives the run, a right one reproduces the
reference run exactly, a wrong one changes it, and a stub or a crash is reported, not raised."""
import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rlft_core.dpo import DPOConfig, train_dpo
from rlft_core.exercises.my_version import (plot_runs, table_preferences, train_dpo_with_my_loss,
                                            train_ppo_with_my_clipped_loss, train_ppo_with_my_gae)
from rlft_core.ppo import PPOConfig

matplotlib.use("Agg")
TINY = PPOConfig(total_timesteps=2048)          # 4 updates of 8 x 64 steps
pytestmark = pytest.mark.usefixtures("one_thread")


def loop_gae(rewards, values, dones, last_value, gamma, lam):
    """A student's GAE: a backward loop, written independently of rlft_core.returns."""
    adv = np.zeros_like(rewards)
    running = np.zeros_like(last_value)
    for t in reversed(range(len(rewards))):
        next_value = last_value if t == len(rewards) - 1 else values[t + 1]
        keep = 1.0 - dones[t]
        running = rewards[t] + gamma * keep * next_value - values[t] + gamma * lam * keep * running
        adv[t] = running
    return adv, adv + values


def student_clip(logp_new, logp_old, advantages, clip_eps, sign=1.0):
    ratio = torch.exp(logp_new - logp_old)
    return -sign * torch.minimum(ratio * advantages, ratio.clamp(1 - clip_eps, 1 + clip_eps) * advantages).mean()


def returns_of(history):
    return [r["mean_return"] for r in history]


def not_attempted(*args):
    raise NotImplementedError()


def test_a_right_student_gae_reproduces_the_reference_run():
    runs = train_ppo_with_my_gae(loop_gae, config=TINY)
    assert returns_of(runs["yours"]) == pytest.approx(returns_of(runs["reference"]), nan_ok=True)
    assert [r["entropy"] for r in runs["yours"]] == pytest.approx([r["entropy"] for r in runs["reference"]], rel=1e-4)


def test_a_wrong_student_gae_changes_the_run():
    """Zero advantages leave nothing to learn from: the policy's entropy stays at its start."""
    zero = lambda r, v, d, lv, g, l: (np.zeros_like(r), np.zeros_like(r))  # noqa: E731
    runs = train_ppo_with_my_gae(zero, config=TINY)
    entropies = [r["entropy"] for r in runs["yours"]]
    assert max(entropies) - min(entropies) < 1e-6
    assert [r["entropy"] for r in runs["reference"]] != pytest.approx(entropies, abs=1e-4)


@pytest.mark.parametrize("bad,message", [(not_attempted, "not attempted yet"),
                                         (lambda *a: (np.zeros(3), np.zeros(3)), "returned shapes"),
                                         (lambda *a: None, "must return (advantages, returns)")])
def test_a_stub_or_broken_gae_is_reported_and_the_reference_still_runs(bad, message, capsys):
    runs = train_ppo_with_my_gae(bad, config=TINY)
    assert runs["yours"] is None and len(runs["reference"]) == 4
    assert message in capsys.readouterr().out


def test_a_right_student_clipped_loss_reproduces_the_reference_and_a_flipped_one_differs():
    reference = train_ppo_with_my_clipped_loss(student_clip, config=TINY)
    assert returns_of(reference["yours"]) == pytest.approx(returns_of(reference["reference"]), nan_ok=True)
    flipped = train_ppo_with_my_clipped_loss(lambda *a: student_clip(*a, sign=-1.0), config=TINY,
                                             reference=reference["reference"])
    assert flipped["reference"] is reference["reference"]
    assert [r["entropy"] for r in flipped["yours"]] != pytest.approx([r["entropy"] for r in reference["yours"]], abs=1e-3)


def test_a_clipped_loss_that_is_not_a_scalar_is_reported(capsys):
    per_sample = lambda n, o, a, e: -(torch.exp(n - o) * a)  # noqa: E731
    runs = train_ppo_with_my_clipped_loss(per_sample, config=TINY, reference=[])
    assert runs["yours"] is None and "one number" in capsys.readouterr().out


def dpo_right(pc, pr, rc, rr, beta):
    margin = (pc - rc) - (pr - rr)
    return torch.log1p(torch.exp(-beta * margin))            # −log σ(βh), written another way


def test_train_dpo_with_a_student_loss_equal_to_the_reference_gives_the_same_run():
    true_reward, reference, data = table_preferences()
    histories = []
    for loss_fn in (None, dpo_right):
        policy = type(reference)(reference.logits)
        histories.append(train_dpo(policy, reference, data, DPOConfig(beta=0.1, learning_rate=0.05, epochs=20, batch_size=len(data)),
                                   loss_fn=loss_fn))
    assert [r["loss"] for r in histories[1]] == pytest.approx([r["loss"] for r in histories[0]], rel=1e-5)
    with pytest.raises(ValueError, match="loss_fn must be callable"):
        train_dpo(reference, reference, data, loss_fn="dpo")


def test_dpo_with_my_loss_learns_with_a_right_loss_and_unlearns_with_a_flipped_one():
    right = train_dpo_with_my_loss(dpo_right, steps=60)
    for history in right.values():
        assert history[-1]["true_reward"] > history[0]["true_reward"] + 0.3
    flipped = train_dpo_with_my_loss(lambda pc, pr, rc, rr, beta: dpo_right(pr, pc, rr, rc, beta), steps=60)
    assert flipped["yours"][-1]["true_reward"] < flipped["yours"][0]["true_reward"] - 0.3


def test_dpo_with_my_loss_reports_a_stub_and_a_loss_that_explodes(capsys):
    assert train_dpo_with_my_loss(not_attempted, steps=3)["yours"] is None
    assert "not attempted yet" in capsys.readouterr().out
    exploding = lambda pc, pr, rc, rr, beta: -torch.log(torch.sigmoid(-1e4 * ((pc - rc) - (pr - rr))) * 0)  # noqa: E731
    assert train_dpo_with_my_loss(exploding, steps=3)["yours"] is None
    assert "stopped" in capsys.readouterr().out


def test_plot_runs_draws_one_line_per_run_that_ran(monkeypatch):
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda: None)
    runs = {"reference": [{"step": 1, "a": 0.0, "b": 1.0}, {"step": 2, "a": 1.0, "b": 2.0}], "yours": None}
    fig = plot_runs(runs, "step", {"a": "A", "b": "B"})
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]
    assert list(fig.axes[1].lines[0].get_ydata()) == [1.0, 2.0]
