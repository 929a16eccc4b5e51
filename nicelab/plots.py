"""Consistent figures for the lessons: grids, density heatmaps, image grids, and saving to figures/.

Views only: the core never imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

Bounds = tuple[float, float, float, float]  # (xmin, xmax, ymin, ymax)

#: the repository's figures/ folder (where `make figures` writes)
FIGURES_DIR = Path(__file__).resolve().parents[1] / "figures"

DENSITY_CMAP = "magma"


def grid_points(
    bounds: Bounds, n: int = 200, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, float]:
    """An ``n × n`` grid over ``bounds`` as ``(n*n, 2)`` points (row-major, y outer) and the cell area."""
    xmin, xmax, ymin, ymax = bounds
    xs = torch.linspace(xmin, xmax, n, dtype=dtype)
    ys = torch.linspace(ymin, ymax, n, dtype=dtype)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    cell = float((xs[1] - xs[0]) * (ys[1] - ys[0]))
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1), cell


@torch.no_grad()
def density_on_grid(
    log_prob: Callable[[torch.Tensor], torch.Tensor], bounds: Bounds, n: int = 200
) -> tuple[np.ndarray, float]:
    """Evaluate ``exp(log_prob)`` on the grid: ``(n, n)`` array (rows = y) and its Riemann mass."""
    points, cell = grid_points(bounds, n)
    density = log_prob(points).exp().reshape(n, n)
    return density.cpu().numpy(), float(density.sum()) * cell


def show_density(ax: Axes, density: np.ndarray, bounds: Bounds, title: str | None = None, **kwargs):
    """Draw a density heatmap with the course's colour map; returns the image artist."""
    image = ax.imshow(density, origin="lower", extent=bounds, cmap=DENSITY_CMAP, aspect="auto", **kwargs)
    if title:
        ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def image_grid(images: torch.Tensor | np.ndarray, ncols: int = 10, side: int = 28) -> np.ndarray:
    """Tile ``(N, side*side)`` or ``(N, side, side)`` images into one 2-D array (1-px gaps)."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    arr = arr.reshape(-1, side, side)
    n = arr.shape[0]
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    canvas = np.ones((nrows * (side + 1) - 1, ncols * (side + 1) - 1), dtype=np.float32)
    for i, img in enumerate(arr):
        r, c = divmod(i, ncols)
        canvas[r * (side + 1) : r * (side + 1) + side, c * (side + 1) : c * (side + 1) + side] = img
    return canvas


def show_images(ax: Axes, images: torch.Tensor | np.ndarray, ncols: int = 10, title: str | None = None):
    """Show a tiled grid of images in grey on ``ax``; returns the image artist."""
    artist = ax.imshow(np.clip(image_grid(images, ncols), 0, 1), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return artist


def save_figure(fig: Figure, name: str, directory: str | os.PathLike[str]) -> Path:
    """Save ``fig`` as ``<directory>/<name>.png`` (150 dpi, tight) and return the path."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


def export_figure(fig: Figure, name: str) -> Path | None:
    """Save a lesson's key figure when ``make figures`` runs (``NICELAB_FIGURES`` names the folder).

    Lessons call this on their key figures; in a normal run or under the tests it does nothing, so
    running a notebook never rewrites tracked files.
    """
    folder = os.environ.get("NICELAB_FIGURES")
    return save_figure(fig, name, folder) if folder else None


def new_figure(ncols: int = 1, nrows: int = 1, size: float = 3.2, **kwargs) -> tuple[Figure, np.ndarray]:
    """A pyplot figure with ``nrows × ncols`` square-ish panels; axes always as a 2-D array."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, **kwargs)
    return fig, axes
