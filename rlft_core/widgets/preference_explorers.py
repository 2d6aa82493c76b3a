r"""Explorers for the preference side: the DPO / IPO losses and the KL-regularised optimum."""
from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import torch

from .._validate import check_range
from ..dpo import dpo_loss, kl_regularised_optimum
from ..i18n import tr, tr_plot
from ._figure import FigureWidget, new_figure

H_MAX = 25.0   # the log-ratio difference axis spans [-H_MAX, H_MAX], fixed so β's effect is visible


class PreferenceLossExplorer(FigureWidget):
    """DPO and IPO losses against the log-ratio difference h (see :func:`preference_loss_explorer`)."""

    reference_betas = (0.1, 1.0)                       # drawn faintly, for comparison
    h = np.linspace(-H_MAX, H_MAX, 1001)                # odd count: h = 0 is on the grid
    reward_gap = np.linspace(-8, 8, 401)

    def __init__(self, beta=0.1, margin=2.0):
        check_range("beta", beta, 0.01, 5.0)               # the slider's range
        check_range("margin", margin, -H_MAX, H_MAX)
        controls = {
            "beta": widgets.FloatLogSlider(value=beta, base=10, min=-2, max=math.log10(5.0), step=0.05,
                                           description="β"),
            "margin": widgets.FloatSlider(value=margin, min=-H_MAX, max=H_MAX, step=0.5, description="h"),
        }
        self._curve_cache: dict = {}                    # β -> curves: slider positions repeat
        figure, axes = new_figure(2, 2, (9.5, 6))
        super().__init__(controls, figure, axes)

    def cached_curves(self, beta):
        """:meth:`curves` over ``self.h``, remembered for the last 256 values of β."""
        if beta not in self._curve_cache:
            if len(self._curve_cache) >= 256:
                self._curve_cache.pop(next(iter(self._curve_cache)))
            curves = self.curves(self.h, beta)
            for array in curves:
                array.setflags(write=False)             # shared with .data: read-only
            self._curve_cache[beta] = curves
        return self._curve_cache[beta]

    @staticmethod
    def curves(h, beta):
        """``(dpo_loss, grad_weight, ipo_loss)`` over the grid ``h``, from the package's ``dpo_loss``."""
        # h = [log π(y_w)/π_ref(y_w)] - [log π(y_l)/π_ref(y_l)]: put it all in the chosen log-prob.
        logp_chosen = torch.tensor(h, dtype=torch.float64, requires_grad=True)
        zeros = torch.zeros_like(logp_chosen)
        losses, _, _ = dpo_loss(logp_chosen, zeros, zeros, zeros, beta=beta, loss_type="sigmoid")
        (dloss_dh,) = torch.autograd.grad(losses.sum(), logp_chosen)
        grad_weight = -dloss_dh / beta                  # the loss's gradient is -β σ(-βh)
        ipo, _, _ = dpo_loss(logp_chosen.detach(), zeros, zeros, zeros, beta=beta, loss_type="ipo")
        return losses.detach().numpy(), grad_weight.numpy(), ipo.detach().numpy()

    def _build(self):
        h, ax_loss, ax_weight, ax_ipo, ax_bt = self.h, *self.axes
        self._lines, self._saturated, self._margins = [], [], []
        titles = (tr_plot("DPO loss −log σ(βh)"), tr_plot("gradient weight σ(−βh)"))
        for i, (ax, name) in enumerate(zip((ax_loss, ax_weight), titles)):
            for beta in self.reference_betas:
                ax.plot(h, self.curves(h, beta)[i], color="0.5", alpha=0.4, lw=1, label=f"β = {beta}")
            self._lines.append(ax.plot(h, h * 0.0, color="C0", lw=2.5, label=tr_plot("β of the slider"))[0])
            self._saturated.append(ax.axvspan(0, H_MAX, color="C2", alpha=0.12,
                                              label=tr_plot("saturated (weight < 0.1)")))
            ax.set(xlabel=tr_plot("h = log-ratio(chosen) − log-ratio(rejected)"), title=name, xlim=(-H_MAX, H_MAX))
        ax_loss.set_ylim(0, 4)                           # fixed, so that β's effect on the slope shows
        ax_weight.set_ylim(0, 1.05)
        ax_loss.legend(fontsize=7)
        self._lines.append(ax_ipo.plot(h, h * 0.0, color="C1", lw=2.5)[0])
        self._ipo_target = ax_ipo.axvline(0, color="C1", ls=":", label=tr_plot("target h = 1/(2β)"))
        # the parabola (h - 1/(2β))² only shifts with β: fixed limits show it move
        ax_ipo.set(xlabel="h", title=tr_plot("IPO loss (h − 1/(2β))²"), xlim=(-H_MAX, H_MAX), ylim=(0, 40))
        ax_ipo.legend(fontsize=7, loc="upper left")
        for ax in (ax_loss, ax_weight, ax_ipo):
            self._margins.append(ax.axvline(0, color="C3", lw=1))
        ax_bt.plot(self.reward_gap, 1.0 / (1.0 + np.exp(-self.reward_gap)), color="C4", lw=2.5)
        (self._bt_point,) = ax_bt.plot([0], [0.5], "o", color="C3", label=tr_plot("implicit gap βh of the h slider"))
        ax_bt.set(xlabel=tr_plot("reward gap r(y_w) − r(y_l)"), title="Bradley–Terry P(y_w ≻ y_l) = σ(Δr)",
                  xlim=(-8, 8), ylim=(0, 1))
        ax_bt.legend(fontsize=7, loc="upper left")
        self.dynamic = [*self._lines, *self._saturated, self._ipo_target, *self._margins, self._bt_point]

    def _draw(self):
        beta, margin = float(self.value("beta")), float(self.value("margin"))
        h = self.h
        dpo, grad_weight, ipo = self.cached_curves(beta)
        h_saturation = math.log(9.0) / beta               # σ(βh) = 0.9: gradient weight down to 0.1
        p_bt = 1.0 / (1.0 + np.exp(-self.reward_gap))    # Bradley–Terry P(y_w ≻ y_l) = σ(Δr)
        at_margin = {"dpo_loss": float(np.interp(margin, h, dpo)), "grad_weight": float(np.interp(margin, h, grad_weight)),
                     "ipo_loss": float(np.interp(margin, h, ipo)), "implicit_reward_gap": beta * margin,
                     "p_bradley_terry": 1.0 / (1.0 + math.exp(-beta * margin))}
        self.data = {"h": h, "dpo_loss": dpo, "grad_weight": grad_weight, "ipo_loss": ipo,
                     "ipo_target": 1.0 / (2.0 * beta), "h_saturation": h_saturation,
                     "reward_gap": self.reward_gap, "p_bradley_terry": p_bt, "at_margin": at_margin,
                     "beta": beta, "margin": margin}
        for line, y in zip(self._lines, (dpo, grad_weight, ipo)):
            line.set_ydata(y)
        for span in self._saturated:
            span.set_x(min(h_saturation, H_MAX))
            span.set_width(max(H_MAX - h_saturation, 0.0))
        self._ipo_target.set_xdata([1 / (2 * beta)] * 2)
        for line in self._margins:
            line.set_xdata([margin, margin])
        self._bt_point.set_data([beta * margin], [at_margin["p_bradley_terry"]])
        self.set_caption(tr(                             # numbers here, not in the figure: cheaper
            "At h = {h:+.1f}: DPO loss {loss:.3f}, gradient weight {weight:.3f}, implicit reward gap βh = "
            "{gap:.3g}. β = {beta:.3g}: the DPO gradient weight falls below 0.1 once h &gt; ln 9 / β = "
            "{saturation:.3g}. <b>Larger β saturates at smaller log-ratio differences, so the policy "
            "moves less from the reference</b>; smaller β lets it move further. "
            "IPO instead pulls h to the fixed target 1/(2β) = {target:.3g}.",
            h=margin, loss=at_margin["dpo_loss"], weight=at_margin["grad_weight"], gap=beta * margin, beta=beta,
            saturation=h_saturation, target=1 / (2 * beta)))


def preference_loss_explorer(beta: float = 0.1, margin: float = 2.0):
    r"""β and the log-ratio difference h: DPO loss, its gradient weight, IPO, Bradley–Terry.

    With :math:`h = \log\frac{\pi_\theta(y_w|x)}{\pi_{ref}(y_w|x)} - \log\frac{\pi_\theta(y_l|x)}{\pi_{ref}(y_l|x)}`
    (β·h is the implicit-reward margin):

    .. math::
        L_{DPO} = -\log\sigma(\beta h), \qquad \frac{\partial L_{DPO}}{\partial h} = -\beta\,\sigma(-\beta h),
        \qquad L_{IPO} = \Big(h - \frac{1}{2\beta}\Big)^2, \qquad P(y_w \succ y_l) = \sigma(\Delta r)

    Larger β: the loss saturates (gradient weight σ(−βh) < 0.1) once h > ln 9 / β, so the
    policy stops moving away from the reference sooner. Losses come from
    :func:`rlft_core.dpo.dpo_loss`. Rafailov et al. 2023, "Direct Preference Optimization", eq. (7);
    Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human
    Preferences" (IPO), eq. (17); Bradley & Terry 1952.

    ``.data`` holds ``h``, ``dpo_loss``, ``grad_weight``, ``ipo_loss``, ``h_saturation``,
    ``reward_gap``, ``p_bradley_terry`` and ``at_margin`` (the values at the h slider).
    """
    return PreferenceLossExplorer(beta, margin)


def _kl(p, q) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * (np.log(p[mask]) - np.log(q[mask]))))


class KLExplorer(FigureWidget):
    """π_ref, the tilted optimum π* and E[r], KL as β varies (see :func:`kl_explorer`)."""

    def __init__(self, ref_probs=None, rewards=None, labels=None, beta=1.0):
        self.ref_probs = np.array([0.30, 0.25, 0.18, 0.14, 0.09, 0.04]) if ref_probs is None else ref_probs
        self.rewards = np.array([0.0, 0.4, -0.6, 1.0, 1.6, 2.2]) if rewards is None else rewards
        kl_regularised_optimum(self.ref_probs, self.rewards, 1.0)   # validates both
        self.ref_probs = np.asarray(self.ref_probs, dtype=np.float64)
        self.rewards = np.asarray(self.rewards, dtype=np.float64)
        if self.ref_probs.ndim != 1 or self.rewards.shape != self.ref_probs.shape:
            raise ValueError(f"ref_probs and rewards must be 1-D of one length, got {self.ref_probs.shape} "
                             f"and {self.rewards.shape}")
        self.labels = [f"y{i + 1}" for i in range(len(self.ref_probs))] if labels is None else list(labels)
        if len(self.labels) != len(self.ref_probs):
            raise ValueError(f"labels must name each of the {len(self.ref_probs)} responses")
        check_range("beta", beta, 0.01, 100.0)             # the slider's range
        self.beta_grid = np.logspace(-2, 2, 121)
        self.curve_pi = np.array([kl_regularised_optimum(self.ref_probs, self.rewards, b) for b in self.beta_grid])
        self.curve_reward = self.curve_pi @ self.rewards
        self.curve_kl = np.array([_kl(p, self.ref_probs) for p in self.curve_pi])
        controls = {"beta": widgets.FloatLogSlider(value=beta, base=10, min=-2, max=2, step=0.05, description="β")}
        figure, axes = new_figure(1, 2, (10, 3.4))
        super().__init__(controls, figure, axes)

    def _build(self):
        ax_bars, ax_curve = self.axes
        x = np.arange(len(self.ref_probs))
        ax_bars.bar(x - 0.2, self.ref_probs, 0.4, color="0.6", label="π_ref")
        self._bars = list(ax_bars.bar(x + 0.2, self.ref_probs, 0.4, color="C0", label="π* ∝ π_ref·exp(r/β)"))
        ax_bars.set_xticks(x, [f"{n}\nr={r:+.1f}" for n, r in zip(self.labels, self.rewards)], fontsize=8)
        ax_bars.set(ylim=(0, 1), ylabel=tr_plot("probability"), title=tr_plot("the reference and the optimum"))
        ax_bars.legend(fontsize=8)
        ax_curve.semilogx(self.beta_grid, self.curve_reward, color="C2", label="E_π*[r]")
        ax_curve.semilogx(self.beta_grid, self.curve_kl, color="C3", label="KL(π* ‖ π_ref)")
        self._beta_line = ax_curve.axvline(1.0, color="0.3", lw=1)
        (self._points,) = ax_curve.plot([1.0, 1.0], [0.0, 0.0], "o", color="0.2")
        ax_curve.set(xlabel=tr_plot("β (KL coefficient)"), title=tr_plot("small β: more reward, further from π_ref"))
        ax_curve.legend(fontsize=8)
        self.dynamic = [*self._bars, self._beta_line, self._points]

    def _draw(self):
        beta = float(self.value("beta"))
        pi_star = kl_regularised_optimum(self.ref_probs, self.rewards, beta)
        expected_reward, kl = float(pi_star @ self.rewards), _kl(pi_star, self.ref_probs)
        self.data = {"pi_ref": self.ref_probs, "rewards": self.rewards, "pi_star": pi_star, "beta": beta,
                     "expected_reward": expected_reward, "kl": kl,
                     "objective": expected_reward - beta * kl, "beta_grid": self.beta_grid,
                     "expected_reward_curve": self.curve_reward, "kl_curve": self.curve_kl}
        for bar, p in zip(self._bars, pi_star):
            bar.set_height(p)
        self._beta_line.set_xdata([beta, beta])
        self._points.set_data([beta, beta], [expected_reward, kl])
        self.set_caption(tr("β = {beta:.3g}: E[r] = {reward:.3f}, KL(π*‖π_ref) = {kl:.3f} nats. "
                            "β → ∞ keeps π_ref; β → 0 puts all mass on the highest reward.",
                            beta=beta, reward=expected_reward, kl=kl))


def kl_explorer(ref_probs=None, rewards=None, labels=None, beta: float = 1.0):
    r"""β slider over the KL-regularised optimum :math:`\pi^* \propto \pi_{ref}\exp(r/\beta)`.

    Shows :math:`\pi_{ref}` and :math:`\pi^*` (:func:`rlft_core.dpo.kl_regularised_optimum`) as bars over a few
    discrete responses, and :math:`\mathbb E_{\pi^*}[r]` and :math:`\mathrm{KL}(\pi^*\|\pi_{ref})`
    against β. Rafailov et al. 2023, "Direct Preference Optimization", eq. (4).

    Args:
        ref_probs, rewards: ``(K,)``; default six responses. labels: optional names.
        beta: initial slider value (the slider spans 0.01 … 100).

    ``.data`` holds ``pi_ref``, ``pi_star``, ``expected_reward``, ``kl``, ``objective`` and the
    curves ``beta_grid``, ``expected_reward_curve``, ``kl_curve``.
    """
    return KLExplorer(ref_probs, rewards, labels, beta)
