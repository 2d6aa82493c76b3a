r"""GRPO, RLOO and expert iteration on the addition task, with the tiny GPT.

One GRPO step (Shao et al. 2024, "DeepSeekMath", Algorithm 1, with TRL's defaults):

1. draw ``prompts_per_step`` problems and sample ``num_generations`` (G) completions of each;
2. score them with the verifiable reward (exact match), one number per completion;
3. turn the rewards into advantages *within each group* (no critic): GRPO's normalised ones,
   RLOO's leave-one-out ones, or the raw reward (REINFORCE without a baseline);
4. take ``num_iterations`` gradient steps on :func:`rlft_core.grpo.grpo_loss` (1 = on-policy, the
   importance ratio is 1 and only its gradient matters), optionally with β·KL to the SFT model.

Expert iteration (rejection-sampling fine-tuning; Anthony et al. 2017; Zelikman et al. 2022,
"STaR"; Yuan et al. 2023, "RFT") is the baseline with no RL at all: sample, keep the correct
completions, fine-tune on them with plain SFT, repeat.

Both trainers evaluate on held-out problems every ``eval_every`` steps: greedy accuracy and
pass@1 (the mean of per-problem success rates over ``eval_samples`` samples at temperature 1).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch

from . import arithmetic as task
from ._validate import check_instance, check_positive, check_range
from .grpo import KL_ESTIMATORS, LOSS_TYPES, group_advantages, grpo_loss, kl_estimate, rloo_advantages
from .rlhf import SFTConfig, _positive_ints, _progress, train_sft
from .tiny_lm import generate, token_logprobs
from .utils import seed_everything

ADVANTAGES = ("grpo", "rloo", "none")
SFT_CONFIG = SFTConfig(steps=1200, batch_size=128, learning_rate=5e-3)   # the flawed SFT starting point of notebook 12


@dataclass
class GRPOConfig:
    """Hyperparameters of :func:`train_grpo`; names follow TRL's ``GRPOConfig`` where one exists."""

    steps: int = 60                       # optimiser steps on fresh samples (TRL: max_steps)
    prompts_per_step: int = 32            # distinct problems per batch
    num_generations: int = 8              # G, completions per problem (TRL's default 8)
    learning_rate: float = 5e-4           # TRL's default 1e-6 is for billion-parameter models
    advantage: str = "grpo"               # "grpo" (group-normalised), "rloo" (leave-one-out), "none" (raw reward)
    scale_rewards: str = "group"          # GRPO advantages: "group", "batch" or "none" (Dr. GRPO)
    loss_type: str = "dapo"               # "grpo", "dapo" (TRL's default), "dr_grpo"
    beta: float = 0.0                     # KL coefficient to the SFT model (TRL's default 0; DeepSeekMath 0.04)
    kl_estimator: str = "k3"              # per-token KL estimate in the loss (GRPO uses k3)
    num_iterations: int = 1               # μ: gradient steps per batch (1 = on-policy)
    epsilon: float = 0.2                  # clip range below 1 (and above, unless epsilon_high)
    epsilon_high: float | None = None     # DAPO's clip-higher (e.g. 0.28); None = epsilon
    max_completion_length: int = task.MAX_COMPLETION_LENGTH   # longest completion, in tokens
    temperature: float = 1.0              # sampling temperature during training
    max_grad_norm: float = 1.0            # gradient clipping (TRL's default 1.0)
    eval_every: int = 5                   # evaluate every this many steps (and at step 0)
    eval_problems: int = 256              # held-out problems in each evaluation
    eval_samples: int = 4                 # samples per problem for pass@1

    def __post_init__(self):
        _positive_ints(self, "steps", "prompts_per_step", "num_iterations", "eval_every", "eval_problems",
                       "eval_samples", "max_completion_length")
        if isinstance(self.num_generations, bool) or not isinstance(self.num_generations, int) \
                or self.num_generations < 2:
            raise ValueError(f"num_generations must be an integer ≥ 2, got {self.num_generations!r}")
        for name, value, choices in (("advantage", self.advantage, ADVANTAGES), ("loss_type", self.loss_type, LOSS_TYPES),
                                     ("kl_estimator", self.kl_estimator, KL_ESTIMATORS),
                                     ("scale_rewards", self.scale_rewards, ("group", "batch", "none"))):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        check_positive(learning_rate=self.learning_rate, max_grad_norm=self.max_grad_norm,
                       temperature=self.temperature)
        check_range("beta", self.beta, 0.0, math.inf, high_open=True)
        check_range("epsilon", self.epsilon, 0.0, 1.0, low_open=True, high_open=True)
        if self.epsilon_high is not None:
            check_positive(epsilon_high=self.epsilon_high)


@torch.no_grad()
def evaluate(model, problems, n_samples: int = 4, seed: int = 1234) -> dict:
    """``greedy_accuracy`` and ``pass_at_1`` (mean over problems of c/n, ``n_samples`` samples each)."""
    prompts = task.encode_prompts(problems)
    greedy, _ = generate(model, prompts, task.MAX_COMPLETION_LENGTH, temperature=0.0)
    greedy_accuracy = task.exact_match_rewards(greedy, problems).mean().item()
    repeated = [p for p in problems for _ in range(n_samples)]
    samples, _ = generate(model, prompts.repeat_interleave(n_samples, dim=0), task.MAX_COMPLETION_LENGTH,
                          generator=torch.Generator().manual_seed(seed))
    correct = task.exact_match_rewards(samples, repeated).view(len(problems), n_samples)
    return {"greedy_accuracy": greedy_accuracy, "pass_at_1": correct.mean().item()}


def compute_advantages(rewards: torch.Tensor, group_size: int, advantage: str, scale_rewards: str = "group"):
    """The advantages of one batch: GRPO's, RLOO's, or the raw rewards (``advantage="none"``)."""
    if advantage == "grpo":
        return group_advantages(rewards, group_size, scale=scale_rewards)
    if advantage == "rloo":
        return rloo_advantages(rewards, group_size)
    if advantage == "none":
        return rewards.clone()
    raise ValueError(f"advantage must be one of {ADVANTAGES}, got {advantage!r}")


def sample_groups(model, problems, prompts_per_step, num_generations, generator, temperature=1.0,
                  max_completion_length=task.MAX_COMPLETION_LENGTH):
    """Draw problems and G completions of each: ``(batch_problems, sequences, completion_mask, rewards)``."""
    idx = torch.randint(len(problems), (prompts_per_step,), generator=generator).tolist()
    batch_problems = [problems[i] for i in idx for _ in range(num_generations)]   # G consecutive copies
    prompts = task.encode_prompts(batch_problems)                                    # (N, 7)
    sequences, mask = generate(model, prompts, max_completion_length, temperature=temperature,
                               generator=generator)
    rewards = task.exact_match_rewards(sequences, batch_problems)                    # (N,)
    return batch_problems, sequences, mask[:, task.PROMPT_LENGTH:], rewards


def _begin(model, test_problems, config, callback, seed: int):
    """What both trainers start with: seeded generators, the evaluation set, and the step-0 record
    (the SFT model's accuracy) already handed to ``callback``."""
    seed_everything(seed)
    eval_set = list(test_problems)[:config.eval_problems]
    history = [{"step": 0, "time": 0.0, **evaluate(model, eval_set, config.eval_samples)}]
    if callback is not None:
        callback(history[0])
    return torch.Generator().manual_seed(seed), eval_set, history


def train_grpo(model, problems, test_problems, config: GRPOConfig | None = None, ref_model=None,
               callback=None, seed: int = 0, progress: bool = False) -> list[dict]:
    r"""Train ``model`` in place with GRPO / RLOO / REINFORCE on the exact-match reward.

    ``problems``: training pairs ``(a, b)``; ``test_problems``: held-out pairs for evaluation.
    ``ref_model``: the frozen SFT model for β·KL and for the logged ``kl`` (default: a copy of
    ``model`` taken at the start). Returns one record per step: ``step``, ``reward`` (accuracy of
    the training samples), ``frac_zero_std`` (share of groups whose rewards are all equal: they
    teach nothing), ``completion_length``, ``loss``, ``time`` (training seconds so far, evaluation
    excluded), and every ``eval_every`` steps ``greedy_accuracy``, ``pass_at_1`` and ``kl`` (sequence
    KL to the reference, the mean over completions of the summed k3; every step when ``beta > 0``). ``callback(record)``
    returning True stops.
    """
    config = config or GRPOConfig()
    check_instance("config", config, GRPOConfig)
    if len(problems) == 0 or len(test_problems) == 0:
        raise ValueError("problems and test_problems must be non-empty lists of (a, b) pairs")
    generator, eval_set, history = _begin(model, test_problems, config, callback, seed)
    ref_model = copy.deepcopy(model) if ref_model is None else ref_model
    ref_model.eval()                                   # used under no_grad only; its flags stay as they are
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    G, start = config.num_generations, task.PROMPT_LENGTH
    bar = _progress(progress, config.steps, f"GRPO ({config.advantage})")
    train_seconds = 0.0
    for step in range(1, config.steps + 1):
        tic = time.perf_counter()
        _, sequences, completion_mask, rewards = sample_groups(
            model, problems, config.prompts_per_step, G, generator, config.temperature, config.max_completion_length)
        advantages = compute_advantages(rewards, G, config.advantage, config.scale_rewards)   # (N,)
        evaluating = step % config.eval_every == 0 or step == config.steps
        with torch.no_grad():   # with beta = 0 the reference is only needed for the logged KL (as in TRL)
            ref_logp = token_logprobs(ref_model, sequences, start) if config.beta > 0 or evaluating else None
            old_logp = token_logprobs(model, sequences, start) if config.num_iterations > 1 else None
        model.train()
        for iteration in range(config.num_iterations):
            logp = token_logprobs(model, sequences, start)                                 # (N, T)
            if iteration == 0:
                sampling_logp = logp.detach()                    # the policy that sampled this batch
            loss = grpo_loss(logp, logp.detach() if old_logp is None else old_logp, advantages, completion_mask,
                             clip_eps=config.epsilon, clip_eps_high=config.epsilon_high, loss_type=config.loss_type,
                             max_completion_length=config.max_completion_length, ref_logp=ref_logp,
                             beta=config.beta, kl_estimator=config.kl_estimator)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
        model.eval()
        train_seconds += time.perf_counter() - tic
        grouped = rewards.view(-1, G)
        record = {"step": step, "time": train_seconds, "loss": loss.item(), "reward": rewards.mean().item(),
                  "frac_zero_std": (grouped == grouped[:, :1]).all(dim=1).float().mean().item(),
                  "completion_length": completion_mask.sum(dim=1).float().mean().item()}
        if ref_logp is not None:
            record["kl"] = (kl_estimate(sampling_logp, ref_logp, "k3") * completion_mask).sum(dim=1).mean().item()
        if evaluating:
            record.update(evaluate(model, eval_set, config.eval_samples))
        history.append(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(reward=f"{record['reward']:.2f}")
        if callback is not None and callback(record):
            break
    if bar is not None:
        bar.close()
    return history


# ------------------------------------------------------------------------------ expert iteration
@dataclass
class ExpertIterationConfig:
    """Hyperparameters of :func:`expert_iteration`: rounds of sample → filter → SFT."""

    rounds: int = 6                       # sample-filter-fine-tune rounds
    steps_per_round: int = 10             # sampling batches per round (the GRPO step budget it matches)
    prompts_per_step: int = 32            # problems per sampling batch, as in GRPOConfig
    num_generations: int = 8              # samples per problem, as in GRPOConfig
    sft_steps: int = 10                   # SFT gradient steps on the kept samples, each round
    sft_batch_size: int = 64              # SFT minibatch size
    learning_rate: float = 5e-4           # peak SFT learning rate (cosine decay within a round)
    temperature: float = 1.0              # sampling temperature
    eval_problems: int = 256              # held-out problems in each evaluation
    eval_samples: int = 4                 # samples per problem for pass@1

    def __post_init__(self):
        _positive_ints(self, "rounds", "steps_per_round", "prompts_per_step", "num_generations", "sft_steps",
                       "sft_batch_size", "eval_problems", "eval_samples")
        check_positive(learning_rate=self.learning_rate, temperature=self.temperature)


def expert_iteration(model, problems, test_problems, config: ExpertIterationConfig | None = None,
                     callback=None, seed: int = 0, progress: bool = False) -> list[dict]:
    r"""Rejection-sampling fine-tuning: keep the completions the reward accepts, SFT on them, repeat.

    Maximising :math:`\sum \log\pi_\theta(y)` over the kept samples is the policy gradient with the
    0/1 reward as the advantage and no baseline, taken off-policy over a round (Anthony et al. 2017,
    "Thinking Fast and Slow with Deep Learning and Tree Search"; Zelikman et al. 2022, "STaR").
    Records are per round, with ``step`` = sampling batches used so far (comparable with GRPO's
    steps), ``kept`` (correct samples), ``time``, ``greedy_accuracy`` and ``pass_at_1``.
    """
    config = config or ExpertIterationConfig()
    check_instance("config", config, ExpertIterationConfig)
    generator, eval_set, history = _begin(model, test_problems, config, callback, seed)
    bar = _progress(progress, config.rounds, "expert iteration")
    train_seconds = 0.0
    for round_index in range(1, config.rounds + 1):
        tic = time.perf_counter()
        kept = []
        for _ in range(config.steps_per_round):
            _, sequences, completion_mask, rewards = sample_groups(
                model, problems, config.prompts_per_step, config.num_generations, generator, config.temperature)
            lengths = task.PROMPT_LENGTH + completion_mask.sum(dim=1)
            kept += [seq[:n].tolist() for seq, n, r in zip(sequences, lengths, rewards) if r > 0]
        if kept:
            train_sft(model, kept, task.PROMPT_LENGTH, SFTConfig(steps=config.sft_steps, batch_size=config.sft_batch_size,
                                                                 learning_rate=config.learning_rate, weight_decay=0.0),
                      seed=seed + round_index)
        train_seconds += time.perf_counter() - tic
        record = {"step": round_index * config.steps_per_round, "round": round_index, "time": train_seconds,
                  "kept": len(kept), **evaluate(model, eval_set, config.eval_samples)}
        history.append(record)
        if bar is not None:
            bar.update(1)
        if callback is not None and callback(record):
            break
    if bar is not None:
        bar.close()
    return history


def sft_model(n_examples: int = 20_000, wrong_carry_fraction: float = 0.6, config: SFTConfig | None = None,
              seed: int = 0, progress: bool = False):
    """The flawed SFT starting point: a fresh :func:`~rlft_core.arithmetic.new_model` trained on
    :func:`~rlft_core.arithmetic.sft_corpus`. Returns ``(model, train_problems, test_problems)``."""
    train_problems, test_problems = task.split_problems(seed=0)
    corpus = task.sft_corpus(train_problems, n_examples, wrong_carry_fraction, seed=seed)
    model = task.new_model(seed=seed)
    train_sft(model, corpus, task.PROMPT_LENGTH, config or SFT_CONFIG,
              seed=seed, progress=progress)
    return model, train_problems, test_problems
