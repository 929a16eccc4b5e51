"""Scoring a trained density model on MNIST: the mean exact test log-likelihood.

Work layer: it uses a model (any module with ``log_prob``) and the data layer's dequantization, so it
lives above both. ``nicelab.data.evaluate`` still finds it (the function lived there before).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nicelab._checks import check_finite
from nicelab._utils import evaluating
from nicelab.data import dequantize


@torch.no_grad()  # scoring only: no graph, no 'requires_grad to scalar' warning
def evaluate(
    model: torch.nn.Module,
    images: Tensor,
    batch_size: int = 1000,
    generator: torch.Generator | None = None,
) -> float:
    """Mean exact test log-likelihood in nats (data in ``[0, 1]``), evaluated in float32.

    ``images`` are uint8 pixels (dequantized here with ``generator``; ``None`` uses a fresh generator
    seeded 0, so evaluating the same model twice gives the same number) or an already dequantized
    float ``(N, 784)`` tensor. The model is put in eval mode and restored afterwards.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not hasattr(model, "log_prob"):
        raise ValueError("model must have a log_prob(x) method")
    if isinstance(images, Tensor) and images.is_floating_point():
        x = images.reshape(images.shape[0], -1) if images.dim() > 1 else images
        check_finite(x, "images")  # else a NaN pixel would be reported as a diverged model below
    else:
        x = dequantize(images, generator if generator is not None else torch.Generator().manual_seed(0))
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"images must be a non-empty batch, got shape {tuple(x.shape)}")
    with evaluating(model):
        param = next(model.parameters(), None)
        device = param.device if param is not None else x.device
        # float32 unless the model itself is float64 (bf16 training still evaluates in fp32)
        dtype = param.dtype if param is not None and param.dtype == torch.float64 else torch.float32
        total = 0.0
        for start in range(0, x.shape[0], batch_size):
            chunk = x[start : start + batch_size].to(device=device, dtype=dtype)
            total += float(model.log_prob(chunk).double().sum())
    mean = total / x.shape[0]
    if not math.isfinite(mean):
        raise FloatingPointError(f"the mean log-likelihood is {mean}; the model has diverged")
    return mean


__all__ = ["evaluate"]
