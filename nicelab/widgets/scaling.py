"""Lesson 04's scaling explorer: per-dimension log-scales, the density they give, and the likelihood.

The model is a real :class:`nicelab.Scaling` followed by a factorised prior. In our forward
(data -> latent) direction ``z = exp(s) ⊙ x`` and::

    log p(x) = Σ_i [log p_prior(exp(s_i) x_i) + s_i]

(the notes write the decoder direction with ``S_ii = exp(-s_i)``; their ``-log|S_ii|`` is our
``+s_i``). The mean log-likelihood of a fixed data set separates into one curve per dimension,
``ℓ_i(s_i)``, which the view draws with a marker at the current slider value. Shrinking the spread
of ``x₂`` shows the collapse: the best ``s₂`` runs off to infinity (``S₂₂ -> 0``) and the
likelihood grows without bound.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from nicelab._checks import check_batch
from nicelab.plots import DENSITY_CMAP, grid_points
from nicelab.priors import PRIORS, Prior, make_prior
from nicelab.scaling import Scaling
from nicelab.widgets._base import FigureView, info_text


def default_data(n: int = 400, seed: int = 0) -> Tensor:
    """A fixed 2-D data set with one wide (std 1.5) and one narrow (std 0.25) dimension, float64."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=generator, dtype=torch.float64) * torch.tensor([1.5, 0.25])


class ScalingExplorer(FigureView):
    """Sliders for ``s₁, s₂`` (our log-scales), the prior, and the spread of ``x₂`` (the collapse).

    Panels: the model density ``p(x)`` with the data; the data mapped to latent space over the
    prior; the mean log-likelihood of the data as a function of each ``s_i`` with a marker at the
    current value. ``numbers`` holds what the text shows (mean log-likelihood, its prior and log-det
    terms, ``S_ii = exp(-s_i)``, the best ``s_i`` on the curve grid).

    Args:
        data: ``(N, 2)`` finite samples; ``None`` uses :func:`default_data`. The ``spread`` control
            multiplies the second column (1 leaves it as given).
        x_bound, z_bound: half-widths of the data-space and latent-space windows.
        n: density resolution.
    """

    def __init__(
        self, data: Tensor | None = None, x_bound: float = 5.0, z_bound: float = 8.0, n: int = 160
    ) -> None:
        data = default_data() if data is None else data
        self.base_data = check_batch(data, 2, "data", finite=True).detach().to(torch.float64)
        if not (x_bound > 0 and z_bound > 0 and n >= 8):
            raise ValueError(f"need positive bounds and n >= 8, got {x_bound}, {z_bound}, {n}")
        self.x_box = (-x_bound, x_bound, -x_bound, x_bound)
        self.z_box = (-z_bound, z_bound, -z_bound, z_bound)
        self.n = n
        self.x_points, _ = grid_points(self.x_box, n, dtype=torch.float64)
        self.z_points, _ = grid_points(self.z_box, n, dtype=torch.float64)
        self.s_axis = torch.linspace(-3.0, 10.0, 521, dtype=torch.float64)
        self.scaling = Scaling(2).double()

        controls = {
            "s1": widgets.FloatSlider(value=0.0, min=-3.0, max=10.0, step=0.05, description="s₁"),
            "s2": widgets.FloatSlider(value=0.0, min=-3.0, max=10.0, step=0.05, description="s₂"),
            "prior": widgets.Dropdown(options=sorted(PRIORS), value="logistic", description="prior"),
            "spread": widgets.FloatLogSlider(
                value=1.0, base=10, min=-3, max=0, step=0.05, description="x₂ spread ×"
            ),
        }
        figure = Figure(figsize=(13.2, 4.3))
        ax_x, ax_z, ax_ll = figure.subplots(1, 3)
        self.ax_ll = ax_ll
        empty = np.zeros((n, n))
        self.x_image = ax_x.imshow(empty, origin="lower", extent=self.x_box, cmap=DENSITY_CMAP, aspect="auto")
        self.z_image = ax_z.imshow(empty, origin="lower", extent=self.z_box, cmap=DENSITY_CMAP, aspect="auto")
        self.x_scatter = ax_x.scatter([], [], s=3, c="c", alpha=0.6)
        self.z_scatter = ax_z.scatter([], [], s=3, c="c", alpha=0.6)
        ax_x.set(xlim=self.x_box[:2], ylim=self.x_box[2:], xlabel="x₁", ylabel="x₂")
        ax_x.set_title("model density p(x) and the data")
        ax_z.set(xlim=self.z_box[:2], ylim=self.z_box[2:], xlabel="z₁", ylabel="z₂")
        ax_z.set_title("z = exp(s) ⊙ x over the prior p(z)")
        self.curves = [ax_ll.plot([], [], color=f"C{i}", label=f"dimension {i + 1}")[0] for i in range(2)]
        self.markers = [ax_ll.plot([], [], "o", color=f"C{i}", ms=7)[0] for i in range(2)]
        ax_ll.set(xlim=(float(self.s_axis[0]), float(self.s_axis[-1])), xlabel="log-scale s_i")
        ax_ll.set(ylabel="mean over data of  log p(exp(s_i) x_i) + s_i")
        ax_ll.set_title("log-likelihood, one term per dimension")
        ax_ll.legend(loc="lower left", fontsize=8)
        self.text = info_text(ax_x, 0.02, 0.98, va="top")
        figure.tight_layout()
        self.numbers: dict[str, float] = {}
        # the curves l_i(s) and the prior's density do not depend on s: kept while only s moves
        self._profile_cache: dict[int, tuple[Hashable, Tensor]] = {}
        self._latent_cache: tuple[str, np.ndarray] | None = None
        images = [self.x_image, self.z_image, self.x_scatter, self.z_scatter]
        super().__init__(figure, controls, live=[*images, *self.curves, *self.markers, self.text])

    @property
    def data(self) -> Tensor:
        """The data set currently shown (the given data with ``x₂`` times the spread control)."""
        factor = torch.tensor([1.0, float(self.controls["spread"].value)], dtype=torch.float64)
        return self.base_data * factor

    @torch.no_grad()
    def log_prob(self, x: Tensor) -> Tensor:
        """``log p(x) = log p_prior(exp(s) ⊙ x) + Σ s`` for the current sliders, shape ``(batch,)``."""
        prior = make_prior(self.controls["prior"].value, 2).double()
        z, log_det = self.scaling(x)
        return prior.log_prob(z) + log_det

    @torch.no_grad()
    def profile(self, i: int) -> Tensor:
        """``ℓ_i(s)`` on :attr:`s_axis` for dimension ``i``, shape ``(len(s_axis),)``."""
        prior = make_prior(self.controls["prior"].value, 1).double()
        scaled = torch.exp(self.s_axis)[:, None] * self.data[None, :, i]  # (S, N)
        per_point = prior.log_prob(scaled.reshape(-1, 1)).reshape(scaled.shape)
        return per_point.mean(dim=1) + self.s_axis

    def profiles(self) -> Tensor:
        """``ℓ_i(s)`` on :attr:`s_axis` for both dimensions, shape ``(2, len(s_axis))``."""
        return torch.stack([self.profile(0), self.profile(1)])

    def _cached_profiles(self) -> Tensor:
        # ℓ_1 depends on the prior only, ℓ_2 also on the spread (it scales x₂ alone): kept apart, so a
        # dragged spread slider recomputes one curve, not two
        prior, spread = self.controls["prior"].value, float(self.controls["spread"].value)
        rows = []
        for i, key in enumerate([(prior,), (prior, spread)]):
            cached = self._profile_cache.get(i)
            if cached is None or cached[0] != key:
                self._profile_cache[i] = cached = (key, self.profile(i))
            rows.append(cached[1])
        return torch.stack(rows)

    @torch.no_grad()
    def _cached_latent(self, prior: Prior) -> np.ndarray:
        name = self.controls["prior"].value
        if self._latent_cache is None or self._latent_cache[0] != name:
            latent = prior.log_prob(self.z_points).exp().reshape(self.n, self.n).numpy()
            self._latent_cache = (name, latent)
        return self._latent_cache[1]

    def update(self) -> None:
        c = self.controls
        s = torch.tensor([c["s1"].value, c["s2"].value], dtype=torch.float64)
        with torch.no_grad():
            self.scaling.log_scale.copy_(s)
            data = self.data
            z, log_det = self.scaling(data)
            prior = make_prior(c["prior"].value, 2).double()
            prior_term = float(prior.log_prob(z).mean())
            density = self.log_prob(self.x_points).exp().reshape(self.n, self.n).numpy()
            latent = self._cached_latent(prior)
            curves = self._cached_profiles()
        self.x_image.set_data(density)
        self.x_image.set_clim(0.0, float(density.max()))
        self.z_image.set_data(latent)
        self.z_image.set_clim(0.0, float(latent.max()))
        self.x_scatter.set_offsets(data.numpy())
        self.z_scatter.set_offsets(z.numpy())
        axis = self.s_axis.numpy()
        for i in range(2):
            self.curves[i].set_data(axis, curves[i].numpy())
            here = float(np.interp(float(s[i]), axis, curves[i].numpy()))
            self.markers[i].set_data([float(s[i])], [here])
        # the window follows the best value in steps of 2 nats: a limit that moved with every change
        # would redraw the panel's ticks every time (the spread slider moves the best by ~7 nats)
        upper = 2.0 * math.ceil((float(curves.max()) + 1.0) / 2.0)
        self.ax_ll.set_ylim(upper - 14.0, upper)
        best = curves.argmax(dim=1)
        self.numbers = {
            "mean_log_p": prior_term + float(log_det[0]),
            "prior_term": prior_term,
            "log_det": float(log_det[0]),
            "S11": math.exp(-float(s[0])),
            "S22": math.exp(-float(s[1])),
            "best_s1": float(self.s_axis[best[0]]),
            "best_s2": float(self.s_axis[best[1]]),
            "best_mean_log_p": float(curves.max(dim=1).values.sum()),
        }
        v = self.numbers
        self.text.set_text(
            f"mean log p(x) = {v['prior_term']:+.3f} (prior) {v['log_det']:+.3f} (Σs)\n"
            f"              = {v['mean_log_p']:+.3f} nats   (best {v['best_mean_log_p']:+.3f})\n"
            f"S₁₁ = exp(-s₁) = {v['S11']:.4f}   best s₁ = {v['best_s1']:.2f}\n"
            f"S₂₂ = exp(-s₂) = {v['S22']:.4f}   best s₂ = {v['best_s2']:.2f}"
        )


__all__ = ["ScalingExplorer", "default_data"]
