"""Lesson 05's layer-by-layer view of a trained 2-D NICE.

A slider walks through the model's stages ``input, centre, coupling 1 … coupling K, scaling (latent)``
(``NICE.layer_names()``). At stage ``k`` the view shows

(a) the data pushed forward through the first ``k`` layers (colours fixed at the input, so you can
    follow each point), and
(b) the prior pulled back through the *last* layers to stage ``k``: the density of that intermediate
    variable, ``p_k(h) = p_Z(F_k(h)) · |det ∂F_k/∂h|`` with ``F_k`` the remaining layers, and the image of
    a regular grid of prior quantiles. Reading (b) from the latent end back to the input shows the
    prior being warped into the data distribution.

The title gives the log-det of the layer that produced stage ``k`` (0 for the shift and every additive
coupling, ``Σ s`` for the scaling) and the running total. Everything is computed in ``__init__`` for
every dataset, so moving a control only swaps arrays in existing artists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from nicelab._utils import evaluating
from nicelab.datasets import DATASETS, Bounds, Toy2D
from nicelab.nice import NICE
from nicelab.plots import DENSITY_CMAP, grid_points
from nicelab.priors import Prior
from nicelab.widgets._base import FigureView


def prior_quantile(prior: Prior, u: torch.Tensor) -> torch.Tensor:
    """Inverse CDF of one coordinate of ``prior``, elementwise: ``prior.icdf(u)`` for ``u`` in [0, 1].

    Kept for callers of this module; ``u`` may have any shape (the view passes 1-D vectors of levels).
    ``ValueError`` for a ``prior`` that is not a :class:`nicelab.priors.Prior` or ``u`` outside [0, 1].
    """
    if not isinstance(prior, Prior):
        raise ValueError(f"prior must be a nicelab Prior (e.g. Logistic), got {type(prior).__name__}")
    return prior.icdf(u)


def _window(points: np.ndarray, pad: float = 0.15) -> Bounds:
    """A box around the central 99% of ``points``, padded by ``pad`` of its size on each side."""
    lo, hi = np.percentile(points, [0.5, 99.5], axis=0)
    span = np.maximum(hi - lo, 1e-3)
    lo, hi = lo - pad * span, hi + pad * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def _latent_grid(prior: Prior, n_lines: int, line_points: int, dtype: torch.dtype) -> torch.Tensor:
    """The prior's quantile grid as ``(2 · n_lines · line_points, 2)`` latent points.

    ``n_lines`` vertical lines at the quantiles 5% … 95% of ``z_1`` (each drawn over the quantiles
    0.3% … 99.7% of ``z_2``), then the same lines with the coordinates swapped (horizontal).
    """
    q = prior_quantile(prior, torch.linspace(0.05, 0.95, n_lines, dtype=dtype))
    t = prior_quantile(prior, torch.linspace(0.003, 0.997, line_points, dtype=dtype))
    vertical = torch.stack([q[:, None].expand(-1, line_points), t[None].expand(n_lines, -1)], dim=-1)
    return torch.cat([vertical, vertical.flip(-1)]).reshape(-1, 2)


@dataclass
class Stages:
    """Everything the view draws for one model, one entry per stage."""

    names: list[str]
    points: list[np.ndarray]  # (n, 2): data after k layers
    colors: np.ndarray  # (n, 4): fixed at the input
    lines: list[np.ndarray]  # (n_lines, m, 2): the prior's quantile grid pulled back to stage k
    densities: list[np.ndarray]  # (res, res): density of stage k's variable on its window
    windows: list[Bounds]
    log_dets: list[float]  # log|det| (forward) of the layer that produced stage k; 0 for the input


@torch.no_grad()
def compute_stages(
    model: NICE,
    data: torch.Tensor,
    input_bounds: Bounds | None = None,
    resolution: int = 90,
    n_lines: int = 11,
    line_points: int = 150,
) -> Stages:
    """Push ``data`` forward layer by layer and pull the prior back layer by layer (see module docs)."""
    if not isinstance(model, NICE) or model.dim != 2:
        raise ValueError("model must be a 2-D nicelab.NICE")
    if not (isinstance(data, torch.Tensor) and data.dim() == 2 and data.shape[1] == 2 and len(data) >= 10):
        raise ValueError("data must be an (n, 2) tensor with n >= 10")
    if resolution < 8 or n_lines < 2 or line_points < 2:
        raise ValueError("resolution must be >= 8, n_lines and line_points >= 2")
    with evaluating(model):
        dtype = model.scaling.log_scale.dtype
        x = data.to(dtype)
        outputs = model.stages(x)  # one pass: every layer's output and log-det
        states = [x, *(state for state, _ in outputs)]
        log_dets = [0.0] + [float(log_det.mean()) for _, log_det in outputs]
        latent_lines = _latent_grid(model.prior, n_lines, line_points, dtype)
        points, lines, densities, windows = [], [], [], []
        for k, state in enumerate(states):
            # F_k: the layers after stage k (Identity at the latent stage), as one transform
            rest = model.transform.chain(k)
            window = input_bounds if (k == 0 and input_bounds is not None) else _window(state.cpu().numpy())
            grid, _ = grid_points(window, resolution, dtype=dtype)
            z, log_det = rest(grid)
            density = (model.prior.log_prob(z) + log_det).exp().reshape(resolution, resolution)
            points.append(state.cpu().numpy())
            lines.append(rest.inverse(latent_lines)[0].reshape(2 * n_lines, line_points, 2).cpu().numpy())
            densities.append(density.cpu().numpy())
            windows.append(window)

    centred = points[0] - points[0].mean(axis=0)
    hue = (np.arctan2(centred[:, 1], centred[:, 0]) + math.pi) / (2 * math.pi)
    colors = colormaps["twilight"](hue)
    return Stages(model.layer_names(), points, colors, lines, densities, windows, log_dets)


class FlowLayersView(FigureView):
    """Slider over a 2-D NICE's stages and a dataset dropdown (see the module docstring).

    Args:
        models: dataset name -> trained 2-D NICE (e.g. one per entry of ``nicelab.datasets.DATASETS``).
        datasets: name -> dataset; by default ``nicelab.datasets.DATASETS[name]`` for each model's name.
        n_points: data points drawn in panel (a).
        resolution: density grid size in panel (b).
        seed: seed for the data points (the view is deterministic).
    """

    def __init__(
        self,
        models: Mapping[str, NICE],
        datasets: Mapping[str, Toy2D] | None = None,
        n_points: int = 1500,
        resolution: int = 90,
        seed: int = 0,
    ) -> None:
        if not models:
            raise ValueError("models must map at least one dataset name to a trained NICE")
        if datasets is None:
            datasets = {name: DATASETS[name] for name in models if name in DATASETS}
        missing = set(models) - set(datasets)
        if missing:
            raise ValueError(f"no dataset given for {sorted(missing)}")
        self.stages: dict[str, Stages] = {}
        for name, model in models.items():
            data = datasets[name].sample(n_points, torch.Generator().manual_seed(seed))
            self.stages[name] = compute_stages(model, data, datasets[name].bounds, resolution)

        first = self.stages[next(iter(models))]
        figure = Figure(figsize=(9.6, 4.6))
        self.ax_data, self.ax_prior = figure.subplots(1, 2)
        self.scatter = self.ax_data.scatter(*first.points[0].T, c=first.colors, s=3, linewidths=0)
        self.heatmap = self.ax_prior.imshow(
            first.densities[0], origin="lower", extent=first.windows[0], cmap=DENSITY_CMAP, aspect="auto"
        )
        self.grid_lines = LineCollection(list(first.lines[0]), colors="white", linewidths=0.6, alpha=0.7)
        self.ax_prior.add_collection(self.grid_lines)
        self.title = figure.suptitle("")
        for ax in (self.ax_data, self.ax_prior):
            # the limits change at every stage, so every change redraws the ticks: five a side
            # (instead of up to nine) keep the scale readable and halve the text Agg lays out
            ax.locator_params(nbins=5)
        figure.subplots_adjust(left=0.05, right=0.98, bottom=0.07, top=0.8, wspace=0.15)
        controls = {
            "layer": widgets.IntSlider(
                value=0, min=0, max=len(first.names) - 1, description="stage", continuous_update=True
            ),
            "dataset": widgets.Dropdown(options=list(models), value=next(iter(models)), description="data"),
        }
        live = [
            self.scatter,
            self.heatmap,
            self.grid_lines,
            self.ax_data.title,
            self.ax_prior.title,
            self.title,
        ]
        super().__init__(figure, controls, live=live)
        controls["dataset"].observe(self._on_dataset, names="value")
        self.update()

    def _on_dataset(self, change: dict) -> None:
        # a model with a different number of layers needs a different slider range
        self.controls["layer"].max = len(self.stages[change["new"]].names) - 1

    def update(self) -> None:
        stages = self.stages[self.controls["dataset"].value]
        k = min(self.controls["layer"].value, len(stages.names) - 1)
        window = stages.windows[k]
        self.scatter.set_offsets(stages.points[k])
        self.scatter.set_facecolors(stages.colors)
        self.ax_data.set(xlim=window[:2], ylim=window[2:])
        # y=1.0 is where matplotlib would put it; given, it saves re-measuring the ticks on every draw
        self.ax_data.set_title(f"(a) data after {k} layer(s): {stages.names[k]}", fontsize=9, y=1.0)
        self.heatmap.set_data(stages.densities[k])
        self.heatmap.set_extent(window)
        self.heatmap.set_clim(0.0, float(stages.densities[k].max()))
        self.grid_lines.set_segments(list(stages.lines[k]))
        self.ax_prior.set(xlim=window[:2], ylim=window[2:])
        self.ax_prior.set_title(
            "(b) prior pulled back to this stage: density and quantile grid", fontsize=9, y=1.0
        )
        this, total = stages.log_dets[k], sum(stages.log_dets[: k + 1])
        kind = "volume kept" if abs(this) < 1e-12 else "volume changed"
        self.title.set_text(
            f"stage {k}/{len(stages.names) - 1}: {stages.names[k]}\n"
            f"log|det| of this layer (data→latent) = {this:+.3f} ({kind});  running total = {total:+.3f}"
        )


__all__ = ["FlowLayersView", "Stages", "compute_stages", "prior_quantile"]
