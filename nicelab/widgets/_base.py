"""Base class for the course's widgets: controls plus a matplotlib figure shown as a PNG image.

Each view builds its figure once, keeps references to its artists, and on every control change
updates those artists in place (``set_data``, ``set_offsets``, ``set_array`` …) and re-renders
the PNG into an ``ipywidgets.Image``. This works the same in JupyterLab, Colab, VS Code and a
headless test (no ipympl needed): tests set ``view.controls[name].value`` and compare
``view.image.value`` or the artists' data before and after.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import ipywidgets as widgets
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text


def render_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render ``fig`` to PNG bytes (no pyplot state involved)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


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

    Attributes:
        figure: the matplotlib ``Figure`` (created without pyplot, so it never auto-displays).
        controls: name -> ipywidget; changing any ``value`` calls :meth:`refresh`.
        image: the ``ipywidgets.Image`` holding the latest render.
        ui: the whole widget (displayed when the view is the last expression of a cell).
    """

    def __init__(self, figure: Figure, controls: Mapping[str, widgets.Widget], dpi: int = 80) -> None:
        self.figure = figure
        self.controls = dict(controls)
        self.dpi = dpi
        # The picture shrinks to the output area's width (never wider than the notebook column), and
        # the controls wrap onto a second row rather than run off the right edge on narrow screens.
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
            if getattr(control, "description", "") and hasattr(control.style, "description_width"):
                control.style.description_width = "initial"  # labels at full length, never "tempera…"
        row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.ui = widgets.VBox([row, self.image])
        self.renders = 0

    def update(self) -> None:  # pragma: no cover - abstract
        """Read the controls and update the figure's artists in place."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Update the artists and re-render the image."""
        self.update()
        self.image.value = render_png(self.figure, self.dpi)
        self.renders += 1

    def _on_change(self, _change: object) -> None:
        self.refresh()

    def _repr_mimebundle_(self, **kwargs: object) -> object:
        if self.renders == 0:
            self.refresh()
        return self.ui._repr_mimebundle_(**kwargs)
