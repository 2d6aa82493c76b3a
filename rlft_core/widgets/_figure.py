"""What every widget of the course shares: a matplotlib figure shown as a PNG, redrawn on demand.

Figures are built with ``matplotlib.figure.Figure`` directly, never with ``pyplot``: pyplot
keeps every figure alive (the "more than 20 figures" warning) and the notebook's inline backend
would show it a second time at the end of the cell. Each redraw renders the figure to PNG bytes
and puts them in an ``ipywidgets.Image``: that is kernel-side widget state, so it works the same
whether a slider is moved in JupyterLab, set from code in a test, or executed headless by nbval,
and an exported HTML page stores the last drawn state.
"""
from __future__ import annotations

import base64
import io

import ipywidgets as widgets
from matplotlib.figure import Figure


def new_figure(nrows: int, ncols: int, figsize, layout="constrained"):
    """A pyplot-free figure and its axes (``axes`` always a flat list)."""
    figure = Figure(figsize=figsize, layout=layout)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    return figure, axes


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """Render ``figure`` to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbval, nbconvert), False in a plain Python process."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "ZMQ" in type(shell).__name__


class FigureWidget:
    """Controls above a figure; changing any control redraws the figure and refreshes ``data``.

    Subclasses set ``self.controls`` (name -> ipywidgets control) and implement ``_draw()``, which
    clears and redraws ``self.figure`` and fills ``self.data`` with the arrays it plotted. The
    redraw runs synchronously inside the observer, so ``explorer.controls["beta"].value = 1.0``
    has updated ``explorer.data`` by the time the assignment returns (in a kernel or not).

    Attributes:
        widget: the ipywidgets container to display (an explorer displays as it).
        controls: the sliders / toggles, by name.
        data: what the last redraw plotted (numpy arrays and numbers).
        figure: the matplotlib Figure.
        n_draws: how many times the figure was drawn.
    """

    dpi = 80

    def __init__(self, controls: dict, figure: Figure, axes, caption: str = ""):
        self.controls = controls
        self.figure = figure
        self.axes = axes
        self.data: dict = {}
        self.n_draws = 0
        self._png = b""
        self._image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self._caption = widgets.HTML(caption)
        boxes = [widgets.HBox(list(controls.values())[i:i + 3]) for i in range(0, len(controls), 3)]
        self.widget = widgets.VBox([*boxes, self._image, self._caption])
        for control in controls.values():
            control.observe(self._on_change, names="value")
        self.redraw()

    def _on_change(self, change) -> None:
        self.redraw()

    def value(self, name: str):
        """Current value of control ``name``."""
        return self.controls[name].value

    def redraw(self) -> None:
        """Recompute, redraw the figure and push the new PNG to the widget."""
        self._draw()
        self._png = figure_png(self.figure, self.dpi)
        self._image.value = self._png
        self.n_draws += 1

    def _draw(self) -> None:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def set_caption(self, html_text: str) -> None:
        """Caption under the figure. ``html_text`` is trusted HTML written by the package."""
        self._caption.value = html_text
        self.data["caption"] = html_text

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The widget for JupyterLab; a PNG of the last drawn state for viewers without widgets.
        bundle = self.widget._repr_mimebundle_()
        bundle["image/png"] = base64.b64encode(self._png).decode("ascii")
        return bundle

    def __repr__(self) -> str:
        names = ", ".join(f"{k}={getattr(c, 'value', None)!r}" for k, c in self.controls.items())
        return f"{type(self).__name__}({names})"
