"""The PPO trainer learns, bootstraps truncated episodes correctly, and is reproducible.

Learning tests check known environment outcomes (CartPole-v1 solved, Pendulum-v1 swung up);
the rollout tests check the reward / done handling against returns computed by hand; the
policy tests check sampling and log-probabilities against ``torch.distributions``.
"""
import gymnasium as gym
import numpy as np
import pytest
import torch

from rlft_core.policies import ActorCritic, RunningMeanStd
from rlft_core.ppo import PPOConfig, evaluate, load_agent, save_agent, train_ppo
from rlft_core.rollout import RolloutCollector, make_vector_env

TIMING_KEYS = {"sps", "elapsed"}


class CountingEnv(gym.Env):
    """Observation = [steps so far in the episode]; reward 1 per step; the episode ends after
    ``limit`` steps by truncation (a time limit) or by termination."""

    def __init__(self, limit=3, terminate=False, constant_obs=False):
        self.limit, self.terminate, self.constant_obs = limit, terminate, constant_obs
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def _obs(self):
        return np.array([0.0 if self.constant_obs else float(self.t)], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        end = self.t >= self.limit
        return self._obs(), 1.0, end and self.terminate, end and not self.terminate, {}


# ----------------------------------------------------------------------------- learning
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppo_first_solves_cartpole_within_30k_steps(seed):
    # Defaults: a 40k-step budget; over 40 seeds the median first solve is ~19k steps (bench/).
    agent, history = train_ppo("CartPole-v1", PPOConfig(), seed=seed)
    solved = [r["global_step"] for r in history if r["mean_return"] >= 475]
    assert solved, "the last-20 training-episode mean never reached 475"
    assert solved[0] <= 30_000, f"first solved at {solved[0]} env steps"
    assert evaluate(agent, "CartPole-v1", episodes=10, seed=123) >= 475


@pytest.mark.slow
def test_ppo_preset_swings_up_pendulum_within_50k_steps():
    agent, history = train_ppo("Pendulum-v1", PPOConfig.pendulum(), seed=0)  # a 50k-step budget
    first_returns = [ret for r in history[:3] for ret in r["episode_returns"]]
    assert len(first_returns) >= 8 and np.mean(first_returns) < -900   # untrained: about -1200
    # The benchmark's criterion (bench/ppo_pendulum.py): the last-20 training-episode mean reaches
    # -200, and the greedy final policy scores >= -250 on fresh starts (optimal is about -150).
    assert any(r["mean_return"] >= -200 for r in history), "the last-20 mean never reached -200"
    assert evaluate(agent, "Pendulum-v1", episodes=20, seed=123) >= -250


# ----------------------------------------------------------------------------- truncation
def _collect(limit, terminate, num_steps, gamma=0.9, lam=1.0, seed=0):
    torch.manual_seed(seed)
    agent = ActorCritic(1, {"kind": "discrete", "n": 2, "start": 0}, hidden_sizes=(8,))
    with torch.no_grad():                                # make V(s) clearly non-zero and s-dependent
        agent.critic[-1].bias.fill_(2.0)
    envs = make_vector_env(lambda: CountingEnv(limit, terminate), num_envs=1)
    collector = RolloutCollector(envs, agent, num_steps, gamma, normalize_reward=False, seed=seed)
    collector.collect(agent, torch.Generator().manual_seed(seed))
    adv, returns = collector.advantages_and_returns(gamma, lam)
    value = lambda s: agent.value(torch.tensor([[float(s)]])).item()  # noqa: E731
    return collector, returns[:, 0], value


def test_rollout_marks_reset_steps_invalid_in_next_step_autoreset():
    collector, _, _ = _collect(limit=3, terminate=False, num_steps=8)
    assert collector.valid[:, 0].tolist() == [True, True, True, False, True, True, True, False]
    assert collector.truncated[:, 0].tolist() == [False, False, True, False, False, False, True, False]
    assert collector.obs[:, 0, 0].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]   # reset step sees s_final = 3


def test_truncated_episodes_bootstrap_from_final_observation():
    gamma = 0.9
    collector, returns, V = _collect(limit=3, terminate=False, num_steps=8, gamma=gamma)
    # λ = 1: the return of step t is the discounted reward to the time limit + γ^k V(s_final = 3).
    expected = [1 + gamma + gamma**2 + gamma**3 * V(3), 1 + gamma + gamma**2 * V(3), 1 + gamma * V(3)]
    np.testing.assert_allclose(returns[0:3], expected, rtol=1e-5)
    np.testing.assert_allclose(returns[4:7], expected, rtol=1e-5)


def test_terminated_episodes_do_not_bootstrap():
    gamma = 0.9
    collector, returns, _ = _collect(limit=3, terminate=True, num_steps=8, gamma=gamma)
    expected = [1 + gamma + gamma**2, 1 + gamma, 1.0]
    np.testing.assert_allclose(returns[0:3], expected, rtol=1e-6)
    np.testing.assert_allclose(returns[4:7], expected, rtol=1e-6)


def test_unfinished_episode_at_rollout_end_bootstraps_from_last_value():
    gamma = 0.9
    _, returns, V = _collect(limit=3, terminate=True, num_steps=6, gamma=gamma)
    # steps 4, 5 are the first two of an episode still running: bootstrap from V(s = 2).
    np.testing.assert_allclose(returns[4:6], [1 + gamma * (1 + gamma * V(2)), 1 + gamma * V(2)], rtol=1e-5)


def _pooled_variance(values, prior_count=1e-4):
    """Variance of ``values`` pooled with RunningMeanStd's prior (count 1e-4, mean 0, variance 1)."""
    values = np.asarray(values, dtype=np.float64)
    mean = values.sum() / (prior_count + len(values))
    return (prior_count * (1.0 + mean**2) + ((values - mean) ** 2).sum()) / (prior_count + len(values))


def test_reward_scaling_divides_by_the_std_of_discounted_returns_of_valid_steps_only():
    gamma = 0.9
    torch.manual_seed(0)
    agent = ActorCritic(1, {"kind": "discrete", "n": 2, "start": 0}, hidden_sizes=(8,))
    envs = make_vector_env(lambda: CountingEnv(3, terminate=False), num_envs=1)
    collector = RolloutCollector(envs, agent, 8, gamma, normalize_reward=True, seed=0)
    collector.collect(agent, torch.Generator().manual_seed(0))
    # Reward 1 per step; G_t = γ G_{t-1} + r_t restarts after each episode; the reset steps
    # (t = 3, 7) are not transitions: their G is not fed to the statistics and their reward is 0.
    seen, expected = [], []
    for t, g in enumerate([1.0, 1 + gamma, 1 + gamma + gamma**2, None, 1.0, 1 + gamma, 1 + gamma + gamma**2, None]):
        if g is None:
            expected.append(0.0)
            continue
        seen.append(g)
        expected.append(1.0 / np.sqrt(_pooled_variance(seen) + 1e-8))
    np.testing.assert_allclose(collector.rewards[:, 0], expected, rtol=1e-5)
    assert agent.reward_rms.count.item() == pytest.approx(6 + 1e-4)


def test_observation_statistics_skip_reset_steps():
    torch.manual_seed(0)
    agent = ActorCritic(1, {"kind": "discrete", "n": 2, "start": 0}, hidden_sizes=(8,), normalize_obs=True)
    envs = make_vector_env(lambda: CountingEnv(3, terminate=False), num_envs=1)
    collector = RolloutCollector(envs, agent, 8, 0.9, normalize_reward=False, seed=0)
    collector.collect(agent, torch.Generator().manual_seed(0))
    # Raw observations 0, 1, 2, [3], 0, 1, 2, [3]: the bracketed ones are reset steps, left out.
    valid_obs = [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    assert agent.obs_rms.count.item() == pytest.approx(len(valid_obs) + 1e-4)
    assert agent.obs_rms.mean.item() == pytest.approx(sum(valid_obs) / (len(valid_obs) + 1e-4))
    assert agent.obs_rms.var.item() == pytest.approx(_pooled_variance(valid_obs))


@pytest.mark.parametrize("terminate", [False, True])
def test_value_of_time_limited_constant_reward_learns_infinite_horizon_value(terminate):
    # Constant observation: the critic cannot see the clock. With the truncation bootstrap (and
    # λ = 1) the target of step t is (1-γ^k)/(1-γ) + γ^k V with k = 5 - t, whose fixed point is
    # V = 1/(1-γ) = 10. Had the time limit been a real end, every target would be a return-to-go
    # (1-γ^k)/(1-γ) in [1, 4.1] (or a mix of them with V), so V would settle inside that range.
    config = PPOConfig(total_timesteps=8 * 5 * 200, num_envs=8, num_steps=5, gamma=0.9,
                       gae_lambda=1.0, num_epochs=4, learning_rate=3e-3, target_kl=None)
    agent, _ = train_ppo(lambda: CountingEnv(5, terminate, constant_obs=True), config, seed=0)
    value = agent.value(torch.zeros(1, 1)).item()
    if terminate:
        assert 1.0 <= value <= (1 - 0.9**5) / (1 - 0.9)
    else:
        assert value == pytest.approx(1 / (1 - 0.9), rel=0.03)


# ----------------------------------------------------------------------------- policies
def test_gumbel_max_sampling_matches_softmax_probabilities():
    agent = ActorCritic(3, {"kind": "discrete", "n": 3, "start": 0}, hidden_sizes=(4,))
    with torch.no_grad():
        agent.actor[-1].weight.zero_()
        agent.actor[-1].bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    obs = torch.zeros(40_000, 3)
    actions, logp, _ = agent.sample(obs, torch.Generator().manual_seed(0))
    freq = torch.bincount(actions, minlength=3).float() / len(actions)
    probs = torch.softmax(torch.tensor([0.0, 1.0, -1.0]), -1)
    assert torch.allclose(freq, probs, atol=0.01)
    assert torch.allclose(logp, torch.log(probs)[actions], atol=1e-6)


@pytest.mark.parametrize("spec", [{"kind": "discrete", "n": 4, "start": 0},
                                  {"kind": "continuous", "low": [-2.0, -1.0], "high": [2.0, 1.0]}])
def test_logp_and_entropy_agree_with_torch_distributions(spec):
    torch.manual_seed(0)
    agent = ActorCritic(5, spec, log_std_init=-0.3)
    obs = torch.randn(64, 5)
    actions, logp_sample, _ = agent.sample(obs, torch.Generator().manual_seed(1))
    logp, entropy, _ = agent.evaluate_actions(obs, actions)
    out = agent.actor[-1](torch.tanh(agent.actor[1](torch.tanh(agent.actor[0](obs)))))
    if spec["kind"] == "discrete":
        dist = torch.distributions.Categorical(logits=out)
        ref_logp, ref_entropy = dist.log_prob(actions), dist.entropy()
    else:
        dist = torch.distributions.Normal(out, agent.actor_logstd.exp())
        ref_logp, ref_entropy = dist.log_prob(actions).sum(-1), dist.entropy().sum(-1)
    torch.testing.assert_close(logp, ref_logp, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logp_sample, ref_logp, rtol=1e-5, atol=1e-5)   # first ratio = 1
    torch.testing.assert_close(entropy, ref_entropy, rtol=1e-5, atol=1e-5)


def test_continuous_actions_are_clipped_for_the_env_but_logp_uses_the_raw_sample():
    agent = ActorCritic(2, {"kind": "continuous", "low": [-1.0], "high": [1.0]}, hidden_sizes=(4,))
    with torch.no_grad():
        agent.actor[-1].bias.fill_(5.0)                  # mean far outside the bounds
    raw, logp, _ = agent.sample(torch.zeros(16, 2), torch.Generator().manual_seed(0))
    env_actions = agent.to_env_actions(raw)
    assert env_actions.dtype == np.float32 and np.all(env_actions == 1.0)
    assert (raw > 1.0).all()
    logp_raw, _, _ = agent.evaluate_actions(torch.zeros(16, 2), raw)
    torch.testing.assert_close(logp, logp_raw)


def test_running_mean_std_matches_numpy_over_batches():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 2)) for n in (5, 17, 1, 40)]
    rms = RunningMeanStd((2,))
    for b in batches:
        rms.update(torch.from_numpy(b))
    allx = np.concatenate(batches)
    np.testing.assert_allclose(rms.mean.numpy(), allx.mean(0), rtol=1e-4)
    np.testing.assert_allclose(rms.var.numpy(), allx.var(0), rtol=1e-3)


# ----------------------------------------------------------------------------- trainer API
def test_same_seed_gives_identical_history_and_other_seed_differs():
    config = PPOConfig(total_timesteps=4096)
    runs = [train_ppo("CartPole-v1", config, seed=s)[1] for s in (7, 7, 8)]
    strip = lambda h: [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in h]  # noqa: E731
    assert strip(runs[0]) == strip(runs[1])
    assert strip(runs[0]) != strip(runs[2])


def test_history_records_and_callback_can_stop_training():
    seen = []
    config = PPOConfig(total_timesteps=8 * 64 * 10)
    batch = config.num_envs * config.num_steps
    _, history = train_ppo("CartPole-v1", config, callback=lambda r: seen.append(r) or len(seen) == 3)
    assert len(history) == 3 and seen == history
    keys = {"update", "global_step", "episode_returns", "mean_return", "policy_loss", "value_loss",
            "entropy", "approx_kl", "clip_fraction", "explained_variance", "sps", "learning_rate"}
    assert keys <= set(history[0])
    assert [r["global_step"] for r in history] == [batch, 2 * batch, 3 * batch]
    assert history[1]["learning_rate"] == pytest.approx(config.learning_rate * (1 - 1 / 10))
    assert all(0 <= r["clip_fraction"] <= 1 and r["approx_kl"] >= 0 for r in history)


@pytest.mark.parametrize("env_id, config", [("CartPole-v1", PPOConfig(total_timesteps=512)),
                                            ("Pendulum-v1", PPOConfig.pendulum(total_timesteps=2048, num_steps=128,
                                                                               normalize_obs=True))])
def test_save_load_round_trip_gives_identical_actions(tmp_path, env_id, config):
    agent, _ = train_ppo(env_id, config, seed=0)
    path = tmp_path / "agent.pt"
    save_agent(agent, path)
    assert isinstance(torch.load(path, weights_only=True), dict)
    loaded = load_agent(path)
    obs = np.random.default_rng(0).normal(size=(32, agent.obs_dim)).astype(np.float32)
    np.testing.assert_array_equal(agent.act(obs), loaded.act(obs))
    np.testing.assert_array_equal(agent.act(obs[0]), loaded.act(obs[0]))
    if config.normalize_obs:                              # the statistics travel with the agent
        assert not torch.equal(loaded.obs_rms.mean, torch.zeros(agent.obs_dim, dtype=torch.float64))
        torch.testing.assert_close(loaded.obs_rms.var, agent.obs_rms.var)


def test_act_returns_env_format_for_single_and_batched_observations():
    env = gym.make("CartPole-v1")
    agent = ActorCritic(4, {"kind": "discrete", "n": 2, "start": 0})
    obs, _ = env.reset(seed=0)
    single = agent.act(obs)
    assert env.action_space.contains(single)
    assert agent.act(np.stack([obs, obs, obs])).shape == (3,)
    with pytest.raises(ValueError, match="obs"):
        agent.act(np.zeros(5))


@pytest.mark.parametrize("field, value", [
    ("total_timesteps", 0), ("num_envs", -1), ("num_steps", 2.5), ("gamma", 1.5), ("gae_lambda", -0.1),
    ("num_epochs", 0), ("learning_rate", 0.0), ("clip_eps", -0.2), ("vf_coef", -1.0), ("ent_coef", float("nan")),
    ("max_grad_norm", 0.0), ("target_kl", 0.0), ("norm_adv", 1), ("hidden_sizes", ()), ("num_minibatches", 1000),
    ("torch_threads", 0), ("stop_at_return", float("nan")),
])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        PPOConfig(**{field: value})


def test_pendulum_preset_is_a_valid_config_with_reward_scaling():
    config = PPOConfig.pendulum(learning_rate=2e-3)
    assert config.normalize_reward and config.learning_rate == 2e-3
    with pytest.raises(ValueError, match="gamma"):
        PPOConfig.pendulum(gamma=2.0)


def test_train_and_evaluate_reject_bad_arguments():
    with pytest.raises(ValueError, match="env"):
        train_ppo("NoSuchEnv-v0", PPOConfig(total_timesteps=512))
    with pytest.raises(ValueError, match="env"):
        train_ppo(42, PPOConfig(total_timesteps=512))
    with pytest.raises(ValueError, match="config"):
        train_ppo("CartPole-v1", {"learning_rate": 1e-3})
    with pytest.raises(ValueError, match="callback"):
        train_ppo("CartPole-v1", PPOConfig(total_timesteps=512), callback="print")
    agent = ActorCritic(4, {"kind": "discrete", "n": 2, "start": 0})
    with pytest.raises(ValueError, match="episodes"):
        evaluate(agent, "CartPole-v1", episodes=0)
    with pytest.raises(ValueError, match="agent"):
        save_agent("not an agent", "x.pt")


def test_train_ppo_restores_torch_thread_setting():
    before = torch.get_num_threads()
    train_ppo("CartPole-v1", PPOConfig(total_timesteps=512, torch_threads=1))
    assert torch.get_num_threads() == before


# ----------------------------------------------------------------------------- the update
def _batch(agent, n=24, seed=0):
    """A hand-made batch: random observations, actions sampled from the agent, random advantages."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, agent.obs_dim, generator=g)
    with torch.no_grad():
        actions, logp, values = agent.sample(obs, g)
    return {"obs": obs, "actions": actions, "logp_old": logp + 0.1 * torch.randn(n, generator=g),
            "values_old": values, "advantages": torch.randn(n, generator=g),
            "returns": values + torch.randn(n, generator=g)}


def test_ppo_update_with_one_minibatch_is_one_adam_step_on_the_hand_computed_loss():
    from rlft_core.ppo import ppo_update
    torch.manual_seed(0)
    agent = ActorCritic(3, {"kind": "discrete", "n": 4, "start": 0}, hidden_sizes=(16,))
    twin = ActorCritic(3, {"kind": "discrete", "n": 4, "start": 0}, hidden_sizes=(16,))
    twin.load_state_dict(agent.state_dict())
    batch = _batch(agent)
    config = PPOConfig(num_envs=8, num_steps=8, num_epochs=1, num_minibatches=1, norm_adv=False,
                       ent_coef=0.05, vf_coef=0.7, max_grad_norm=1e9, clip_eps=0.1)
    ppo_update(agent, torch.optim.Adam(agent.parameters(), lr=1e-2, eps=1e-5), batch, config,
               torch.Generator().manual_seed(0))
    # The same step written from the paper with torch.distributions, one sample at a time.
    optimizer = torch.optim.Adam(twin.parameters(), lr=1e-2, eps=1e-5)
    terms = []
    for i in range(len(batch["advantages"])):
        dist = torch.distributions.Categorical(logits=_actor_logits(twin, batch["obs"][i]))
        ratio = torch.exp(dist.log_prob(batch["actions"][i]) - batch["logp_old"][i])
        adv = batch["advantages"][i]
        surrogate = torch.min(ratio * adv, ratio.clamp(0.9, 1.1) * adv)
        value = twin.value(batch["obs"][i:i + 1])[0]
        terms.append(-surrogate + 0.7 * 0.5 * (value - batch["returns"][i]) ** 2 - 0.05 * dist.entropy())
    loss = torch.stack(terms).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    for p, q in zip(agent.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


def _actor_logits(agent, obs):
    """Logits of the actor MLP (tanh hidden layers) computed layer by layer."""
    x = obs
    for i, layer in enumerate(agent.actor):
        x = layer(x)
        if i < len(agent.actor) - 1:
            x = torch.tanh(x)
    return x


def test_ppo_update_with_a_loss_fn_trains_with_it_and_still_logs_the_ppo_terms():
    from rlft_core.ppo import ppo_update
    torch.manual_seed(0)
    agent = ActorCritic(4, {"kind": "discrete", "n": 2, "start": 0})
    before = [p.detach().clone() for p in agent.parameters()]
    batch, seen = _batch(agent, n=32), []

    def value_only(minibatch, logp_new, entropy, values, cfg):
        seen.append(set(minibatch))
        return ((values - minibatch["returns"]) ** 2).mean()
    config = PPOConfig(num_envs=2, num_steps=32, num_epochs=1, num_minibatches=1)
    stats = ppo_update(agent, torch.optim.Adam(agent.parameters(), lr=1e-2), batch, config,
                       torch.Generator().manual_seed(0), loss_fn=value_only)
    assert seen == [{"logp_old", "advantages", "returns"}]
    actor_ids = {id(p) for p in agent.actor.parameters()}
    for p, b in zip(agent.parameters(), before):       # only the critic moved
        assert torch.equal(p, b) == (id(p) in actor_ids)
    assert all(np.isfinite(stats[k]) for k in ("loss", "policy_loss", "value_loss", "entropy"))
    with pytest.raises(ValueError, match="loss_fn"):
        ppo_update(agent, torch.optim.Adam(agent.parameters()), batch, config, torch.Generator(), loss_fn=3)
    with pytest.raises(ValueError, match="batch"):
        ppo_update(agent, torch.optim.Adam(agent.parameters()), {"obs": batch["obs"]}, config, torch.Generator())


def test_train_ppo_with_loss_fn_logs_finite_losses():
    config = PPOConfig(total_timesteps=1024)
    calls = []

    def reference_like(minibatch, logp_new, entropy, values, cfg):
        calls.append(1)
        ratio = torch.exp(logp_new - minibatch["logp_old"])
        return -(ratio * minibatch["advantages"]).mean() + ((values - minibatch["returns"]) ** 2).mean()
    _, history = train_ppo("CartPole-v1", config, seed=0, loss_fn=reference_like)
    assert len(calls) == len(history) * config.num_epochs * config.num_minibatches
    assert all(np.isfinite(r[k]) for r in history for k in ("loss", "policy_loss", "value_loss"))


def test_train_ppo_continues_an_existing_agent_and_rejects_one_that_does_not_fit():
    config = PPOConfig(total_timesteps=1024)
    agent, _ = train_ppo("CartPole-v1", config, seed=0)
    before = [p.detach().clone() for p in agent.parameters()]
    same, history = train_ppo("CartPole-v1", config, seed=1, agent=agent)
    assert same is agent and len(history) == 2
    assert any(not torch.equal(p, b) for p, b in zip(agent.parameters(), before))
    with pytest.raises(ValueError, match="agent"):
        train_ppo("CartPole-v1", config, agent=ActorCritic(3, {"kind": "discrete", "n": 2, "start": 0}))
    with pytest.raises(ValueError, match="normalize_obs"):
        train_ppo("CartPole-v1", PPOConfig(total_timesteps=1024, normalize_obs=True), agent=agent)


def test_train_ppo_takes_its_advantages_from_advantage_fn():
    seen = []

    def zero_advantages(rewards, values, dones, last_value, gamma, lam):
        seen.append((rewards.shape, gamma, lam))
        return np.zeros_like(rewards), np.zeros_like(rewards)
    config = PPOConfig(total_timesteps=1024)
    torch.manual_seed(0)
    agent = ActorCritic(4, {"kind": "discrete", "n": 2, "start": 0})
    actor_before = [p.detach().clone() for p in agent.actor.parameters()]
    train_ppo("CartPole-v1", config, seed=0, agent=agent, advantage_fn=zero_advantages)
    assert seen == [((config.num_steps, config.num_envs), config.gamma, config.gae_lambda)] * 2
    # Zero advantages give the policy term no gradient: the actor stays where it was.
    assert all(torch.equal(p, b) for p, b in zip(agent.actor.parameters(), actor_before))
    with pytest.raises(ValueError, match="advantage_fn"):
        train_ppo("CartPole-v1", config, advantage_fn="gae")
