"""PPO on Pendulum-v1: rlft_core (``PPOConfig.pendulum()``) beside Stable-Baselines3 with the
rl-zoo Pendulum-v1 hyperparameters (gSDE), one run, the same measurements as ppo_cartpole.py:
env steps and wall seconds until the mean of the last 20 finished training episodes first reaches
-200, a 20-episode greedy evaluation, training steps/s, and the random-policy stepping rate of our
vector env (SyncVectorEnv) as the ceiling. Ours trains to the end of the preset's 50k-step budget
(what a student running the preset gets) and its evaluation is of that final policy; SB3 stops at
the threshold (its zoo budget is 100k) and is evaluated there. Prints figures; asserts nothing.

    .venv/bin/python bench/ppo_pendulum.py                  # 5 seeds of each, side by side
    .venv/bin/python bench/ppo_pendulum.py --seeds 3
    .venv/bin/python bench/ppo_pendulum.py --ours-only 20   # ours alone on seeds 0-19: reliability
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ppo_cartpole import compare, fmt, run_ours  # noqa: E402  (the shared harness)

from rlft_core.ppo import PPOConfig  # noqa: E402

THRESHOLD = -200.0
EVAL_FLOOR = -250.0     # the greedy evaluation every solved seed should reach


def ours_only(config, seeds):
    """Our trainer alone over many seeds: steps to the threshold and the final greedy evaluation."""
    torch.set_num_threads(1)
    print("| seed | steps to −200 | wall s | greedy eval of the final policy (20 ep) |")
    print("|---:|---:|---:|---:|")
    rows = []
    for seed in seeds:
        result = run_ours("Pendulum-v1", config, seed, THRESHOLD)
        rows.append(result)
        print(f"| {seed} | {fmt(result['steps'])} | {fmt(result['wall'], 2)} | {result['eval']:.1f} |", flush=True)
    steps = [np.inf if r["steps"] is None else r["steps"] for r in rows]
    walls = [np.inf if r["wall"] is None else r["wall"] for r in rows]
    solved_evals = [r["eval"] for r in rows if r["steps"] is not None]
    q25, median, q75 = np.percentile(steps, [25, 50, 75])
    print(f"\nours over seeds {seeds.start}-{seeds.stop - 1}: median {fmt(median)} steps to {THRESHOLD:.0f} "
          f"(quartiles {fmt(q25)}-{fmt(q75)}), median wall {fmt(float(np.median(walls)), 2)} s, "
          f"unsolved within the budget {sum(np.isinf(steps))}/{len(steps)}")
    if solved_evals:
        print(f"greedy evaluation on the solved seeds: worst {min(solved_evals):.1f}, median "
              f"{np.median(solved_evals):.1f}; below {EVAL_FLOOR:.0f}: {sum(e < EVAL_FLOOR for e in solved_evals)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ours-only", type=int, default=None, metavar="N",
                        help="run only our trainer, on seeds 0..N-1 (steps to -200, final greedy evaluation)")
    args = parser.parse_args()
    config = PPOConfig.pendulum()                         # the preset's 50k-step budget, no early stop
    if args.ours_only is not None:
        print(f"ours: {config}\n", flush=True)
        ours_only(config, range(args.ours_only))
        return
    # rl-baselines3-zoo hyperparams/ppo.yml, Pendulum-v1 (no normalisation; batch_size is SB3's 64).
    sb3_kwargs = dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                      learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4)
    max_steps = 100_000                                   # the zoo's n_timesteps
    print(f"ours: {config}\nSB3: 4 envs, {sb3_kwargs}\n", flush=True)
    compare("Pendulum-v1", THRESHOLD, config, sb3_kwargs, 4, range(args.seeds), max_steps)


if __name__ == "__main__":
    main()
