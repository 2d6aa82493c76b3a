r"""RLHF on the tiny LM, stage by stage: SFT, preference data, reward model, best-of-n, evaluation.

The pipeline of Ouyang et al. 2022 ("Training language models to follow instructions with human
feedback") in miniature, on the review language of :mod:`rlft_core.review_language`:

1. **SFT** (:func:`train_sft`): next-token cross-entropy on the grammar's corpus.
2. **Preferences** (:func:`sample_preference_data`): two SFT samples per prompt, labelled by a
   simulated human (:class:`~rlft_core.preferences.BradleyTerryLabeler` on the true reward).
3. **Reward model** (:func:`train_token_reward_model`): the SFT backbone with a scalar head,
   fit with the Bradley–Terry loss.
4. **RL**: PPO with a per-token KL penalty (:func:`rlft_core.rlhf_ppo.train_ppo_lm`), or DPO on
   the same pairs (:func:`rlft_core.dpo.train_dpo`), or best-of-n sampling (:func:`best_of_n`).
5. **Evaluation** (:func:`evaluate_policy`): true and proxy reward, KL to SFT, grammaticality,
   win rate against SFT, sample texts.

Every trainer takes a config dataclass, a ``seed``, ``progress`` (a tqdm bar) and a ``callback``
that receives each step's metrics and may return True to stop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

from ._validate import check_int, check_positive, check_range
from .preferences import PairDataset
from .reward_model import train_reward_model
from .tiny_lm import GPTConfig, TinyGPT, TokenRewardModel, token_logprobs
from .utils import seed_everything


def new_lm(language, d_model: int = 64, n_layer: int = 2, n_head: int = 4, seed: int = 0) -> TinyGPT:
    """A freshly initialised tiny GPT sized for ``language`` (its vocabulary and block size)."""
    seed_everything(seed)
    return TinyGPT(GPTConfig(len(language.tokenizer), language.block_size, n_layer=n_layer,
                             n_head=n_head, d_model=d_model))


def _positive_ints(obj, *names):
    for name in names:
        value = getattr(obj, name)
        check_int(name, value)


def _progress(progress, total, desc):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc)


# ----------------------------------------------------------------------------------- 1. SFT
@dataclass
class SFTConfig:
    """Hyperparameters of :func:`train_sft`: AdamW with a cosine decay to ``min_lr_fraction·learning_rate``."""

    steps: int = 800
    batch_size: int = 64
    learning_rate: float = 3e-3
    min_lr_fraction: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0

    def __post_init__(self):
        _positive_ints(self, "steps", "batch_size")
        check_positive(learning_rate=self.learning_rate, max_grad_norm=self.max_grad_norm)
        check_range("min_lr_fraction", self.min_lr_fraction, 0.0, 1.0)
        check_range("weight_decay", self.weight_decay, 0.0, math.inf, high_open=True)


def train_sft(model, corpus, prompt_length: int, config: SFTConfig | None = None, callback=None,
              seed: int = 0, progress: bool = False) -> list[dict]:
    r"""Supervised fine-tuning: maximise the likelihood of the corpus responses given their prompts.

    .. math:: L = -\frac{1}{\sum m_t}\sum_t m_t \log \pi_\theta(y_t \mid x, y_{<t})

    over response tokens (after the first ``prompt_length`` tokens, ``<eos>`` included). This is
    behaviour cloning of the demonstrations (Ouyang et al. 2022, §3.5 "SFT").

    ``corpus``: list of token sequences (lists or 1-D tensors) ``prompt + response``. Returns one
    dict per step (``step``, ``loss``, ``lr``); ``callback(record)`` returning True stops.
    """
    config = config or SFTConfig()
    if not isinstance(config, SFTConfig):
        raise ValueError(f"config must be an SFTConfig, got {type(config).__name__}")
    if len(corpus) == 0:
        raise ValueError("corpus is empty; expected a list of token sequences")
    check_range("prompt_length", prompt_length, 1, math.inf)
    seqs = [torch.as_tensor(s, dtype=torch.long) for s in corpus]
    if min(len(s) for s in seqs) <= prompt_length:
        raise ValueError(f"every corpus sequence must be longer than prompt_length={prompt_length}")
    tokens = pad_sequence(seqs, batch_first=True)                          # (N, L)
    lengths = torch.tensor([len(s) for s in seqs])
    positions = torch.arange(tokens.shape[1])[None, :]
    target_mask = (positions >= prompt_length) & (positions < lengths[:, None])  # response tokens
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    bar = _progress(progress, config.steps, "SFT")
    history = []
    model.train()
    for step in range(1, config.steps + 1):
        idx = torch.randint(len(tokens), (config.batch_size,), generator=generator)
        width = int(lengths[idx].max())
        batch, target = tokens[idx, :width], target_mask[idx, 1:width]
        logits = model(batch[:, :-1])                                       # predicts batch[:, 1:]
        token_loss = F.cross_entropy(logits.transpose(1, 2), batch[:, 1:], reduction="none")
        loss = (token_loss * target).sum() / target.sum()
        cosine = 0.5 * (1 + math.cos(math.pi * (step - 1) / config.steps))
        lr = config.learning_rate * (config.min_lr_fraction + (1 - config.min_lr_fraction) * cosine)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        record = {"step": step, "loss": loss.item(), "lr": lr}
        history.append(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.3f}")
        if callback is not None and callback(record):
            break
    if bar is not None:
        bar.close()
    model.eval()
    return history


# ------------------------------------------------------------------- 2. preference data
@dataclass
class PreferenceData:
    """Labelled pairs split into ``train``/``test`` (responses in ``chosen``/``rejected``, prompts
    in ``prompt``), and ``ceiling``: the labeler's expected agreement with the true reward on the
    test pairs, the best held-out accuracy any reward model can expect."""

    train: PairDataset
    test: PairDataset
    ceiling: float


@dataclass
class ResponsePairs:
    """Two sampled responses per prompt, as token tuples ``prompt + response`` (``first[i]``,
    ``second[i]`` for ``prompts[i]``), before anyone has judged them."""

    first: list
    second: list
    prompts: list
    prompt_length: int
    pad_id: int


@torch.no_grad()
def sample_response_pairs(model, language, n_pairs: int, seed: int = 0) -> ResponsePairs:
    """Sample ``n_pairs`` prompts and two responses to each from ``model`` (temperature 1).
    Stiennon et al. 2020 compare pairs of policy samples like these."""
    check_range("n_pairs", n_pairs, 2, math.inf)
    generator = torch.Generator().manual_seed(seed)
    prompts = language.prompts(int(n_pairs), generator)
    first, second = ([tuple(s[m].tolist()) for s, m in zip(*language.sample(model, prompts, generator=generator))]
                     for _ in range(2))
    return ResponsePairs(first, second, [tuple(p.tolist()) for p in prompts], prompts.shape[1],
                         language.tokenizer.pad_id)


def label_response_pairs(pairs: ResponsePairs, labeler, test_fraction: float = 0.2) -> PreferenceData:
    """Let ``labeler`` judge every pair; the first ``test_fraction`` of the pairs are the test set.

    ``labeler`` is a :class:`~rlft_core.preferences.BradleyTerryLabeler` whose ``reward_fn``
    (and ``bias_fn``) take one token sequence ``prompt + response`` (e.g. ``language.reward_of``).
    The same ``pairs`` can be judged by several labelers (notebook 11's label-noise experiment)."""
    check_range("test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True)
    n_test = max(1, round(len(pairs.first) * test_fraction))
    test_part, train_part = slice(0, n_test), slice(n_test, len(pairs.first))

    def label(part):
        return labeler.make_pairs(pairs.first[part], pairs.second[part], prompts=pairs.prompts[part],
                                  encode=lambda item: list(item[pairs.prompt_length:]), pad_value=pairs.pad_id)
    return PreferenceData(train=label(train_part), test=label(test_part),
                          ceiling=labeler.agreement_rate(pairs.first[test_part], pairs.second[test_part]))


def sample_preference_data(model, language, labeler, n_pairs: int, test_fraction: float = 0.2,
                           seed: int = 0) -> PreferenceData:
    """Sample two responses per prompt from ``model`` and let ``labeler`` say which is better
    (:func:`sample_response_pairs`, then :func:`label_response_pairs`). Christiano et al. 2017;
    Stiennon et al. 2020."""
    return label_response_pairs(sample_response_pairs(model, language, n_pairs, seed), labeler, test_fraction)


# ------------------------------------------------------------------------ 3. reward model
@dataclass
class RewardModelConfig:
    """Hyperparameters of :func:`train_token_reward_model` (Ouyang et al. 2022 train 1 epoch)."""

    epochs: int = 2
    learning_rate: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.0

    def __post_init__(self):
        _positive_ints(self, "epochs", "batch_size")
        check_positive(learning_rate=self.learning_rate)
        check_range("weight_decay", self.weight_decay, 0.0, math.inf, high_open=True)


def train_token_reward_model(sft_model, data: PreferenceData, config: RewardModelConfig | None = None,
                             callback=None, seed: int = 0, progress: bool = False):
    r"""A :class:`~rlft_core.tiny_lm.TokenRewardModel` initialised from the SFT model, fit with
    the Bradley–Terry loss :math:`-\log\sigma(r_\phi(x, y_c) - r_\phi(x, y_r))` by
    :func:`rlft_core.reward_model.train_reward_model` (Ouyang et al. 2022, eq. 1).

    Returns ``(reward_model, history)``; history has one dict per epoch with train/test loss and
    accuracy (see ``train_reward_model``)."""
    config = config or RewardModelConfig()
    if not isinstance(config, RewardModelConfig):
        raise ValueError(f"config must be a RewardModelConfig, got {type(config).__name__}")
    if not isinstance(data, PreferenceData):
        raise ValueError(f"data must be a PreferenceData (from sample_preference_data), got {type(data).__name__}")
    seed_everything(seed)
    reward_model = TokenRewardModel.from_lm(sft_model)
    history = train_reward_model(reward_model, data.train, data.test, epochs=config.epochs, lr=config.learning_rate,
                                 batch_size=config.batch_size, weight_decay=config.weight_decay,
                                 seed=seed, callback=callback, progress=progress)
    return reward_model, history


# --------------------------------------------------------------------------- 4. best-of-n
def best_of_n_kl(n: int) -> float:
    r"""KL(best-of-n ‖ base) for a continuous reward: :math:`\log n - (n-1)/n`.

    Stiennon et al. 2020, appendix; an upper bound in general (Beirami et al. 2024,
    "Theoretical guarantees on the best-of-n alignment policy")."""
    check_range("n", n, 1, math.inf)
    return math.log(n) - (n - 1) / n


@torch.no_grad()
def best_of_n(model, reward_model, language, prompts, n: int, generator=None):
    r"""For each prompt, sample ``n`` responses from ``model`` and keep the one the reward model
    scores highest: :math:`y^* = \arg\max_{y_i \sim \pi,\ i \le n} r_\phi(x, y_i)`.

    Returns ``(sequences, mask)`` like :func:`~rlft_core.tiny_lm.generate`. Nakano et al. 2021
    (WebGPT); Stiennon et al. 2020."""
    check_range("n", n, 1, math.inf)
    n = int(n)
    repeated = prompts.repeat_interleave(n, dim=0)                          # (B*n, Lp)
    sequences, mask = language.sample(model, repeated, generator=generator)
    scores = reward_model(sequences, mask).view(len(prompts), n)
    best = scores.argmax(dim=1) + torch.arange(len(prompts)) * n
    sequences, mask = sequences[best], mask[best]
    width = int(mask.sum(dim=1).max())
    return sequences[:, :width], mask[:, :width]


# ---------------------------------------------------------------------------- 5. evaluation
@torch.no_grad()
def evaluate_policy(policy, reference, reward_model, language, n_samples: int = 512, seed: int = 10_000,
                    n_texts: int = 6, sampler=None, kl: float | None = None) -> dict:
    r"""Score a policy against the SFT ``reference`` on ``n_samples`` fresh prompts.

    * ``true_reward``, ``proxy_reward``: mean :math:`r^\star` and :math:`r_\phi` of the samples;
    * ``kl``: Monte-Carlo :math:`\mathrm{KL}(\pi\|\pi_\text{ref}) \approx \frac1N\sum_i
      \sum_t [\log\pi(y_{i,t}) - \log\pi_\text{ref}(y_{i,t})]` (or the ``kl`` given, e.g.
      :func:`best_of_n_kl`);
    * ``grammatical``: fraction of grammatical, on-topic samples; ``length``: mean response tokens;
    * ``win_rate``: :math:`P(r^\star(y_\pi) > r^\star(y_\text{ref}))` on the same prompts, ties
      counting half (the judged comparisons of Stiennon et al. 2020, with the true reward as judge);
    * ``sft_true_reward`` and ``samples``: the first ``n_texts`` texts.

    ``sampler(prompts, generator) -> (sequences, mask)`` replaces sampling from ``policy``
    (best-of-n); then ``policy`` may be None and ``kl`` should be given.
    """
    check_range("n_samples", n_samples, 2, math.inf)
    if sampler is None and policy is None:
        raise ValueError("policy is None: give a policy or a sampler")
    prompts = language.prompts(int(n_samples), torch.Generator().manual_seed(seed))
    Lp = prompts.shape[1]
    gen_ref = torch.Generator().manual_seed(seed + 1)
    ref_seq, ref_mask = language.sample(reference, prompts, generator=gen_ref)
    gen_policy = torch.Generator().manual_seed(seed + 2)
    if sampler is None:
        seq, mask = language.sample(policy, prompts, generator=gen_policy)
    else:
        seq, mask = sampler(prompts, gen_policy)
    if kl is None:
        logp = token_logprobs(policy, seq, Lp)
        ref_logp = token_logprobs(reference, seq, Lp)
        kl = ((logp - ref_logp) * mask[:, Lp:]).sum(dim=1).mean().item()
    true_reward = language.sequence_rewards(seq, mask)
    ref_true_reward = language.sequence_rewards(ref_seq, ref_mask)
    diff = true_reward - ref_true_reward
    wins = (diff > 1e-9).float() + 0.5 * (diff.abs() <= 1e-9).float()
    return {"true_reward": true_reward.mean().item(),
            "proxy_reward": reward_model(seq, mask).mean().item(),
            "kl": float(kl),
            "grammatical": language.grammatical(seq, mask).float().mean().item(),
            "length": mask[:, Lp:].sum(dim=1).float().mean().item(),
            "win_rate": wins.mean().item(),
            "sft_true_reward": ref_true_reward.mean().item(),
            "samples": [language.text(s[m]) for s, m in zip(seq[:n_texts], mask[:n_texts])]}
