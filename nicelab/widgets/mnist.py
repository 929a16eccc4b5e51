"""Lesson 06 views of a NICE trained on MNIST: samples and temperature, inpainting, latent structure.

The views draw; the maths they show lives in the work layer: :func:`~nicelab.analysis.latent_importance`,
:func:`~nicelab.analysis.sample_top_k` and :func:`~nicelab.analysis.interpolate` (:mod:`nicelab.analysis`,
still importable from here) and :func:`nicelab.inpaint.inpaint` / :func:`~nicelab.inpaint.score`. The
lesson derives each one in the open first. Every view precomputes what it can in ``__init__`` and then only
swaps image data in place.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from nicelab.analysis import interpolate, latent_importance, sample_top_k
from nicelab.inpaint import MASK_NAMES, inpaint, masks, score
from nicelab.plots import image_grid
from nicelab.widgets._base import FigureView

SIDE = 28


def _grid(images: Tensor, ncols: int) -> np.ndarray:
    return np.clip(image_grid(images.detach().float(), ncols=ncols, side=SIDE), 0.0, 1.0)


def _check_model(model: object) -> None:
    if not all(hasattr(model, name) for name in ("dim", "inverse", "scaling", "prior")):
        raise ValueError("model must be a nicelab.NICE (with dim, inverse, scaling and prior)")
    if model.dim != SIDE * SIDE:  # type: ignore[attr-defined]
        raise ValueError(f"these views draw 28x28 images: model.dim must be {SIDE * SIDE}, got {model.dim}")


class SampleGridView(FigureView):
    """A grid of samples ``x = f^{-1}(T·ε)`` with a temperature slider; ε is drawn once and kept."""

    def __init__(self, model: torch.nn.Module, n: int = 36, ncols: int = 6, seed: int = 0) -> None:
        _check_model(model)
        if n < 1 or ncols < 1:
            raise ValueError("n and ncols must be positive")
        self.model, self.ncols = model, ncols
        self.eps = model.prior.sample(n, generator=torch.Generator().manual_seed(seed))
        temperature = widgets.FloatSlider(value=1.0, min=0.0, max=1.5, step=0.05, description="temperature")
        figure = Figure(figsize=(4.2, 4.4))
        self.ax = figure.add_subplot()
        self.artist = self.ax.imshow(self._images(1.0), cmap="gray", vmin=0, vmax=1)
        self.ax.set_axis_off()
        self.title = self.ax.set_title("")
        figure.tight_layout()
        super().__init__(figure, {"temperature": temperature}, live=[self.artist, self.title])
        self.update()

    @torch.no_grad()
    def _images(self, temperature: float) -> np.ndarray:
        return _grid(self.model.inverse(temperature * self.eps)[0], self.ncols)

    def update(self) -> None:
        temperature = float(self.controls["temperature"].value)
        self.artist.set_data(self._images(temperature))
        self.title.set_text(f"samples at temperature T = {temperature:.2f}")


class InpaintingView(FigureView):
    """Pick a digit and a mask, then scrub through the projected gradient ascent that fills it in.

    Every (digit, mask) pair is inpainted once, in one batch, in ``__init__``; the step slider only
    swaps precomputed iterates. Panels: the truth, what the model sees (missing pixels in red), the
    iterate at the chosen step, and ``log p`` of the iterate against the step.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        images: Tensor,
        labels: list[str] | None = None,
        mask_names: tuple[str, ...] = MASK_NAMES,
        steps: int = 200,
        frames: int = 21,
        seed: int = 0,
        **inpaint_kwargs: object,
    ) -> None:
        _check_model(model)
        if not isinstance(images, Tensor) or images.dim() != 2 or images.shape[1] != model.dim:
            raise ValueError(f"images must be a (n, {model.dim}) tensor of dequantized digits")
        n = images.shape[0]
        if n == 0:
            raise ValueError("images is empty: give at least one digit")
        labels = list(labels) if labels is not None else [f"digit {i}" for i in range(n)]
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} labels for {n} images")
        self.mask_names = tuple(mask_names)
        self.masks = masks(self.mask_names, side=SIDE, seed=seed)
        # Batch every (mask, digit) pair: row index = mask_index * n + digit_index.
        truth = images.repeat(len(self.mask_names), 1)
        missing = torch.cat([self.masks[name].expand(n, -1) for name in self.mask_names])
        self.truth = images
        self.result = inpaint(
            model,
            truth,
            missing,
            steps=steps,
            frames=frames,
            generator=torch.Generator().manual_seed(seed),
            **inpaint_kwargs,  # type: ignore[arg-type]
        )
        self.n = n
        # The error on the missing pixels of every frame and pair, (frames, pairs): the slider only reads it.
        self.mse = torch.stack([score(frame, truth, missing)["mse"] for frame in self.result.iterates])
        digit = widgets.Dropdown(options=[(label, i) for i, label in enumerate(labels)], description="digit")
        which = widgets.Dropdown(options=list(self.mask_names), description="mask")
        step = widgets.SelectionSlider(
            options=self.result.frame_steps, value=self.result.frame_steps[-1], description="step"
        )

        figure = Figure(figsize=(9.6, 2.8))
        axes = [figure.add_subplot(1, 4, i + 1) for i in range(4)]
        blank = np.zeros((SIDE, SIDE))
        self.truth_artist = axes[0].imshow(blank, cmap="gray", vmin=0, vmax=1)
        self.seen_artist = axes[1].imshow(np.zeros((SIDE, SIDE, 3)))
        self.fill_artist = axes[2].imshow(blank, cmap="gray", vmin=0, vmax=1)
        for ax, title in zip(axes[:3], ("truth", "observed (red = missing)", ""), strict=True):
            ax.set_axis_off()
            ax.set_title(title, fontsize=9)
        self.fill_title = axes[2].title
        steps_axis = np.arange(self.result.log_prob.shape[0])
        (self.curve,) = axes[3].plot(steps_axis, np.zeros_like(steps_axis, dtype=float), lw=1.5)
        (self.marker,) = axes[3].plot([0], [0], "o", color="C3")
        axes[3].set(xlabel="step", ylabel="log p(x) [nats]")
        axes[3].tick_params(labelsize=8)
        self.curve_ax = axes[3]
        figure.tight_layout()
        live = [
            self.truth_artist,
            self.seen_artist,
            self.fill_artist,
            self.fill_title,
            self.curve,
            self.marker,
        ]
        super().__init__(figure, {"digit": digit, "mask": which, "step": step}, live=live)
        self.update()

    def _row(self) -> int:
        return self.mask_names.index(self.controls["mask"].value) * self.n + int(self.controls["digit"].value)

    def update(self) -> None:
        row = self._row()
        step = int(self.controls["step"].value)
        frame = self.result.frame_steps.index(step)
        truth = self.truth[int(self.controls["digit"].value)].view(SIDE, SIDE).numpy()
        missing = self.result.missing[row].view(SIDE, SIDE).numpy()
        seen = np.stack([truth, truth, truth], axis=-1)
        seen[missing] = (0.8, 0.1, 0.1)
        current = self.result.iterates[frame, row]
        mse = float(self.mse[frame, row])
        log_p = self.result.log_prob[:, row].numpy()
        self.truth_artist.set_data(truth)
        self.seen_artist.set_data(seen)
        self.fill_artist.set_data(np.clip(current.view(SIDE, SIDE).numpy(), 0, 1))
        self.fill_title.set_text(f"step {step}: MSE {mse:.3f}")
        self.curve.set_ydata(log_p)
        self.marker.set_data([step], [log_p[step]])
        low, high = float(log_p.min()), float(log_p.max())
        pad = 0.05 * (high - low) + 1.0
        self.curve_ax.set_ylim(low - pad, high + pad)


class TopKView(FigureView):
    """Samples that vary only the ``k`` most important latent dims, beside the sorted scale spectrum."""

    def __init__(
        self, model: torch.nn.Module, n: int = 16, ncols: int = 8, temperature: float = 1.0, seed: int = 0
    ) -> None:
        _check_model(model)
        self.model, self.ncols, self.temperature, self.seed, self.n = model, ncols, temperature, seed, n
        order, scale = latent_importance(model)
        options = sorted({0, 1, 2, 5, 10, 20, 50, 100, 200, 400, model.dim})
        k = widgets.SelectionSlider(options=options, value=10, description="top k dims")
        # Same ε for every k, so moving the slider only un-freezes more dimensions of the same draw.
        self.cache = {
            kk: _grid(sample_top_k(model, kk, n, temperature, torch.Generator().manual_seed(seed)), ncols)
            for kk in options
        }
        figure = Figure(figsize=(9.0, 3.0))
        spec = figure.add_gridspec(1, 3)
        ax_scale = figure.add_subplot(spec[0, 0])
        ax_img = figure.add_subplot(spec[0, 1:])
        sorted_scale = scale[order].numpy()
        ax_scale.semilogy(np.arange(1, model.dim + 1), sorted_scale, lw=1.5)
        ax_scale.set(xlabel="latent dim (sorted)", ylabel="S_ii = exp(-s_i)", xscale="log")
        ax_scale.tick_params(labelsize=8)
        self.kline = ax_scale.axvline(10, color="C3", ls="--")
        self.artist = ax_img.imshow(self.cache[10], cmap="gray", vmin=0, vmax=1)
        ax_img.set_axis_off()
        self.title = ax_img.set_title("")
        figure.tight_layout()
        super().__init__(figure, {"k": k}, live=[self.artist, self.kline, self.title])
        self.update()

    def update(self) -> None:
        k = int(self.controls["k"].value)
        self.artist.set_data(self.cache[k])
        self.kline.set_xdata([max(k, 1), max(k, 1)])
        self.title.set_text(f"only the top {k} latent dims drawn (T = {self.temperature:g}), the rest at 0")


class InterpolationView(FigureView):
    """Walk from one digit to another along the straight latent path and the straight pixel path."""

    def __init__(self, model: torch.nn.Module, a: Tensor, b: Tensor, points: int = 21) -> None:
        _check_model(model)
        if points < 2:
            raise ValueError("points must be at least 2")
        self.ts = torch.linspace(0, 1, points)
        latent_path, pixel_path = interpolate(model, a, b, self.ts)
        with torch.no_grad():
            self.log_p_latent = model.log_prob(latent_path).numpy()
            self.log_p_pixel = model.log_prob(pixel_path).numpy()
        self.latent_path, self.pixel_path = latent_path, pixel_path
        t = widgets.SelectionSlider(options=[round(float(v), 3) for v in self.ts], value=0.5, description="t")
        figure = Figure(figsize=(8.4, 2.8))
        axes = [figure.add_subplot(1, 3, i + 1) for i in range(3)]
        blank = np.zeros((SIDE, SIDE))
        self.latent_artist = axes[0].imshow(blank, cmap="gray", vmin=0, vmax=1)
        self.pixel_artist = axes[1].imshow(blank, cmap="gray", vmin=0, vmax=1)
        axes[0].set_title("latent path", fontsize=9)
        axes[1].set_title("pixel path", fontsize=9)
        axes[0].set_axis_off()
        axes[1].set_axis_off()
        ts = self.ts.numpy()
        axes[2].plot(ts, self.log_p_latent, label="latent path")
        axes[2].plot(ts, self.log_p_pixel, label="pixel path")
        self.tline = axes[2].axvline(0.5, color="C3", ls="--")
        axes[2].set(xlabel="t", ylabel="log p(x(t))")
        axes[2].legend(fontsize=8)
        axes[2].tick_params(labelsize=8)
        figure.tight_layout()
        super().__init__(figure, {"t": t}, live=[self.latent_artist, self.pixel_artist, self.tline])
        self.update()

    def update(self) -> None:
        t = float(self.controls["t"].value)
        i = int(torch.argmin((self.ts - t).abs()))
        self.latent_artist.set_data(self.latent_path[i].clamp(0, 1).view(SIDE, SIDE).numpy())
        self.pixel_artist.set_data(self.pixel_path[i].view(SIDE, SIDE).numpy())
        self.tline.set_xdata([t, t])


__all__ = [
    "InpaintingView",
    "InterpolationView",
    "SampleGridView",
    "TopKView",
    "interpolate",
    "latent_importance",
    "sample_top_k",
]
