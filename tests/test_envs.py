"""The car-following environment: gymnasium API, dynamics, termination/truncation, rewards."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from matplotlib.figure import Figure

from rlft_core.clips import record_clips
from rlft_core.envs import (COLLISION_PENALTY, ENV_ID, CarFollowingEnv, TimeGapController, driving_metrics,
                            evaluate_driving, hand_written_reward, plot_driving_clip, true_driving_reward)

STEADY = np.full(201, 20.0)                    # a lead car cruising at 20 m/s


def rollout(env, policy, seed, options=None):
    obs, _ = env.reset(seed=seed, options=options)
    observations, infos, rewards, done = [obs], [], [], False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        observations.append(obs)
        infos.append(info)
        rewards.append(reward)
        done = terminated or truncated
    return np.array(observations), infos, np.array(rewards), terminated, truncated


@pytest.mark.parametrize("reward", ["true", "hand"])
def test_env_passes_gymnasium_env_checker(reward):
    check_env(CarFollowingEnv(reward=reward), skip_render_check=True)


def test_registered_id_makes_the_env_with_its_kwargs():
    env = gym.make(ENV_ID, reward="hand", max_steps=50)
    assert isinstance(env.unwrapped, CarFollowingEnv)
    assert env.unwrapped.reward_kind == "hand" and env.unwrapped.max_steps == 50
    env.close()


def test_same_seed_gives_the_same_episode_and_another_seed_does_not():
    policy = TimeGapController()
    first = rollout(CarFollowingEnv(), policy, seed=3)
    again = rollout(CarFollowingEnv(), policy, seed=3)
    other = rollout(CarFollowingEnv(), policy, seed=4)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[2], again[2])
    assert not np.array_equal(first[0][:5], other[0][:5])


def test_gap_follows_the_closed_form_under_constant_acceleration():
    env = CarFollowingEnv()
    env.reset(seed=0, options={"lead_speed": STEADY, "speed": 15.0, "gap": 40.0})
    u, a, dt = 0.25, 0.25 * 5.0, 0.2                # 0.25 is exact in float32
    for n in range(1, 11):
        _, _, terminated, _, info = env.step(np.array([u], dtype=np.float32))
        t = n * dt
        assert info["gap"] == pytest.approx(40.0 + 20.0 * t - (15.0 * t + 0.5 * a * t ** 2), abs=1e-9)
        assert info["speed"] == pytest.approx(15.0 + a * t, abs=1e-9)
        assert info["time_gap"] == pytest.approx(info["gap"] / info["speed"], rel=1e-12)
        assert not terminated


def test_a_collision_terminates_with_the_penalty():
    env = CarFollowingEnv()
    # The lead stands still 5 m ahead, the ego coasts at 20 m/s: the gap shrinks 4 m per step,
    # 5 -> 1 -> -3, so the crash happens on the second step.
    _, infos, rewards, terminated, truncated = rollout(
        env, lambda obs: np.zeros(1, dtype=np.float32), seed=0,
        options={"lead_speed": np.zeros(201), "speed": 20.0, "gap": 5.0})
    assert len(infos) == 2 and terminated and not truncated
    assert infos[-1]["collision"] and not infos[0]["collision"]
    assert rewards[-1] <= 1.0 - COLLISION_PENALTY


def test_episode_is_truncated_at_the_time_limit():
    env = CarFollowingEnv(max_steps=30)
    _, infos, _, terminated, truncated = rollout(env, TimeGapController(), seed=0,
                                                 options={"lead_speed": np.full(31, 20.0), "speed": 20.0, "gap": 36.0})
    assert len(infos) == 30 and truncated and not terminated


def test_true_reward_matches_hand_computed_values():
    assert true_driving_reward(1.8, 0.0, 0.0, False) == pytest.approx(1.0)
    assert true_driving_reward(1.3, 0.0, 0.0, False) == pytest.approx(np.exp(-1.0))      # (0.5/0.5)^2
    assert true_driving_reward(2.8, 0.0, 0.0, False) == pytest.approx(np.exp(-1.0))      # (1.0/1.0)^2
    assert true_driving_reward(1.8, -5.0, 0.0, False) == pytest.approx(1.0 - 0.25 * 4.0)  # 2 m/s² past harsh
    assert true_driving_reward(1.8, 0.0, 10.0, False) == pytest.approx(0.75)
    assert true_driving_reward(1.8, 0.0, 0.0, True) == pytest.approx(1.0 - COLLISION_PENALTY)
    assert hand_written_reward(20.0, False) == pytest.approx(1.0)
    assert hand_written_reward(10.0, True) == pytest.approx(0.5 - COLLISION_PENALTY)


def test_true_reward_prefers_the_careful_controller_over_tailgating_and_harsh_driving():
    careful = evaluate_driving(TimeGapController(), episodes=5, seed=0)
    tailgater = evaluate_driving(TimeGapController(time_gap=0.6), episodes=5, seed=0)
    harsh = evaluate_driving(TimeGapController(gain_gap=1.0, gain_speed=3.0, max_jerk=100.0), episodes=5, seed=0)
    assert careful["collisions"] == 0
    assert careful["true_return"] > tailgater["true_return"] + 50
    assert careful["true_return"] > harsh["true_return"]
    assert harsh["rms_jerk"] > careful["rms_jerk"] and tailgater["tailgating"] > careful["tailgating"]
    # The hand-written reward cannot tell the careful and the harsh driver apart.
    assert abs(careful["hand_return"] - harsh["hand_return"]) < 0.02 * careful["hand_return"]


def test_evaluate_driving_counts_the_crashes_of_a_driver_who_never_brakes():
    stats = evaluate_driving(lambda obs: np.zeros(1, dtype=np.float32), episodes=4, seed=0)
    crashed = sum(rollout(CarFollowingEnv(), lambda obs: np.zeros(1, dtype=np.float32), seed=s)[3] for s in range(4))
    assert stats["collisions"] == crashed >= 1


def test_driving_metrics_of_a_clip_match_the_env_info():
    clip = record_clips(CarFollowingEnv, TimeGapController(noise=0.1, seed=1), n_clips=1, clip_len=40, seed=7)[0]
    _, infos, _, _, _ = rollout(CarFollowingEnv(), TimeGapController(noise=0.1, seed=1), seed=7)
    metrics = driving_metrics(clip)
    assert np.allclose(metrics["time_gap"], [i["time_gap"] for i in infos[:40]], rtol=1e-5)
    assert np.allclose(metrics["accel"], [i["accel"] for i in infos[:40]], atol=1e-4)
    assert np.allclose(metrics["jerk"], [i["jerk"] for i in infos[:40]], atol=1e-3)
    assert metrics["collision"] is False and metrics["harsh_brakes"] == sum(i["harsh_brake"] for i in infos[:40])


def test_plot_driving_clip_draws_the_time_gap():
    clip = record_clips(CarFollowingEnv, TimeGapController(), n_clips=1, clip_len=25, seed=0)[0]
    ax = Figure().subplots()
    plot_driving_clip(clip, ax)
    assert np.allclose(ax.lines[0].get_ydata(), driving_metrics(clip)["time_gap"])


@pytest.mark.parametrize("kwargs, name", [({"reward": "fast"}, "reward"), ({"dt": 0.0}, "dt"),
                                          ({"max_steps": 0}, "max_steps"), ({"a_max": -1.0}, "a_max"),
                                          ({"brake_prob": 2.0}, "brake_prob")])
def test_bad_constructor_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CarFollowingEnv(**kwargs)


def test_bad_reset_options_and_actions_raise():
    env = CarFollowingEnv()
    with pytest.raises(ValueError, match="lead_speed"):
        env.reset(options={"lead_speed": np.ones(5)})
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"weather": "rain"})
    with pytest.raises(ValueError, match="gap"):
        env.reset(options={"gap": -1.0})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([np.nan], dtype=np.float32))


def test_bad_arguments_of_the_helpers_raise():
    with pytest.raises(ValueError, match="time_gap"):
        TimeGapController(time_gap=-1.0)
    with pytest.raises(ValueError, match="obs"):
        TimeGapController()(np.zeros(3))
    with pytest.raises(ValueError, match="policy"):
        evaluate_driving(3)
    with pytest.raises(ValueError, match="episodes"):
        evaluate_driving(TimeGapController(), episodes=0)
    with pytest.raises(ValueError, match="clip"):
        driving_metrics(object())
