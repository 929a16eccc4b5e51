"""Base class for the course's widgets: controls plus a matplotlib figure shown as a PNG image.

Each view builds its figure once, keeps references to its artists, and on every control change
updates those artists in place (``set_data``, ``set_offsets``, ``set_array`` …) and re-renders
the PNG into an ``ipywidgets.Image``. This works the same in JupyterLab, Colab, VS Code and a
headless test (no ipympl needed): tests set ``view.controls[name].value`` and compare
``view.image.value`` or the artists' data before and after.

Why it is fast (a slider must feel live: the target is <= 50 ms from a change to the new picture):

* **Blitting.** A view names its *live* artists, the ones :meth:`FigureView.update` changes. A draw
  with them hidden paints only the static rest (axes, ticks, labels, legends): that background is
  kept, and each change restores it and draws the live artists on top. Static artists
  that sit above a live one in the same axes (a legend over a moving curve, the spines around a
  heat map) are redrawn too, so the stacking order, and with it the picture, stays exactly that of a
  full draw. The background is redrawn only when axis limits, titles or labels change (and then only
  for the axes that changed; see :mod:`nicelab.widgets._blit`).
* **Layout once.** A constrained or tight layout is solved at the first render and then frozen.
* **Cheap PNG.** :func:`encode_png` writes the RGB pixels with zlib level 1 and no row filter: 3-5x
  faster than matplotlib's writer for files about 10 % larger.
* **Latest value wins.** Changes that come from the browser (a dragged slider) are rendered on a
  background thread; changes that arrive while a picture is being drawn are merged, and the next
  picture shows the newest values (stale ones are never drawn). Changes made by code render before
  the assignment returns, so the next line of a notebook sees the new picture and numbers.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import traceback
import zlib
from collections.abc import Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.text import Text

from nicelab.widgets._blit import Blitter

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(rgba: np.ndarray, level: int = 1) -> bytes:
    """PNG bytes (8-bit RGB) of an ``(height, width, 4)`` uint8 RGBA array; alpha is dropped.

    Rows are stored unfiltered and deflated at zlib ``level`` (0-9). On plot images this is several
    times faster than adaptive filtering at level 6 and only slightly larger. Figures are opaque, so
    dropping alpha loses nothing.
    """
    if not (
        isinstance(rgba, np.ndarray) and rgba.dtype == np.uint8 and rgba.ndim == 3 and rgba.shape[2] == 4
    ):
        raise ValueError(f"expected an (height, width, 4) uint8 array, got {getattr(rgba, 'shape', rgba)}")
    if not (isinstance(level, int) and 0 <= level <= 9):
        raise ValueError(f"level must be an integer in 0..9, got {level!r}")
    height, width = rgba.shape[:2]
    rows = np.empty((height, 1 + 3 * width), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (none) for every row
    rows[:, 1:].reshape(height, width, 3)[...] = rgba[..., :3]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, truecolour, no interlace
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _png_chunk(b"IEND", b"")
    )


def render_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render all of ``fig`` to PNG bytes with ``savefig`` (no pyplot state involved).

    This draws every artist: the reference a view's blitted picture must
    equal (the views themselves render with :func:`encode_png` on a cached background).
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 (times a power of 10) that is >= ``value``.

    Views round a data-driven axis limit up with this, so that dragging a slider moves the limit in
    a few steps instead of on every change (each new limit means new ticks: a full redraw).
    """
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"value must be a positive finite number, got {value!r}")
    exponent = int(np.floor(np.log10(value)))
    for mantissa in ("1", "1.2", "1.5", "2", "2.5", "3", "4", "5", "6", "8", "10"):
        candidate = float(
            f"{mantissa}e{exponent}"
        )  # parsed, so 0.6 is 0.6 (not 6 * 0.1 = 0.6000000000000001)
        if candidate >= value * (1 - 1e-12):
            return candidate
    raise AssertionError("unreachable: 10 * 10**exponent > value")  # pragma: no cover


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (``None``: leave the setting alone).

    The setting is per OS thread (OpenMP), so a view's worker thread never changes the kernel's.
    """
    if n is None:
        yield
        return
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")
    previous = torch.get_num_threads()
    if previous != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if previous != n:
            torch.set_num_threads(previous)


def info_text(ax: Axes, x: float, y: float, va: str = "bottom") -> Text:
    """An empty read-out box in axes coordinates (white monospace on translucent black), set later."""
    return ax.text(
        x,
        y,
        "",
        transform=ax.transAxes,
        color="w",
        fontsize=8,
        va=va,
        family="monospace",
        bbox={"facecolor": "black", "alpha": 0.6, "edgecolor": "none"},
    )


class FigureView:
    """Controls on top (or left) and a figure below; subclasses implement :meth:`update`.

    Args:
        figure: the matplotlib ``Figure`` (created without pyplot, so it never auto-displays).
        controls: name -> ipywidget; changing any ``value`` re-renders the picture.
        dpi: the picture's resolution (pixels per inch of the figure size).
        live: the artists :meth:`update` changes. Everything else is drawn once into a cached
            background. An empty ``live`` redraws the whole figure on every change.

    Attributes:
        figure, controls, image (the ``ipywidgets.Image`` with the latest render), ui (the whole
        widget), renders (pictures drawn so far), coalesced (browser changes merged into a later
        picture instead of drawn), timings (seconds of the last render: ``update``, ``draw``,
        ``encode``), blitter (the :class:`~nicelab.widgets._blit.Blitter`, after the first render),
        render_error (the last exception of a background render, or ``None``).
    """

    #: render changes that come from the browser on a worker thread, newest value first (see module doc)
    background_rendering: bool = True
    #: torch threads while :meth:`update` runs. One: the views' tensors are small, and on a shared
    #: 2-core machine a second thread mostly waits for a busy core (lesson 03's update took 700 ms with
    #: two threads under load, 22 ms with one; lesson 06's 36-sample inverse 200-1300 ms against 50 ms)
    update_threads: int | None = 1

    def __init__(
        self,
        figure: Figure,
        controls: Mapping[str, widgets.Widget],
        dpi: int = 80,
        live: Iterable[Artist] = (),
    ) -> None:
        if not isinstance(figure, Figure):
            raise ValueError(f"figure must be a matplotlib Figure, got {type(figure).__name__}")
        if isinstance(dpi, bool) or not (isinstance(dpi, int) and dpi > 0):
            raise ValueError(f"dpi must be a positive integer, got {dpi!r}")
        self.figure = figure
        self.controls = dict(controls)
        self.dpi = dpi
        figure.set_dpi(dpi)  # draw at the picture's resolution directly
        FigureCanvasAgg(figure)
        self.live = list(live)
        for artist in self.live:
            if not isinstance(artist, Artist):
                raise ValueError(f"live must hold matplotlib artists, got {type(artist).__name__}")
        self.blitter: Blitter | None = None  # built at the first render, once the layout is final
        # The picture shrinks to the output area's width (never wider than the notebook column), and
        # the controls wrap onto a second row rather than run off the right edge on narrow screens.
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
            if getattr(control, "description", "") and hasattr(control.style, "description_width"):
                control.style.description_width = "initial"  # labels at full length, never "tempera…"
        row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.ui = widgets.VBox([row, self.image])
        self.renders = self.coalesced = 0
        self.timings = {"update": 0.0, "draw": 0.0, "encode": 0.0}
        self.render_error: BaseException | None = None
        self._render_lock = threading.RLock()  # one render at a time: figures are not thread-safe
        self._rendering = False  # set while this view renders (a change made meanwhile: render again)
        self._dirty = False
        self._slot = threading.Lock()  # guards the pending flag and the worker handle
        self._pending = False
        self._worker: threading.Thread | None = None

    def update(self) -> None:  # pragma: no cover - abstract
        """Read the controls and update the figure's artists in place."""
        raise NotImplementedError

    # -- rendering ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Update the artists and re-render the image (the newest control values, once)."""
        with self._render_lock:
            if self._rendering:  # a change made by update() itself: one more pass after this one
                self._dirty = True
                return
            self._rendering = True
            try:
                self._dirty = True
                while self._dirty:
                    self._dirty = False
                    self._render_once()
            finally:
                self._rendering = False

    def _render_once(self) -> None:
        start = time.perf_counter()
        with torch_threads(self.update_threads):
            self.update()
        updated = time.perf_counter()
        pixels = self._draw()
        drawn = time.perf_counter()
        png = encode_png(pixels)
        encoded = time.perf_counter()
        self.timings = {"update": updated - start, "draw": drawn - updated, "encode": encoded - drawn}
        self.image.value = png
        self.renders += 1

    def background_key(self) -> Hashable:
        """Extra state the cached background depends on, beyond each axes' limits, scales and texts.

        ``None`` here; a subclass whose :meth:`update` changes a static (non-live) artist in another
        way returns what that change depends on.
        """
        return None

    def _freeze_layout(self) -> None:
        engine = self.figure.get_layout_engine()
        if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
            # solve the layout once, at the first render, then keep it: re-solving it costs more
            # than drawing, and it would shift the panels while a slider moves
            self.figure.draw_without_rendering()
            self.figure.set_layout_engine("none")

    def _draw(self) -> np.ndarray:
        """Draw the picture into the Agg canvas (blitted) and return its RGBA pixels."""
        if self.blitter is None:
            self._freeze_layout()
            self.blitter = Blitter(self.figure, self.live, self.background_key)
        return self.blitter.draw()

    # -- changes -----------------------------------------------------------------------------------

    def _on_change(self, change: Mapping[str, object]) -> None:
        owner = change.get("owner")
        # ipywidgets holds a property lock while it applies state sent by the browser (a slider's
        # value, or a selection's index, whose value follows)
        from_browser = bool(getattr(owner, "_property_lock", None))
        if from_browser and self.background_rendering:
            self._request_render()
        else:
            self.refresh()

    def _request_render(self) -> None:
        """Mark a render as wanted; start the worker unless one is running (it will pick this up)."""
        with self._slot:
            if self._pending:
                self.coalesced += 1  # the value this request was for will never be drawn: a newer one will
            self._pending = True
            if self._worker is not None:
                return
            self._worker = threading.Thread(target=self._drain, name="nicelab-view-render", daemon=True)
            self._worker.start()

    def _drain(self) -> None:
        while True:
            with self._slot:
                if not self._pending:
                    self._worker = None
                    return
                self._pending = False
            try:
                self.refresh()
            except Exception as err:  # a worker has nobody to raise to: keep it and show it
                self.render_error = err
                traceback.print_exc()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no background render is running or wanted; ``False`` if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._slot:
                worker = self._worker
            if worker is None:
                return True
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            worker.join(remaining)
            if worker.is_alive():
                return False

    def _repr_mimebundle_(self, **kwargs: object) -> object:
        if self.renders == 0:
            self.refresh()
        return self.ui._repr_mimebundle_(**kwargs)
