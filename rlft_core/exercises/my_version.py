"""Train with my version: the student's function, right or wrong, drives a short run beside the reference.

A checker says *that* an answer is wrong; a training run shows *what the bug does* (a flipped sign
unlearns, a missing episode mask leaks value across episodes, β in the wrong place moves the
policy too far or not at all). Each ``train_*_with_mine`` returns ``{"reference": history,
"yours": history or None}``; ``"yours"`` is None (and a sentence says why) when the function is
not attempted yet or fails during training. :func:`plot_runs` draws the runs side by side.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as nn

from ..i18n import tr, tr_plot

__all__ = ["train_ppo_with_my_gae", "train_ppo_with_my_clipped_loss", "train_dpo_with_my_loss",
           "plot_runs", "TablePolicy"]


def _short_ppo_config(config):
    from ..ppo import PPOConfig
    return PPOConfig(total_timesteps=16_384) if config is None else config


def _train_ppo(env, config, seed, loss_fn=None, advantage_fn=None) -> list[dict]:
    """``rlft_core.ppo.train_ppo``'s history, with ``loss_fn`` / ``advantage_fn`` plugged in if given."""
    from ..ppo import train_ppo
    return train_ppo(env, config, seed=seed, loss_fn=loss_fn, advantage_fn=advantage_fn)[1]


def _yours(run, name: str):
    """Run the student's training; None and a sentence when it is not attempted or fails."""
    try:
        return run()
    except NotImplementedError:
        print(tr("{name} is not attempted yet: only the reference run is shown. Write it, then re-run this cell.",
                 name=name))
    except Exception as e:  # noqa: BLE001 - a student's bug is reported, never raised
        print(tr("training with your {name} stopped: {error}: {message}. Only the reference run is shown.",
                 name=name, error=type(e).__name__, message=e))
    return None


def train_ppo_with_my_gae(my_gae, env="CartPole-v1", config=None, seed: int = 0, reference=None) -> dict:
    """PPO (``rlft_core.ppo.train_ppo``) whose advantages and returns come from ``my_gae(rewards,
    values, dones, last_value, gamma, lam) -> (advantages, returns)``, each ``(T, N)``, beside the
    same run with :func:`rlft_core.returns.gae` (``train_ppo(..., advantage_fn=...)``). ``reference``:
    a history to reuse instead of training the reference again. Default budget: 16k CartPole steps.
    """
    config = _short_ppo_config(config)

    def checked_gae(rewards, values, dones, last_value, gamma, lam):
        out = my_gae(rewards, values, dones, last_value, gamma, lam)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ValueError(tr("your gae must return (advantages, returns), got {type}", type=type(out).__name__))
        adv, ret = (np.asarray(x.detach() if isinstance(x, torch.Tensor) else x, dtype=np.float64) for x in out)
        if adv.shape != rewards.shape or ret.shape != rewards.shape:
            raise ValueError(tr("your gae returned shapes {adv} and {ret}; both must be {expected}",
                                adv=adv.shape, ret=ret.shape, expected=rewards.shape))
        return adv, ret

    return {"reference": reference if reference is not None else _train_ppo(env, config, seed),
            "yours": _yours(lambda: _train_ppo(env, config, seed, advantage_fn=checked_gae), "gae")}


def _loss_with_policy_term(policy_loss):
    """PPO's full loss with ``policy_loss(logp_new, logp_old, advantages, clip_eps)`` as its policy
    term; the rest as in ``rlft_core.ppo.ppo_update`` (standardised advantages, value loss, entropy)."""
    from ..ppo_losses import normalize_advantages, value_loss

    def loss_fn(batch, logp_new, entropy, values, config):
        adv = batch["advantages"]
        adv = normalize_advantages(adv) if config.norm_adv and len(adv) > 1 else adv
        policy = policy_loss(logp_new, batch["logp_old"].detach(), adv, config.clip_eps)
        if not isinstance(policy, torch.Tensor) or policy.numel() != 1:
            raise ValueError(tr("your loss must return one number (a 0-d tensor), got {got}",
                                got=getattr(policy, "shape", type(policy))))
        return policy.reshape(()) + config.vf_coef * value_loss(values, batch["returns"]) - config.ent_coef * entropy.mean()
    return loss_fn


def train_ppo_with_my_clipped_loss(my_loss, env="CartPole-v1", config=None, seed: int = 0, reference=None) -> dict:
    """PPO whose policy term is ``my_loss(logp_new, logp_old, advantages, clip_eps) -> scalar`` (value
    loss and entropy bonus unchanged), beside the same run with the reference clipped loss.
    ``reference``: a history to reuse instead of training the reference again."""
    from ..ppo_losses import clipped_surrogate_loss
    config = _short_ppo_config(config)
    if reference is None:
        reference = _train_ppo(env, config, seed, _loss_with_policy_term(clipped_surrogate_loss))
    return {"reference": reference,
            "yours": _yours(lambda: _train_ppo(env, config, seed, _loss_with_policy_term(my_loss)), tr("clipped loss"))}


# ---------------------------------------------------------------- DPO on a table of answers
class TablePolicy(nn.Module):
    """A "language model" that answers a prompt with one token: a table of logits
    ``(n_prompts, n_answers)``. ``forward(tokens (B, L)) -> (B, L, n_answers)``: every position
    gets the logits of the prompt in ``tokens[:, 0]`` (only position 0, which scores the answer
    ``tokens[:, 1]``, is ever used)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits.detach().clone())

    def forward(self, tokens):
        return self.logits[tokens[:, 0]].unsqueeze(1).expand(-1, tokens.shape[1], -1)


def table_preferences(n_prompts: int = 6, n_answers: int = 10, n_pairs: int = 600, seed: int = 0):
    """``(true_reward (P, A), reference TablePolicy, PairDataset)``: pairs of different answers drawn
    from a random reference policy, labelled by a Bradley–Terry labeler over a hidden reward table."""
    from ..preferences import PairDataset
    gen = torch.Generator().manual_seed(seed)
    true_reward = torch.randn(n_prompts, n_answers, generator=gen)
    ref_probs = torch.softmax(0.5 * torch.randn(n_prompts, n_answers, generator=gen), -1)
    prompts = torch.randint(0, n_prompts, (n_pairs,), generator=gen)
    ans_a, ans_b = (torch.multinomial(ref_probs[prompts], 1, generator=gen).squeeze(1) for _ in range(2))
    keep = ans_a != ans_b
    prompts, ans_a, ans_b = prompts[keep], ans_a[keep], ans_b[keep]
    a_wins = torch.rand(len(prompts), generator=gen) < torch.sigmoid(true_reward[prompts, ans_a] - true_reward[prompts, ans_b])
    chosen, rejected = torch.where(a_wins, ans_a, ans_b), torch.where(a_wins, ans_b, ans_a)
    data = PairDataset.from_pairs(torch.stack([prompts, chosen], 1), torch.stack([prompts, rejected], 1))
    return true_reward, TablePolicy(ref_probs.log()).requires_grad_(False), data


def train_dpo_with_my_loss(my_loss, beta: float = 0.1, steps: int = 150, lr: float = 0.05, seed: int = 0) -> dict:
    """DPO (``rlft_core.dpo.train_dpo``, full batch) on :func:`table_preferences` with ``my_loss(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta) -> (B,)``
    beside the reference loss. Each record also holds ``true_reward`` (the policy's expected hidden
    reward) and ``kl`` (mean KL(π‖π_ref) over prompts)."""
    from ..dpo import DPOConfig, train_dpo
    true_reward, reference, data = table_preferences(seed=seed)
    ref_logp = torch.log_softmax(reference.logits, -1)
    config = DPOConfig(beta=beta, learning_rate=lr, epochs=steps, batch_size=len(data), max_grad_norm=10.0)

    def run(loss_fn):
        policy = copy.deepcopy(reference).requires_grad_(True)

        def measure(record):
            with torch.no_grad():
                logp = torch.log_softmax(policy.logits, -1)
                record["true_reward"] = float((logp.exp() * true_reward).sum(-1).mean())
                record["kl"] = float((logp.exp() * (logp - ref_logp)).sum(-1).mean())
            if not np.isfinite(record["loss"]):
                raise ValueError(tr("the loss became {loss} at step {step}", loss=record["loss"], step=record["step"]))
        return train_dpo(policy, reference, data, config, callback=measure, seed=seed, loss_fn=loss_fn)
    return {"reference": run(None), "yours": _yours(lambda: run(my_loss), tr("DPO loss"))}


def plot_runs(runs: dict, x: str, panels: dict, title: str = ""):
    """One panel per ``{key: label}`` of ``panels``, each run of ``runs`` ({name: history or None})
    as a line against ``x``; returns the figure."""
    import matplotlib.pyplot as plt
    legend = {"reference": tr_plot("reference"), "yours": tr_plot("yours")}
    xlabel = {"step": tr_plot("step"), "global_step": tr_plot("global step")}.get(x, x.replace("_", " "))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 2.8), layout="constrained")
    for ax, (key, label) in zip(np.atleast_1d(axes), panels.items()):
        for name, history in runs.items():
            if history:
                ax.plot([r[x] for r in history], [r[key] for r in history], label=legend.get(name, name),
                        linestyle="-" if name == "reference" else "--")
        ax.set(title=label, xlabel=xlabel)
    np.atleast_1d(axes)[0].legend()
    if title:
        fig.suptitle(title)
    plt.show()
    return fig
