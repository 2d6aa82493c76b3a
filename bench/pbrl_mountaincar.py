"""Preference-based RL on MountainCar-v0 across seeds: success rate, labels, env steps, time.

    .venv/bin/python bench/pbrl_mountaincar.py                      # 10 seeds, all variants
    .venv/bin/python bench/pbrl_mountaincar.py --seeds 3 --variants default,sparse

Variants (all with the notebook's PbRLConfig() unless said):
* ``default``: energy-gain judgements, labeler temperature 0.01, 3 rounds x 100 labels;
* ``noisy``: a sloppier human, temperature 0.05 and 10 % wrong clicks (flip_prob 0.1);
* ``few_labels``: 2 rounds x 50 labels (100 labels in all);
* ``max_height``: the human judges the highest point reached instead of the energy gained;
* ``sparse``: PPO with the same PPO settings and the same number of PPO steps on the true,
  sparse reward (-1 per step until the flag): the baseline.
Success = fraction of 50 evaluation episodes (reset seeds 5000+, never used in training) that
reach the flag, greedy actions. Wall times are on a shared 2-core machine: compare within one run.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from rlft_core.mountain_car import energy_gain, max_height  # noqa: E402
from rlft_core.pbrl import PbRLConfig, success_rate, train_pbrl  # noqa: E402
from rlft_core.ppo import train_ppo  # noqa: E402

EVAL_EPISODES, EVAL_SEED = 50, 5000


def run_variant(name: str, seed: int) -> dict:
    config, criterion = PbRLConfig(), energy_gain
    if name == "noisy":
        config = dataclasses.replace(config, labeler_temperature=0.05, labeler_flip_prob=0.1)
    elif name == "few_labels":
        config = dataclasses.replace(config, iterations=2, pairs_per_iteration=50)
    elif name == "max_height":
        criterion = max_height
    start = time.perf_counter()
    if name == "sparse":
        ppo_steps = config.iterations * config.ppo_updates_per_iteration * config.ppo.num_envs * config.ppo.num_steps
        sparse_config = dataclasses.replace(config.ppo, total_timesteps=ppo_steps)   # same PPO, same PPO steps
        agent, history = train_ppo("MountainCar-v0", sparse_config, seed=seed)
        labels, env_steps = 0, history[-1]["global_step"]
    else:
        agent, _, history = train_pbrl("MountainCar-v0", criterion, config, seed=seed)
        labels, env_steps, ppo_steps = history[-1]["labels"], history[-1]["env_steps"], history[-1]["ppo_steps"]
    seconds = time.perf_counter() - start
    rate, mean_return = success_rate(agent, "MountainCar-v0", EVAL_EPISODES, seed=EVAL_SEED)
    return {"variant": name, "seed": seed, "success": rate, "return": mean_return, "labels": labels,
            "env_steps": env_steps, "ppo_steps": ppo_steps, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--variants", default="default,noisy,few_labels,max_height,sparse")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in args.variants.split(","):
        for seed in range(args.seeds):
            row = run_variant(name, seed)
            rows.append(row)
            print(f"{name:>11} seed {seed}: success {row['success']:.2f}, return {row['return']:.1f}, "
                  f"labels {row['labels']}, env steps {row['env_steps']}, {row['seconds']:.1f} s", flush=True)
    print(f"\n| variant | seeds | success (mean, min) | seeds with success >= 90 % | labels | env steps | "
          f"PPO steps | time per run (median, max) |\n|---|---|---|---|---|---|---|---|")
    for name in args.variants.split(","):
        group = [r for r in rows if r["variant"] == name]
        successes = [r["success"] for r in group]
        times = [r["seconds"] for r in group]
        print(f"| {name} | {len(group)} | {statistics.mean(successes):.0%}, {min(successes):.0%} | "
              f"{sum(s >= 0.9 for s in successes)}/{len(group)} | {group[0]['labels']} | "
              f"{statistics.median(r['env_steps'] for r in group):,.0f} | {group[0]['ppo_steps']:,} | "
              f"{statistics.median(times):.1f} s, {max(times):.1f} s |")


if __name__ == "__main__":
    main()
