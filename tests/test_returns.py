"""GAE and discounted returns against naive per-step loops written independently here."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rlft_core.returns import discounted_returns, gae


def naive_gae_one_env(rewards, values, dones, last_value, gamma, lam):
    """A_t = sum_k (γλ)^k δ_{t+k}, summed forward until the episode ends (independent of the
    backward recursion in the package)."""
    T = len(rewards)
    next_values = np.append(values[1:], last_value)
    deltas = [rewards[t] + gamma * (1 - dones[t]) * next_values[t] - values[t] for t in range(T)]
    adv = np.zeros(T)
    for t in range(T):
        total, factor = 0.0, 1.0
        for k in range(t, T):
            total += factor * deltas[k]
            if dones[k]:
                break
            factor *= gamma * lam
        adv[t] = total
    return adv


def naive_returns_one_env(rewards, dones, gamma, last_value):
    T = len(rewards)
    out = np.zeros(T)
    for t in range(T):
        total, factor, ended = 0.0, 1.0, False
        for k in range(t, T):
            total += factor * rewards[k]
            factor *= gamma
            if dones[k]:
                ended = True
                break
        if not ended:
            total += factor * last_value
        out[t] = total
    return out


def episode_data(T=12, N=3, seed=0):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=(T, N))
    values = rng.normal(size=(T, N))
    dones = np.zeros((T, N))
    dones[3, 0] = dones[4, 0] = 1          # two episode ends in a row
    dones[T - 1, 1] = 1                    # an end at the last step
    dones[rng.integers(0, T, size=2), 2] = 1
    last_value = rng.normal(size=N)
    return rewards, values, dones, last_value


@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (0.9, 0.5), (1.0, 1.0), (0.0, 0.3)])
def test_gae_matches_naive_loop_with_episode_ends(gamma, lam):
    rewards, values, dones, last_value = episode_data()
    adv, ret = gae(rewards, values, dones, last_value, gamma, lam)
    for n in range(rewards.shape[1]):
        expected = naive_gae_one_env(rewards[:, n], values[:, n], dones[:, n], last_value[n], gamma, lam)
        np.testing.assert_allclose(adv[:, n], expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ret, adv + values)


def test_gae_lambda_zero_equals_td_errors():
    rewards, values, dones, last_value = episode_data(seed=1)
    gamma = 0.97
    adv, _ = gae(rewards, values, dones, last_value, gamma, 0.0)
    next_values = np.vstack([values[1:], last_value[None]])
    td = rewards + gamma * (1 - dones) * next_values - values
    np.testing.assert_allclose(adv, td, atol=1e-12)


def test_gae_lambda_one_equals_discounted_returns_minus_values():
    rewards, values, dones, last_value = episode_data(seed=2)
    gamma = 0.95
    adv, _ = gae(rewards, values, dones, last_value, gamma, 1.0)
    for n in range(rewards.shape[1]):
        mc = naive_returns_one_env(rewards[:, n], dones[:, n], gamma, last_value[n])
        np.testing.assert_allclose(adv[:, n], mc - values[:, n], atol=1e-10)


def test_discounted_returns_matches_naive_loop():
    rewards, _, dones, last_value = episode_data(seed=3)
    out = discounted_returns(rewards, dones, 0.9, last_value)
    for n in range(rewards.shape[1]):
        np.testing.assert_allclose(out[:, n], naive_returns_one_env(rewards[:, n], dones[:, n], 0.9, last_value[n]))


def test_discounted_returns_hand_computed():
    out = discounted_returns([1.0, 1.0, 1.0, 1.0], [0, 1, 0, 0], gamma=0.5)
    np.testing.assert_allclose(out, [1.5, 1.0, 1.5, 1.0])


def test_gae_torch_in_gives_torch_out_and_same_numbers():
    rewards, values, dones, last_value = episode_data(seed=4)
    adv_np, ret_np = gae(rewards, values, dones, last_value, 0.99, 0.95)
    adv_t, ret_t = gae(torch.tensor(rewards), torch.tensor(values), torch.tensor(dones),
                       torch.tensor(last_value), 0.99, 0.95)
    assert isinstance(adv_t, torch.Tensor) and isinstance(ret_t, torch.Tensor)
    assert isinstance(adv_np, np.ndarray)
    np.testing.assert_allclose(adv_t.numpy(), adv_np, atol=1e-12)
    np.testing.assert_allclose(ret_t.numpy(), ret_np, atol=1e-12)


def test_gae_one_dimensional_input_and_does_not_mutate_inputs():
    rewards, values, dones, last_value = episode_data(seed=5)
    r, v, d = rewards[:, 0].copy(), values[:, 0].copy(), dones[:, 0].copy()
    adv, _ = gae(r, v, d, float(last_value[0]), 0.99, 0.9)
    assert adv.shape == (12,)
    np.testing.assert_array_equal(r, rewards[:, 0])
    np.testing.assert_array_equal(v, values[:, 0])


def test_truncation_bootstrap_by_the_caller_restores_the_value():
    """A time-limit cut: adding γ·V(final obs) to the truncated step's reward gives the same
    advantage as if the episode had gone on and been bootstrapped."""
    gamma, lam, v_final = 0.9, 0.8, 5.0
    rewards = np.array([1.0, 1.0, 1.0])
    values = np.array([2.0, 3.0, 4.0])
    # Not cut at all, bootstrapped from V(s_3) = v_final:
    adv_continuing, _ = gae(rewards, values, np.zeros(3), v_final, gamma, lam)
    # Cut by the time limit: done = 1, reward += γ V(final obs):
    fixed = rewards.copy()
    fixed[-1] += gamma * v_final
    adv_truncated, _ = gae(fixed, values, np.array([0, 0, 1.0]), 123.0, gamma, lam)
    np.testing.assert_allclose(adv_truncated, adv_continuing)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (8,), elements=st.floats(-1e6, 1e6)),
       arrays(np.float64, (8,), elements=st.floats(-1e6, 1e6)),
       arrays(np.float64, (8,), elements=st.sampled_from([0.0, 1.0])),
       st.floats(0, 1), st.floats(0, 1))
def test_gae_is_finite_and_matches_naive_on_random_inputs(rewards, values, dones, gamma, lam):
    adv, ret = gae(rewards, values, dones, 0.0, gamma, lam)
    assert np.all(np.isfinite(adv)) and np.all(np.isfinite(ret))
    np.testing.assert_allclose(adv, naive_gae_one_env(rewards, values, dones, 0.0, gamma, lam),
                               rtol=1e-7, atol=1e-3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(values=np.zeros(4)), "values has shape"),
    (dict(gamma=1.5), "gamma"),
    (dict(lam=-0.1), "lam"),
    (dict(dones=np.array([0, 0.5, 0, 0, 0])), "dones"),
    (dict(rewards=np.array([1.0, np.nan, 0, 0, 0])), "rewards contains NaN"),
    (dict(last_value=np.zeros(3)), "last_value"),
    (dict(rewards=np.zeros((5, 2, 2)), values=np.zeros((5, 2, 2)), dones=np.zeros((5, 2, 2))), "rewards must be"),
    (dict(values=torch.zeros(5)), "do not mix"),
    (dict(values=None), "values is required"),
])
def test_gae_rejects_bad_input(kwargs, match):
    args = dict(rewards=np.zeros(5), values=np.zeros(5), dones=np.zeros(5), last_value=0.0, gamma=0.99, lam=0.95)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gae(**args)


@pytest.mark.parametrize("kwargs,match", [
    (dict(gamma=-0.01), "gamma"),
    (dict(dones=np.zeros(4)), "dones has shape"),
    (dict(rewards="abc"), "rewards"),
])
def test_discounted_returns_rejects_bad_input(kwargs, match):
    args = dict(rewards=np.zeros(5), dones=np.zeros(5), gamma=0.9)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        discounted_returns(**args)
