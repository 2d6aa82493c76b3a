r"""Reward over-optimisation, measured on one fixed pool of samples from the reference policy.

Optimising a *learned* reward :math:`r_\phi` harder moves the policy further from the reference
(larger :math:`\mathrm{KL}(\pi\|\pi_\text{ref})`); the proxy reward keeps rising while the true
reward :math:`r^\star` first rises and then falls (Gao, Schulman & Hilton 2023, "Scaling Laws for
Reward Model Overoptimization", ICML). Two families of policies let us trace the whole curve from
**one** pool of :math:`N` samples per prompt drawn from :math:`\pi_\text{ref}`, without retraining:

* **best-of-n** (:func:`best_of_n_estimate`): keep the highest-:math:`r_\phi` of :math:`n` samples.
  The exact expectation over all :math:`\binom{N}{n}` subsets of the pool is a weighted sum of the
  pool sorted by :math:`r_\phi` (:func:`best_of_n_weights`), so each :math:`n \le N` costs one sort.
  Its KL is :math:`\log n - (n-1)/n` (:func:`rlft_core.rlhf.best_of_n_kl`).
* **the KL-regularised optimum** (:func:`tilted_weights`, :func:`tilted_estimate`):
  :math:`\pi^*_\beta(y) \propto \pi_\text{ref}(y)\,e^{r_\phi(y)/\beta}`, the policy that maximises
  :math:`\mathbb E_\pi[r_\phi] - \beta\,\mathrm{KL}(\pi\|\pi_\text{ref})` -- what PPO with
  ``kl_coef`` :math:`\beta` aims at, and DPO's target (Rafailov et al. 2023, eq. 4). On the pool it
  is self-normalised importance sampling: weights :math:`\mathrm{softmax}(r_\phi/\beta)` per prompt.

:func:`gao_bon_fit` fits Gao et al.'s functional form for best-of-n,
:math:`R(d) = d(\alpha - \beta_\text{fit} d)` with :math:`d = \sqrt{\mathrm{KL}}`.
:func:`sample_pool` and :func:`score_in_batches` draw and score the pool for the tiny LM.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ._validate import check_finite, check_int, check_range
from .dpo import kl_regularised_optimum


def _as_pool(name, values, shape=None):
    """``values`` as a float64 ``(P, N)`` numpy array (a ``(N,)`` input is one prompt), checked finite."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers of shape (P, N), got {type(values).__name__}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (P, N) (prompts × samples), got {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape} but proxy has shape {shape}; expected one value per sample")
    check_finite(**{name: arr})
    return arr


def _check_n(n, pool_size):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= pool_size:
        raise ValueError(f"n must be an integer in [1, {pool_size}] (the pool size), got {n!r}")


def best_of_n_weights(pool_size: int, n: int) -> np.ndarray:
    r"""Probability that the sample of rank :math:`i` (0 = lowest proxy) is the best of a random n-subset.

    .. math:: w_i = \binom{i}{n-1} \Big/ \binom{N}{n}, \qquad i = 0, \dots, N-1

    (the other :math:`n-1` members must all rank below :math:`i`). Summing values sorted by the
    proxy with these weights gives the exact mean over all :math:`\binom{N}{n}` subsets: an
    unbiased best-of-n estimate from one pool, as in Gao, Schulman & Hilton 2023.
    Computed with log-gamma, so any :math:`N` works. Returns ``(N,)`` weights summing to 1.
    """
    check_int("pool_size", pool_size)
    _check_n(n, pool_size)
    ranks = np.arange(pool_size)
    weights = np.zeros(pool_size)
    ok = ranks >= n - 1
    i = ranks[ok].astype(np.float64)
    log_choose = math.lgamma(pool_size + 1) - math.lgamma(n + 1) - math.lgamma(pool_size - n + 1)
    log_w = (np.array([math.lgamma(k + 1) for k in i]) - math.lgamma(n)
             - np.array([math.lgamma(k - n + 2) for k in i]) - log_choose)
    weights[ok] = np.exp(log_w)
    return weights


def best_of_n_estimate(proxy, values, ns) -> np.ndarray:
    r"""Expected ``values`` of the best-of-n response (by ``proxy``), for each n in ``ns``.

    .. math:: \widehat{\mathbb E}[v(y^*_n)] = \frac1P\sum_{p=1}^P \sum_{i} w_i\, v_{p,(i)},
              \qquad y^*_n = \arg\max_{y_1..y_n\sim\pi_\text{ref}} r_\phi(y_k)

    where :math:`v_{p,(i)}` is prompt :math:`p`'s pool sorted by the proxy and :math:`w_i` are
    :func:`best_of_n_weights`. Pass ``values=proxy`` for the proxy curve.

    Args:
        proxy: ``(P, N)`` reward-model scores of a pool of :math:`N` reference samples per prompt.
        values: ``(P, N)`` anything measured on the same samples (true reward, length, ...).
        ns: the n's, each in ``[1, N]``.
    Returns:
        ``(len(ns),)`` float array.
    """
    proxy = _as_pool("proxy", proxy)
    values = _as_pool("values", values, proxy.shape)
    ns = list(np.atleast_1d(ns))
    if not ns:
        raise ValueError("ns must list at least one n")
    order = np.argsort(proxy, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)               # (P, N), ascending proxy
    return np.array([(sorted_values @ best_of_n_weights(proxy.shape[1], n)).mean() for n in ns])


def tilted_weights(proxy, beta: float) -> np.ndarray:
    r"""Weights of the KL-regularised optimum on the pool: :math:`w_{p,i} \propto e^{r_\phi(x_p, y_{p,i})/\beta}`.

    The pool holds samples of :math:`\pi_\text{ref}`, so reweighting it by
    :math:`\pi^*_\beta/\pi_\text{ref} \propto e^{r_\phi/\beta}` (self-normalised per prompt) represents
    :math:`\pi^*_\beta(y|x) = \pi_\text{ref}(y|x)\,e^{r_\phi(x,y)/\beta}/Z(x)`, the maximiser of
    :math:`\mathbb E_\pi[r_\phi] - \beta\,\mathrm{KL}(\pi\|\pi_\text{ref})` (Peters & Schaal 2007;
    Korbak et al. 2022; Rafailov et al. 2023, eq. 4): :func:`rlft_core.dpo.kl_regularised_optimum`
    with the uniform distribution over the N samples as the reference. Returns ``(P, N)`` rows
    summing to 1.
    """
    proxy = _as_pool("proxy", proxy)                                     # (P, N)
    uniform_pool = np.full(proxy.shape[1], 1.0 / proxy.shape[1])        # π_ref as the pool sees it
    return kl_regularised_optimum(uniform_pool, proxy, beta)


def tilted_estimate(proxy, values, betas) -> dict:
    r"""KL, effective sample size and expected ``values`` of :math:`\pi^*_\beta` for each β in ``betas``.

    With :func:`tilted_weights` :math:`w`, per prompt

    .. math:: \mathrm{KL}(\pi^*_\beta\|\pi_\text{ref}) \approx \sum_i w_i \log(N w_i), \qquad
              \mathrm{ESS} = 1 \Big/ \sum_i w_i^2, \qquad \mathbb E_{\pi^*_\beta}[v] \approx \sum_i w_i v_i,

    averaged over prompts. The KL is that of the reweighted pool against the uniform pool, so it
    can never exceed :math:`\log N`: trust a β only while the ESS is large (tens of samples or more);
    as :math:`\beta \to 0` the estimate becomes best-of-N. ``values`` is ``(P, N)`` or a dict of them.

    Returns ``{"beta", "kl", "ess", <each value name>}`` of arrays of length ``len(betas)``
    (the single-array ``values`` is reported as ``"value"``).
    """
    proxy = _as_pool("proxy", proxy)
    named = values if isinstance(values, dict) else {"value": values}
    if not named:
        raise ValueError("values must be an array or a non-empty dict of arrays")
    named = {k: _as_pool(f"values[{k!r}]", v, proxy.shape) for k, v in named.items()}
    betas = np.atleast_1d(np.asarray(betas, dtype=np.float64))
    if betas.size == 0:
        raise ValueError("betas must list at least one β")
    out = {"beta": betas, "kl": np.empty(betas.size), "ess": np.empty(betas.size)}
    out.update({k: np.empty(betas.size) for k in named})
    n = proxy.shape[1]
    for j, beta in enumerate(betas):
        w = tilted_weights(proxy, float(beta))
        nw = n * w
        out["kl"][j] = np.where(w > 0, w * np.log(np.where(nw > 0, nw, 1.0)), 0.0).sum(axis=1).mean()
        out["ess"][j] = (1.0 / (w ** 2).sum(axis=1)).mean()
        for k, v in named.items():
            out[k][j] = (w * v).sum(axis=1).mean()
    return out


def gao_bon_fit(kl, gain):
    r"""Least-squares fit of Gao et al.'s best-of-n law :math:`R(d) = d\,(a - b\,d)`.

    Here :math:`d = \sqrt{\mathrm{KL}(\pi\|\pi_\text{ref})}`; the paper writes the constants α, β, and we
    write a, b, since β is the KL coefficient everywhere else in the course.
    ``gain`` is the true-reward *improvement* over the reference policy (:math:`R(0) = 0`).
    Gao, Schulman & Hilton 2023 (their functional form for best-of-n). The fitted curve peaks at
    :math:`d^* = a/(2b)`, i.e. :math:`\mathrm{KL}^* = (a / 2b)^2`, where :math:`R = a^2/(4b)`.

    Returns ``(a, b)``.
    """
    kl = np.asarray(kl, dtype=np.float64).ravel()
    gain = np.asarray(gain, dtype=np.float64).ravel()
    if kl.shape != gain.shape or kl.size < 2:
        raise ValueError(f"kl and gain must be 1-D of the same length ≥ 2, got {kl.shape} and {gain.shape}")
    check_finite(kl=kl, gain=gain)
    if (kl < 0).any():
        raise ValueError("kl must be non-negative (a KL divergence)")
    d = np.sqrt(kl)
    design = np.stack([d, -d ** 2], axis=1)                                # R = α d − β d²
    (alpha, beta), *_ = np.linalg.lstsq(design, gain, rcond=None)
    return float(alpha), float(beta)


@torch.no_grad()
def sample_pool(model, language, n_per_prompt: int, prompts=None, seed: int = 0, batch_size: int = 2048):
    r"""Draw ``n_per_prompt`` responses :math:`y \sim \pi(\cdot|x)` (temperature 1) for each prompt.

    ``prompts`` ``(P, Lp)`` defaults to one prompt per product of the review language. Returns
    ``(sequences, mask)`` with ``P·n_per_prompt`` rows, prompt-major (row ``p·N + i`` is sample
    ``i`` of prompt ``p``), so ``values.reshape(P, N)`` gives the pool layout used above.
    """
    check_int("n_per_prompt", n_per_prompt)
    check_range("batch_size", batch_size, 1, math.inf)
    tok = language.tokenizer
    if prompts is None:
        from .review_language import PRODUCTS
        prompts = torch.tensor([[tok.bos_id, tok.stoi[p]] for p in PRODUCTS])
    if not isinstance(prompts, torch.Tensor) or prompts.dtype != torch.long or prompts.dim() != 2:
        raise ValueError("prompts must be a (P, Lp) long tensor")
    repeated = prompts.repeat_interleave(int(n_per_prompt), dim=0)
    generator = torch.Generator().manual_seed(int(seed))
    width = prompts.shape[1] + language.max_words + 1
    sequences = torch.full((len(repeated), width), tok.pad_id, dtype=torch.long)
    mask = torch.zeros(len(repeated), width, dtype=torch.bool)
    for start in range(0, len(repeated), int(batch_size)):
        seq, m = language.sample(model, repeated[start:start + int(batch_size)], generator=generator)
        sequences[start:start + len(seq), :seq.shape[1]] = seq
        mask[start:start + len(seq), :seq.shape[1]] = m
    return sequences, mask


@torch.no_grad()
def score_in_batches(reward_model, sequences, mask, batch_size: int = 4096) -> torch.Tensor:
    """``reward_model(sequences, mask)`` in batches of ``batch_size`` rows, as one ``(B,)`` tensor."""
    check_range("batch_size", batch_size, 1, math.inf)
    if len(sequences) != len(mask):
        raise ValueError(f"sequences has {len(sequences)} rows but mask has {len(mask)}")
    was_training = reward_model.training
    reward_model.eval()
    scores = torch.cat([reward_model(sequences[i:i + int(batch_size)], mask[i:i + int(batch_size)])
                        for i in range(0, len(sequences), int(batch_size))])
    reward_model.train(was_training)
    return scores
