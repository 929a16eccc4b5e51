"""Lesson 03's coupling explorer: one 2-D additive coupling, its grid warp and its density, both ways.

The layer is a real :class:`nicelab.AdditiveCoupling` built with a hand-picked 1-D function as its
conditioner ``m`` (sine, quadratic, tanh bump or a small random MLP) with an amplitude and a
frequency. In our forward (data -> latent) direction, with the kept coordinate ``k`` and the changed
one ``c``::

    z_k = x_k,    z_c = x_c + m(x_k)        log|det dz/dx| = 0

so every grid cell keeps its area and a density can bend but never spread or concentrate. The
view shows the source density with a straight grid, the target density with the warped grid, and
the numbers that prove it: probability mass (1 on both sides), the range of warped cell areas
(exactly the original area) and the peak density (unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from torch import Tensor, nn

from nicelab._utils import gaussian_log_density
from nicelab.coupling import AdditiveCoupling
from nicelab.plots import DENSITY_CMAP, grid_points
from nicelab.widgets._base import FigureView, info_text

#: the families of m the explorer offers: name -> m(a, amplitude, frequency)
FAMILIES: dict[str, Callable[[Tensor, float, float], Tensor]] = {}

#: the two directions: forward (data -> latent) and inverse (latent -> data)
DIRECTIONS = ("data → latent (forward)", "latent → data (inverse)")

#: which coordinate the layer keeps (the other is shifted by m of it); parity as in AdditiveCoupling
KEEPS = {"keep x₁, shift x₂": 1, "keep x₂, shift x₁": 0}


def _sine(a: Tensor, amplitude: float, frequency: float) -> Tensor:
    return amplitude * torch.sin(frequency * a)


def _quadratic(a: Tensor, amplitude: float, frequency: float) -> Tensor:
    # centred so that m(0) = -amplitude/2: the bend stays in view for every amplitude
    return amplitude * ((frequency * a) ** 2 / 4.0 - 0.5)


def _tanh_bump(a: Tensor, amplitude: float, frequency: float) -> Tensor:
    # a smooth plateau of height `amplitude` on |a| < 1, with edges whose sharpness is `frequency`
    return amplitude * 0.5 * (torch.tanh(frequency * (a + 1.0)) - torch.tanh(frequency * (a - 1.0)))


class _RandomMLP(nn.Module):
    """A fixed, seeded 1 -> 16 -> 16 -> 1 tanh network (what an untrained coupling's m looks like)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.w1 = torch.randn(1, 16, generator=generator, dtype=torch.float64) * 1.5
        self.b1 = torch.randn(16, generator=generator, dtype=torch.float64)
        self.w2 = torch.randn(16, 16, generator=generator, dtype=torch.float64) / 4.0
        self.w3 = torch.randn(16, 1, generator=generator, dtype=torch.float64) / 4.0

    def forward(self, a: Tensor) -> Tensor:
        h = torch.tanh(a.to(self.w1.dtype).reshape(-1, 1) @ self.w1 + self.b1)
        h = torch.tanh(h @ self.w2)
        return (h @ self.w3).reshape(a.shape).to(a.dtype)


_MLP = _RandomMLP()


def _random_mlp(a: Tensor, amplitude: float, frequency: float) -> Tensor:
    return amplitude * _MLP(frequency * a)


FAMILIES.update({"sine": _sine, "quadratic": _quadratic, "tanh bump": _tanh_bump, "random MLP": _random_mlp})


class FamilyM(nn.Module):
    """``m(a) = family(a; amplitude, frequency)`` as a module, so it can be a coupling's conditioner."""

    def __init__(self, family: str = "sine", amplitude: float = 1.0, frequency: float = 1.0) -> None:
        super().__init__()
        self.set(family, amplitude, frequency)

    def set(self, family: str, amplitude: float, frequency: float) -> None:
        """Choose the family and its parameters (both must be finite numbers)."""
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}")
        for name, value in (("amplitude", amplitude), ("frequency", frequency)):
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        self.family, self.amplitude, self.frequency = family, float(amplitude), float(frequency)

    def forward(self, kept: Tensor) -> Tensor:
        return FAMILIES[self.family](kept, self.amplitude, self.frequency)


def four_blobs_log_prob(x: Tensor) -> Tensor:
    """A fixed 'data' density for the forward direction: four Gaussian blobs at (±1.2, ±1.2).

    ``log p(x) = log (1/4) Σ_j N(x; c_j, 0.4² I)``, a ``(batch,)`` tensor.
    """
    centres = x.new_tensor([[-1.2, -1.2], [-1.2, 1.2], [1.2, -1.2], [1.2, 1.2]])
    log_each = gaussian_log_density(x[:, None, :], centres[None], 0.4).sum(dim=2)  # (batch, 4)
    return torch.logsumexp(log_each, dim=1) - math.log(4.0)


def standard_normal_log_prob(x: Tensor) -> Tensor:
    """The latent density for the inverse direction: a standard 2-D Gaussian, ``log N(x; 0, I)``."""
    return gaussian_log_density(x).sum(dim=1)


def quad_areas(vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """Areas of the quadrilaterals of a warped grid (shoelace formula); vertices ``(rows, cols)``."""
    if vx.shape != vy.shape or vx.ndim != 2 or min(vx.shape) < 2:
        raise ValueError(f"expected two equal (rows>=2, cols>=2) vertex arrays, got {vx.shape}, {vy.shape}")
    corners = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None))]
    corners += [(slice(1, None), slice(1, None)), (slice(1, None), slice(None, -1))]
    xs = [vx[c] for c in corners]
    ys = [vy[c] for c in corners]
    twice = sum(xs[i] * ys[(i + 1) % 4] - xs[(i + 1) % 4] * ys[i] for i in range(4))
    return 0.5 * np.abs(twice)


class CouplingExplorer(FigureView):
    """Pick ``m`` and watch one additive coupling shear a grid and a density, in either direction.

    Panels: ``m`` as a curve; the source density with a straight grid; the target density (exact,
    via the change of variables with log-det 0) with the warped grid and the numbers (mass, cell
    areas, peak density). Controls: ``family``, ``amplitude``, ``frequency``, ``direction``, ``keep``.

    Args:
        bounds: the square window ``(lo, hi)`` both spaces are drawn in.
        n: density resolution (``n × n`` points, evaluated once per update).
        lines: number of grid lines per axis.
    """

    def __init__(self, bounds: tuple[float, float] = (-4.0, 4.0), n: int = 160, lines: int = 13) -> None:
        lo, hi = bounds
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"bounds must be finite (lo, hi) with lo < hi, got {bounds!r}")
        if n < 8 or lines < 3:
            raise ValueError(f"need n >= 8 and lines >= 3, got n={n}, lines={lines}")
        self.box = (lo, hi, lo, hi)
        self.n = n
        # precomputed once: the density grid, the grid-line vertices and the 1-D axis for m's curve
        self.points, self.cell = grid_points(self.box, n, dtype=torch.float64)
        grid_axis = torch.linspace(lo, hi, lines, dtype=torch.float64)
        fine = torch.linspace(lo, hi, 200, dtype=torch.float64)
        self.grid_lines = [torch.stack([fine, torch.full_like(fine, v)], 1) for v in grid_axis]
        self.grid_lines += [torch.stack([torch.full_like(fine, v), fine], 1) for v in grid_axis]
        self.grid_points = torch.cat(self.grid_lines)
        yy, xx = torch.meshgrid(grid_axis, grid_axis, indexing="ij")
        self.vertices = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
        self.vertex_shape = (lines, lines)
        self.grid_cell_area = float((grid_axis[1] - grid_axis[0]) ** 2)
        self.curve_axis = fine
        self.m = FamilyM()
        # real coupling layers with the hand-picked m as their conditioner, one per partition (in 2-D
        # both halves hold one coordinate, so the same 1-D m serves either); `layer` is the one shown
        self.layers = {parity: AdditiveCoupling(2, parity=parity, conditioner=self.m) for parity in (0, 1)}
        self.layer = self.layers[1]
        self.source_log_probs = {DIRECTIONS[0]: four_blobs_log_prob, DIRECTIONS[1]: standard_normal_log_prob}
        self.source_titles = {DIRECTIONS[0]: "data density p(x)", DIRECTIONS[1]: "latent density p(z)"}
        self.target_titles = {
            DIRECTIONS[0]: "z = f(x): density of z",
            DIRECTIONS[1]: "x = f⁻¹(z): density of x",
        }

        controls = {
            "family": widgets.Dropdown(options=list(FAMILIES), value="sine", description="m family"),
            "amplitude": widgets.FloatSlider(value=1.0, min=-2.0, max=2.0, step=0.1, description="amplitude"),
            "frequency": widgets.FloatSlider(value=1.5, min=0.2, max=3.0, step=0.1, description="frequency"),
            "direction": widgets.ToggleButtons(
                options=list(DIRECTIONS), value=DIRECTIONS[0], style={"button_width": "auto"}
            ),
            "keep": widgets.Dropdown(options=list(KEEPS), value=list(KEEPS)[0], description="partition"),
        }
        figure = Figure(figsize=(12.6, 4.2))
        ax_m, ax_src, ax_dst = figure.subplots(1, 3)
        self.ax_m, self.ax_src, self.ax_dst = ax_m, ax_src, ax_dst
        (self.curve,) = ax_m.plot([], [], color="C0", lw=2)
        ax_m.axhline(0, color="0.7", lw=0.8)
        ax_m.set(xlim=bounds, ylim=(-3.2, 3.2), xlabel="kept coordinate", ylabel="m(kept)")
        ax_m.set_title("the shift m(·) added to the other coordinate")
        empty = np.zeros((n, n))
        self.src_image = ax_src.imshow(
            empty, origin="lower", extent=self.box, cmap=DENSITY_CMAP, aspect="auto"
        )
        self.dst_image = ax_dst.imshow(
            empty, origin="lower", extent=self.box, cmap=DENSITY_CMAP, aspect="auto"
        )
        # one collection per panel (2 × lines segments), not one Line2D per grid line: cheaper to draw
        style = {"colors": "w", "linewidths": 0.5, "alpha": 0.6}
        self.src_grid = LineCollection([pts.numpy() for pts in self.grid_lines], **style)
        self.dst_grid = LineCollection([pts.numpy() for pts in self.grid_lines], **style)
        ax_src.add_collection(self.src_grid)
        ax_dst.add_collection(self.dst_grid)
        for ax in (ax_src, ax_dst):
            ax.set(xlim=bounds, ylim=bounds)
        self.text = info_text(ax_dst, 0.02, 0.02, va="bottom")
        figure.tight_layout()
        self.numbers: dict[str, float] = {}
        self._sources: dict[str, np.ndarray] = {}
        live = [self.curve, self.src_image, self.dst_image, self.dst_grid, self.text]
        super().__init__(figure, controls, live=live)

    @torch.no_grad()
    def transform(self, points: Tensor) -> Tensor:
        """Apply the current layer in the chosen direction (forward or inverse) to ``(batch, 2)`` points."""
        if self.controls["direction"].value == DIRECTIONS[0]:
            return self.layer(points)[0]
        return self.layer.inverse(points)[0]

    @torch.no_grad()
    def target_log_prob(self, points: Tensor) -> Tensor:
        """Exact log-density of the transformed variable: ``log p_source(T⁻¹(y)) + 0`` (unit Jacobian)."""
        if self.controls["direction"].value == DIRECTIONS[0]:
            back, log_det = self.layer.inverse(points)  # y = f(x)  =>  x = f⁻¹(y), log|det dx/dy|
        else:
            back, log_det = self.layer(points)  # y = f⁻¹(z)  =>  z = f(y), log|det dz/dy|
        return self.source_log_probs[self.controls["direction"].value](back) + log_det

    @torch.no_grad()
    def _source_density(self, direction: str) -> np.ndarray:
        # the source density depends on the direction only: computed once per direction
        if direction not in self._sources:
            log_prob = self.source_log_probs[direction](self.points)
            self._sources[direction] = log_prob.exp().reshape(self.n, self.n).numpy()
        return self._sources[direction]

    def update(self) -> None:
        c = self.controls
        self.m.set(c["family"].value, c["amplitude"].value, c["frequency"].value)
        self.layer = self.layers[KEEPS[c["keep"].value]]
        direction = c["direction"].value
        with torch.no_grad():
            self.curve.set_data(self.curve_axis.numpy(), self.m(self.curve_axis).numpy())
            source = self._source_density(direction)
            target = self.target_log_prob(self.points).exp().reshape(self.n, self.n).numpy()
        vmax = float(source.max())
        for image, values in ((self.src_image, source), (self.dst_image, target)):
            image.set_data(values)
            image.set_clim(0.0, vmax)
        # every grid line in one call: (lines × points, 2) through the layer, then back to segments
        moved = self.transform(self.grid_points).reshape(len(self.grid_lines), -1, 2)
        self.dst_grid.set_segments(list(moved.numpy()))
        moved = self.transform(self.vertices).numpy()
        areas = quad_areas(moved[:, 0].reshape(self.vertex_shape), moved[:, 1].reshape(self.vertex_shape))
        ratio = areas / self.grid_cell_area
        self.numbers = {
            "mass_source": float(source.sum()) * self.cell,
            "mass_target": float(target.sum()) * self.cell,
            "area_ratio_min": float(ratio.min()),
            "area_ratio_max": float(ratio.max()),
            "peak_source": float(source.max()),
            "peak_target": float(target.max()),
        }
        kept = "x₁" if self.layer.parity == 1 else "x₂"
        self.ax_m.set_xlabel(f"kept coordinate ({kept})")
        self.ax_src.set_title(self.source_titles[direction])
        self.ax_dst.set_title(self.target_titles[direction])
        v = self.numbers
        self.text.set_text(
            f"mass in view {v['mass_source']:.3f} -> {v['mass_target']:.3f}\n"
            f"cell area    x{v['area_ratio_min']:.4f} .. x{v['area_ratio_max']:.4f}\n"
            f"peak p       {v['peak_source']:.3f} -> {v['peak_target']:.3f}"
        )


__all__ = ["DIRECTIONS", "FAMILIES", "KEEPS", "CouplingExplorer", "FamilyM", "quad_areas"]
