r"""The whole RLHF pipeline on the tiny LM in one call: SFT → reward model → PPO, DPO, best-of-n.

:func:`run_pipeline` chains the stages of :mod:`rlft_core.rlhf`, :mod:`rlft_core.rlhf_ppo` and
:mod:`rlft_core.dpo` with one seed and one :class:`PipelineConfig`, times each stage and
evaluates every resulting policy against the SFT model (Ouyang et al. 2022's pipeline; DPO from
Rafailov et al. 2023 on the same comparisons; best-of-n from Stiennon et al. 2020). The notebook
runs the stages one by one; tests and ``bench/rlhf_pipeline.py`` use this.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

from ._validate import check_range
from .dpo import DPOConfig, train_dpo
from .preferences import BradleyTerryLabeler
from .review_language import ReviewLanguage
from .rlhf import (RewardModelConfig, SFTConfig, best_of_n, best_of_n_kl, evaluate_policy, new_lm,
                   sample_preference_data, train_sft, train_token_reward_model)
from .rlhf_ppo import PPOLMConfig, train_ppo_lm
from .utils import seed_everything

STAGES = ("ppo", "dpo", "best_of_n")


@dataclass
class PipelineConfig:
    """Sizes and hyperparameters of the whole pipeline (defaults: ~1-2 min on 2 CPU cores)."""

    seed: int = 0
    n_corpus: int = 20_000                  # pretraining reviews for SFT
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 4
    sft: SFTConfig = field(default_factory=SFTConfig)
    n_pairs: int = 8_000                    # comparisons of two SFT samples
    test_fraction: float = 0.1              # held out to measure the reward model
    labeler_temperature: float = 0.5        # Bradley–Terry noise of the simulated human
    length_bias: float = 0.0                # labeler's extra taste per word (0 = none)
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)
    ppo: PPOLMConfig = field(default_factory=PPOLMConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    best_of_n: tuple = (4, 16)
    eval_samples: int = 512

    def __post_init__(self):
        for name in ("n_corpus", "n_pairs", "eval_samples"):
            check_range(name, getattr(self, name), 2, math.inf)
        check_range("labeler_temperature", self.labeler_temperature, 0.0, math.inf, high_open=True)
        check_range("length_bias", self.length_bias, -math.inf, math.inf, low_open=True, high_open=True)
        if any(not isinstance(n, int) or n < 1 for n in self.best_of_n):
            raise ValueError(f"best_of_n must hold positive integers, got {self.best_of_n!r}")


def run_pipeline(config: PipelineConfig | None = None, language: ReviewLanguage | None = None,
                 stages=STAGES, progress: bool = False) -> dict:
    """Run SFT, preference labelling, reward modelling, then the requested ``stages``.

    Returns a dict with ``language``, ``sft`` (the reference model), ``reward_model``, ``data``
    (a :class:`~rlft_core.rlhf.PreferenceData`), ``ppo`` and ``dpo`` (the fine-tuned policies,
    if run), ``history`` (per stage), ``evals`` (``"sft"``, ``"ppo"``, ``"dpo"``, ``"best_of_4"``,
    ...: dicts from :func:`~rlft_core.rlhf.evaluate_policy`), ``reward_model_accuracy``,
    ``ceiling``, ``timings`` (wall-clock seconds per stage) and ``cpu_timings`` (CPU seconds of
    this process, summed over threads: on a shared machine, the figure that does not depend on
    the neighbours).
    """
    config = config or PipelineConfig()
    if not isinstance(config, PipelineConfig):
        raise ValueError(f"config must be a PipelineConfig, got {type(config).__name__}")
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"stages must be drawn from {STAGES}, got unknown {sorted(unknown)}")
    language = language or ReviewLanguage()
    seed = config.seed
    seed_everything(seed)
    out = {"language": language, "history": {}, "evals": {}, "timings": {}, "cpu_timings": {}}

    def timed(name, fn):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        out["timings"][name] = time.perf_counter() - start
        out["cpu_timings"][name] = time.process_time() - start_cpu
        return result

    corpus = timed("corpus", lambda: language.sample_corpus(config.n_corpus, seed=seed))
    sft = new_lm(language, d_model=config.d_model, n_layer=config.n_layer, n_head=config.n_head, seed=seed)
    out["history"]["sft"] = timed("sft", lambda: train_sft(sft, corpus, language.prompt_length, config.sft,
                                                           seed=seed, progress=progress))
    labeler = BradleyTerryLabeler(language.reward_of, temperature=config.labeler_temperature,
                                  bias_fn=language.length_of if config.length_bias else None,
                                  bias_weight=config.length_bias or 1.0, seed=seed)
    data = timed("preferences", lambda: sample_preference_data(sft, language, labeler, config.n_pairs,
                                                               config.test_fraction, seed=seed))
    reward_model, out["history"]["reward_model"] = timed(
        "reward_model", lambda: train_token_reward_model(sft, data, config.reward_model, seed=seed, progress=progress))
    out.update(sft=sft, reward_model=reward_model, data=data, ceiling=data.ceiling,
               reward_model_accuracy=out["history"]["reward_model"][-1]["test_accuracy"])

    def evaluate(policy, **kwargs):
        return evaluate_policy(policy, sft, reward_model, language, n_samples=config.eval_samples,
                               seed=seed + 10_000, **kwargs)

    out["evals"]["sft"] = timed("eval_sft", lambda: evaluate(sft))
    if "ppo" in stages:
        policy = copy.deepcopy(sft)
        out["history"]["ppo"] = timed("ppo", lambda: train_ppo_lm(policy, sft, reward_model, language, config.ppo,
                                                                   seed=seed, progress=progress))
        out["ppo"] = policy
        out["evals"]["ppo"] = timed("eval_ppo", lambda: evaluate(policy))
    if "dpo" in stages:
        policy = copy.deepcopy(sft)
        out["history"]["dpo"] = timed("dpo", lambda: train_dpo(policy, sft, data.train, config.dpo,
                                                               seed=seed, progress=progress))
        out["dpo"] = policy
        out["evals"]["dpo"] = timed("eval_dpo", lambda: evaluate(policy))
    if "best_of_n" in stages:
        for n in config.best_of_n:
            out["evals"][f"best_of_{n}"] = timed(
                f"best_of_{n}", lambda n=n: evaluate(None, kl=best_of_n_kl(n),
                                                     sampler=lambda prompts, g: best_of_n(sft, reward_model, language,
                                                                                          prompts, n, g)))
    return out
