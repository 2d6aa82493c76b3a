"""A live training plot that any training loop can feed through its callback.

    live = LivePlot.for_ppo(total=config.total_timesteps)   # or LivePlot(panels={...}, x="step")
    train_ppo("CartPole-v1", config, callback=live)          # live(record) after every update
    live.close()                              # final draw (also done when the notebook cell ends)

Every record (a dict) is kept in ``live.records``; the figure shows chosen keys, one panel per
group. Redraws are throttled by wall time: at most one every ``min_interval`` seconds, and only
while the drawing so far plus two draws (this one and the final one) fits in ``max_overhead``
(10 %) of the time since the first record, so a fast loop is not slowed down: the first figure
appears once the run has lasted ~20 draws (~10 s for six panels), and a shorter run shows only the
final one (with ``total=`` a progress bar moves meanwhile). In a notebook the figure is one image
output updated in place (a display handle), so a headless run (nbval, nbconvert) and its exported
HTML keep the last drawn state; in a plain Python process nothing is displayed and
``live.figure`` holds the final figure (``live.figure.savefig("curves.png")``). With ``total=`` a
``tqdm.auto`` progress bar follows the x key (e.g. ``global_step`` up to ``total_timesteps``).
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from .._validate import check_range
from ..i18n import tr, tr_plot
from ._figure import figure_png, in_kernel, new_figure


def _as_float(value):
    """A finite float, a list of them (for sequence values), or None for anything unplottable."""
    if hasattr(value, "ndim") and hasattr(value, "tolist"):      # numpy arrays, torch tensors
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        floats = [_as_float(v) for v in value]
        return [f for f in floats if isinstance(f, float)]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class LivePlot:
    """One figure, one panel per group of record keys, redrawn at a bounded rate.

    Args:
        panels: ``{panel title: [record keys]}``; a key whose values are lists (like
            ``episode_returns``) is drawn as dots, a scalar key as a line.
        x: record key for the horizontal axis, or a tuple of keys (the first one a record has is
            used); when a record has none of them its index is used.
        min_interval: minimum seconds between two redraws.
        total: if given, show a ``tqdm.auto`` progress bar up to ``total`` (in units of ``x``).
        title: figure title. max_overhead: fraction of wall time drawing may take (default 0.1).
        titles: optional ``{panel title: title shown}`` (the presets pass their titles in the
            current language); other panels show their title through :func:`rlft_core.i18n.tr_plot`.
        display: show the figure in the notebook; default: only inside a Jupyter kernel.

    Calling it with a record returns None, so it never asks a training loop to stop.
    Attributes: ``records`` (every record), ``drawn`` (``{panel: {key: (x, y)}}``, the arrays of
    the last draw), ``n_draws``, ``draw_seconds`` (time spent drawing), ``figure``, ``bar``.
    """

    def __init__(self, panels, x="step", min_interval: float = 0.5, total=None, title=None,
                 max_overhead: float = 0.1, display=None, ncols: int = 3, titles=None):
        if not isinstance(panels, Mapping) or not panels:
            raise ValueError("panels must be a non-empty dict {panel title: [record keys]}")
        self.panels = {str(t): [keys] if isinstance(keys, str) else list(keys) for t, keys in panels.items()}
        if any(not keys or not all(isinstance(k, str) for k in keys) for keys in self.panels.values()):
            raise ValueError("panels must map each title to a non-empty list of record keys (strings)")
        check_range("min_interval", min_interval, 0.0, math.inf, high_open=True)
        check_range("max_overhead", max_overhead, 0.0, 1.0, low_open=True)
        if total is not None and (isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total <= 0):
            raise ValueError(f"total must be None or a positive integer, got {total!r}")
        self.x_keys = (x,) if isinstance(x, str) else tuple(x)
        if not self.x_keys or not all(isinstance(k, str) for k in self.x_keys):
            raise ValueError(f"x must be a record key or a tuple of keys, got {x!r}")
        self.x, self.min_interval, self.total, self.title = self.x_keys[0], float(min_interval), total, title
        self.max_overhead = float(max_overhead)
        self.display = in_kernel() if display is None else bool(display)
        self.records: list[dict] = []
        self.drawn: dict = {}
        self.n_draws, self.draw_seconds = 0, 0.0
        self.bar = None
        self._series = {key: ([], []) for keys in self.panels.values() for key in keys}
        self._sequence_keys: set = set()
        self._clock = time.perf_counter
        self._next_draw = -math.inf
        self._first_record_time = None                 # of the current run (reset by _start)
        self._run_draw_seconds = 0.0
        # what one draw costs: before the first, a cautious guess (rendering six panels takes
        # 0.15-0.5 s); without display nothing is rendered and a draw is nearly free
        self._last_draw_seconds = 0.1 * len(self.panels) if self.display else 0.0
        self._handle = None
        self._hooked = False
        self._open = False
        ncols = min(ncols, len(self.panels))
        nrows = math.ceil(len(self.panels) / ncols)
        # A fixed layout: a layout engine would double the cost of each redraw.
        self.figure, axes = new_figure(nrows, ncols, (3.6 * ncols, 2.6 * nrows), layout=None)
        height = 2.6 * nrows                                     # inches
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.6 / height, top=1 - 0.55 / height,
                                    wspace=0.35, hspace=0.65)
        for ax in axes[len(self.panels):]:
            ax.set_visible(False)
        self.axes = dict(zip(self.panels, axes))
        self.titles = {panel: (titles or {}).get(panel) or tr_plot(panel) for panel in self.panels}   # as shown
        self._lines = {}
        self._legend_keys = {}
        for i, (panel, keys) in enumerate(self.panels.items()):
            ax = self.axes[panel]
            for key in keys:
                (self._lines[panel, key],) = ax.plot([], [], label=key)
            # Text is most of a draw's cost: few ticks, and the title and x label placed once, so
            # that matplotlib does not measure every tick label to place them at each draw.
            ax.set_title(self.titles[panel], y=1.0)
            ax.locator_params(nbins=4)
            ax.yaxis.set_label_coords(-0.15, 0.5)
            if i + ncols >= len(self.panels):           # the x label under the bottom panels only
                ax.set_xlabel(" / ".join(self.x_keys))
                ax.xaxis.set_label_coords(0.5, -0.2)

    # -- presets for the course's training loops -------------------------------------------------
    @classmethod
    def for_ppo(cls, **kwargs) -> "LivePlot":
        """PPO (``rlft_core.ppo``): return, clip fraction, approx KL, entropy, explained variance."""
        panels = {"Return": ["episode_returns", "mean_return"], "Clip fraction": ["clip_fraction"],
                  "Approx KL": ["approx_kl"], "Entropy": ["entropy"],
                  "Explained variance": ["explained_variance"], "Losses": ["policy_loss", "value_loss"]}
        titles = {"Return": tr_plot("Return"), "Clip fraction": tr_plot("Clip fraction"),
                  "Approx KL": tr_plot("Approx KL"), "Entropy": tr_plot("Entropy"),
                  "Explained variance": tr_plot("Explained variance"), "Losses": tr_plot("Losses")}
        return cls(panels, **{"x": "global_step", "titles": titles, **kwargs})

    @classmethod
    def for_reward_model(cls, **kwargs) -> "LivePlot":
        """Reward-model training, one record per epoch: loss and accuracy, train and held out."""
        panels = {"Loss": ["train_loss", "test_loss"], "Accuracy": ["train_accuracy", "test_accuracy"]}
        titles = {"Loss": tr_plot("Loss"), "Accuracy": tr_plot("Accuracy")}
        return cls(panels, **{"x": "epoch", "titles": titles, **kwargs})

    @classmethod
    def for_dpo(cls, **kwargs) -> "LivePlot":
        """DPO, one record per step: loss, chosen/rejected implicit rewards, margin, accuracy."""
        panels = {"Loss": ["loss"], "Implicit rewards": ["chosen_reward", "rejected_reward"],
                  "Margin": ["margin"], "Accuracy": ["accuracy"]}
        titles = {"Loss": tr_plot("Loss"), "Implicit rewards": tr_plot("Implicit rewards"),
                  "Margin": tr_plot("Margin"), "Accuracy": tr_plot("Accuracy")}
        return cls(panels, **{"x": "step", "ncols": 4, "titles": titles, **kwargs})

    @classmethod
    def for_rlhf(cls, **kwargs) -> "LivePlot":
        """RLHF-PPO: true and proxy reward (``proxy_reward``, or ``score`` as ``rlft_core.rlhf_ppo``
        names the reward model's score), and KL to the reference; x is ``step`` or ``iteration``."""
        panels = {"Reward": ["true_reward", "proxy_reward", "score"], "KL(π ‖ π_ref)": ["kl"]}
        return cls(panels, **{"x": ("step", "iteration"), "titles": {"Reward": tr_plot("Reward")}, **kwargs})

    # -- feeding -----------------------------------------------------------------------------
    def __call__(self, record) -> None:
        """Store ``record``, advance the progress bar, redraw if enough time has passed."""
        if not isinstance(record, Mapping):
            raise ValueError(f"record must be a dict of metrics, got {type(record).__name__}")
        if not self._open:
            self._start()
        self.records.append(dict(record))
        x_key = next((k for k in self.x_keys if isinstance(_as_float(record.get(k)), float)), None)
        x_value = float(len(self.records) - 1) if x_key is None else _as_float(record[x_key])
        for key, (xs, ys) in self._series.items():
            value = _as_float(record.get(key))
            if isinstance(value, list):
                self._sequence_keys.add(key)
                xs.extend([x_value] * len(value))
                ys.extend(value)
            elif value is not None:
                xs.append(x_value)
                ys.append(value)
        if self.bar is not None:
            self.bar.update(max(0, round(x_value) - self.bar.n) if x_key is not None else 1)
        now = self._clock()
        if self._first_record_time is None:
            self._first_record_time = now
        budget = self.max_overhead * (now - self._first_record_time)
        if now >= self._next_draw and self._run_draw_seconds + 2 * self._last_draw_seconds <= budget:
            self.draw()
        return None

    def _start(self) -> None:
        self._open = True
        self._first_record_time, self._run_draw_seconds = None, 0.0
        self._handle = None           # a new run (or a new cell) gets a new output
        if self.total is not None:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.total, desc=self.title or tr("training"), unit=self.x,
                            mininterval=0.5)            # each refresh is a widget message
        try:
            from IPython import get_ipython
            shell = get_ipython()
        except ImportError:
            shell = None
        if shell is not None and not self._hooked:   # the final draw happens when the cell ends
            shell.events.register("post_run_cell", self._on_cell_end)
            self._hooked = True

    def _on_cell_end(self, result=None) -> None:
        self.close()

    def draw(self) -> None:
        """Redraw now with every record so far (and update the notebook output)."""
        start = self._clock()
        for panel, keys in self.panels.items():
            ax = self.axes[panel]
            self.drawn[panel] = {}
            for key in keys:
                xs, ys = (np.asarray(v, dtype=np.float64) for v in self._series[key])
                line = self._lines[panel, key]
                if key in self._sequence_keys:
                    line.set(linestyle="none", marker=".", alpha=0.35)
                line.set_data(xs, ys)
                self.drawn[panel][key] = (xs, ys)
            ax.relim()
            ax.autoscale_view()
            with_data = [self._lines[panel, k] for k in keys if len(self.drawn[panel][k][0])]
            if len(keys) > 1 and with_data and self._legend_keys.get(panel) != len(with_data):
                ax.legend(handles=with_data, fontsize=7)        # rebuilt only when a key appears
                self._legend_keys[panel] = len(with_data)
        if self.records:
            last = self.records[-1]
            x_key = next((k for k in self.x_keys if k in last), "record")
            last_x = last.get(x_key, len(self.records) - 1)
            progress = tr_plot("{x_key} = {x}, {n} records", x_key=x_key, x=last_x, n=len(self.records))
            self.figure.suptitle(f"{self.title} — {progress}" if self.title else progress, fontsize=9)
        if self.display:
            self._show()
        self.n_draws += 1
        self._last_draw_seconds = self._clock() - start
        self.draw_seconds += self._last_draw_seconds
        self._run_draw_seconds += self._last_draw_seconds
        self._next_draw = self._clock() + self.min_interval

    def _show(self) -> None:
        from IPython.display import Image, display
        image = Image(data=figure_png(self.figure, dpi=72),
                      alt=tr("training curves: {panels} ({n} records)", panels=", ".join(self.titles.values()),
                             n=len(self.records)))
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def close(self) -> None:
        """Final draw with every record; close the progress bar. Safe to call more than once."""
        if self._hooked:
            from IPython import get_ipython
            try:
                get_ipython().events.unregister("post_run_cell", self._on_cell_end)
            except (ValueError, AttributeError):
                pass
            self._hooked = False
        if not self._open:
            return
        self._open = False
        if self.records:
            self.draw()
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "LivePlot":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def _repr_png_(self) -> bytes:
        return figure_png(self.figure, dpi=72)

    def __repr__(self) -> str:
        return f"LivePlot(panels={list(self.panels)}, x={self.x!r}, records={len(self.records)}, draws={self.n_draws})"
