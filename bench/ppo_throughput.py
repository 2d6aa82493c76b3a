"""Where PPO's training time goes on CartPole-v1, against the "throughput >= 40 % of raw" target.

Training throughput of 40 % of the raw stepping rate means one env step of training may cost at
most 2.5x a raw env step: the environment itself takes 1x, so the policy forward in the rollout,
GAE and the gradient updates together must fit in 1.5x. This script measures, with one torch
thread and the default ``PPOConfig`` (or ``--epochs``):

1. raw: random-policy env steps/s of the vector env ``train_ppo`` uses;
2. rollout: env steps/s of ``RolloutCollector.collect`` alone (env + network forward + sampling);
3. training: env steps/s of ``train_ppo`` over its whole budget (no early stop);
4. the arithmetic floor of the updates: the multiply-adds of forward and backward passes (about
   3x the forward) over ``num_epochs`` passes, at the best matmul rate this core reaches on a
   minibatch-sized hidden layer; that is what the updates would cost with zero framework overhead.

Prints figures; asserts nothing.

    .venv/bin/python bench/ppo_throughput.py
    .venv/bin/python bench/ppo_throughput.py --epochs 1     # one pass per rollout instead of ten
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ppo_cartpole import raw_stepping_rate  # noqa: E402

from rlft_core.policies import ActorCritic, action_spec_from_space  # noqa: E402
from rlft_core.ppo import PPOConfig, train_ppo  # noqa: E402
from rlft_core.rollout import RolloutCollector, make_vector_env  # noqa: E402


def rollout_rate(env_id, config, rollouts=200, seed=0):
    """Env steps/s of collecting rollouts (and their GAE) with a fixed, freshly initialised policy."""
    envs = make_vector_env(env_id, config.num_envs)
    agent = ActorCritic(envs.single_observation_space.shape[0], action_spec_from_space(envs.single_action_space),
                        config.hidden_sizes)
    collector = RolloutCollector(envs, agent, config.num_steps, config.gamma, False, seed)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(rollouts):
        collector.collect(agent, generator)
        collector.advantages_and_returns(config.gamma, config.gae_lambda)
    rate = rollouts * config.num_envs * config.num_steps / (time.perf_counter() - start)
    envs.close()
    return rate


def matmul_gflops(rows, inner, cols, repeats=20_000):
    """Best single-thread float32 GFLOP/s of ``(rows, inner) @ (inner, cols)`` (5 trials)."""
    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = max(best, 2 * rows * inner * cols * repeats / (time.perf_counter() - start) / 1e9)
    return best


def update_flops_per_env_step(obs_dim, n_actions, hidden, epochs):
    """Float operations of the updates per env step: forward multiply-adds of actor and critic,
    x3 for forward + backward (input and weight gradients), x2 flops per multiply-add, x epochs."""
    def macs(sizes):
        return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    forward = macs((obs_dim, *hidden, n_actions)) + macs((obs_dim, *hidden, 1))
    return epochs * 3 * 2 * forward


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="override PPOConfig.num_epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    env_id = "CartPole-v1"
    config = PPOConfig() if args.epochs is None else PPOConfig(num_epochs=args.epochs)
    print(f"config: {config}\n", flush=True)

    raw = raw_stepping_rate(env_id, config.num_envs)
    rollout = rollout_rate(env_id, config)
    _, history = train_ppo(env_id, dataclasses.replace(config, stop_at_return=None), seed=0)
    training = history[-1]["sps"]
    minibatch = config.num_envs * config.num_steps // config.num_minibatches
    gflops = matmul_gflops(minibatch, config.hidden_sizes[0], config.hidden_sizes[-1])
    flops = update_flops_per_env_step(4, 2, config.hidden_sizes, config.num_epochs)   # CartPole: 4 obs, 2 actions

    us = 1e6
    per_raw, per_rollout, per_train = us / raw, us / rollout, us / training
    floor = flops / (gflops * 1e9) * us
    print(f"raw env stepping ({config.num_envs} envs):   {raw:>10,.0f} steps/s  = {per_raw:6.1f} µs per env step")
    print(f"rollout (env + forward + GAE):  {rollout:>10,.0f} steps/s  = {per_rollout:6.1f} µs per env step")
    print(f"training (train_ppo, {history[-1]['global_step']:,} steps): {training:>8,.0f} steps/s  = {per_train:6.1f} µs per env step")
    print(f"  of which updates (training - rollout):            {per_train - per_rollout:6.1f} µs per env step")
    print(f"training / raw: {training / raw:.1%} (target >= 40 %: at most {2.5 * per_raw:.1f} µs per env step)")
    print(f"\nbest matmul rate on ({minibatch}x{config.hidden_sizes[0]}) @ ({config.hidden_sizes[0]}x{config.hidden_sizes[-1]}), "
          f"one thread: {gflops:.1f} GFLOP/s")
    print(f"update arithmetic: {flops / 1e3:.0f} kFLOP per env step ({config.num_epochs} epochs) "
          f"-> floor {floor:.1f} µs per env step with zero overhead")
    print(f"best possible training / raw with that floor (rollout forward free): "
          f"{per_raw / (per_raw + floor):.1%}")


if __name__ == "__main__":
    main()
