"""What every widget of the course shares: a matplotlib figure shown as a PNG, redrawn on demand.

Figures are built with ``matplotlib.figure.Figure`` directly, never with ``pyplot``: pyplot
keeps every figure alive (the "more than 20 figures" warning) and the notebook's inline backend
would show it a second time at the end of the cell. Each redraw renders the figure to PNG bytes
and puts them in an ``ipywidgets.Image``: that is kernel-side widget state, so it works the same
whether a slider is moved in JupyterLab, set from code in a test, or executed headless by nbval,
and an exported HTML page stores the last drawn state.

A slider step has to feel immediate, so an explorer's figure is built once and only its data
changes afterwards (:class:`FigureWidget`):

* the artists are created once (``_build``); a redraw (``_draw``) only sets their data;
* the layout is computed once, at construction, then frozen;
* what a slider cannot change (axes, ticks, legends, fixed curves) is rendered once and kept as a
  background bitmap; a redraw restores it and draws only the ``dynamic`` artists over it
  (blitting). The background is re-rendered only when an axis' limits change;
* a drag in the browser sends a burst of values: they are coalesced, only the latest is drawn;
* torch runs on one thread while an explorer computes (:func:`one_torch_thread`).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import math
import struct
import zlib

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np
import torch

from ..i18n import tr


def new_figure(nrows: int, ncols: int, figsize, layout="constrained", dpi: int = 80):
    """A pyplot-free figure (Agg canvas) and its axes (``axes`` always a flat list)."""
    figure = Figure(figsize=figsize, layout=layout, dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    return figure, axes


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """Render ``figure`` (a full draw, at ``dpi``) to PNG bytes."""
    if figure.dpi != dpi:
        figure.set_dpi(dpi)
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()
    return canvas_png(canvas)


def _png_chunk(tag: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))


def canvas_png(canvas: FigureCanvasAgg) -> bytes:
    """The pixels already drawn on an Agg ``canvas``, as an RGB PNG.

    Written directly (PNG spec: IHDR, one zlib IDAT of rows each led by filter byte 0, IEND)
    with zlib's fastest level: a plot is mostly flat colour, which needs no row filter to
    compress, and skipping the filters makes encoding several times faster than Pillow's.
    """
    rgba = np.asarray(canvas.buffer_rgba())                      # (H, W, 4) uint8
    height, width = rgba.shape[:2]
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)     # filter byte 0, then R G B ...
    rows[:, 1:] = rgba[:, :, :3].reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)   # 8-bit RGB, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))


@contextlib.contextmanager
def one_torch_thread():
    """Run torch on one thread: an explorer's tensors are tiny, and on a busy machine waking a
    second OpenMP thread for them can take tens of milliseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbval, nbconvert), False in a plain Python process."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "ZMQ" in type(shell).__name__


def nice_limits(low: float, high: float, current=None, margin: float = 0.05):
    """Axis limits covering ``[low, high]``, rounded to a step of 1, 2 or 5 × 10^k.

    ``current`` limits are kept while they still hold the data and the data fills at least
    half of them: small slider steps then leave the axis (and the cached background) alone.
    """
    if current is not None:
        c_low, c_high = current
        if c_low <= low and high <= c_high and (high - low) >= 0.5 * (c_high - c_low):
            return current
    span = high - low
    if span <= 0:
        span = max(abs(high), 1.0)
    low, high = low - margin * span, high + margin * span
    step = 10.0 ** math.floor(math.log10(span / 5))
    step *= next(m for m in (1, 2, 5, 10) if span / (m * step) <= 8)
    return step * math.floor(low / step), step * math.ceil(high / step)


class FigureWidget:
    """Controls above a figure; changing any control redraws the figure and refreshes ``data``.

    Subclasses set ``self.controls`` (name -> ipywidgets control), implement ``_build()``, which
    creates the figure's artists once and lists in ``self.dynamic`` those a control changes, and
    ``_draw()``, which sets those artists' data (and axis limits) and fills ``self.data`` with
    the arrays it plotted.

    A change made from code (``explorer.controls["beta"].value = 1.0``) redraws synchronously:
    ``explorer.data`` is up to date when the assignment returns. Changes sent by the browser (a
    key press, a drag) are coalesced: the first schedules one redraw on the kernel's event loop,
    and any that arrive before it runs only replace the value it will draw.

    Attributes:
        widget: the ipywidgets container to display (an explorer displays as it).
        controls: the sliders / toggles, by name.
        data: what the last redraw plotted (numpy arrays and numbers).
        figure: the matplotlib Figure. dynamic: the artists a redraw updates.
        n_draws: how many times the figure was drawn; n_full_draws: how many of those re-rendered
            the background (construction, or an axis' limits changed).
    """

    def __init__(self, controls: dict, figure: Figure, axes, caption: str = ""):
        self.controls = controls
        self.figure = figure
        self.axes = axes
        self.canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
        self.data: dict = {}
        self.dynamic: list = []
        self.n_draws = self.n_full_draws = 0
        self._png = b""
        self._background = self._background_key = None
        self._pending = False
        self._image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self._caption = widgets.HTML(caption)
        boxes = [widgets.HBox(list(controls.values())[i:i + 3]) for i in range(0, len(controls), 3)]
        self.widget = widgets.VBox([*boxes, self._image, self._caption])
        with one_torch_thread():
            self._build()
            self._draw()
        self.canvas.draw()                          # the layout engine runs once, with every artist
        figure.set_layout_engine("none")            # ... and the positions it found stay
        for artist in self.dynamic:
            artist.set_animated(True)               # drawn over the background, not into it
        self.dynamic.sort(key=lambda artist: artist.get_zorder())
        self._show()
        for control in controls.values():
            control.observe(self._on_change, names="value")

    # -- events ----------------------------------------------------------------------------------
    def _on_change(self, change) -> None:
        from_browser = bool(getattr(change["owner"], "_property_lock", None))   # set by ipywidgets' set_state
        if from_browser and self._schedule():
            return
        self.redraw()

    def _schedule(self) -> bool:
        """Draw once, soon, whatever value the controls hold then; False without an event loop."""
        if self._pending:
            return True                             # a redraw is already due: it will draw this value
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._pending = True
        loop.call_soon(self._flush)                 # after the messages already received
        return True

    def _flush(self) -> None:
        self._pending = False
        try:
            self.redraw()
        except Exception as error:                  # a callback's error would otherwise vanish
            self._caption.value = tr("<b>redraw failed:</b> {error}", error=html.escape(repr(error)))

    # -- drawing ---------------------------------------------------------------------------------
    def value(self, name: str):
        """Current value of control ``name``."""
        return self.controls[name].value

    def redraw(self) -> None:
        """Recompute, update the artists, render and push the new PNG to the widget."""
        with one_torch_thread():
            self._draw()
        self._show()

    def _show(self) -> None:
        key = tuple((tuple(ax.get_xlim()), tuple(ax.get_ylim())) for ax in self.axes)
        if key != self._background_key:             # limits moved: ticks change, re-render it all
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            self._background_key = key
            self.n_full_draws += 1
        else:
            self.canvas.restore_region(self._background)
        for artist in self.dynamic:
            if artist.get_visible():
                (artist.axes or self.figure).draw_artist(artist)
        self._png = canvas_png(self.canvas)
        self._image.value = self._png
        self.n_draws += 1

    def _build(self) -> None:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

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
