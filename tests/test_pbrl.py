"""Iterated preference-based RL on MountainCar: criteria, the standardised reward model, success
rates of hand-built policies, and the full loop (PPO rounds through train_ppo(agent=...))."""
import dataclasses
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlft_core.clips import record_clips
from rlft_core.mountain_car import energy_gain, max_height, mountain_car_energy
from rlft_core.pbrl import PbRLConfig, train_pbrl
from rlft_core.policies import ActorCritic
from rlft_core.ppo import PPOConfig
from rlft_core.reward_model import ClipRewardModel, StandardizedClipRewardModel
from rlft_core.rollout import success_rate

torch.set_num_threads(1)


def velocity_policy_agent() -> ActorCritic:
    """An ActorCritic whose greedy action pushes along the velocity (right if v > 0, else left):
    logits = (-h, 0, h) with h = tanh(1000 v). The classic energy-pumping MountainCar controller."""
    agent = ActorCritic(2, {"kind": "discrete", "n": 3, "start": 0}, hidden_sizes=(1,))
    with torch.no_grad():
        for p in agent.actor.parameters():
            p.zero_()
        agent.actor[0].weight[0, 1] = 1000.0
        agent.actor[1].weight[:, 0] = torch.tensor([-1.0, 0.0, 1.0])
    return agent.eval()


def naive_episode(policy, seed):
    env = gym.make("MountainCar-v0")
    obs, _ = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total += reward
        steps += 1
        if terminated or truncated:
            return total, terminated, steps


# ---------------------------------------------------------------- MountainCar criteria
def test_energy_is_height_plus_scaled_kinetic_energy():
    obs = np.array([[-0.5, 0.0], [0.5, 0.0], [-0.5236, 0.07], [0.1, -0.03]])
    expected = [math.sin(3 * x) + 1.5 / 0.0025 * v * v for x, v in obs]
    np.testing.assert_allclose(mountain_car_energy(obs), expected, rtol=1e-12)
    assert mountain_car_energy(np.array([0.5, 0.0])) == pytest.approx(math.sin(1.5))


def test_energy_gain_sums_the_per_step_gains_of_a_clip():
    clips = record_clips("MountainCar-v0", None, n_clips=20, clip_len=10, seed=3)
    for clip in clips:
        per_step = sum(mountain_car_energy(clip.next_obs[t]) - mountain_car_energy(clip.obs[t])
                       for t in range(len(clip)))
        assert energy_gain(clip) == pytest.approx(per_step, abs=1e-9)
        assert max_height(clip) == pytest.approx(max(math.sin(3 * o[0]) for o in clip.next_obs))


def test_pushing_along_the_velocity_gains_more_energy_than_pushing_against_it():
    env = gym.make("MountainCar-v0").unwrapped
    for state in ([-0.5, 0.02], [-0.8, -0.03], [0.2, 0.04]):
        gains = {}
        for action in (0, 1, 2):
            env.reset(seed=0)
            env.state = np.array(state)
            obs, *_ = env.step(action)
            gains[action] = mountain_car_energy(obs) - mountain_car_energy(np.array(state))
        along, against = (2, 0) if state[1] > 0 else (0, 2)
        assert gains[along] > gains[1] > gains[against]


def test_mountain_car_energy_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="obs"):
        mountain_car_energy(np.zeros((4, 3)))


# ---------------------------------------------------------------- standardised reward model
def test_standardized_model_equals_a_plain_model_on_standardized_features():
    torch.manual_seed(0)
    features = torch.randn(200, 5) * torch.tensor([0.1, 0.01, 1.0, 1.0, 1.0]) + torch.tensor([-0.5, 0, 0, 0, 0])
    model = StandardizedClipRewardModel(5, hidden=16)
    model.fit_scaler(features.numpy())
    np.testing.assert_allclose(model.feature_mean.numpy(), features.mean(0).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.feature_std.numpy(), features.std(0).numpy(), rtol=1e-5)
    plain = ClipRewardModel(5, hidden=16)
    plain.net.load_state_dict(model.net.state_dict())
    clips = features[:60].reshape(6, 10, 5)
    mask = torch.ones(6, 10, dtype=torch.bool)
    mask[2, 7:] = False
    standardized = (clips - features.mean(0)) / features.std(0)
    torch.testing.assert_close(model(clips, mask), plain(standardized, mask), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.step_reward(features[:4]), plain.net(standardized[0, :4]).squeeze(-1).detach(),
                               rtol=1e-4, atol=1e-5)


def test_standardized_model_rejects_bad_features():
    model = StandardizedClipRewardModel(5)
    with pytest.raises(ValueError, match="features"):
        model.fit_scaler(np.zeros((10, 4)))
    with pytest.raises(ValueError, match="features"):
        model.fit_scaler(np.full((10, 5), np.nan))
    with pytest.raises(ValueError, match="features"):
        model.step_reward(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="clips"):
        model(torch.zeros(2, 3, 4))


# ---------------------------------------------------------------- success rate
def test_success_rate_of_the_energy_pumping_controller_is_one_and_matches_a_naive_loop():
    agent = velocity_policy_agent()
    rate, mean_return = success_rate(agent, "MountainCar-v0", episodes=5, seed=11)
    naive = [naive_episode(lambda o: int(agent.act(o)), 11 + i) for i in range(5)]
    assert rate == 1.0 and all(terminated for _, terminated, _ in naive)
    assert mean_return == pytest.approx(np.mean([ret for ret, _, _ in naive]))
    assert -200 < mean_return < -80


def test_success_rate_of_always_pushing_left_is_zero():
    agent = ActorCritic(2, {"kind": "discrete", "n": 3, "start": 0})
    with torch.no_grad():
        for p in agent.actor.parameters():
            p.zero_()                                    # all logits equal: argmax = action 0
    assert success_rate(agent, "MountainCar-v0", episodes=3) == (0.0, -200.0)


def test_success_rate_rejects_bad_inputs():
    agent = velocity_policy_agent()
    with pytest.raises(ValueError, match="episodes"):
        success_rate(agent, "MountainCar-v0", episodes=0)
    with pytest.raises(ValueError, match="agent"):
        success_rate("not an agent", "MountainCar-v0")
    with pytest.raises(ValueError, match="env"):
        success_rate(agent, "NoSuchEnv-v9")


# ---------------------------------------------------------------- the loop
SMALL = dict(iterations=2, pairs_per_iteration=20, clip_len=10, reward_epochs=3, ppo_updates_per_iteration=1,
             eval_episodes=2, ppo=PPOConfig(num_envs=2, num_steps=64, num_epochs=1, num_minibatches=2,
                                            normalize_obs=True))


def test_train_pbrl_counts_labels_and_steps_and_is_reproducible():
    config = PbRLConfig(**SMALL)
    records = []
    agent, model, history = train_pbrl("MountainCar-v0", energy_gain, config, callback=records.append, seed=2)
    assert records == history and [r["iteration"] for r in history] == [1, 2]
    assert [r["labels"] for r in history] == [20, 40]
    assert [r["ppo_steps"] for r in history] == [128, 256]
    # 2 x 20 clips of <= 10 steps per round, plus the PPO steps
    assert all(r["env_steps"] - r["ppo_steps"] <= 2 * 20 * 10 * r["iteration"] for r in history)
    assert history[-1]["env_steps"] - history[-1]["ppo_steps"] > 2 * 20 * 9 * 2
    assert isinstance(agent, ActorCritic) and isinstance(model, StandardizedClipRewardModel)
    _, _, again = train_pbrl("MountainCar-v0", energy_gain, config, seed=2)
    strip = lambda h: [{k: v for k, v in r.items() if k != "elapsed"} for r in h]  # noqa: E731
    assert strip(again) == strip(history)


def test_train_pbrl_callback_can_stop_after_the_first_round():
    _, _, history = train_pbrl("MountainCar-v0", energy_gain, PbRLConfig(**SMALL), callback=lambda r: True)
    assert len(history) == 1


@pytest.mark.slow
def test_reward_model_learned_from_energy_preferences_tracks_the_true_energy_gain():
    config = PbRLConfig(**{**SMALL, "iterations": 1, "pairs_per_iteration": 150, "clip_len": 25,
                           "reward_epochs": 30})
    _, model, _ = train_pbrl("MountainCar-v0", energy_gain, config, seed=0)
    clips = record_clips("MountainCar-v0", None, n_clips=40, clip_len=25, seed=99)
    features = torch.as_tensor(np.concatenate([c.features for c in clips]))
    true_gain = np.concatenate([mountain_car_energy(c.next_obs) - mountain_car_energy(c.obs) for c in clips])
    correlation = np.corrcoef(model.step_reward(features).numpy(), true_gain)[0, 1]
    assert correlation > 0.8


@pytest.mark.slow
def test_pbrl_with_the_default_config_reaches_the_flag_with_300_labels_in_90_percent_of_episodes():
    agent, _, history = train_pbrl("MountainCar-v0", energy_gain, PbRLConfig(), seed=0)
    rate, _ = success_rate(agent, "MountainCar-v0", episodes=20, seed=123)
    config = PbRLConfig()
    assert rate >= 0.9
    assert history[-1]["labels"] == config.iterations * config.pairs_per_iteration == 300


def test_pbrl_rejects_bad_inputs():
    with pytest.raises(ValueError, match="iterations"):
        PbRLConfig(iterations=0)
    with pytest.raises(ValueError, match="labeler_temperature"):
        PbRLConfig(labeler_temperature=-1.0)
    with pytest.raises(ValueError, match="labeler_flip_prob"):
        PbRLConfig(labeler_flip_prob=0.7)
    with pytest.raises(ValueError, match="ppo"):
        PbRLConfig(ppo={"gamma": 0.99})
    with pytest.raises(ValueError, match="criterion"):
        train_pbrl("MountainCar-v0", "energy", PbRLConfig(**SMALL))
    with pytest.raises(ValueError, match="config"):
        train_pbrl("MountainCar-v0", energy_gain, dataclasses.asdict(PbRLConfig(**SMALL)))
    with pytest.raises(ValueError, match="callback"):
        train_pbrl("MountainCar-v0", energy_gain, PbRLConfig(**SMALL), callback=5)
    with pytest.raises(ValueError, match="env"):
        train_pbrl("NoSuchEnv-v9", energy_gain, PbRLConfig(**SMALL))
