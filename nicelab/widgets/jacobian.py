"""Lesson 02 view: a 2x2 matrix ``A`` warps the plane; ``|det A|`` is the area factor.

Three panels: the grid and unit square before (light) and after (dark) ``x = A z``, with the images
of the basis vectors (their order shows orientation); the exact density of ``x`` for
``z ~ N(0, I)``, ``p_X(x) = N(A^{-1} x; 0, I) / |det A|``; and a histogram of pushed samples on the
same colour scale. The text reports ``det A``, the unit square's new area and the grid mass.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from nicelab._utils import gaussian_log_density
from nicelab.jacobian import polygon_area
from nicelab.widgets._base import FigureView

UNIT_SQUARE = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)


def linear_gaussian_log_prob(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``log p_X(x)`` for ``x = A z``, ``z ~ N(0, I_2)``: ``log N(A^{-1} x; 0, I) - log|det A|``.

    The change-of-variables formula with ``f^{-1}(x) = A^{-1} x`` and ``|det ∂f^{-1}/∂x| = 1/|det A|``.
    """
    if not isinstance(A, torch.Tensor) or A.shape != (2, 2):
        raise ValueError(f"A must be a (2, 2) tensor, got {getattr(A, 'shape', A)}")
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (batch, 2), got {getattr(x, 'shape', x)}")
    det = float(torch.linalg.det(A))
    if abs(det) < 1e-12:
        raise ValueError(f"A is singular (det = {det:.3g}): x = A z has no density on the plane")
    z = torch.linalg.solve(A.to(x.dtype), x.T).T
    return gaussian_log_density(z).sum(dim=1) - math.log(abs(det))


class LinearMapView(FigureView):
    """Four sliders for the entries of ``A = [[a, b], [c, d]]``; grid warp, exact density, samples.

    Attributes for tests: ``A``, ``det``, ``square_area`` (shoelace area of the unit square's image),
    ``grid_mass`` (Riemann sum of the exact density on the shown window), ``exact_image`` and
    ``sample_image`` (AxesImage), ``warped_grid`` (LineCollection), ``square_patch`` (Polygon).
    """

    bounds = (-6.0, 6.0, -6.0, 6.0)

    def __init__(self, a: float = 2.0, b: float = 0.0, c: float = 0.0, d: float = 2.0, n: int = 20_000):
        def slider(name: str, value: float) -> widgets.FloatSlider:
            return widgets.FloatSlider(value=value, min=-2.5, max=2.5, step=0.1, description=name)

        controls = {"a": slider("a (row 1)", a), "b": slider("b (row 1)", b)}
        controls |= {"c": slider("c (row 2)", c), "d": slider("d (row 2)", d)}
        self.z_samples = torch.randn(n, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        xmin, xmax, ymin, ymax = self.bounds
        self.n_grid = 120
        xs = torch.linspace(xmin, xmax, self.n_grid, dtype=torch.float64)
        ys = torch.linspace(ymin, ymax, self.n_grid, dtype=torch.float64)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        self.points = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
        self.cell = float((xs[1] - xs[0]) * (ys[1] - ys[0]))
        self.edges = np.linspace(xmin, xmax, 61)
        # grid lines of z-space: 7 vertical and 7 horizontal lines through the integers -3..3
        t = torch.linspace(-3, 3, 50, dtype=torch.float64)
        self.z_lines = [torch.stack([torch.full_like(t, k), t], 1) for k in range(-3, 4)]
        self.z_lines += [torch.stack([t, torch.full_like(t, k)], 1) for k in range(-3, 4)]

        figure = Figure(figsize=(12, 4.2), layout="constrained")
        ax_grid, ax_exact, ax_samples = figure.subplots(1, 3)
        self.axes = (ax_grid, ax_exact, ax_samples)
        ax_grid.add_collection(LineCollection([s.numpy() for s in self.z_lines], colors="0.8", lw=0.8))
        self.warped_grid = LineCollection([], colors="C0", lw=1.0)
        ax_grid.add_collection(self.warped_grid)
        ax_grid.fill(UNIT_SQUARE[:, 0], UNIT_SQUARE[:, 1], color="0.6", alpha=0.5)
        (self.square_patch,) = ax_grid.fill(UNIT_SQUARE[:, 0], UNIT_SQUARE[:, 1], color="C1", alpha=0.6)
        (self.e1_line,) = ax_grid.plot([], [], color="C3", lw=2.5, label="$A e_1$")
        (self.e2_line,) = ax_grid.plot([], [], color="C2", lw=2.5, label="$A e_2$")
        ax_grid.set(xlim=self.bounds[:2], ylim=self.bounds[2:], aspect="equal", title="grid and unit square")
        ax_grid.legend(loc="lower right", fontsize=8)
        self.text = ax_grid.text(0.03, 0.97, "", transform=ax_grid.transAxes, va="top", fontsize=8)

        blank = np.zeros((self.n_grid, self.n_grid))
        style = dict(origin="lower", extent=self.bounds, cmap="magma", aspect="equal")
        self.exact_image = ax_exact.imshow(blank, **style)
        ax_exact.set_title(r"exact $p_X(x)=\mathcal{N}(A^{-1}x)/|\det A|$")
        self.sample_image = ax_samples.imshow(np.zeros((60, 60)), **style)
        ax_samples.set_title("histogram of x = A z")
        for ax in (ax_exact, ax_samples):
            ax.set_xticks([])
            ax.set_yticks([])
        live = [self.warped_grid, self.square_patch, self.e1_line, self.e2_line, self.text]
        super().__init__(figure, controls, live=[*live, self.exact_image, self.sample_image])
        self.update()

    def update(self) -> None:
        c = self.controls
        self.A = torch.tensor(
            [[c["a"].value, c["b"].value], [c["c"].value, c["d"].value]], dtype=torch.float64
        )
        A = self.A
        self.det = float(torch.linalg.det(A))
        self.warped_grid.set_segments([(line @ A.T).numpy() for line in self.z_lines])
        image = UNIT_SQUARE @ A.T
        self.square_patch.set_xy(image.numpy())
        self.square_area = abs(float(polygon_area(image)))
        self.e1_line.set_data([0, A[0, 0]], [0, A[1, 0]])
        self.e2_line.set_data([0, A[0, 1]], [0, A[1, 1]])
        flipped = " (orientation flipped)" if self.det < 0 else ""

        x = self.z_samples @ A.T
        hist, _, _ = np.histogram2d(x[:, 1].numpy(), x[:, 0].numpy(), bins=[self.edges, self.edges])
        width = self.edges[1] - self.edges[0]
        sample_density = hist / (len(x) * width**2)
        if abs(self.det) < 1e-3:
            # singular: the plane collapses onto a line (or a point) and x has no density
            exact = np.zeros((self.n_grid, self.n_grid))
            self.grid_mass = float("nan")
            note = "singular: no density"
        else:
            exact = linear_gaussian_log_prob(A, self.points).exp().reshape(self.n_grid, self.n_grid).numpy()
            self.grid_mass = float(exact.sum()) * self.cell
            note = f"mass on window: {self.grid_mass:.3f}"
        top = max(float(exact.max()), float(sample_density.max()), 1e-12)
        self.exact_image.set_data(exact)
        self.sample_image.set_data(sample_density)
        for artist in (self.exact_image, self.sample_image):
            artist.set_clim(0.0, top)
        self.text.set_text(
            f"det A = {self.det:.2f}{flipped}\narea of A·(unit square) = {self.square_area:.2f}\n"
            f"peak density = {top:.3f}\n{note}"
        )
