"""PPO on Pendulum-v1: rlft_core (``PPOConfig.pendulum()``) beside Stable-Baselines3 with the
rl-zoo Pendulum-v1 hyperparameters (gSDE), one run, the same measurements as ppo_cartpole.py:
env steps and wall seconds until the mean of the last 20 finished episodes >= -200 (budgets:
ours the preset's 50k steps, SB3 the zoo's 100k), a 20-episode deterministic evaluation, training steps/s, and the random-policy stepping
rate of our vector env (SyncVectorEnv) as the ceiling. Prints figures; asserts nothing.

    .venv/bin/python bench/ppo_pendulum.py            # 5 seeds
    .venv/bin/python bench/ppo_pendulum.py --seeds 3
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ppo_cartpole import compare  # noqa: E402  (the shared harness)

from rlft_core.ppo import PPOConfig  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    # rl-baselines3-zoo hyperparams/ppo.yml, Pendulum-v1 (no normalisation; batch_size is SB3's 64).
    sb3_kwargs = dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                      learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4)
    max_steps = 100_000                                   # the zoo's n_timesteps
    config = PPOConfig.pendulum(stop_at_return=-200)      # the preset's 50k-step budget
    print(f"ours: {config}\nSB3: 4 envs, {sb3_kwargs}\n", flush=True)
    compare("Pendulum-v1", -200.0, config, sb3_kwargs, 4, range(args.seeds), max_steps)


if __name__ == "__main__":
    main()
