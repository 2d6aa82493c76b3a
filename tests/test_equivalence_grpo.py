"""Our GRPO loss and advantages give TRL 1.16's numbers on the same hand-built inputs.

TRL computes the GRPO loss inside ``GRPOTrainer._compute_loss(model, inputs)``, which first asks
``self._get_per_token_logps_and_entropies`` for the policy's per-token log-probs and then reads a
handful of attributes (``loss_type``, ``epsilon_low``, ``epsilon_high``, ``beta``,
``max_completion_length``, ``args.use_bias_correction_kl``, ...). We call that method on a small
stand-in object that supplies those attributes and returns *our* ``logp`` tensor as the model's
log-probs, so that TRL's loss and our :func:`rlft_core.grpo.grpo_loss` see exactly the same numbers
and their gradients with respect to ``logp`` can be compared. The stand-in sets what a
single-process, no-accumulation run sets: one process, ``current_gradient_accumulation_steps = 1``,
``steps_per_generation = 1`` and ``num_items_in_batch`` = the number of completion tokens (TRL:
``accelerator.gather(loss_mask.sum()).sum()``). RLOO's sequence loss is checked the same way
against ``RLOOTrainer._compute_loss``. The advantage formulas are TRL's own lines, reproduced in
:func:`trl_group_advantages` / :func:`trl_rloo_advantages` from ``_generate_and_score_completions``
(they are inline code there, not callable), with TRL's ``nanstd``.
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from trl import GRPOTrainer, RLOOTrainer
from trl.trainer.utils import nanstd

from rlft_core.grpo import group_advantages, grpo_loss, rloo_advantages, rloo_loss


class _Accelerator:
    """What ``_compute_loss`` asks of ``accelerate.Accelerator`` in a one-process run."""
    num_processes = 1

    @staticmethod
    def reduce(tensor, reduction="sum"):
        return tensor

    @staticmethod
    def gather(tensor):
        return tensor

    gather_for_metrics = gather


def trl_stand_in(logp, loss_type="dapo", beta=0.0, epsilon=0.2, epsilon_high=None, max_completion_length=None):
    """An object with every attribute ``GRPOTrainer._compute_loss`` / ``RLOOTrainer._compute_loss`` read."""
    args = SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1)
    entropies = torch.zeros_like(logp)
    return SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logp, entropies, None),
        args=args, loss_type=loss_type, beta=beta, epsilon_low=epsilon,
        epsilon_high=epsilon if epsilon_high is None else epsilon_high,
        max_completion_length=max_completion_length, importance_sampling_level="token",
        top_entropy_quantile=1.0, off_policy_mask_threshold=None, use_vllm=False,
        vllm_importance_sampling_correction=False, aux_loss_enabled=False, _entropy_bonus_enabled=False,
        current_gradient_accumulation_steps=1, model=SimpleNamespace(training=True),
        accelerator=_Accelerator(), _metrics=defaultdict(lambda: defaultdict(list)))


def hand_built_batch(B=6, T=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logp = (-torch.rand(B, T, generator=gen) * 3).requires_grad_()
    old_logp = logp.detach() + torch.randn(B, T, generator=gen) * 0.25       # some ratios clipped
    ref_logp = -torch.rand(B, T, generator=gen) * 3
    advantages = torch.randn(B, generator=gen)
    lengths = torch.tensor([5, 3, 1, 4, 5, 2])[:B]
    mask = torch.arange(T)[None, :] < lengths[:, None]
    inputs = {"prompt_ids": torch.zeros(B, 2, dtype=torch.long), "prompt_mask": torch.ones(B, 2, dtype=torch.long),
              "completion_ids": torch.zeros(B, T, dtype=torch.long), "completion_mask": mask.long(),
              "advantages": advantages, "old_per_token_logps": old_logp, "ref_per_token_logps": ref_logp,
              "num_items_in_batch": mask.sum()}
    return logp, old_logp, ref_logp, advantages, mask, inputs


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("epsilon_high", [None, 0.28])
def test_grpo_loss_and_gradient_match_trl_compute_loss(loss_type, beta, epsilon_high):
    logp, old_logp, ref_logp, adv, mask, inputs = hand_built_batch()
    trainer = trl_stand_in(logp, loss_type, beta, 0.2, epsilon_high, max_completion_length=8)
    theirs = GRPOTrainer._compute_loss(trainer, None, inputs)
    (grad_theirs,) = torch.autograd.grad(theirs, logp)
    ours = grpo_loss(logp, old_logp, adv, mask, clip_eps=0.2, clip_eps_high=epsilon_high, loss_type=loss_type,
                     max_completion_length=8, ref_logp=ref_logp, beta=beta, kl_estimator="k3")
    (grad_ours,) = torch.autograd.grad(ours, logp)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grad_ours, grad_theirs, rtol=1e-5, atol=1e-7)


def test_on_policy_grpo_loss_matches_trl_when_old_logps_are_absent():
    """With num_iterations = 1 TRL leaves ``old_per_token_logps`` out and uses ``logp.detach()``."""
    logp, _, _, adv, mask, inputs = hand_built_batch(seed=4)
    del inputs["old_per_token_logps"]
    theirs = GRPOTrainer._compute_loss(trl_stand_in(logp, "dapo"), None, inputs)
    (grad_theirs,) = torch.autograd.grad(theirs, logp)
    ours = grpo_loss(logp, logp.detach(), adv, mask, loss_type="dapo")
    (grad_ours,) = torch.autograd.grad(ours, logp)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(grad_ours, grad_theirs)


def test_our_loss_differs_from_trl_when_trl_adds_its_kl_bias_correction():
    """A check that the comparison can fail: TRL's ``use_bias_correction_kl`` multiplies k3 by ρ."""
    logp, old_logp, ref_logp, adv, mask, inputs = hand_built_batch(seed=2)
    trainer = trl_stand_in(logp, "dapo", beta=0.5)
    trainer.args.use_bias_correction_kl = True
    theirs = GRPOTrainer._compute_loss(trainer, None, inputs)
    ours = grpo_loss(logp, old_logp, adv, mask, ref_logp=ref_logp, beta=0.5)
    assert not torch.isclose(ours, theirs, rtol=1e-4)


@pytest.mark.parametrize("epsilon_high", [None, 0.3])
def test_rloo_loss_and_gradient_match_trl_rloo_compute_loss(epsilon_high):
    logp, old_logp, _, adv, mask, inputs = hand_built_batch(seed=6)
    old_logp = logp.detach() + 0.03 * torch.randn(logp.shape, generator=torch.Generator().manual_seed(1))
    inputs["old_logps"] = (old_logp * mask).sum(1)
    theirs = RLOOTrainer._compute_loss(trl_stand_in(logp, epsilon=0.2, epsilon_high=epsilon_high), None, inputs)
    (grad_theirs,) = torch.autograd.grad(theirs, logp)
    ours = rloo_loss(logp, old_logp, adv, mask, clip_eps=0.2, clip_eps_high=epsilon_high)
    (grad_ours,) = torch.autograd.grad(ours, logp)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(grad_ours, grad_theirs)


# --------------------------------------------------------------------------------- advantages
def trl_group_advantages(rewards, num_generations, scale_rewards):
    """TRL 1.16 ``GRPOTrainer._generate_and_score_completions``, one reward function, no NaN."""
    mean_grouped = torch.nanmean(rewards.view(-1, num_generations), dim=1).repeat_interleave(num_generations)
    if scale_rewards in ("group", "none"):
        std = nanstd(rewards.view(-1, num_generations), dim=1).repeat_interleave(num_generations)
    else:
        std = nanstd(rewards).expand_as(rewards)
    advantages = rewards - mean_grouped
    if scale_rewards != "none":
        advantages = advantages / (std + 1e-4)
    return torch.nan_to_num(advantages, nan=0.0)


def trl_rloo_advantages(rewards, num_generations):
    """TRL 1.16 ``RLOOTrainer._generate_and_score_completions``, ``normalize_advantages=False``."""
    grouped = rewards.view(-1, num_generations)
    baselines = (grouped.nansum(dim=1, keepdim=True) - grouped) / (num_generations - 1)
    return rewards - baselines.view(-1)


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_match_trl_formulas(scale):
    rewards = torch.cat([torch.randint(0, 2, (24,), generator=torch.Generator().manual_seed(0)).float(),
                         torch.randn(8, generator=torch.Generator().manual_seed(1))])
    torch.testing.assert_close(group_advantages(rewards, 8, scale=scale), trl_group_advantages(rewards, 8, scale),
                               rtol=1e-5, atol=1e-6)


def test_rloo_advantages_match_trl_formula():
    rewards = torch.randn(32, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(rloo_advantages(rewards, 4), trl_rloo_advantages(rewards, 4))
