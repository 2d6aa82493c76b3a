"""Reward over-optimisation on the tiny review LM: proxy vs true reward against KL, across seeds.

    .venv/bin/python bench/overoptimization.py                    # 3 seeds, best-of-n and a PPO β sweep
    .venv/bin/python bench/overoptimization.py --seeds 5 --no-ppo
    .venv/bin/python bench/overoptimization.py --append bench/RESULTS.md

The setting of notebook 10 (``solutions/10_challenges_reward_hacking.ipynb``): the review language with
a sloppier corpus (20 % corrupted reviews, 15 % "not" clauses, −2 for a broken review), SFT for 400
steps, a Boltzmann-rational labeler (temperature 0.5, no bias) on 500 + 400 pairs of SFT samples, a
reward model fit for 2 epochs. Then:

* **best-of-n** for n = 1 … 1024, exact over a pool of 1024 SFT samples per product
  (``rlft_core.overoptimization.best_of_n_estimate``), KL = log n − (n−1)/n;
* **PPO** (``rlft_core.rlhf_ppo.train_ppo_lm``) with several ``kl_coef`` β, each evaluated on 512
  fresh prompts by ``rlft_core.rlhf.evaluate_policy`` (KL = Monte-Carlo KL to the SFT model).

The true reward is the language's hidden r*; the proxy is the reward model's score. Wall times are
on a shared 2-core machine.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rlft_core.overoptimization import best_of_n_estimate, sample_pool, score_in_batches  # noqa: E402
from rlft_core.preferences import BradleyTerryLabeler  # noqa: E402
from rlft_core.review_language import PRODUCTS, ReviewLanguage  # noqa: E402
from rlft_core.rlhf import (RewardModelConfig, SFTConfig, best_of_n_kl, evaluate_policy, new_lm,  # noqa: E402
                            sample_preference_data, train_sft, train_token_reward_model)
from rlft_core.rlhf_ppo import PPOLMConfig, train_ppo_lm  # noqa: E402

NS = [2 ** k for k in range(11)]
POOL = 1024


def setting(seed: int):
    """Notebook 10's SFT model and honest-but-noisy reward model for ``seed``."""
    language = ReviewLanguage(target_length=10, length_penalty=0.1, ungrammatical_penalty=2.0,
                              corruption_prob=0.2, modifier_probs=(0.6, 0.25, 0.15))
    sft = new_lm(language, seed=seed)
    train_sft(sft, language.sample_corpus(20_000, seed=seed), language.prompt_length, SFTConfig(steps=400), seed=seed)
    labeler = BradleyTerryLabeler(language.reward_of, temperature=0.5, seed=seed)
    data = sample_preference_data(sft, language, labeler, 900, test_fraction=400 / 900, seed=seed)
    reward_model, history = train_token_reward_model(sft, data, RewardModelConfig(epochs=2, learning_rate=1e-3, batch_size=64),
                                                     seed=seed)
    return language, sft, reward_model, history[-1]["test_accuracy"], data.ceiling


def best_of_n_curve(language, sft, reward_model, seed: int) -> dict:
    seq, mask = sample_pool(sft, language, POOL, seed=seed + 1)
    shape = (len(PRODUCTS), POOL)
    proxy = score_in_batches(reward_model, seq, mask).numpy().reshape(shape)
    true = language.sequence_rewards(seq, mask).numpy().reshape(shape)
    grammatical = language.grammatical(seq, mask).float().numpy().reshape(shape)
    return {"n": NS, "kl": [best_of_n_kl(n) for n in NS], "proxy": best_of_n_estimate(proxy, proxy, NS),
            "true": best_of_n_estimate(proxy, true, NS), "grammatical": best_of_n_estimate(proxy, grammatical, NS)}


def ppo_sweep(language, sft, reward_model, seed: int, kl_coefs, iterations: int) -> list[dict]:
    rows = []
    for kl_coef in kl_coefs:
        policy = copy.deepcopy(sft)
        config = PPOLMConfig(iterations=iterations, batch_size=64, minibatch_size=32, learning_rate=1e-3, kl_coef=kl_coef)
        start = time.perf_counter()
        history = train_ppo_lm(policy, sft, reward_model, language, config, seed=seed)
        seconds = time.perf_counter() - start
        e = evaluate_policy(policy, sft, reward_model, language, n_samples=512, seed=seed + 10_000)
        rows.append({"kl_coef": kl_coef, "kl": e["kl"], "proxy": e["proxy_reward"], "true": e["true_reward"],
                     "grammatical": e["grammatical"], "seconds": seconds, "history": history})
    return rows


def interior(values) -> bool:
    k = int(np.argmax(values))
    return 0 < k < len(values) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--no-ppo", action="store_true")
    parser.add_argument("--kl-coefs", default="1.0,0.3,0.1,0.03,0.01,0.0")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--append", type=Path, help="append the markdown section to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    kl_coefs = [float(x) for x in args.kl_coefs.split(",")]
    bon, ppo, models, started = [], [], [], time.perf_counter()
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        language, sft, reward_model, accuracy, ceiling = setting(seed)
        models.append((accuracy, ceiling))
        bon.append(best_of_n_curve(language, sft, reward_model, seed))
        if not args.no_ppo:
            ppo.append(ppo_sweep(language, sft, reward_model, seed, kl_coefs, args.iterations))
        print(f"seed {seed}: {time.perf_counter() - t0:.0f} s; reward model {accuracy:.3f} (labeler vs r*: {ceiling:.3f}); "
              f"best-of-n peak at n={NS[int(np.argmax(bon[-1]['true']))]}", file=sys.stderr, flush=True)

    lines = ["", "## Reward over-optimisation curve", "",
             f"Command: `.venv/bin/python bench/overoptimization.py --seeds {args.seeds}"
             + (" --no-ppo" if args.no_ppo else "") + "` (torch 1 thread; shared machine; "
             f"{time.perf_counter() - started:.0f} s in all). The setting of notebook 10: SFT 400 steps on the review "
             "language with a sloppier corpus (20 % corrupted reviews, 15 % \"not\" clauses, −2 for a broken review); "
             "an honest Boltzmann-rational labeler (temperature 0.5) on 500 training + 400 held-out pairs of SFT "
             "samples; a reward model from the SFT network, 2 epochs. Reward-model held-out accuracy "
             + ", ".join(f"{a:.3f}" for a, _ in models) + " (labeler's agreement with r*: "
             + ", ".join(f"{c:.3f}" for _, c in models) + ").", "",
             "**Best-of-n**, exact over a pool of 1024 SFT samples per product (6 products); "
             "KL = log n − (n−1)/n. Proxy = reward-model score, true = hidden r*, per seed:", "",
             "| n | KL | " + " | ".join(f"proxy s{s} | true s{s}" for s in range(args.seeds)) + " | grammatical (s0) |",
             "|---|---|" + "---|---|" * args.seeds + "---|"]
    for k, n in enumerate(NS):
        lines.append(f"| {n} | {bon[0]['kl'][k]:.2f} | "
                     + " | ".join(f"{b['proxy'][k]:+.2f} | {b['true'][k]:+.2f}" for b in bon)
                     + f" | {bon[0]['grammatical'][k]:.0%} |")
    peaks = [NS[int(np.argmax(b["true"]))] for b in bon]
    lines += ["", f"True reward peaks strictly inside the sweep in {sum(interior(b['true']) for b in bon)}/{len(bon)} "
              f"seeds (at n = {', '.join(map(str, peaks))}); the proxy rises monotonically in every seed "
              f"({sum(bool(np.all(np.diff(b['proxy']) > 0)) for b in bon)}/{len(bon)})."]
    if ppo:
        lines += ["", f"**PPO with a KL penalty** (`train_ppo_lm`, {args.iterations} iterations × 64 samples, "
                  "minibatch 32, lr 1e-3), evaluated on 512 fresh prompts (KL = Monte-Carlo KL to the SFT model):", "",
                  "| kl_coef β | " + " | ".join(f"KL s{s} | proxy s{s} | true s{s}" for s in range(len(ppo)))
                  + " | time per run (median) |",
                  "|---|" + "---|---|---|" * len(ppo) + "---|"]
        for j, beta in enumerate(kl_coefs):
            lines.append(f"| {beta:g} | " + " | ".join(f"{r[j]['kl']:.2f} | {r[j]['proxy']:+.2f} | {r[j]['true']:+.2f}"
                                                        for r in ppo)
                         + f" | {statistics.median(r[j]['seconds'] for r in ppo):.1f} s |")
        ppo_peaks = [kl_coefs[int(np.argmax([row['true'] for row in r]))] for r in ppo]
        lines += ["", f"Best β per seed: {', '.join(f'{b:g}' for b in ppo_peaks)}; true reward peaks strictly "
                  f"inside the β sweep in {sum(interior([row['true'] for row in r]) for r in ppo)}/{len(ppo)} seeds."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        with open(args.append, "a", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
