r"""A slider over precomputed policies (one per β or n) on the over-optimisation curve.

Each *run* is one policy optimised against a learned reward: a KL-regularised optimum
:math:`\pi^*_\beta` (:func:`rlft_core.overoptimization.tilted_estimate`), a best-of-n sampler, or
a PPO run with ``kl_coef`` β. The explorer draws proxy and true reward against
:math:`\mathrm{KL}(\pi\|\pi_\text{ref})` for all runs (and optional reference curves), highlights
the run the slider selects, and lists that run's sample texts (HTML-escaped) under the figure.
Gao, Schulman & Hilton 2023, "Scaling Laws for Reward Model Overoptimization".
"""
from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from ..i18n import tr, tr_plot
from ._figure import FigureWidget, new_figure

_REQUIRED = ("label", "kl", "proxy", "true")


def _check_runs(runs):
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ValueError("runs must be a non-empty list of dicts with keys label, kl, proxy, true")
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or any(k not in run for k in _REQUIRED):
            raise ValueError(f"runs[{i}] must be a dict with keys {_REQUIRED} (and optionally samples)")
        for key in _REQUIRED[1:]:
            value = run[key]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
                raise ValueError(f"runs[{i}]['{key}'] must be a finite number, got {value!r}")
    labels = [str(run["label"]) for run in runs]
    if len(set(labels)) != len(labels):
        raise ValueError("runs must have distinct labels (the slider's options)")
    return labels


class OveroptimizationExplorer(FigureWidget):
    """Proxy and true reward against KL; a slider highlights one precomputed run (see
    :func:`overoptimization_explorer`)."""

    def __init__(self, runs, curves=None, initial=None, title="", slider_name="β"):
        self.labels = _check_runs(runs)
        self.runs = list(runs)
        self.curves = dict(curves or {})
        for name, curve in self.curves.items():
            if not isinstance(curve, dict) or any(k not in curve for k in ("kl", "proxy", "true")):
                raise ValueError(f"curves[{name!r}] must be a dict with arrays kl, proxy, true")
        if initial is not None and str(initial) not in self.labels:
            raise ValueError(f"initial must be one of the run labels {self.labels}, got {initial!r}")
        self.title = title
        controls = {"run": widgets.SelectionSlider(options=self.labels, value=str(initial or self.labels[0]),
                                                   description=slider_name, layout=widgets.Layout(width="520px"))}
        figure, axes = new_figure(1, 2, (10, 3.4))
        super().__init__(controls, figure, axes)

    def _build(self):
        kl = np.array([r["kl"] for r in self.runs])
        panels = (("proxy", tr_plot("proxy reward r_φ (reward model)")), ("true", tr_plot("true reward r* (hidden human)")))
        self._highlights = []
        for ax, (key, title) in zip(self.axes, panels):
            for j, (name, curve) in enumerate(self.curves.items()):
                ax.plot(curve["kl"], curve[key], "-", color=f"C{j + 2}", lw=1.2, alpha=0.8, label=name)
            ax.plot(kl, [r[key] for r in self.runs], "o-", color="C0" if key == "proxy" else "C1",
                    ms=4, lw=1, label=tr_plot("runs"))
            self._highlights.append(ax.plot([kl[0]], [self.runs[0][key]], "o", ms=12, mfc="none", mec="k", mew=2,
                                            label=tr_plot("the slider's run"))[0])
            ax.set(xlabel=tr_plot("KL(π ‖ π_ref)  [nats]"), title=title)
            ax.legend(fontsize=7)
        if self.title:
            self.figure.suptitle(self.title, fontsize=10)
        self.dynamic = list(self._highlights)

    def _draw(self):
        index = self.labels.index(self.value("run"))
        run = self.runs[index]
        for line, key in zip(self._highlights, ("proxy", "true")):
            line.set_data([run["kl"]], [run[key]])
        self.data = {"index": index, "label": run["label"], "kl": float(run["kl"]),
                     "proxy": float(run["proxy"]), "true": float(run["true"]),
                     "samples": list(run.get("samples", [])), "run_kl": np.array([r["kl"] for r in self.runs])}
        items = "".join(f"<li><code>{html.escape(str(s))}</code></li>" for s in run.get("samples", []))
        self.set_caption(tr("<b>{label}</b>: KL = {kl:.2f} nats, proxy = {proxy:.2f}, true = {true:.2f}",
                            label=html.escape(str(run["label"])), kl=run["kl"], proxy=run["proxy"], true=run["true"])
                         + (f"<ul style='margin:2px'>{items}</ul>" if items else ""))


def overoptimization_explorer(runs, curves=None, initial=None, title: str = "", slider_name: str = "β"):
    r"""A slider over precomputed ``runs`` on the proxy-vs-true over-optimisation plot.

    Args:
        runs: list of dicts ``{"label", "kl", "proxy", "true", "samples": [str, ...]}``, in slider
            order (e.g. β from large to small). ``samples`` are shown escaped under the figure.
        curves: optional ``{name: {"kl": array, "proxy": array, "true": array}}`` drawn as lines
            (e.g. the best-of-n curve next to the β runs).
        initial: label of the run selected at first (default: the first run).

    ``explorer.controls["run"].value = label`` selects a run; ``explorer.data`` then holds its
    ``index``, ``label``, ``kl``, ``proxy``, ``true`` and ``samples``.
    Gao, Schulman & Hilton 2023; the KL-regularised objective of Ziegler et al. 2019.
    """
    return OveroptimizationExplorer(runs, curves, initial, title, slider_name)
