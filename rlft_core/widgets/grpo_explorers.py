r"""Explorers for notebook 12: one group's advantages under GRPO / Dr. GRPO / RLOO, and how each
``loss_type`` spreads the gradient over the tokens of a short and a long answer."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch

from .._validate import check_range
from ..i18n import tr, tr_plot
from ._figure import FigureWidget, new_figure, nice_limits

GROUP_SIZE = 6
MAX_TOKENS = 12                 # the longest answer the length sliders allow
LOSS_TYPES = ("grpo", "dapo", "dr_grpo")


class GroupAdvantageExplorer(FigureWidget):
    """Six reward sliders (one group); the three advantages of each sample side by side."""

    def __init__(self, rewards=(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)):
        rewards = [float(r) for r in rewards]
        if len(rewards) != GROUP_SIZE:
            raise ValueError(f"rewards must hold {GROUP_SIZE} numbers (one group), got {len(rewards)}")
        for i, r in enumerate(rewards):
            check_range(f"rewards[{i}]", r, -2.0, 2.0)
        controls = {f"r{i + 1}": widgets.FloatSlider(value=r, min=-2.0, max=2.0, step=0.1, description=f"r{i + 1}") for i, r in enumerate(rewards)}
        figure, axes = new_figure(1, 1, (7.5, 3.4))
        super().__init__(controls, figure, axes)

    @staticmethod
    def advantages(rewards):
        """``{"GRPO": …, "Dr. GRPO": …, "RLOO": …}`` for one group, from :mod:`rlft_core.grpo`."""
        from ..grpo import group_advantages, rloo_advantages
        r = torch.as_tensor(rewards, dtype=torch.float64)
        return {"GRPO": group_advantages(r, len(r)).numpy(),
                "Dr. GRPO": group_advantages(r, len(r), scale="none").numpy(),
                "RLOO": rloo_advantages(r, len(r)).numpy()}

    def _build(self):
        (ax,) = self.axes
        x = np.arange(GROUP_SIZE)
        self._bars = {name: list(ax.bar(x + (k - 1) * 0.27, np.zeros(GROUP_SIZE), width=0.27, label=name,
                                        color=f"C{k}"))
                      for k, name in enumerate(("GRPO", "Dr. GRPO", "RLOO"))}
        (self._rewards,) = ax.plot(x, np.zeros(GROUP_SIZE), "kD", ms=5, label=tr_plot("reward"))
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set(xticks=x, xticklabels=[tr_plot("sample {i}", i=i + 1) for i in x], ylim=(-3.2, 3.2),
               title=tr_plot("one prompt, six samples: advantages"))
        ax.legend(fontsize=7, ncol=4, loc="upper right")
        self.dynamic = [*(bar for bars in self._bars.values() for bar in bars), self._rewards]

    def _draw(self):
        rewards = np.array([float(self.value(f"r{i + 1}")) for i in range(GROUP_SIZE)])
        adv = self.advantages(rewards)
        all_equal = bool(np.all(rewards == rewards[0]))
        std = float(np.std(rewards, ddof=1))
        self.data = {"rewards": rewards, **adv, "all_equal": all_equal, "std": std}
        for name, values in adv.items():
            for bar, value in zip(self._bars[name], values):
                bar.set_height(float(np.clip(value, -3.2, 3.2)))
        self._rewards.set_ydata(rewards)
        if all_equal:
            text = tr("All six rewards are equal: every advantage is <b>0</b>, so this prompt contributes no "
                      "gradient at all (DAPO's dynamic sampling drops such groups).")
        else:
            text = tr("Group std (Bessel) = {std:.3g}. GRPO divides the centred rewards by it, so a group that "
                      "is nearly all right or all wrong gets <b>large</b> advantages; Dr. GRPO only centres; RLOO "
                      "is G/(G−1) = 1.2 × Dr. GRPO here.", std=std)
        self.set_caption(text)


def group_advantage_explorer(rewards=(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)):
    r"""Edit one group's six rewards; see its GRPO, Dr. GRPO and RLOO advantages side by side.

    GRPO: :math:`(r_i - \bar r)/(\mathrm{std}(r) + \epsilon)` (Shao et al. 2024); Dr. GRPO:
    :math:`r_i - \bar r` (Liu et al. 2025); RLOO: :math:`r_i - \frac{1}{G-1}\sum_{j\ne i} r_j`
    (Ahmadian et al. 2024). ``.data`` holds ``rewards``, ``GRPO``, ``Dr. GRPO``, ``RLOO``,
    ``all_equal`` and ``std``; ``.controls["r1"]`` … ``["r6"]`` are the sliders.
    """
    return GroupAdvantageExplorer(rewards)


def token_gradient_weights(lengths, loss_type: str, max_completion_length: int, advantages=None):
    r"""``(B, T)`` weights :math:`-\partial L/\partial \log\pi(y_{i,t})` of each token under
    :func:`rlft_core.grpo.grpo_loss` on-policy (ρ = 1) with advantages 1 (or ``advantages``);
    0 on padding. ``T = max(lengths)``."""
    from ..grpo import grpo_loss
    lengths = torch.as_tensor(lengths)
    T = int(lengths.max())
    mask = torch.arange(T)[None, :] < lengths[:, None]
    adv = torch.ones(len(lengths), dtype=torch.float64) if advantages is None else torch.as_tensor(advantages, dtype=torch.float64)
    logp = torch.zeros(len(lengths), T, dtype=torch.float64, requires_grad=True)
    loss = grpo_loss(logp, logp.detach(), adv, mask, loss_type=loss_type, max_completion_length=max_completion_length)
    (grad,) = torch.autograd.grad(loss, logp)
    return (-grad).numpy()


class LossAggregationExplorer(FigureWidget):
    """Two answers of chosen lengths; each token's gradient weight under grpo / dapo / dr_grpo."""

    def __init__(self, short=4, long=7, max_completion_length=8):
        for name, value in (("short", short), ("long", long)):
            check_range(name, value, 1, MAX_TOKENS)
        check_range("max_completion_length", max_completion_length, max(short, long), MAX_TOKENS)
        controls = {
            "short": widgets.IntSlider(value=short, min=1, max=12, description=tr("short |y|")),
            "long": widgets.IntSlider(value=long, min=1, max=12, description=tr("long |y|")),
            "max_completion_length": widgets.IntSlider(value=max_completion_length, min=1, max=12,
                                                       description="L_max"),
        }
        figure, axes = new_figure(1, 3, (10, 3.0))
        super().__init__(controls, figure, axes)

    def _build(self):
        positions = np.arange(MAX_TOKENS)
        self._bars = {}
        for ax, loss_type in zip(self.axes, LOSS_TYPES):
            self._bars[loss_type] = [list(ax.bar(positions + offset, np.zeros(MAX_TOKENS), width=0.4, color=color,
                                                 label=label))
                                     for offset, color, label in ((-0.2, "C0", tr_plot("short answer")),
                                                                  (0.2, "C1", tr_plot("long answer")))]
            ax.set(title=f"loss_type='{loss_type}'", xlabel=tr_plot("token position"), xlim=(-0.7, MAX_TOKENS - 0.3))
            ax.legend(fontsize=7)
        self.axes[0].set_ylabel(tr_plot("gradient weight per token"))
        self.dynamic = [bar for rows in self._bars.values() for bars in rows for bar in bars]

    def _draw(self):
        lengths = [int(self.value("short")), int(self.value("long"))]
        L = max(int(self.value("max_completion_length")), *lengths)      # dr_grpo needs L_max ≥ every length
        weights = {t: token_gradient_weights(lengths, t, L) for t in LOSS_TYPES}
        totals = {t: w.sum(axis=1) for t, w in weights.items()}
        self.data = {"lengths": lengths, "max_completion_length": L, "weights": weights, "totals": totals}
        top = nice_limits(0.0, max(w.max() for w in weights.values()) * 1.1, self.axes[0].get_ylim())[1]
        for ax, loss_type in zip(self.axes, LOSS_TYPES):
            ax.set_ylim(0, top)
            for row, bars in enumerate(self._bars[loss_type]):
                for t, bar in enumerate(bars):
                    bar.set_height(float(weights[loss_type][row, t]) if t < lengths[row] else 0.0)
        sums = "; ".join(f"{t}: {totals[t][0]:.3f} vs {totals[t][1]:.3f}" for t in LOSS_TYPES)
        self.set_caption(tr(
            "Total weight of the {short}- and the {long}-token answer ({sums}). Both answers have "
            "advantage +1. <b>grpo</b> gives each <i>answer</i> the same total weight, so a token "
            "of the short answer counts more; with a negative advantage, a long wrong answer is penalised less per "
            "token, and lengths drift up (Liu et al. 2025). <b>dapo</b> gives every <i>token</i> the same weight; "
            "<b>dr_grpo</b> too, divided by the constant B·L_max = {normaliser}, whatever the lengths.",
            short=lengths[0], long=lengths[1], sums=sums, normaliser=2 * L))


def loss_aggregation_explorer(short: int = 4, long: int = 7, max_completion_length: int = 8):
    r"""The per-token gradient weight of a ``short``- and a ``long``-token answer (advantage +1 each)
    under each ``loss_type`` of :func:`rlft_core.grpo.grpo_loss` (Stanford CS336's 4-vs-7 example).

    ``.data["weights"][loss_type]`` is ``(2, T)``; ``.data["totals"][loss_type]`` the summed weight
    of each answer. "grpo": 1/(B·|y_i|) per token; "dapo": 1/Σ|y|; "dr_grpo": 1/(B·L_max).
    """
    return LossAggregationExplorer(short, long, max_completion_length)
