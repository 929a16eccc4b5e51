"""Blitting for the views: a cached background of the static artists, live artists drawn on top.

A full Agg draw of a lesson figure costs 50-200 ms, nearly all of it in ticks, tick labels, titles
and legends that do not change while a slider moves. :class:`Blitter` draws those once into a
background and, on each change, restores it and draws only the *frame* artists:

* the live artists (the ones a view's ``update`` changes), and
* every static artist that matplotlib draws after the first live artist of the same axes (higher
  zorder: a legend over a moving curve, the spines around a heat map), so the stacking order, and
  with it every pixel, is that of a full draw. Axis objects (ticks, tick labels, grid) stay in the
  background: they lie outside the data area.

Frame artists inside axes are marked animated (``Axes.draw`` skips them, except in ``savefig``);
figure-level ones (a suptitle) are hidden only while the background is drawn, since ``Figure.draw``
skips animated artists even when saving. Hiding axes-level ones instead would move their titles:
``Axes.draw`` places a title from its extent, and a hidden text has none.

The background depends on each axes' limits, scales, titles and labels (:func:`axes_key`) and on the
figure's size and texts. When only some axes changed (a y-limit that follows the data), the blitter
erases just those axes' tight boxes and redraws those axes into the background, if their boxes
overlap nothing else; otherwise it redraws the whole background. The last few backgrounds are kept
by key, so a slider dragged back over values it has passed (each with its own limits, as lesson 05's
stages have) finds their backgrounds ready.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

#: pixels added around an axes' tight box before erasing it (antialiased edges spill over by one)
_PAD = 2.0
#: backgrounds kept per view (about 1 MB each at the lessons' sizes)
CACHED_BACKGROUNDS = 24


def frame_artists(figure: Figure, live: Sequence[Artist]) -> list[Artist]:
    """The artists to draw over the background on every change, in matplotlib's drawing order.

    Within each axes: its live artists and every artist drawn after the first of them (sorted by
    zorder, stable, as ``Axes.draw`` sorts), except the axis objects. At figure level: the live
    artists not in an axes (a suptitle) and any figure artist drawn after them, except axes.
    Raises ``ValueError`` if a live artist is not part of ``figure``.
    """
    wanted = set(map(id, live))
    frame: list[Artist] = []
    for ax in figure.axes:
        ordered = sorted((c for c in ax.get_children() if c is not ax.patch), key=lambda a: a.get_zorder())
        first = next((i for i, a in enumerate(ordered) if id(a) in wanted), None)
        if first is not None:
            # Axes.draw leaves the spines out when the axes is off or frameless: so must the frame
            skip = set() if (ax.axison and ax.get_frame_on()) else set(map(id, ax.spines.values()))
            frame += [a for a in ordered[first:] if not isinstance(a, Axis) and id(a) not in skip]
    top = sorted(figure.get_children()[1:], key=lambda a: a.get_zorder())  # [0] is the figure's patch
    first = next((i for i, a in enumerate(top) if id(a) in wanted), None)
    if first is not None:
        frame += [a for a in top[first:] if not isinstance(a, Axes)]
    missing = wanted - set(map(id, frame))
    if missing:
        raise ValueError(f"{len(missing)} live artist(s) are not drawn by this figure")
    return frame


def axes_key(ax: Axes, frame_ids: set[int]) -> Hashable:
    """What an axes' static drawing depends on: limits, scales, visibility, and its static texts."""
    texts = (ax.title, ax.xaxis.label, ax.yaxis.label)
    return (
        ax.get_xlim(),
        ax.get_ylim(),
        ax.get_xscale(),
        ax.get_yscale(),
        ax.get_visible(),
        tuple(None if id(t) in frame_ids else t.get_text() for t in texts),
        ax.get_title("left"),
        ax.get_title("right"),
    )


class Blitter:
    """Draws ``figure`` with a cached background of everything but the ``live`` artists (see module doc).

    Args:
        figure: the figure (an Agg canvas is attached to it).
        live: the artists that change between draws.
        extra_key: optional callable; its (hashable) result is part of the background's key, for
            views that change a static artist in a way the axes keys do not see.

    ``full_draws`` and ``partial_draws`` count background redraws (whole figure / some axes);
    ``cache_hits`` counts backgrounds reused from the cache of recent ones.
    """

    def __init__(
        self, figure: Figure, live: Sequence[Artist], extra_key: Callable[[], Hashable] | None = None
    ) -> None:
        self.figure = figure
        self.frame = frame_artists(figure, live) if live else []
        self._frame_ids = set(map(id, self.frame))
        self._figure_level = [a for a in self.frame if getattr(a, "axes", None) is None]
        for artist in self.frame:
            if getattr(artist, "axes", None) is not None:
                artist.set_animated(True)
        self.extra_key = extra_key
        self.full_draws = self.partial_draws = self.cache_hits = 0
        # key -> (background, axes boxes, static boxes): the most recent last
        self._cache: OrderedDict[Hashable, tuple[object, list[Bbox], list[Bbox]]] = OrderedDict()
        self._background = None
        self._figure_key: Hashable = None
        self._axes_keys: list[Hashable] = []
        self._boxes: list[Bbox] = []  # each axes' padded tight box at the last background draw
        self._static_boxes: list[Bbox] = []  # figure-level static artists (suptitle, figure legends)

    @property
    def canvas(self) -> FigureCanvasAgg:
        canvas = self.figure.canvas
        return canvas if isinstance(canvas, FigureCanvasAgg) else FigureCanvasAgg(self.figure)

    def figure_key(self) -> Hashable:
        static_texts = tuple(t.get_text() for t in self.figure.texts if id(t) not in self._frame_ids)
        extra = self.extra_key() if self.extra_key is not None else None
        return (tuple(self.figure.bbox.bounds), self.figure.dpi, len(self.figure.axes), static_texts, extra)

    def draw(self) -> np.ndarray:
        """Draw the current picture and return the canvas' RGBA pixels, ``(height, width, 4)`` uint8."""
        canvas = self.canvas
        if not self.frame:
            canvas.draw()
            self.full_draws += 1
            return np.asarray(canvas.buffer_rgba())
        figure_key = self.figure_key()
        keys = [axes_key(ax, self._frame_ids) for ax in self.figure.axes]
        cached = self._cache.get((figure_key, tuple(keys)))
        if cached is not None:
            self._background, boxes, static = cached
            self._boxes, self._static_boxes = list(boxes), list(static)
            self._cache.move_to_end((figure_key, tuple(keys)))
            canvas.restore_region(self._background)
            self.cache_hits += 1
        elif self._background is None or figure_key != self._figure_key:
            self._draw_background(canvas)
        else:
            changed = [
                i for i, (new, old) in enumerate(zip(keys, self._axes_keys, strict=True)) if new != old
            ]
            canvas.restore_region(self._background)
            if len(changed) == len(keys):
                # every axes changed (lesson 05's stages): one plain draw is cheaper than erasing each,
                # and measuring boxes for partial redraws would only cost time
                self._draw_background(canvas, measure=False)
            elif changed and not self._redraw_axes(canvas, changed):
                self._draw_background(canvas)
        self._figure_key, self._axes_keys = figure_key, keys
        if cached is None:
            self._cache[(figure_key, tuple(keys))] = (
                self._background,
                list(self._boxes),
                list(self._static_boxes),
            )
            while len(self._cache) > CACHED_BACKGROUNDS:
                self._cache.popitem(last=False)
        renderer = canvas.get_renderer()
        for artist in self.frame:
            artist.draw(renderer)
        return np.asarray(canvas.buffer_rgba())

    @contextmanager
    def _frame_hidden(self) -> Iterator[None]:
        """Hide the figure-level frame artists (those visible now) for a background draw, then show them."""
        shown = [a for a in self._figure_level if a.get_visible()]
        for artist in shown:
            artist.set_visible(False)
        try:
            yield
        finally:
            for artist in shown:
                artist.set_visible(True)

    def _draw_background(self, canvas: FigureCanvasAgg, measure: bool = True) -> None:
        """Draw the whole background; with ``measure``, record the boxes partial redraws need."""
        with self._frame_hidden():
            canvas.draw()
        self._background = canvas.copy_from_bbox(self.figure.bbox)
        self.full_draws += 1
        if not measure:
            self._boxes, self._static_boxes = [], []  # unknown: the next partial redraw draws in full
            return
        renderer = canvas.get_renderer()
        self._boxes = [self._box(ax, renderer) for ax in self.figure.axes]
        static = [a for a in self.figure.get_children()[1:] if not isinstance(a, Axes)]
        self._static_boxes = [
            a.get_window_extent(renderer) for a in static if a.get_visible() and id(a) not in self._frame_ids
        ]

    @staticmethod
    def _box(ax: Axes, renderer: object) -> Bbox:
        box = ax.get_tightbbox(renderer)
        return box.padded(_PAD) if box is not None else Bbox.null()

    def _redraw_axes(self, canvas: FigureCanvasAgg, changed: list[int]) -> bool:
        """Erase and redraw only the ``changed`` axes in the background; ``False`` if they overlap others."""
        renderer = canvas.get_renderer()
        axes = self.figure.axes
        if len(self._boxes) != len(axes):
            return False  # the last full draw did not measure its boxes
        new_boxes = {i: self._box(axes[i], renderer) for i in changed}
        erase = {i: Bbox.union([self._boxes[i], new_boxes[i]]) for i in changed}
        others = [self._boxes[j] for j in range(len(axes)) if j not in erase] + self._static_boxes
        if any(box.overlaps(other) for box in erase.values() for other in others):
            return False
        pixels = np.asarray(canvas.buffer_rgba())
        height, width = pixels.shape[:2]
        fill = (np.array(to_rgba(self.figure.get_facecolor())) * 255).round().astype(np.uint8)
        for box in erase.values():
            x0, x1 = (int(np.clip(v, 0, width)) for v in (np.floor(box.x0), np.ceil(box.x1)))
            y0, y1 = (int(np.clip(v, 0, height)) for v in (np.floor(box.y0), np.ceil(box.y1)))
            pixels[height - y1 : height - y0, x0:x1] = fill  # display y runs up, rows run down
        with self._frame_hidden():
            for i in changed:
                axes[i].draw(renderer)
        for i in changed:
            self._boxes[i] = new_boxes[i]
        self._background = canvas.copy_from_bbox(self.figure.bbox)
        self.partial_draws += 1
        return True
