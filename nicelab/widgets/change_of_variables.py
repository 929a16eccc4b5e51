"""Lesson 01 view: push a standard normal through a 1-D map and watch the density follow.

Three panels: the base density ``p_Z(z)`` with a shaded interval, the map ``x = f(z)`` carrying that
interval across, and the density of ``x``: a histogram of pushed samples, the correct push-forward
``p_Z(f^{-1}(x)) |d f^{-1}/dx|`` and the wrong ``p_Z(f^{-1}(x))``. The text reports both numeric
integrals (1 and ``E|f'(Z)|``) and the probability of the shaded interval on each side.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from nicelab.densities import (
    Affine,
    Chain1D,
    Cubic,
    Exp,
    Map1D,
    Sinh,
    grid,
    histogram_density,
    naive_log_prob,
    normal_log_prob,
    pushforward_log_prob,
    trapezoid,
)
from nicelab.widgets._base import FigureView, nice_ceiling

#: the map families offered, each as ``a -> Map1D`` (a shift ``b`` is added after)
FAMILIES = {
    "affine: x = a z + b": lambda a: Affine(a, 0.0),
    "exp: x = exp(a z) + b": Exp,
    "sinh: x = sinh(a z) + b": Sinh,
    "cubic: x = z + a z³ + b": Cubic,
}


def build_map(family: str, a: float, b: float = 0.0) -> Map1D:
    """The map the view shows: the family's ``f_a`` followed by the shift ``x -> x + b``."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")
    base = FAMILIES[family](a)
    return base if b == 0 else Chain1D([base, Affine(1.0, b)])


def masses(fmap: Map1D, n: int = 4001) -> tuple[float, float]:
    """Numeric integrals of the correct and of the wrong density of ``x = f(z)``.

    The grid is uniform in ``z`` on ``[-8, 8]`` and mapped to ``x`` (trapezoid rule on the non-uniform
    points), so it resolves sharp peaks and heavy tails alike.
    """
    xs = fmap.f(grid(-8.0, 8.0, n)).sort().values
    correct = trapezoid(pushforward_log_prob(xs, fmap).exp(), xs)
    wrong = trapezoid(naive_log_prob(xs, fmap).exp(), xs)
    return correct, wrong


class ChangeOfVariablesView(FigureView):
    """Sliders for the map family, its parameter ``a`` and a shift ``b``; three linked panels.

    Attributes kept for tests and curious learners: ``fmap`` (the current map), ``xs`` (the grid the
    densities are drawn on), ``correct_line`` / ``wrong_line`` / ``map_line`` (Line2D),
    ``x_hist`` (StepPatch of the pushed samples), ``mass_correct`` / ``mass_wrong`` and
    ``band_mass_z`` / ``band_mass_x``.
    """

    z_range = (-3.5, 3.5)
    x_range = (-6.0, 6.0)
    band = (0.5, 1.0)  # the shaded z-interval

    def __init__(
        self, family: str = "sinh: x = sinh(a z) + b", a: float = 1.0, b: float = 0.0, n: int = 20_000
    ):
        controls = {
            "family": widgets.Dropdown(options=list(FAMILIES), value=family, description="map"),
            "a": widgets.FloatSlider(value=a, min=0.2, max=1.5, step=0.05, description="a"),
            "b": widgets.FloatSlider(value=b, min=-2.0, max=2.0, step=0.1, description="b"),
        }
        generator = torch.Generator().manual_seed(0)
        self.z_samples = torch.randn(n, generator=generator, dtype=torch.float64)
        self.zs = torch.linspace(*self.z_range, 400, dtype=torch.float64)
        self.xs = torch.linspace(*self.x_range, 600, dtype=torch.float64)
        self.x_edges = torch.linspace(*self.x_range, 81, dtype=torch.float64)
        z_edges = torch.linspace(*self.z_range, 57, dtype=torch.float64)

        figure = Figure(figsize=(12, 3.6), layout="constrained")
        ax_z, ax_map, ax_x = figure.subplots(1, 3)
        self.axes = (ax_z, ax_map, ax_x)

        ax_z.stairs(histogram_density(self.z_samples, z_edges).numpy(), z_edges.numpy(), fill=True, alpha=0.3)
        ax_z.plot(self.zs, normal_log_prob(self.zs).exp(), color="C0", lw=2, label="$p_Z(z)$")
        ax_z.axvspan(*self.band, color="C2", alpha=0.3)
        ax_z.set(xlim=self.z_range, ylim=(0, 0.5), xlabel="z", title="base density $p_Z$")
        ax_z.legend(loc="upper left", fontsize=8)

        (self.map_line,) = ax_map.plot([], [], color="k", lw=2)
        ax_map.axvspan(*self.band, color="C2", alpha=0.3)
        self.map_band = ax_map.axhspan(0.0, 1.0, color="C2", alpha=0.3)
        ax_map.set(xlim=self.z_range, ylim=self.x_range, xlabel="z", ylabel="x = f(z)", title="the map")
        ax_map.grid(alpha=0.3)
        ax_map.set_axisbelow(True)  # grid under the bands (the bands are redrawn on top of a cached grid)

        self.x_hist = ax_x.stairs(np.zeros(80), self.x_edges.numpy(), fill=True, alpha=0.3, label="samples")
        (self.correct_line,) = ax_x.plot([], [], color="C1", lw=2, label=r"$p_Z(f^{-1}(x))\,|df^{-1}/dx|$")
        (self.wrong_line,) = ax_x.plot([], [], color="C3", lw=1.5, ls="--", label=r"wrong: $p_Z(f^{-1}(x))$")
        self.x_band = ax_x.axvspan(0.0, 1.0, color="C2", alpha=0.3)
        ax_x.set(xlim=self.x_range, xlabel="x", title="density of x = f(z)")
        ax_x.legend(loc="upper right", fontsize=8)
        self.text = ax_map.text(0.03, 0.97, "", transform=ax_map.transAxes, ha="left", va="top", fontsize=8)
        live = [self.map_line, self.map_band, self.x_band, self.x_hist, self.correct_line, self.wrong_line]
        super().__init__(figure, controls, live=[*live, self.text])
        self.update()

    def update(self) -> None:
        c = self.controls
        self.fmap = build_map(c["family"].value, float(c["a"].value), float(c["b"].value))
        f = self.fmap

        self.map_line.set_data(self.zs.numpy(), f.f(self.zs).numpy())
        lo, hi = sorted(f.f(torch.tensor(self.band, dtype=torch.float64)).tolist())
        # the spans are Rectangles: data coordinates along the spanned axis
        self.map_band.set_y(lo)
        self.map_band.set_height(hi - lo)
        self.x_band.set_x(lo)
        self.x_band.set_width(hi - lo)

        x_samples = f.f(self.z_samples)
        hist = histogram_density(x_samples, self.x_edges)
        self.x_hist.set_data(hist.numpy())
        correct = pushforward_log_prob(self.xs, f).exp()
        wrong = naive_log_prob(self.xs, f).exp()
        self.correct_line.set_data(self.xs.numpy(), correct.numpy())
        self.wrong_line.set_data(self.xs.numpy(), wrong.numpy())
        # 10 % headroom, rounded up to a round number: the axis stays put while a slider moves
        top = max(0.45, float(correct.max()), float(hist.max()))
        self.axes[2].set_ylim(0, nice_ceiling(1.1 * top))

        self.mass_correct, self.mass_wrong = masses(f)
        cdf = torch.special.ndtr(torch.tensor(self.band, dtype=torch.float64))
        self.band_mass_z = float(cdf[1] - cdf[0])
        band_x = torch.linspace(lo, hi, 401, dtype=torch.float64)
        self.band_mass_x = trapezoid(pushforward_log_prob(band_x, f).exp(), band_x)
        self.text.set_text(
            f"{f.name}\n∫ correct dx = {self.mass_correct:.3f}\n∫ wrong dx = {self.mass_wrong:.3f}\n"
            f"shaded interval: P(z) = {self.band_mass_z:.3f}, P(x) = {self.band_mass_x:.3f}"
        )
