"""Tests for rlft_core.reinforce: the loss, the gradient-variance measurement, and CartPole training."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from rlft_core.reinforce import (REINFORCEConfig, ReinforcePolicy, policy_gradient_variance,
                                 reinforce_loss, train_reinforce)
from rlft_core.utils import seed_everything


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- the loss
def test_reinforce_loss_matches_hand_computation():
    logp = torch.tensor([-0.5, -1.0, -2.0])
    returns = torch.tensor([3.0, 2.0, 1.0])
    baseline = torch.tensor([1.0, 1.0, 1.0])
    # -(1/3) * (-0.5*2 + -1.0*1 + -2.0*0) = 2/3 ; without baseline -(1/3)(-1.5 - 2 - 2) = 5.5/3
    assert reinforce_loss(logp, returns, baseline).item() == pytest.approx(2 / 3)
    assert reinforce_loss(logp, returns).item() == pytest.approx(5.5 / 3)


def test_reinforce_loss_gradient_matches_finite_differences_through_a_softmax_policy():
    torch.manual_seed(0)
    logits = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    actions = torch.tensor([0, 2, 1, 1, 0])
    returns = torch.randn(5, dtype=torch.float64)
    baseline = torch.randn(5, dtype=torch.float64)

    def loss_of_logits(logits):
        logp = F.log_softmax(logits, dim=-1).gather(1, actions[:, None]).squeeze(1)
        return reinforce_loss(logp, returns, baseline)

    assert torch.autograd.gradcheck(loss_of_logits, (logits,))
    # and the closed form dL/dlogp_t = -(G_t - b_t) / T
    logp = torch.randn(5, dtype=torch.float64, requires_grad=True)
    reinforce_loss(logp, returns, baseline).backward()
    torch.testing.assert_close(logp.grad, -(returns - baseline) / 5)


def test_reinforce_loss_sends_no_gradient_into_the_baseline_or_returns():
    torch.manual_seed(0)
    value_net = nn.Linear(4, 1)
    obs = torch.randn(6, 4)
    logp = torch.randn(6, requires_grad=True)
    returns = torch.randn(6, requires_grad=True)
    reinforce_loss(logp, returns, value_net(obs).squeeze(-1)).backward()
    assert value_net.weight.grad is None and value_net.bias.grad is None
    assert returns.grad is None
    assert logp.grad is not None and logp.grad.abs().sum() > 0


def test_reinforce_loss_rejects_bad_inputs():
    logp, returns = torch.zeros(4), torch.ones(4)
    with pytest.raises(ValueError, match="baseline"):
        reinforce_loss(logp, returns, torch.zeros(3))
    with pytest.raises(ValueError, match="returns"):
        reinforce_loss(logp, torch.ones(4, 1))
    with pytest.raises(ValueError, match="returns"):
        reinforce_loss(logp, torch.tensor([1.0, float("nan"), 0.0, 0.0]))
    with pytest.raises(ValueError, match="logp"):
        reinforce_loss(np.zeros(4), returns)
    with pytest.raises(ValueError, match="logp"):
        reinforce_loss(torch.zeros(0), torch.zeros(0))


# ----------------------------------------------------------------------------- gradient variance
class _Bandit(gym.Env):
    """One step: action 0 pays 2, action 1 pays 1. The observation is always 0."""
    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(1,))
    action_space = gym.spaces.Discrete(2)
    payoff = (2.0, 1.0)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), self.payoff[action], True, False, {}


def _bandit_policy():
    policy = nn.Linear(1, 2)          # obs is 0, so the logits are the bias
    with torch.no_grad():
        policy.weight.zero_()
        policy.bias.copy_(torch.tensor([0.5, -0.5]))
    return policy


@pytest.mark.parametrize("b", [0.0, 1.5])
def test_gradient_mean_and_variance_match_the_closed_form_on_a_bandit(b):
    # g = grad log pi(a) (r_a - b) = (e_a - pi)(r_a - b) w.r.t. the logits (the bias).
    # E g = p(1-p)(r0 - r1) * (1, -1) whatever b is; E|g|^2 = p 2(1-p)^2 (r0-b)^2 + (1-p) 2p^2 (r1-b)^2.
    p = 1 / (1 + math.exp(-1.0))
    r0, r1 = _Bandit.payoff
    mean_grad = p * (1 - p) * (r0 - r1)
    second_moment = p * 2 * (1 - p) ** 2 * (r0 - b) ** 2 + (1 - p) * 2 * p ** 2 * (r1 - b) ** 2
    variance = second_moment - 2 * mean_grad ** 2
    out = policy_gradient_variance(_bandit_policy(), _Bandit, gamma=1.0, episodes=4000, seed=0,
                                   baseline_fn=lambda obs: torch.full((len(obs),), b))
    # grad_mean is [weight (2,), bias (2,)]; the weight gradient is 0 because obs = 0
    torch.testing.assert_close(out["grad_mean"][:2], torch.zeros(2))
    torch.testing.assert_close(out["grad_mean"][2:], torch.tensor([mean_grad, -mean_grad]), atol=0.03, rtol=0)
    assert out["grad_variance"] == pytest.approx(variance, rel=0.08)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constant_baseline_lowers_gradient_variance_of_a_fixed_cartpole_policy(seed):
    seed_everything(seed)
    policy = ReinforcePolicy(4, 2, hidden=64, baseline=False)
    # the baseline is estimated on other episodes: about half the episode return is the mean G_t
    mean_return = policy_gradient_variance(policy, episodes=50, seed=100 + seed)["mean_return"]
    without = policy_gradient_variance(policy, episodes=150, seed=seed)
    with_b = policy_gradient_variance(policy, episodes=150, seed=seed,
                                      baseline_fn=lambda obs: torch.full((len(obs),), mean_return / 2))
    assert with_b["mean_return"] == without["mean_return"]        # the same (paired) episodes
    assert with_b["grad_variance"] < 0.7 * without["grad_variance"]  # measured ratio ~0.4


def test_learned_value_baseline_lowers_gradient_variance_after_training():
    policy, _ = train_reinforce(config=REINFORCEConfig(total_steps=10_000), baseline=True, seed=0)
    without = policy_gradient_variance(policy, episodes=20, seed=7)
    with_b = policy_gradient_variance(policy, episodes=20, seed=7, baseline_fn=policy.value)
    assert with_b["grad_variance"] < 0.7 * without["grad_variance"]  # measured ratio 0.15-0.35


def test_policy_gradient_variance_rejects_bad_inputs():
    policy = _bandit_policy()
    with pytest.raises(ValueError, match="episodes"):
        policy_gradient_variance(policy, _Bandit, episodes=1)
    with pytest.raises(ValueError, match="baseline_fn"):
        policy_gradient_variance(policy, _Bandit, baseline_fn=3.0)
    with pytest.raises(ValueError, match="policy"):
        policy_gradient_variance(lambda obs: obs, _Bandit)
    with pytest.raises(ValueError, match="env"):
        policy_gradient_variance(policy, "Pendulum-v1")          # continuous actions


# ----------------------------------------------------------------------------- training
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reinforce_with_baseline_learns_cartpole_in_25k_steps(seed):
    # Measured on seeds 0-9: last-20 mean at 25k steps 321-489 (random policy: ~22).
    policy, history = train_reinforce(config=REINFORCEConfig(total_steps=25_000), baseline=True,
                                      seed=seed)
    assert history[0]["mean_return"] < 60
    assert history[-1]["mean_return"] >= 200
    assert history[-1]["global_step"] >= 25_000
    assert set(history[-1]) >= {"update", "global_step", "episode_returns", "mean_return", "loss",
                                "grad_variance", "sps"}
    assert all(math.isfinite(r["grad_variance"]) and r["grad_variance"] > 0 for r in history)


def test_training_is_deterministic_for_a_seed():
    config = REINFORCEConfig(total_steps=1500)
    runs = [train_reinforce(config=config, seed=s) for s in (5, 5, 6)]
    strip = lambda h: [{k: v for k, v in r.items() if k != "sps"} for r in h]   # noqa: E731
    assert strip(runs[0][1]) == strip(runs[1][1])
    for p, q in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert strip(runs[0][1]) != strip(runs[2][1])


def test_loss_fn_plugs_in_and_callback_stops_training():
    calls = []

    def spy(logp, returns, baseline=None):
        calls.append(baseline is None)
        return reinforce_loss(logp, returns, baseline)

    config = REINFORCEConfig(total_steps=100_000)
    stop_at_3 = lambda record: record["update"] == 3   # noqa: E731
    ref, hist_ref = train_reinforce(config=config, seed=1, callback=stop_at_3)
    mine, hist = train_reinforce(config=config, seed=1, callback=stop_at_3, loss_fn=spy)
    assert len(hist) == 3 and calls == [False, False, False]
    for p, q in zip(ref.parameters(), mine.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    _, hist_nb = train_reinforce(config=config, seed=1, callback=stop_at_3, baseline=False, loss_fn=spy)
    assert calls[3:] == [True, True, True] and math.isnan(hist_nb[-1]["value_loss"])


def test_train_reinforce_rejects_bad_inputs():
    with pytest.raises(ValueError, match="gamma"):
        train_reinforce(config=REINFORCEConfig(gamma=1.1))
    with pytest.raises(ValueError, match="policy_lr"):
        train_reinforce(config=REINFORCEConfig(policy_lr=0.0))
    with pytest.raises(ValueError, match="episodes_per_update"):
        train_reinforce(config=REINFORCEConfig(episodes_per_update=0))
    with pytest.raises(ValueError, match="config"):
        train_reinforce(config={"total_steps": 10})
    with pytest.raises(ValueError, match="loss_fn"):
        train_reinforce(config=REINFORCEConfig(total_steps=10), loss_fn="reinforce")
    with pytest.raises(ValueError, match="env"):
        train_reinforce("Pendulum-v1", config=REINFORCEConfig(total_steps=10))
    with pytest.raises(ValueError, match="seed"):
        train_reinforce(config=REINFORCEConfig(total_steps=10), seed=-1)
