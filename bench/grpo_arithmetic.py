"""GRPO on two-digit addition: GRPO, RLOO, no baseline and expert iteration; our step beside TRL's.

1. For each seed: SFT on the flawed corpus (``rlft_core.grpo_train.sft_model``), then from copies
   of that model GRPO, RLOO, REINFORCE without a baseline (``advantage="none"``) and expert
   iteration on the same sampling budget (prompts × completions per step, steps). Greedy accuracy
   and pass@1 on 256 held-out problems against steps and against training wall time (evaluation
   excluded).
2. One GRPO step of ours beside one ``trl.GRPOTrainer`` step on a GPT-2 of the same size (2 × 64,
   4 heads, the same 15-token vocabulary) and the same batch (prompts × completions), in the same
   process: median over ``--timing-steps`` steps after one warm-up step. TRL's time is its own
   ``step_time`` metric (generation, reward, advantages and the update of one step).

One torch thread throughout. Prints tables; asserts nothing.

    .venv/bin/python bench/grpo_arithmetic.py                        # 5 seeds
    .venv/bin/python bench/grpo_arithmetic.py --seeds 0 --timing-steps 3
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from rlft_core.grpo_train import (SFT_CONFIG, ExpertIterationConfig, GRPOConfig, expert_iteration,  # noqa: E402
                                  sft_model, train_grpo)
from rlft_core.rlhf import SFTConfig  # noqa: E402

SFT = SFT_CONFIG


def run_seed(seed: int, base: GRPOConfig) -> dict:
    start = time.perf_counter()
    model, train_problems, test_problems = sft_model(seed=seed, config=SFT)
    sft_seconds = time.perf_counter() - start
    curves = {}
    for advantage in ("grpo", "rloo", "none"):
        config = GRPOConfig(**{**vars(base), "advantage": advantage})
        curves[advantage] = train_grpo(copy.deepcopy(model), train_problems, test_problems, config, seed=seed)
    ei = ExpertIterationConfig(rounds=base.steps // 10, steps_per_round=10, prompts_per_step=base.prompts_per_step,
                               num_generations=base.num_generations)
    curves["expert iteration"] = expert_iteration(copy.deepcopy(model), train_problems, test_problems, ei, seed=seed)
    return {"sft_seconds": sft_seconds, "curves": curves}


def evaluated(history):
    return [r for r in history if "greedy_accuracy" in r]


def first_step_reaching(history, level):
    return next((r["step"] for r in evaluated(history) if r["greedy_accuracy"] >= level), None)


def time_our_step(model, train_problems, test_problems, base: GRPOConfig, steps: int) -> float:
    config = GRPOConfig(**{**vars(base), "steps": steps + 1, "eval_every": 10_000, "eval_problems": 1, "eval_samples": 1})
    history = train_grpo(copy.deepcopy(model), train_problems, test_problems, config)
    times = [b["time"] - a["time"] for a, b in zip(history[1:], history[2:])]     # skip the warm-up step
    return statistics.median(times)


def time_trl_step(train_problems, base: GRPOConfig, steps: int) -> float:
    import datasets
    import transformers
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    import grpo_trl
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    tokenizer, model = grpo_trl.tiny_tokenizer(), grpo_trl.tiny_gpt2()
    tokenizer.padding_side = "left"
    trainer = grpo_trl.build_trainer(model, tokenizer, train_problems, max_steps=steps + 1,
                                     per_device_train_batch_size=base.prompts_per_step * base.num_generations,
                                     num_generations=base.num_generations, learning_rate=base.learning_rate)
    trainer.train()
    step_times = [row["step_time"] for row in trainer.state.log_history if "step_time" in row]
    return statistics.median(step_times[1:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--prompts-per-step", type=int, default=GRPOConfig.prompts_per_step)
    parser.add_argument("--learning-rate", type=float, default=GRPOConfig.learning_rate)
    parser.add_argument("--timing-steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = GRPOConfig(steps=args.steps, prompts_per_step=args.prompts_per_step, learning_rate=args.learning_rate,
                      eval_every=5)
    print(f"GRPO settings: {base}\nSFT: {SFT}\n")
    results = {seed: run_seed(seed, base) for seed in args.seeds}
    methods = list(next(iter(results.values()))["curves"])

    print("| method | greedy acc. at step 0 / 20 / 40 / 60 (median of seeds) | pass@1 at 60 | "
          "first step ≥ 0.95 (per seed) | RL wall s (median) |\n|---|---|---|---|---|")
    for method in methods:
        rows = {seed: evaluated(r["curves"][method]) for seed, r in results.items()}

        def median_at(step, key):
            values = [next((x[key] for x in rows[s] if x["step"] == step), float("nan")) for s in rows]
            return statistics.median(values)
        accs = " / ".join(f"{median_at(s, 'greedy_accuracy'):.2f}" for s in (0, 20, 40, args.steps))
        reach = ", ".join(str(first_step_reaching(r["curves"][method], 0.95)) for r in results.values())
        wall = statistics.median(r["curves"][method][-1]["time"] for r in results.values())
        print(f"| {method} | {accs} | {median_at(args.steps, 'pass_at_1'):.2f} | {reach} | {wall:.1f} |")
    print("\nper seed, greedy accuracy every 10 steps:")
    for seed, r in results.items():
        print(f"seed {seed} (SFT {r['sft_seconds']:.0f} s):")
        for method in methods:
            points = [f"{x['step']}:{x['greedy_accuracy']:.2f}" for x in evaluated(r["curves"][method]) if x["step"] % 10 == 0]
            print(f"  {method:17s} {' '.join(points)}")

    model, train_problems, test_problems = sft_model(seed=0, config=SFTConfig(steps=20, batch_size=64))
    ours = time_our_step(model, train_problems, test_problems, base, args.timing_steps)
    theirs = time_trl_step(train_problems, base, args.timing_steps)
    print(f"\none step, {base.prompts_per_step} prompts × {base.num_generations} completions, 2 × 64 model: "
          f"ours {ours * 1000:.0f} ms, TRL GRPOTrainer {theirs * 1000:.0f} ms, ratio {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
