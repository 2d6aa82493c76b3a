"""RLHF on the tiny LM, end to end: stage times, reward-model accuracy, and the reward–KL frontier.

1. The pipeline of ``rlft_core.rlhf_pipeline.run_pipeline`` with its defaults: SFT on 20k grammar
   reviews → 8k comparisons of SFT samples labelled by a Bradley–Terry human (T = 0.5) → reward
   model → PPO (β = 0.1), DPO (β = 0.5), best-of-n. Wall-clock and CPU seconds per stage.
2. The reward model's held-out accuracy beside the labeler's ceiling (its agreement with r*).
3. The frontier of Rafailov et al. 2023, Fig. 2, in miniature: true reward against
   KL(π‖π_SFT) for PPO at several KL coefficients, DPO at several β, and best-of-n for n = 1…32
   (KL = log n − (n−1)/n). The sweep runs in ``--workers`` processes (one per core). Saves a plot.

Everything runs with one torch thread per process: for these tiny models one thread is the
fastest setting, and on a shared 2-core machine two threads per process are several times slower.
Prints figures and whether the targets are met; asserts nothing.

    .venv/bin/python bench/rlhf_pipeline.py                  # seed 0, 2 workers
    .venv/bin/python bench/rlhf_pipeline.py --seed 1 --workers 1
"""
from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import time

import torch

from rlft_core.dpo import DPOConfig, train_dpo
from rlft_core.rlhf import best_of_n_kl, evaluate_policy
from rlft_core.rlhf_pipeline import PipelineConfig, run_pipeline
from rlft_core.rlhf_ppo import PPOLMConfig, train_ppo_lm

PPO_KL_COEFS = (0.03, 0.1, 0.3, 1.0)
DPO_BETAS = (0.1, 0.25, 0.5, 1.0)
BEST_OF = (1, 2, 4, 8, 16, 32)
SHARED = {}                      # the trained SFT model etc., inherited by forked workers


def _evaluate(policy, **kwargs):
    s = SHARED
    return evaluate_policy(policy, s["sft"], s["reward_model"], s["language"], n_samples=s["config"].eval_samples,
                           seed=s["config"].seed + 10_000, **kwargs)


def _sweep_point(job):
    """One point of the frontier, run in a worker process: ("ppo", kl_coef) or ("dpo", beta)."""
    torch.set_num_threads(1)
    kind, value = job
    s, start, start_cpu = SHARED, time.perf_counter(), time.process_time()
    policy = copy.deepcopy(s["sft"])
    base = s["config"]
    if kind == "ppo":
        train_ppo_lm(policy, s["sft"], s["reward_model"], s["language"],
                     PPOLMConfig(**{**vars(base.ppo), "kl_coef": value}), seed=base.seed)
    else:
        train_dpo(policy, s["sft"], s["data"].train, DPOConfig(**{**vars(base.dpo), "beta": value}), seed=base.seed)
    result = _evaluate(policy)
    result.update(wall=time.perf_counter() - start, cpu=time.process_time() - start_cpu)
    return kind, value, result


def _best_of_n_curve():
    """Best-of-n for every n in BEST_OF from one pool of max(BEST_OF) samples per prompt (nested draws)."""
    s = SHARED
    pools = {}

    def sampler_for(n):
        def sampler(prompts, generator):
            key = tuple(map(tuple, prompts.tolist()))
            if key not in pools:
                m = max(BEST_OF)
                seq, mask = s["language"].sample(s["sft"], prompts.repeat_interleave(m, 0), generator=generator)
                with torch.no_grad():
                    scores = s["reward_model"](seq, mask).view(len(prompts), m)
                pools[key] = (seq, mask, scores, m)
            seq, mask, scores, m = pools[key]
            best = scores[:, :n].argmax(dim=1) + torch.arange(len(prompts)) * m
            return seq[best], mask[best]
        return sampler

    return {n: _evaluate(None, sampler=sampler_for(n), kl=best_of_n_kl(n)) for n in BEST_OF}


def _row(name, r):
    return (f"| {name} | {r['true_reward']:+.3f} | {r['proxy_reward']:+.3f} | {r['kl']:.2f} | "
            f"{r['grammatical']:.1%} | {r['length']:.1f} | {r['win_rate']:.1%} |")


def plot(frontier, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    styles = {"PPO": ("s-", "tab:blue", "β"), "DPO": ("D-", "tab:red", "β"), "best-of-n": ("o-", "tab:green", "n")}
    for ax, key, label in ((axes[0], "true_reward", "true reward r*"), (axes[1], "proxy_reward", "reward model r_φ")):
        for family, points in frontier.items():
            marker, color, symbol = styles[family]
            points = sorted(points, key=lambda p: p[1]["kl"])
            ax.plot([p[1]["kl"] for p in points], [p[1][key] for p in points], marker, color=color, label=family)
            for setting, r in points:
                ax.annotate(f"{symbol}={setting:g}", (r["kl"], r[key]), fontsize=6, xytext=(3, -8),
                            textcoords="offset points")
        ax.axhline(SHARED["evals"]["sft"][key], color="k", lw=0.8, ls=":", label="SFT")
        ax.set(xlabel="KL(π ‖ π_SFT)  [nats]", ylabel=label)
    axes[0].legend(fontsize=8)
    axes[0].set_title("reward–KL frontier (cf. Rafailov et al. 2023, Fig. 2)", fontsize=9)
    plt.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes for the frontier sweep")
    parser.add_argument("--plot", default=os.path.join(os.path.dirname(__file__), "rlhf_frontier.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = PipelineConfig(seed=args.seed)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; torch threads per process: 1\n")

    t0 = time.perf_counter()
    out = run_pipeline(config)
    pipeline_wall = time.perf_counter() - t0
    SHARED.update(out, config=config)

    print("## Stages (seconds)\n\n| stage | wall | CPU |\n|---|---|---|")
    for stage, wall in out["timings"].items():
        print(f"| {stage} | {wall:.1f} | {out['cpu_timings'][stage]:.1f} |")
    print(f"| **pipeline total** | **{pipeline_wall:.1f}** | {sum(out['cpu_timings'].values()):.1f} |\n")

    acc, ceiling = out["reward_model_accuracy"], out["ceiling"]
    print(f"reward model: held-out accuracy {acc:.1%} on {len(out['data'].test)} pairs; labeler ceiling {ceiling:.1%} "
          f"(gap {100 * (ceiling - acc):+.1f} points)\n")

    t1 = time.perf_counter()
    jobs = [("ppo", b) for b in PPO_KL_COEFS if b != config.ppo.kl_coef] + \
           [("dpo", b) for b in DPO_BETAS if b != config.dpo.beta]
    if args.workers > 1:
        with mp.get_context("fork").Pool(args.workers) as pool:
            results = pool.map(_sweep_point, jobs, chunksize=1)
    else:
        results = [_sweep_point(job) for job in jobs]
    bon = _best_of_n_curve()
    sweep_wall = time.perf_counter() - t1
    frontier = {"PPO": [(config.ppo.kl_coef, out["evals"]["ppo"])],
                "DPO": [(config.dpo.beta, out["evals"]["dpo"])],
                "best-of-n": sorted(bon.items())}
    for kind, value, result in results:
        frontier[kind.upper()].append((value, result))

    print("## Frontier: true reward vs KL to SFT\n")
    print("| policy | true reward r* | proxy r_φ | KL (nats) | grammatical | length | win rate vs SFT |")
    print("|---|---|---|---|---|---|---|")
    print(_row("SFT", out["evals"]["sft"]))
    for family, symbol in (("PPO", "β"), ("DPO", "β"), ("best-of-n", "n")):
        for setting, r in sorted(frontier[family], key=lambda p: p[0]):
            print(_row(f"{family} {symbol}={setting:g}", r))
    plot(frontier, args.plot)
    total = pipeline_wall + sweep_wall
    print(f"\nfrontier sweep: {sweep_wall:.1f} s wall ({len(jobs)} runs on {args.workers} workers + best-of-n); "
          f"everything: {total:.1f} s. Plot: {args.plot}\n")

    for name in ("ppo", "dpo", "best_of_16"):
        print(f"samples, {name}: " + " | ".join(out["evals"][name]["samples"][:4]))
    ppo, dpo = out["evals"]["ppo"], out["evals"]["dpo"]
    print("\n## Targets")
    print(f"whole pipeline (SFT → RM → PPO → DPO → best-of-n) ≤ 180 s: {pipeline_wall:.0f} s "
          f"{'met' if pipeline_wall <= 180 else 'NOT met'}; with the frontier sweep {total:.0f} s")
    print(f"reward model within 3 points of the ceiling: {100 * (ceiling - acc):+.1f} "
          f"{'met' if ceiling - acc <= 0.03 else 'NOT met'}")
    print(f"win rate vs SFT ≥ 75 %: PPO {ppo['win_rate']:.1%}, DPO {dpo['win_rate']:.1%} "
          f"{'met' if min(ppo['win_rate'], dpo['win_rate']) >= 0.75 else 'NOT met'}")


if __name__ == "__main__":
    main()
