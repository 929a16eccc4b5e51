"""Lessons 07 and 08: a flow's exact latent next to a VAE's approximate posterior, and log-det maps.

:class:`LatentComparison` (lesson 07): move a point ``x`` in the plane and see

* the flow's latent ``z = f(x)``: one point, exact, and ``f^{-1}(z)`` gives ``x`` back to float precision;
* the VAE's posterior ``q(z|x) = N(μ(x), diag σ(x)²)``: a cloud (its 2σ ellipse and samples), and
  decoding those samples lands *near* ``x``, not on it;
* the numbers: the flow's exact ``log p(x)`` against the VAE's ELBO and its importance-sampled estimate.

:class:`LogDetMap` (lesson 08): the coupling layers' summed log-det ``Σ_k log|det ∂c_k|`` as a heatmap
over the plane, after the first ``k`` couplings of each model. Additive couplings give a flat map (0
everywhere); affine couplings give a map that varies with ``x``.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from torch import Tensor, nn

from nicelab._checks import check_batch, check_positive_int
from nicelab.baselines import VAE
from nicelab.coupling import Coupling
from nicelab.flows import Flow
from nicelab.plots import Bounds, grid_points
from nicelab.widgets._base import FigureView

_TEXT_BOX = {"facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"}


def _check_bounds(bounds: object) -> Bounds:
    if not (isinstance(bounds, (tuple, list)) and len(bounds) == 4):
        raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax), got {bounds!r}")
    xmin, xmax, ymin, ymax = (float(b) for b in bounds)
    if not (xmin < xmax and ymin < ymax and all(math.isfinite(b) for b in (xmin, xmax, ymin, ymax))):
        raise ValueError(f"bounds must be finite with xmin < xmax and ymin < ymax, got {bounds!r}")
    return xmin, xmax, ymin, ymax


def _n_couplings(flow: Flow) -> int:
    return sum(isinstance(layer, Coupling) for layer in flow.layers)


def _limits(points: np.ndarray, pad: float = 0.1) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    margin = pad * (hi - lo) + 1e-6
    return (float(lo[0] - margin[0]), float(hi[0] + margin[0])), (
        float(lo[1] - margin[1]),
        float(hi[1] + margin[1]),
    )


class LatentComparison(FigureView):
    """Sliders for a point ``x = (x₁, x₂)``; panels: data space, the flow's latent, the VAE's latent.

    Args:
        flow: a trained 2-D flow (``forward``/``inverse``/``log_prob``), e.g. :class:`nicelab.NICE`.
        vae: a trained 2-D :class:`nicelab.baselines.VAE` (latent dimension 2).
        data: ``(N, 2)`` samples drawn in grey in every panel (mapped by each model).
        bounds: the data-space window and slider ranges.
        k: posterior samples drawn for the point (also the ``K`` of the importance-sampled estimate).
        seed: fixes those samples, so the same point always shows the same cloud.

    ``numbers`` holds what the text shows: ``flow_log_p``, ``flow_round_trip`` (max ``|f^{-1}(f(x)) - x|``),
    ``vae_elbo``, ``vae_is``, ``vae_recon`` (mean distance of decoded posterior samples to ``x``).
    """

    def __init__(
        self, flow: nn.Module, vae: VAE, data: Tensor, bounds: Bounds, k: int = 200, seed: int = 0
    ) -> None:
        if not isinstance(vae, VAE) or vae.dim != 2 or vae.latent_dim != 2:
            raise ValueError("vae must be a nicelab.baselines.VAE with dim = latent_dim = 2")
        if getattr(flow, "dim", None) != 2 or not hasattr(flow, "inverse"):
            raise ValueError("flow must be a 2-D flow with forward, inverse and log_prob")
        self.flow, self.vae = flow, vae
        self.bounds = _check_bounds(bounds)
        self.k, self.seed = check_positive_int(k, "k"), seed
        data = check_batch(data, 2, "data", finite=True).detach()
        self.dtype = next(vae.parameters()).dtype
        with torch.no_grad():
            flow_z = flow(data.to(next(flow.parameters()).dtype))[0].double().numpy()
            vae_mu = vae.encode(data.to(self.dtype))[0].double().numpy()
        xmin, xmax, ymin, ymax = self.bounds
        mid = data.median(dim=0).values.double()
        controls = {
            "x1": widgets.FloatSlider(value=float(mid[0]), min=xmin, max=xmax, step=0.02, description="x₁"),
            "x2": widgets.FloatSlider(value=float(mid[1]), min=ymin, max=ymax, step=0.02, description="x₂"),
        }
        figure = Figure(figsize=(13.5, 4.6))
        ax_x, ax_f, ax_v = figure.subplots(1, 3)
        grey = {"s": 2, "c": "0.75", "alpha": 0.5, "rasterized": True}
        ax_x.scatter(data[:, 0].numpy(), data[:, 1].numpy(), **grey)
        self.recon = ax_x.scatter([], [], s=6, c="C1", alpha=0.5, label="VAE: decode z ~ q(z|x)")
        (self.flow_back,) = ax_x.plot([], [], "+", color="C0", ms=16, mew=2, label="flow: f⁻¹(f(x))")
        (self.point,) = ax_x.plot([], [], "o", color="k", ms=7, mfc="none", mew=2, label="x")
        ax_x.set(xlim=self.bounds[:2], ylim=self.bounds[2:], xlabel="x₁", ylabel="x₂")
        ax_x.set_title("data space")
        ax_x.legend(loc="lower left", fontsize=7)

        ax_f.scatter(flow_z[:, 0], flow_z[:, 1], **grey)
        (self.flow_z,) = ax_f.plot([], [], "o", color="C0", ms=8)
        xlim, ylim = _limits(flow_z)
        ax_f.set(xlim=xlim, ylim=ylim, xlabel="z₁", ylabel="z₂")
        ax_f.set_title("flow: z = f(x), one exact point")

        ax_v.scatter(vae_mu[:, 0], vae_mu[:, 1], **grey)
        self.posterior = ax_v.scatter([], [], s=6, c="C1", alpha=0.5)
        self.ellipse = Ellipse((0.0, 0.0), 0.0, 0.0, fill=False, color="C3", lw=2)
        ax_v.add_patch(self.ellipse)
        xlim, ylim = _limits(np.concatenate([vae_mu, np.random.default_rng(0).standard_normal((200, 2))]))
        ax_v.set(xlim=xlim, ylim=ylim, xlabel="z₁", ylabel="z₂")
        ax_v.set_title("VAE: q(z|x), a cloud (2σ ellipse)")
        self.text = ax_x.text(
            0.02, 0.98, "", transform=ax_x.transAxes, fontsize=7, va="top", family="monospace", bbox=_TEXT_BOX
        )
        figure.tight_layout()
        self.numbers: dict[str, float] = {}
        live = [self.recon, self.flow_back, self.point, self.flow_z, self.posterior, self.ellipse, self.text]
        super().__init__(figure, controls, live=live)

    @property
    def x(self) -> Tensor:
        """The current point as a ``(1, 2)`` tensor."""
        return torch.tensor([[self.controls["x1"].value, self.controls["x2"].value]], dtype=self.dtype)

    @torch.no_grad()
    def update(self) -> None:
        x = self.x
        flow_dtype = next(self.flow.parameters()).dtype
        z, _ = self.flow(x.to(flow_dtype))
        back, _ = self.flow.inverse(z)
        mu, std = self.vae.encode(x)
        # the same seeded draws give the cloud and the log-weights (log_weights draws eps the same way)
        eps = torch.randn(
            (self.k, 1, 2), generator=torch.Generator().manual_seed(self.seed), dtype=self.dtype
        )
        zs = (mu + std * eps).reshape(-1, 2)
        decoded = self.vae.decode(zs)[0]
        log_w = self.vae.log_weights(x, self.k, generator=torch.Generator().manual_seed(self.seed))[:, 0]
        self.numbers = {
            "flow_log_p": float(self.flow.log_prob(x.to(flow_dtype))),
            "flow_round_trip": float((back.double() - x.double()).abs().max()),
            "vae_elbo": float(log_w.mean()),
            "vae_is": float(torch.logsumexp(log_w, 0) - math.log(self.k)),
            "vae_recon": float((decoded - x).norm(dim=1).mean()),
        }
        px, py = float(x[0, 0]), float(x[0, 1])
        self.point.set_data([px], [py])
        self.flow_back.set_data([float(back[0, 0])], [float(back[0, 1])])
        self.recon.set_offsets(decoded.double().numpy())
        self.flow_z.set_data([float(z[0, 0])], [float(z[0, 1])])
        self.posterior.set_offsets(zs.double().numpy())
        self.ellipse.set_center((float(mu[0, 0]), float(mu[0, 1])))
        self.ellipse.set_width(4 * float(std[0, 0]))
        self.ellipse.set_height(4 * float(std[0, 1]))
        n = self.numbers
        self.text.set_text(
            f"flow  log p(x) = {n['flow_log_p']:8.3f}  (exact)\n"
            f"      |f⁻¹(f(x)) - x| = {n['flow_round_trip']:.1e}\n"
            f"VAE   ELBO     = {n['vae_elbo']:8.3f}  (K={self.k} avg)\n"
            f"      IS log p ≈ {n['vae_is']:8.3f}\n"
            f"      mean |decode(z) - x| = {n['vae_recon']:.3f}"
        )


class LogDetMap(FigureView):
    """Pick a model and how many of its couplings to apply; see their summed log-det over the plane.

    Args:
        models: name -> 2-D :class:`nicelab.CouplingFlow` or :class:`nicelab.NICE` (any
            :class:`~nicelab.flows.Flow` with coupling layers), e.g. ``{"additive": ..., "affine": ...}``.
        bounds: the window (data space).
        n: heatmap resolution.

    All maps are computed once here; the controls only swap arrays. ``numbers`` holds the shown
    map's ``min`` and ``max``.
    """

    def __init__(self, models: dict[str, Flow], bounds: Bounds, n: int = 120) -> None:
        if not isinstance(models, dict) or not models:
            raise ValueError("models must be a non-empty dict of name -> 2-D coupling flow")
        self.bounds = _check_bounds(bounds)
        self.n = check_positive_int(n, "n", minimum=8)
        self.models = dict(models)
        self.maps: dict[str, list[np.ndarray]] = {}
        for name, model in models.items():
            if not (isinstance(model, Flow) and model.dim == 2 and _n_couplings(model) > 0):
                raise ValueError(f"models[{name!r}] must be a 2-D flow (a nicelab Flow) with coupling layers")
            self.maps[name] = self._cumulative_maps(model)
        depth = max(len(m) for m in self.maps.values())
        first = next(iter(self.maps))
        controls = {
            "model": widgets.Dropdown(options=list(self.maps), value=first, description="model"),
            "layers": widgets.IntSlider(value=depth, min=1, max=depth, description="couplings"),
        }
        figure = Figure(figsize=(5.6, 4.6))
        ax = figure.subplots()
        # (FigureView's `image` is the PNG widget, so the heatmap artist is called `heat`)
        self.heat = ax.imshow(
            np.zeros((self.n, self.n)), origin="lower", extent=self.bounds, cmap="coolwarm", aspect="auto"
        )
        figure.colorbar(self.heat, ax=ax, label="Σ log|det ∂c_k/∂h|  (nats)")
        ax.set(xlabel="x₁", ylabel="x₂")
        self.title = ax.set_title("")
        figure.tight_layout()
        self.numbers: dict[str, float] = {}
        super().__init__(figure, controls, live=[self.heat, self.title])

    @torch.no_grad()
    def _cumulative_maps(self, model: Flow) -> list[np.ndarray]:
        """``Σ_{j<=k} log|det ∂c_j|`` on the grid for k = 1 … K, from the flow's per-layer stages."""
        dtype = next(model.parameters()).dtype
        points, _ = grid_points(self.bounds, self.n, dtype=dtype)
        total = points.new_zeros(points.shape[0])
        maps = []
        # the stages are the layers' own outputs, in order; only the couplings' log-dets are summed
        for layer, (_, log_det) in zip(model.layers, model.stages(points), strict=True):
            if isinstance(layer, Coupling):
                total = total + log_det
                maps.append(total.reshape(self.n, self.n).double().numpy().copy())
        return maps

    def update(self) -> None:
        name = self.controls["model"].value
        maps = self.maps[name]
        k = min(int(self.controls["layers"].value), len(maps))
        data = maps[k - 1]
        lo, hi = float(data.min()), float(data.max())
        span = max(abs(lo), abs(hi), 1e-3)
        self.heat.set_data(data)
        self.heat.set_clim(-span, span)  # symmetric, so 0 (volume preserved) is always white
        self.numbers = {"min": lo, "max": hi}
        self.title.set_text(f"{name}: first {k} coupling(s), log-det in [{lo:.2f}, {hi:.2f}]")


__all__ = ["LatentComparison", "LogDetMap"]
