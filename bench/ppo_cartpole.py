"""PPO on CartPole-v1: rlft_core beside Stable-Baselines3 (rl-zoo hyperparameters), one run.

For each seed, both trainers run until the mean return of the last 20 finished training episodes
reaches the threshold (475) or the end of their tuned budget (ours: the default 40k steps; SB3:
the zoo's 100k; both anneal their learning rate over that budget). Reported per seed: env steps and wall seconds until
solved (wall time from the trainer's construction, so both include building their envs), the mean
of a 20-episode deterministic evaluation of the final policy, and training steps per second.
The ceiling is the random-policy stepping rate of the same vector env as ours.

Both trainers run with one torch thread (the fastest setting for these tiny networks here).
Prints figures; asserts nothing.

    .venv/bin/python bench/ppo_cartpole.py            # 5 seeds
    .venv/bin/python bench/ppo_cartpole.py --seeds 3
    .venv/bin/python bench/ppo_cartpole.py --ours-only 40   # ours alone on seeds 0-39: the spread
"""
from __future__ import annotations

import argparse
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch

from rlft_core.ppo import PPOConfig, evaluate, train_ppo
from rlft_core.rollout import make_vector_env


def run_ours(env_id, config, seed, threshold):
    solved = {}

    def note_solved(record):
        if "step" not in solved and record["mean_return"] >= threshold:
            solved.update(step=record["global_step"], wall=time.perf_counter() - start)

    start = time.perf_counter()
    agent, history = train_ppo(env_id, config, callback=note_solved, seed=seed)
    return {"steps": solved.get("step"), "wall": solved.get("wall"),
            "eval": evaluate(agent, env_id, episodes=20, seed=10_000 + seed),
            "sps": history[-1]["sps"], "total_steps": history[-1]["global_step"]}


def run_sb3(env_id, sb3_kwargs, n_envs, seed, threshold, max_steps):
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class StopWhenSolved(BaseCallback):
        """Tracks the last 20 finished episodes (Monitor's info["episode"]); stops at the threshold."""
        def __init__(self):
            super().__init__()
            self.recent, self.solved_step, self.solved_wall = deque(maxlen=20), None, None

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.recent.append(info["episode"]["r"])
            if len(self.recent) > 0 and np.mean(self.recent) >= threshold and self.solved_step is None:
                self.solved_step, self.solved_wall = self.num_timesteps, time.perf_counter() - start
                return False
            return True

    start = time.perf_counter()
    model = PPO("MlpPolicy", make_vec_env(env_id, n_envs=n_envs, seed=seed), seed=seed, device="cpu",
                verbose=0, **sb3_kwargs)
    callback = StopWhenSolved()
    learn_start = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=callback)
    sps = model.num_timesteps / (time.perf_counter() - learn_start)
    return {"steps": callback.solved_step, "wall": callback.solved_wall, "eval": _sb3_eval(model, env_id, seed),
            "sps": sps, "total_steps": model.num_timesteps}


def _sb3_eval(model, env_id, seed, episodes=20):
    env = gym.make(env_id)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + seed + episode)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def raw_stepping_rate(env_id, num_envs, steps=200_000):
    """Env steps per second of the vector env ``train_ppo`` uses, with random actions."""
    envs = make_vector_env(env_id, num_envs)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    vector_steps = steps // num_envs
    start = time.perf_counter()
    for _ in range(vector_steps):
        envs.step(envs.action_space.sample())
    rate = vector_steps * num_envs / (time.perf_counter() - start)
    envs.close()
    return rate


def fmt(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def compare(env_id, threshold, ours_config, sb3_kwargs, sb3_envs, seeds, max_steps):
    torch.set_num_threads(1)
    rows = []
    for seed in seeds:
        ours = run_ours(env_id, ours_config, seed, threshold)
        sb3 = run_sb3(env_id, sb3_kwargs, sb3_envs, seed, threshold, max_steps)
        rows.append((seed, ours, sb3))
        print(f"seed {seed}: ours {fmt(ours['steps'])} steps {fmt(ours['wall'], 2)} s | "
              f"SB3 {fmt(sb3['steps'])} steps {fmt(sb3['wall'], 2)} s", flush=True)
    raw = raw_stepping_rate(env_id, ours_config.num_envs)

    print(f"\n{env_id}: steps and wall seconds until the last-20-episode mean >= {threshold} "
          f"(budgets: ours {ours_config.total_timesteps:,} steps, SB3 {max_steps:,} steps)\n")
    print("| seed | ours: steps | ours: wall s | ours: eval (20 ep) | ours: steps/s "
          "| SB3: steps | SB3: wall s | SB3: eval (20 ep) | SB3: steps/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed, o, s in rows:
        print(f"| {seed} | {fmt(o['steps'])} | {fmt(o['wall'], 2)} | {fmt(o['eval'], 1)} | {fmt(o['sps'])} "
              f"| {fmt(s['steps'])} | {fmt(s['wall'], 2)} | {fmt(s['eval'], 1)} | {fmt(s['sps'])} |")

    def med(key, who):
        values = [r[who][key] if r[who][key] is not None else np.inf for r in
                  [{"o": o, "s": s} for _, o, s in rows]]
        return float(np.median(values))

    print(f"| **median** | **{fmt(med('steps', 'o'))}** | **{fmt(med('wall', 'o'), 2)}** "
          f"| {fmt(med('eval', 'o'), 1)} | {fmt(med('sps', 'o'))} | **{fmt(med('steps', 's'))}** "
          f"| **{fmt(med('wall', 's'), 2)}** | {fmt(med('eval', 's'), 1)} | {fmt(med('sps', 's'))} |")
    unsolved_o = sum(o["steps"] is None for _, o, _ in rows)
    unsolved_s = sum(s["steps"] is None for _, _, s in rows)
    print(f"\nunsolved within the budget: ours {unsolved_o}/{len(rows)}, SB3 {unsolved_s}/{len(rows)} (median counts them as inf)")
    print(f"raw random-policy stepping rate of our vector env ({ours_config.num_envs} envs): {raw:,.0f} steps/s")
    print(f"our training throughput / raw rate: {med('sps', 'o') / raw:.0%}")
    print(f"median wall to solve, ours / SB3: {med('wall', 'o') / med('wall', 's'):.2f}")
    return rows, raw


class linear:  # noqa: N801 - reads like the zoo's ``lin_<x>``
    """rl-zoo's ``lin_<x>`` schedule: SB3 calls it with the remaining progress, 1 -> 0."""

    def __init__(self, initial):
        self.initial = initial

    def __call__(self, progress_remaining):
        return progress_remaining * self.initial

    def __repr__(self):
        return f"lin_{self.initial:g}"


def ours_only(config, seeds, threshold=475.0):
    """Steps to solve for our trainer alone over many seeds: a median less at the mercy of 5 seeds."""
    torch.set_num_threads(1)
    steps = []
    for seed in seeds:
        result = run_ours("CartPole-v1", config, seed, threshold)
        steps.append(np.inf if result["steps"] is None else result["steps"])
        print(f"seed {seed}: {fmt(result['steps'])} steps, eval {result['eval']:.1f}", flush=True)
    q25, median, q75 = np.percentile(steps, [25, 50, 75])
    print(f"\nours over seeds {seeds.start}-{seeds.stop - 1}: median {fmt(median)} steps to solve "
          f"(quartiles {fmt(q25)}-{fmt(q75)}), unsolved within the budget {sum(np.isinf(steps))}/{len(steps)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ours-only", type=int, default=None, metavar="N",
                        help="run only our trainer, on seeds 0..N-1, and print the spread of steps to solve")
    args = parser.parse_args()
    if args.ours_only is not None:
        ours_only(PPOConfig(stop_at_return=475), range(args.ours_only))
        return
    # rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1 ("lin_" = linear decay to 0).
    sb3_kwargs = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                      learning_rate=linear(1e-3), clip_range=linear(0.2))
    max_steps = 100_000                                   # the zoo's n_timesteps
    config = PPOConfig(stop_at_return=475)                # our defaults (a 40k-step budget)
    print(f"ours: {config}\nSB3: 8 envs, {sb3_kwargs}\n", flush=True)
    compare("CartPole-v1", 475.0, config, sb3_kwargs, 8, range(args.seeds), max_steps)


if __name__ == "__main__":
    main()
