"""A preference-labelling UI: the student plays the human of RLHF and labels pairs with buttons.

Pairwise comparisons as the human's feedback, as in Christiano et al. 2017, "Deep RL from Human
Preferences" (trajectory clips), and Stiennon et al. 2020 / Ouyang et al. 2022 (texts).

    ui = PreferenceLabeller(texts_a, texts_b, encode=tokenizer.encode)
    ui                       # shows pair 1: buttons A / B / Tie / Skip / Undo
    pairs = ui.dataset()     # a rlft_core.preferences.PairDataset of the labelled pairs

Text is shown HTML-escaped (a sample containing ``<script>`` is displayed, never run).
Trajectory clips are drawn as small plots by ``render(item, ax)`` (default: one line per
observation dimension over time). Buttons can be pressed from code: ``ui.buttons["A"].click()``.
"""
from __future__ import annotations

import base64
import html

import ipywidgets as widgets
import numpy as np

from ..i18n import tr, tr_plot
from ..preferences import PairDataset
from ._figure import figure_png, new_figure

CHOICES = {"A": "A", "B": "B", "Tie": "tie", "Skip": "skip"}


def _button_names() -> dict[str, str]:
    """What each button says, in the current language (``buttons`` stays keyed by the English name)."""
    return {"A": "A", "B": "B", "Tie": tr("Tie"), "Skip": tr("Skip"), "Undo": tr("Undo")}


def plot_clip(item, ax) -> None:
    """Default renderer for a trajectory clip ``(k, obs_dim)`` (or ``(k,)``): one line per dimension."""
    clip = np.asarray(item, dtype=np.float64)
    clip = clip[:, None] if clip.ndim == 1 else clip
    for d in range(clip.shape[1]):
        ax.plot(clip[:, d], lw=1.2, label=f"obs[{d}]")
    ax.set(xlabel=tr_plot("step in clip"))
    if clip.shape[1] <= 6:
        ax.legend(fontsize=6, loc="best")


class PreferenceLabeller:
    """Show pairs one at a time; buttons A / B / Tie / Skip / Undo; collect preference labels.

    Args:
        items_a, items_b: sequences of the same length; pair ``i`` is ``(items_a[i], items_b[i])``.
            Strings are shown as escaped text, anything else through ``render``.
        prompts: optional sequence of prompts (shown above each pair, passed to the dataset).
        render: ``render(item, ax)`` draws a non-text item on a matplotlib axis (default
            :func:`plot_clip`).
        encode: ``encode(item)`` turns an item into a sequence for :meth:`dataset` (token ids, or a
            ``(k, obs_dim)`` clip); default: the item itself.

    Attributes: ``buttons`` (by name), ``history`` (every ``(pair index, choice)`` in order, skips
    included), ``labels`` (the same without skips; choice is ``"A"``, ``"B"`` or ``"tie"``),
    ``position`` (index of the pair on show; ``len(items_a)`` when done), ``widget``.
    """

    def __init__(self, items_a, items_b, prompts=None, render=None, encode=None):
        items_a, items_b = list(items_a), list(items_b)
        if not items_a or len(items_a) != len(items_b):
            raise ValueError(f"items_a and items_b must be non-empty and of one length, "
                             f"got {len(items_a)} and {len(items_b)}")
        if prompts is not None and len(prompts) != len(items_a):
            raise ValueError(f"prompts must hold one prompt per pair ({len(items_a)}), got {len(prompts)}")
        for name, fn in (("render", render), ("encode", encode)):
            if fn is not None and not callable(fn):
                raise ValueError(f"{name} must be a function, got {type(fn).__name__}")
        self.items_a, self.items_b = items_a, items_b
        self.prompts = None if prompts is None else list(prompts)
        self.render = plot_clip if render is None else render
        self.encode = encode
        self.history: list[tuple[int, str]] = []
        self.buttons = {name: widgets.Button(description=shown, layout=widgets.Layout(width="80px"))
                        for name, shown in _button_names().items()}
        for name, choice in CHOICES.items():
            self.buttons[name].on_click(lambda _button, choice=choice: self.label(choice))
        self.buttons["Undo"].on_click(lambda _button: self.undo())
        self.buttons["A"].button_style = self.buttons["B"].button_style = "info"
        self._prompt = widgets.HTML()
        self._views = {side: widgets.VBox(layout=widgets.Layout(width="50%", border="1px solid #ccc",
                                                              padding="4px")) for side in "AB"}
        self._progress = widgets.IntProgress(min=0, max=len(items_a))
        self._status = widgets.HTML()
        self.widget = widgets.VBox([self._prompt, widgets.HBox([self._views["A"], self._views["B"]]),
                                    widgets.HBox(list(self.buttons.values())),
                                    widgets.HBox([self._progress, self._status])])
        self._show()

    @property
    def labels(self) -> list[tuple[int, str]]:
        return [(i, choice) for i, choice in self.history if choice != "skip"]

    @property
    def position(self) -> int:
        return len(self.history)

    @property
    def done(self) -> bool:
        return self.position >= len(self.items_a)

    def label(self, choice: str) -> None:
        """Record ``choice`` (``"A"``, ``"B"``, ``"tie"`` or ``"skip"``) for the pair on show."""
        if choice not in CHOICES.values():
            raise ValueError(f"choice must be one of {list(CHOICES.values())}, got {choice!r}")
        if self.done:
            return
        self.history.append((self.position, choice))
        self._show()

    def undo(self) -> None:
        """Forget the last label (or skip) and show that pair again."""
        if self.history:
            self.history.pop()
        self._show()

    def _item_view(self, item):
        if isinstance(item, str):
            return widgets.HTML(f"<pre style='white-space: pre-wrap; margin: 0'>{html.escape(item)}</pre>")
        figure, (ax,) = new_figure(1, 1, (3.6, 2.2))
        self.render(item, ax)
        return widgets.Image(value=figure_png(figure, dpi=72), format="png")

    def _show(self) -> None:
        n = len(self.items_a)
        n_labelled = len(self.labels)
        self._progress.value = self.position
        self._status.value = tr("{seen} of {n} pairs seen: {labelled} labelled, {skipped} skipped",
                                seen=self.position, n=n, labelled=n_labelled, skipped=self.position - n_labelled)
        for name in CHOICES:
            self.buttons[name].disabled = self.done
        self.buttons["Undo"].disabled = not self.history
        if self.done:
            self._prompt.value = tr("<b>Done:</b> {n} pairs labelled. Call <code>.dataset()</code>.", n=n_labelled)
            for side in "AB":
                self._views[side].children = ()
            return
        i = self.position
        self._prompt.value = self._prompt_html(i) + tr("Which one is better?")
        for side, items in (("A", self.items_a), ("B", self.items_b)):
            self._views[side].children = (widgets.HTML(f"<b>{side}</b>"), self._item_view(items[i]))

    def _prompt_html(self, i: int) -> str:
        if self.prompts is None:
            return ""
        return tr("<b>Prompt:</b> {prompt}<br>", prompt=html.escape(str(self.prompts[i])))

    def pairs(self):
        """``(chosen, rejected, prompts, tie)``: lists of the raw items of the labelled pairs.

        A tie is stored in the order (A, B) with ``tie`` True.
        """
        chosen, rejected, prompts, tie = [], [], [], []
        for i, choice in self.labels:
            a, b = self.items_a[i], self.items_b[i]
            chosen.append(b if choice == "B" else a)
            rejected.append(a if choice == "B" else b)
            prompts.append(None if self.prompts is None else self.prompts[i])
            tie.append(choice == "tie")
        return chosen, rejected, (None if self.prompts is None else prompts), tie

    def dataset(self, pad_value: int = 0) -> PairDataset:
        """The labelled pairs as a :class:`~rlft_core.preferences.PairDataset` (padded, with masks).

        Items go through ``encode``; ``tie`` marks the pairs labelled as equally good.
        """
        chosen, rejected, prompts, tie = self.pairs()
        if not chosen:
            raise ValueError("no pairs labelled yet: press A, B or Tie first")
        encode = self.encode or (lambda item: item)
        encoded = [[encode(x) for x in group] for group in (chosen, rejected, prompts or [])]
        if any(isinstance(x, str) for group in encoded for x in group):
            raise ValueError("encode must turn text items into sequences of token ids (pass encode=...)")
        return PairDataset.from_pairs(encoded[0], encoded[1], prompts=encoded[2] if prompts else None,
                                      pad_value=pad_value, tie=tie)

    def static_html(self) -> str:
        """The pair on show and the progress as plain HTML, for pages without live widgets (an
        exported or offline page, a notebook viewer): what a student would see, minus the buttons."""
        if self.done:
            body = tr("<p><b>Done:</b> {n} pairs labelled.</p>", n=len(self.labels))
        else:
            i = self.position
            sides = []
            for side, items in (("A", self.items_a), ("B", self.items_b)):
                item = items[i]
                if isinstance(item, str):
                    view = f"<pre style='white-space: pre-wrap; margin: 0'>{html.escape(item)}</pre>"
                else:
                    figure, (ax,) = new_figure(1, 1, (3.6, 2.2))
                    self.render(item, ax)
                    png = base64.b64encode(figure_png(figure, dpi=72)).decode("ascii")
                    view = f"<img src='data:image/png;base64,{png}' style='max-width: 100%'>"
                sides.append(f"<td style='border: 1px solid #ccc; padding: 4px; vertical-align: top'>"
                             f"<b>{side}</b><br>{view}</td>")
            body = (f"<p>{self._prompt_html(i)}{tr('Which one is better?')}</p>"
                    f"<table><tr>{''.join(sides)}</tr></table>")
        note = tr("{status} — the A / B / Tie / Skip buttons work when the notebook runs in JupyterLab.",
                  status=html.escape(self._status.value))
        return f"<div class='rlft-labeller'>{body}<p><i>{note}</i></p></div>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The widget for JupyterLab; a static picture of the same state for pages without widgets.
        return {**self.widget._repr_mimebundle_(), "text/html": self.static_html()}

    def __repr__(self) -> str:
        return f"PreferenceLabeller({len(self.items_a)} pairs, {len(self.labels)} labelled)"
