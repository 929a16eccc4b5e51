"""Inpainting with an exact density: fill missing pixels by projected gradient ascent on ``log p(x)``.

NICE (section 5.2) completes an image ``x = (x_O, x_H)`` with observed pixels ``x_O`` and hidden
pixels ``x_H`` by climbing the model's log-density in ``x_H`` only, projecting back onto the data
interval after every step::

    x_H <- clip( x_H + α_i · (∂ log p(x_O, x_H) / ∂x_H + σ·ε), 0, 1 )

with ``ε ~ N(0, I)``. Two step rules:

* ``adaptive=False`` (the paper's kind of schedule): ``α_i = α_0 · t_0 / (t_0 + i)``, optionally with
  gradient noise ``σ > 0`` as in the paper. Too large an ``α_0`` overshoots and *lowers* log p: a
  trained NICE multiplies pixels by ``exp(s_i)`` of up to ~50, so the curvature is large.
* ``adaptive=True`` (default, no noise): each image keeps its own step; a step that would lower its
  log p is rejected and the step halved, an accepted one grows it by 20%. log p then never decreases.

The observed pixels never change, and every iterate stays in ``[0, 1]``.

Masks are boolean vectors over the ``side × side`` pixels (row-major), ``True`` where a pixel is
*missing*. Scores compare a completion with the true pixels on the missing positions only (MSE and
PSNR with peak 1), and the baselines fill the same pixels with the mean image or with the pixels of
the nearest reference image (nearest on the observed pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nicelab._checks import check_batch, check_points, check_positive_int
from nicelab._utils import evaluating

#: the masks :func:`mask` knows, in display order
MASK_NAMES = ("top", "bottom", "left", "right", "random75", "stripes")


def mask(
    name: str,
    side: int = 28,
    *,
    generator: torch.Generator | None = None,
    fraction: float = 0.75,
    stripe: int = 2,
) -> Tensor:
    """A boolean mask of shape ``(side*side,)``, ``True`` where a pixel is missing.

    ``top``/``bottom``/``left``/``right`` hide that half of the image; ``random75`` hides a random
    ``fraction`` of the pixels (exactly ``round(fraction·side²)`` of them, drawn with ``generator``);
    ``stripes`` hides alternating horizontal bands ``stripe`` rows high, starting with an observed band.
    """
    check_positive_int(side, "side", minimum=2)
    check_positive_int(stripe, "stripe")
    rows = torch.arange(side).view(side, 1).expand(side, side)
    cols = torch.arange(side).view(1, side).expand(side, side)
    half = side // 2
    if name == "top":
        hidden = rows < half
    elif name == "bottom":
        hidden = rows >= half
    elif name == "left":
        hidden = cols < half
    elif name == "right":
        hidden = cols >= half
    elif name == "stripes":
        hidden = (rows // stripe) % 2 == 1
    elif name == "random75":
        if not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
            raise ValueError(f"fraction must be a number strictly between 0 and 1, got {fraction!r}")
        count = round(fraction * side * side)
        order = torch.randperm(side * side, generator=generator)
        flat = torch.zeros(side * side, dtype=torch.bool)
        flat[order[:count]] = True
        return flat
    else:
        raise ValueError(f"unknown mask {name!r}; expected one of {MASK_NAMES}")
    return hidden.reshape(-1).clone()


def masks(
    names: tuple[str, ...] | list[str] = MASK_NAMES, side: int = 28, seed: int = 0
) -> dict[str, Tensor]:
    """Every mask in ``names`` by name (the random one drawn from ``seed``, so it is reproducible)."""
    if len(names) == 0:
        raise ValueError("names is empty: expected at least one mask name")
    generator = torch.Generator().manual_seed(seed)
    return {name: mask(name, side, generator=generator) for name in names}


def _check_images(x: object, dim: int, name: str) -> Tensor:
    x = check_batch(x, dim, name, finite=True)
    if bool((x < 0).any()) or bool((x > 1).any()):
        raise ValueError(
            f"{name} must hold pixel values in [0, 1] (dequantized data), got [{x.min()}, {x.max()}]"
        )
    return x


def _check_missing(missing: object, x: Tensor, name: str = "missing") -> Tensor:
    """Broadcast a ``(dim,)`` or ``(batch, dim)`` boolean mask to ``x``'s shape."""
    if not isinstance(missing, Tensor) or missing.dtype != torch.bool:
        raise ValueError(f"{name} must be a boolean tensor (True = missing pixel)")
    if missing.shape not in (x.shape, x.shape[1:]):
        raise ValueError(
            f"{name} must have shape {tuple(x.shape[1:])} or {tuple(x.shape)}, got {tuple(missing.shape)}"
        )
    missing = missing.to(x.device).expand_as(x)
    if not bool(missing.any(dim=1).all()):
        raise ValueError(f"{name} hides no pixel in some image: nothing to inpaint")
    return missing


@dataclass
class Inpainting:
    """The result of :func:`inpaint`.

    Attributes:
        images: ``(batch, dim)`` final completions (observed pixels equal the input's).
        missing: ``(batch, dim)`` boolean mask that was filled.
        log_prob: ``(steps + 1, batch)`` log p of the iterate before each step and after the last.
        iterates: ``(frames, batch, dim)`` recorded iterates, the start first and the final last.
        frame_steps: the step number of each recorded frame (0 = the starting point).
    """

    images: Tensor
    missing: Tensor
    log_prob: Tensor
    iterates: Tensor
    frame_steps: list[int]


def inpaint(
    model: torch.nn.Module,
    x: Tensor,
    missing: Tensor,
    *,
    steps: int = 300,
    step_size: float = 0.01,
    decay: float = 100.0,
    noise: float = 0.0,
    adaptive: bool = True,
    init: str | Tensor = "uniform",
    generator: torch.Generator | None = None,
    frames: int = 31,
) -> Inpainting:
    """Fill ``x``'s missing pixels by projected gradient ascent on ``model.log_prob`` (see module doc).

    Args:
        model: anything with ``dim`` and a differentiable ``log_prob(x) -> (batch,)`` on [0, 1] data.
        x: ``(batch, dim)`` images in [0, 1]; the values at missing positions are ignored.
        missing: ``(dim,)`` or ``(batch, dim)`` boolean mask, ``True`` = fill this pixel.
        steps: ascent steps (one gradient evaluation each).
        step_size: α_0, the first step (per image when ``adaptive``).
        decay: t_0 of the fixed schedule α_i = α_0·t_0/(t_0 + i) (``adaptive=False`` only).
        noise: σ, the standard deviation of the Gaussian noise added to the gradient (0 = none;
            only with ``adaptive=False``, since noise and a monotone ascent do not mix).
        adaptive: per-image step control that never lowers log p (see the module docstring).
        init: start of the missing pixels: ``"uniform"`` (random in [0, 1]), ``"zeros"``, ``"half"``
            (all 0.5), or a ``(dim,)``/``(batch, dim)`` tensor in [0, 1] such as the mean image.
        frames: how many iterates to record, evenly spaced from step 0 to ``steps`` (at least 2).

    The model's parameters are not changed and receive no gradients.
    """
    x, missing = _check_inpaint_inputs(
        model,
        x,
        missing,
        steps=steps,
        frames=frames,
        step_size=step_size,
        decay=decay,
        noise=noise,
        adaptive=adaptive,
    )
    start = _initial_fill(x, init, generator)
    record_at = set(round(i * steps / (frames - 1)) for i in range(frames))
    with evaluating(model):
        images, history, recorded = _ascend(
            model,
            x,
            missing,
            torch.where(missing, start, x).detach(),
            steps=steps,
            step_size=step_size,
            decay=decay,
            noise=noise,
            adaptive=adaptive,
            generator=generator,
            record_at=record_at,
        )
    return Inpainting(
        images=images,
        missing=missing,
        log_prob=torch.stack(history),
        iterates=torch.stack(recorded),
        frame_steps=sorted(record_at),
    )


def _check_inpaint_inputs(
    model: torch.nn.Module,
    x: Tensor,
    missing: Tensor,
    *,
    steps: int,
    frames: int,
    step_size: float,
    decay: float,
    noise: float,
    adaptive: bool,
) -> tuple[Tensor, Tensor]:
    """Validate :func:`inpaint`'s arguments; return ``x`` checked and ``missing`` broadcast to its shape."""
    dim = getattr(model, "dim", None)
    if not isinstance(dim, int) or not hasattr(model, "log_prob"):
        raise ValueError("model must have an integer `dim` and a `log_prob(x)` method")
    x = _check_images(x, dim, "x")
    missing = _check_missing(missing, x)
    check_positive_int(steps, "steps")
    check_positive_int(frames, "frames", minimum=2)
    for value, label in ((step_size, "step_size"), (decay, "decay")):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{label} must be a positive finite number, got {value!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if adaptive and noise > 0:
        raise ValueError(
            "noise > 0 needs adaptive=False (the paper's schedule): a noisy step is never rejected"
        )
    return x, missing


def _ascend(
    model: torch.nn.Module,
    x: Tensor,
    missing: Tensor,
    current: Tensor,
    *,
    steps: int,
    step_size: float,
    decay: float,
    noise: float,
    adaptive: bool,
    generator: torch.Generator | None,
    record_at: set[int],
) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """``steps`` projected ascent steps on log p from ``current`` (the module docstring's update).

    Only the ``missing`` pixels move; the others are ``x``'s. Returns the final iterate, log p before each
    step and after the last (``steps + 1`` entries), and the iterates before the steps in ``record_at``
    (step ``steps`` = the final one). With ``adaptive``, a step that lowers an image's log p is rejected
    and its step halved (an accepted one grows it by 20%), so each image's log p never decreases.
    """
    recorded, history = [], []
    alpha = torch.full((x.shape[0], 1), float(step_size), dtype=x.dtype, device=x.device)
    log_p, grad = _value_and_grad(model, current)
    for i in range(steps + 1):
        history.append(log_p)
        if i in record_at:
            recorded.append(current)
        if i == steps:
            break
        if noise > 0:
            eps = torch.randn(current.shape, generator=generator, dtype=current.dtype)
            grad = grad + noise * eps.to(current.device)
        rate = alpha if adaptive else step_size * decay / (decay + i)
        moved = (current + rate * grad).clamp(0.0, 1.0)  # the projection onto [0, 1]
        candidate = torch.where(missing, moved, x)
        new_log_p, new_grad = _value_and_grad(model, candidate)
        if adaptive:
            accept = (new_log_p >= log_p).unsqueeze(1)
            alpha = torch.where(accept, alpha * 1.2, alpha * 0.5)
            current = torch.where(accept, candidate, current)
            log_p = torch.where(accept.squeeze(1), new_log_p, log_p)
            grad = torch.where(accept, new_grad, grad)
        else:
            current, log_p, grad = candidate, new_log_p, new_grad
    return current, history, recorded


def _value_and_grad(model: torch.nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """``log p(x)`` and its gradient with respect to the pixels only (parameters' .grad untouched)."""
    probe = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        log_p = model.log_prob(probe)
        (grad,) = torch.autograd.grad(log_p.sum(), probe)
    return log_p.detach(), grad


def _initial_fill(x: Tensor, init: str | Tensor, generator: torch.Generator | None) -> Tensor:
    if isinstance(init, Tensor):
        if init.shape not in (x.shape, x.shape[1:]):
            raise ValueError(
                f"init must have shape {tuple(x.shape[1:])} or {tuple(x.shape)}, got {tuple(init.shape)}"
            )
        init = init.to(device=x.device, dtype=x.dtype)
        if not bool(torch.isfinite(init).all()) or bool((init < 0).any()) or bool((init > 1).any()):
            raise ValueError("init must hold finite values in [0, 1]")
        return init.expand_as(x)
    if init == "uniform":
        return torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    if init == "zeros":
        return torch.zeros_like(x)
    if init == "half":
        return torch.full_like(x, 0.5)
    raise ValueError(f"init must be 'uniform', 'zeros', 'half' or a tensor, got {init!r}")


def score(filled: Tensor, truth: Tensor, missing: Tensor) -> dict[str, Tensor]:
    """Per-image error on the missing pixels only: ``{"mse": (batch,), "psnr": (batch,)}``.

    ``mse = mean over missing pixels of (filled - truth)²`` and ``psnr = 10·log10(1 / mse)`` in dB
    (peak value 1, since pixels live in [0, 1]; higher is better).
    """
    truth = check_points(truth, "truth")
    filled = check_batch(filled, truth.shape[1], "filled", finite=True)
    if filled.shape != truth.shape:
        raise ValueError(f"filled has shape {tuple(filled.shape)} but truth has {tuple(truth.shape)}")
    missing = _check_missing(missing, truth)
    weight = missing.to(truth.dtype)
    mse = ((filled - truth) ** 2 * weight).sum(dim=1) / weight.sum(dim=1)
    psnr = 10.0 * torch.log10(1.0 / mse.clamp_min(1e-12))
    return {"mse": mse, "psnr": psnr}


def mean_fill(x: Tensor, missing: Tensor, mean_image: Tensor) -> Tensor:
    """Baseline: put the mean image's pixels (e.g. the training mean) where pixels are missing."""
    x = check_points(x, "x")
    missing = _check_missing(missing, x)
    if not isinstance(mean_image, Tensor) or mean_image.shape != x.shape[1:]:
        raise ValueError(f"mean_image must be a tensor of shape {tuple(x.shape[1:])}")
    return torch.where(missing, mean_image.to(x).expand_as(x), x)


def nearest_neighbour_fill(x: Tensor, missing: Tensor, references: Tensor) -> Tensor:
    """Baseline: copy the missing pixels from the reference image closest to ``x`` on the observed pixels.

    Distance ``d(b, n) = Σ_j o_bj (x_bj - r_nj)²`` with ``o`` = observed; expanded as
    ``Σ o x² - 2 (o·x) rᵀ + o (r²)ᵀ`` so the whole batch is two matrix products.
    """
    x = check_points(x, "x")
    missing = _check_missing(missing, x)
    references = check_batch(references, x.shape[1], "references", finite=True).to(x)
    observed = (~missing).to(x.dtype)
    distance = (
        (observed * x * x).sum(dim=1, keepdim=True)
        - 2.0 * (observed * x) @ references.T
        + observed @ (references * references).T
    )
    nearest = references[distance.argmin(dim=1)]
    return torch.where(missing, nearest, x)
