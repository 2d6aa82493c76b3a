r"""Explorers for PPO's two core formulas: the clipped surrogate objective and GAE.

Each explorer returns an object with ``.widget`` (display it, or display the explorer itself),
``.controls`` (the sliders, settable from code), ``.data`` (the arrays it last drew) and
``.figure``; see :class:`rlft_core.widgets._figure.FigureWidget`.
"""
from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import torch

from .._validate import as_array, check_finite, check_range
from ..i18n import tr, tr_plot
from ..ppo_losses import clip_fraction, clipped_surrogate_loss
from ..returns import gae
from ._figure import FigureWidget, new_figure, nice_limits
from .trajectories import cartpole_trajectory, check_trajectory


def flat_regions(adv: float, clip_eps: float):
    r"""Ratio intervals where PPO's clipped objective is flat in r (zero gradient).

    With :math:`\hat A > 0` the objective stops growing once :math:`r > 1+\epsilon`; with
    :math:`\hat A < 0` it stops growing once :math:`r < 1-\epsilon`; with :math:`\hat A = 0` it is 0
    everywhere. Schulman et al. 2017, "Proximal Policy Optimization Algorithms", Fig. 1.
    """
    if adv > 0:
        return [(1.0 + clip_eps, math.inf)]
    if adv < 0:
        return [(0.0, 1.0 - clip_eps)]
    return [(0.0, math.inf)]


class ClippingExplorer(FigureWidget):
    """PPO's clipped objective and the unclipped one against the ratio r (see :func:`clipping_explorer`)."""

    def __init__(self, ratios=None, advantages=None, clip_eps=0.2, adv=1.0, r_max=2.0):
        self.ratios = self.batch_adv = None
        if ratios is not None:
            ratios = np.asarray(as_array("ratios", ratios.detach() if torch.is_tensor(ratios) else ratios),
                                dtype=np.float64).ravel()
            check_finite(ratios=ratios)
            if ratios.size == 0 or (ratios <= 0).any():
                raise ValueError("ratios must be a non-empty array of positive numbers pi_new/pi_old")
            self.ratios = ratios
        if advantages is not None:
            if self.ratios is None:
                raise ValueError("advantages needs ratios: pass the batch's ratios too")
            self.batch_adv = np.asarray(as_array("advantages", advantages.detach() if torch.is_tensor(advantages)
                                                 else advantages), dtype=np.float64).ravel()
            if self.batch_adv.shape != self.ratios.shape:
                raise ValueError(f"advantages has {self.batch_adv.size} elements but ratios has "
                                 f"{self.ratios.size}; expected one advantage per ratio")
        check_range("clip_eps", clip_eps, 0.01, 0.9)          # the slider's range
        check_range("adv", adv, -2.0, 2.0)
        self.r_max = max(r_max, 1.2 * float(np.quantile(self.ratios, 0.99))) if self.ratios is not None else r_max
        self.ratio = np.linspace(1e-3, self.r_max, 501)       # the x grid of the curves
        controls = {
            "eps": widgets.FloatSlider(value=clip_eps, min=0.01, max=0.9, step=0.01, description="ε"),
            "adv": widgets.FloatSlider(value=adv, min=-2.0, max=2.0, step=0.1, description=tr("advantage Â")),
        }
        figure, axes = new_figure(1, 1 if self.ratios is None else 2,
                                  (5.5, 3.6) if self.ratios is None else (10, 3.6))
        super().__init__(controls, figure, axes)

    def _build(self):
        ax = self.axes[0]
        (self._unclipped,) = ax.plot([], [], "--", color="0.5", label=tr_plot("unclipped  r·Â"))
        (self._clipped,) = ax.plot([], [], color="C0", lw=2.5, label=tr_plot("clipped  min(r·Â, clip(r)·Â)"))
        self._flat = ax.axvspan(0, 1, color="C3", alpha=0.15, label=tr_plot("flat: zero gradient"))
        self._edges = [ax.axvline(1, color="0.3", lw=0.8, ls=":") for _ in range(2)]
        # Titles stay fixed and the numbers go to the caption: text is the largest cost of a redraw.
        ax.set(xlabel=tr_plot("ratio r = π_new / π_old"), ylabel=tr_plot("objective (maximised)"),
               xlim=(0, self.ratio[-1]), title=tr_plot("one sample's objective (dotted: 1 ± ε)"))
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
        self.dynamic = [self._unclipped, self._clipped, self._flat, *self._edges]
        if self.ratios is not None:
            ax = self.axes[1]
            counts, edges = np.histogram(self.ratios, bins=40, range=(0, self.r_max))
            self.hist_counts, self.hist_edges = counts, edges
            ax.stairs(counts, edges, fill=True, alpha=0.6)
            self._clipped_spans = [ax.axvspan(0, 1, color="0.5", alpha=0.15) for _ in range(2)]
            ax.set(xlabel=tr_plot("ratio r"), ylabel=tr_plot("count"), xlim=(0, edges[-1]),
                   title=tr_plot("the batch's {n} ratios (grey: clipped)", n=self.ratios.size))
            self.dynamic += self._clipped_spans

    def curves(self, eps, adv):
        """``(objective, slope)`` over ``self.ratio``, from the package's ``clipped_surrogate_loss``.

        One batched call: the loss is the mean of per-sample terms f_i, each positively
        homogeneous in its advantage, so f_i = A_i ∂f_i/∂A_i (Euler) = -B A_i ∂loss/∂A_i, and
        the slope in r is -B ∂loss/∂(log r_i) / r_i.
        """
        log_ratio = torch.tensor(np.log(self.ratio), requires_grad=True)        # (B,)
        advantages = torch.full_like(log_ratio, adv, requires_grad=True)
        loss = clipped_surrogate_loss(log_ratio, torch.zeros_like(log_ratio), advantages, eps)
        grad_log_ratio, grad_adv = torch.autograd.grad(loss, (log_ratio, advantages))
        batch = len(self.ratio)
        objective = -batch * adv * grad_adv.numpy()
        slope = -(grad_log_ratio.numpy() * batch) / self.ratio
        return objective, slope

    def _draw(self):
        eps, adv = float(self.value("eps")), float(self.value("adv"))
        ratio = self.ratio
        objective, slope = self.curves(eps, adv)
        regions = flat_regions(adv, eps)
        self.data = {"ratio": ratio, "clipped_objective": objective, "unclipped_objective": adv * ratio,
                     "slope": slope, "flat_regions": regions, "eps": eps, "adv": adv}
        ax = self.axes[0]
        self._unclipped.set_data(ratio, adv * ratio)
        self._clipped.set_data(ratio, objective)
        low, high = regions[0]
        self._flat.set_x(low)
        self._flat.set_width(min(high, ratio[-1]) - low)
        for line, edge in zip(self._edges, (1 - eps, 1 + eps)):
            line.set_xdata([edge, edge])
        reach = max(abs(adv), 0.5) * ratio[-1]                  # the unclipped line's range
        ax.set_ylim(nice_limits(min(0.0, adv * ratio[-1], -0.05 * reach), max(0.0, adv * ratio[-1], 0.05 * reach),
                                ax.get_ylim()))
        where = (tr("none: Â = 0 gives no gradient at all") if adv == 0 else
                 tr("r > {edge:.2f} (Â > 0: the update already made this action more likely enough)", edge=1 + eps)
                 if adv > 0 else tr("r < {edge:.2f} (Â < 0: already made less likely enough)", edge=1 - eps))
        caption = tr("ε = {eps:.2f}, Â = {adv:+.1f}. Flat region, where this sample's gradient is zero: {where}.",
                     eps=eps, adv=adv, where=where)
        if self.ratios is not None:
            caption += self._draw_batch(eps)
        self.set_caption(caption)

    def _draw_batch(self, eps):
        ratios = self.ratios
        log_ratio = torch.tensor(np.log(ratios))
        frac = clip_fraction(log_ratio, torch.zeros_like(log_ratio), eps).item()
        self.data.update(clip_fraction=frac, hist_counts=self.hist_counts, hist_edges=self.hist_edges)
        below, above = self._clipped_spans
        below.set_width(1 - eps)
        above.set_x(1 + eps)
        above.set_width(self.hist_edges[-1] - (1 + eps))
        if self.batch_adv is None:
            return tr("<br>Batch of {n}: clip fraction <b>{clip:.3f}</b>.", n=ratios.size, clip=frac)
        zero_grad = ((self.batch_adv > 0) & (ratios > 1 + eps)) | ((self.batch_adv < 0) & (ratios < 1 - eps))
        self.data["zero_gradient_fraction"] = float(zero_grad.mean())
        return tr("<br>Batch of {n}: clip fraction <b>{clip:.3f}</b>, zero-gradient fraction <b>{zero:.3f}</b>.",
                  n=ratios.size, clip=frac, zero=zero_grad.mean())


def clipping_explorer(ratios=None, advantages=None, clip_eps: float = 0.2, adv: float = 1.0):
    r"""Sliders for ε and the advantage; PPO's clipped objective against the ratio r.

    .. math:: L^{CLIP}(r) = \min\big(r\hat A,\ \mathrm{clip}(r, 1-\epsilon, 1+\epsilon)\hat A\big)

    plotted beside the unclipped :math:`r\hat A`, with the flat (zero-gradient) region shaded:
    :math:`r > 1+\epsilon` when :math:`\hat A > 0`, :math:`r < 1-\epsilon` when :math:`\hat A < 0`.
    The curve is computed with :func:`rlft_core.ppo_losses.clipped_surrogate_loss`.
    Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. (7) and Fig. 1.

    Args:
        ratios: optional ratios :math:`r_t` of a real PPO minibatch (any shape); adds their
            histogram and clip fraction :math:`\mathbb E[|r-1| > \epsilon]`, which follow the ε slider.
        advantages: optional, the same batch's advantages; adds the fraction of samples in the
            flat region.
        clip_eps, adv: initial slider values.

    ``.data`` holds ``ratio``, ``clipped_objective``, ``unclipped_objective``, ``slope`` (d/dr),
    ``flat_regions`` (list of ``(low, high)``), and with ``ratios`` ``clip_fraction``,
    ``hist_counts``, ``hist_edges`` (and ``zero_gradient_fraction``).
    """
    return ClippingExplorer(ratios, advantages, clip_eps, adv)


class GAEExplorer(FigureWidget):
    """γ and λ over a trajectory: rewards, values, TD errors, advantages (see :func:`gae_explorer`)."""

    def __init__(self, trajectory=None, gamma=0.99, lam=0.95):
        self.trajectory = check_trajectory(cartpole_trajectory(seed=1) if trajectory is None else trajectory)
        check_range("gamma", gamma, 0.0, 1.0)
        check_range("lam", lam, 0.0, 1.0)
        controls = {
            "gamma": widgets.FloatSlider(value=gamma, min=0.0, max=1.0, step=0.01, description="γ"),
            "lam": widgets.FloatSlider(value=lam, min=0.0, max=1.0, step=0.05, description="λ"),
            "bootstrap": widgets.Checkbox(value=True, description=tr("bootstrap γ·V(final) at truncation")),
        }
        figure, axes = new_figure(2, 1, (9, 5.2))
        super().__init__(controls, figure, axes)

    def advantages(self, gamma, lam, bootstrap):
        """``(td_errors, advantages, returns)`` of the trajectory for these settings.

        Truncation: with ``bootstrap`` the truncated step's reward becomes
        :math:`r_t + \\gamma V(s^{final})` and the step is marked done, the fix described in
        :mod:`rlft_core.returns`; without it the time limit is treated as a true end.
        """
        traj = self.trajectory
        rewards = traj["rewards"] + (gamma * traj["truncated"] * traj["final_values"] if bootstrap else 0.0)
        dones = np.maximum(traj["terminated"], traj["truncated"])
        values = traj["values"]
        next_values = np.append(values[1:], traj["last_value"])
        td_errors = rewards + gamma * (1 - dones) * next_values - values     # δ_t
        advantages, returns = gae(rewards, values, dones, traj["last_value"], gamma, lam)
        return td_errors, advantages, returns

    def _build(self):
        traj, top, bottom = self.trajectory, *self.axes
        steps = np.arange(len(traj["rewards"]))
        for ax in (top, bottom):
            for t in np.flatnonzero(traj["terminated"]):
                ax.axvline(t + 0.5, color="C3", lw=1.5, label=tr_plot("termination") if ax is top else None)
            for t in np.flatnonzero(traj["truncated"]):
                ax.axvline(t + 0.5, color="C1", lw=1.5, ls="--", label=tr_plot("truncation") if ax is top else None)
            ax.set_xlim(-1, len(steps))
        top.stairs(traj["rewards"], np.append(steps, len(steps)) - 0.4, fill=True, color="0.75", label=tr_plot("reward r_t"))
        top.plot(steps, traj["values"], color="C0", label=tr_plot("value V(s_t)"))
        (self._returns,) = top.plot(steps, steps * 0.0, color="C2", lw=1, label=tr_plot("λ-return (value target)"))
        top.set(ylabel=tr_plot("reward / value"), title=tr_plot("one trajectory: rewards, values and value targets"))
        top.legend(fontsize=7, ncol=5, loc="lower left")
        bottom.axhline(0, color="0.6", lw=0.8)
        (self._td,) = bottom.plot(steps, steps * 0.0, "o", ms=3, color="C4", label=tr_plot("TD error δ_t"))
        (self._adv,) = bottom.plot(steps, steps * 0.0, color="C3", lw=2, label=tr_plot("GAE advantage Â_t"))
        (self._adv_other,) = bottom.plot(steps, steps * 0.0, color="C1", lw=1, alpha=0.6,
                                         label=tr_plot("Â_t with the truncation toggle flipped"))
        bottom.set(xlabel=tr_plot("step t"), ylabel=tr_plot("advantage"))
        bottom.legend(fontsize=7, ncol=3, loc="lower left")
        self.dynamic = [self._returns, self._td, self._adv, self._adv_other]

    def _draw(self):
        gamma, lam, bootstrap = float(self.value("gamma")), float(self.value("lam")), bool(self.value("bootstrap"))
        traj = self.trajectory
        td_errors, adv, returns = self.advantages(gamma, lam, bootstrap)
        _, adv_other, _ = self.advantages(gamma, lam, not bootstrap)
        steps = np.arange(len(traj["rewards"]))
        self.data = {"steps": steps, "rewards": traj["rewards"], "values": traj["values"],
                     "td_errors": td_errors, "advantages": adv, "returns": returns,
                     "advantages_other_truncation": adv_other, "gamma": gamma, "lam": lam,
                     "bootstrap": bootstrap}
        top, bottom = self.axes
        self._returns.set_ydata(returns)
        self._td.set_ydata(td_errors)
        self._adv.set_ydata(adv)
        self._adv_other.set_ydata(adv_other)
        shown = np.concatenate([traj["rewards"], traj["values"], returns, [0.0]])
        top.set_ylim(nice_limits(shown.min(), shown.max(), top.get_ylim()))
        shown = np.concatenate([td_errors, adv, adv_other, [0.0]])
        # room under the curves for the legend, which sits at the lower left
        low, high = shown.min(), shown.max()
        bottom.set_ylim(nice_limits(low - 0.35 * (high - low), high, bottom.get_ylim()))
        trunc = np.flatnonzero(traj["truncated"])
        caption = (tr("γ = {gamma:.2f}, λ = {lam:.2f}, with bootstrapping at truncation. ", gamma=gamma, lam=lam)
                   if bootstrap else
                   tr("γ = {gamma:.2f}, λ = {lam:.2f}, without bootstrapping at truncation. ", gamma=gamma, lam=lam))
        if trunc.size:
            t = trunc[-1]
            caption += tr("At the truncated step t = {t}, bootstrapping adds γ·V(final) = {bonus:.2f} to Â; the "
                          "change decays by γλ per step back. ", t=t, bonus=gamma * traj["final_values"][t])
        self.set_caption(caption + tr("λ = 0: Â = δ (TD(0)); λ = 1: Â = discounted return − V."))


def gae_explorer(trajectory=None, gamma: float = 0.99, lam: float = 0.95):
    r"""γ and λ sliders over a real trajectory, and a toggle for time-limit truncation.

    .. math::
        \delta_t = r_t + \gamma(1-d_t)V(s_{t+1}) - V(s_t), \qquad
        \hat A_t = \sum_{l\ge 0} (\gamma\lambda)^l \delta_{t+l} \ \text{(within the episode)}

    λ = 0 gives :math:`\hat A_t = \delta_t`; λ = 1 gives the discounted return minus
    :math:`V(s_t)`. Advantages are computed by :func:`rlft_core.returns.gae`. Schulman, Moritz,
    Levine, Jordan, Abbeel 2016, "High-Dimensional Continuous Control Using GAE", eq. (16).
    Truncation handling: Pardo, Tavakoli, Levdik, Kormushev 2018, "Time Limits in RL".

    Args:
        trajectory: dict of 1-D arrays ``rewards``, ``values``, ``terminated``, ``truncated``,
            optional ``final_values`` and ``last_value`` (format in
            :mod:`rlft_core.widgets.trajectories`). Default: :func:`cartpole_trajectory` (seed 1),
            a terminated episode then one truncated by a 40-step time limit.
        gamma, lam: initial slider values.

    ``.data`` holds ``rewards``, ``values``, ``td_errors``, ``advantages``, ``returns`` and
    ``advantages_other_truncation`` (the advantages with the truncation toggle flipped).
    """
    return GAEExplorer(trajectory, gamma, lam)
