"""Small helpers shared by the core: the Gaussian log-density and an eval-mode context manager."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch
from torch import Tensor, nn

#: ``log(2π)``
LOG_2PI = math.log(2.0 * math.pi)

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def gaussian_log_density(x: Tensor, mean: Tensor | float = 0.0, std: Tensor | float = 1.0) -> Tensor:
    """Elementwise ``log N(x; mean, std²) = -((x - mean)/std)²/2 - log std - log(2π)/2`` (no sum).

    ``mean`` and ``std`` broadcast against ``x``; ``std`` must be positive (not checked: a hot path).
    Sum over the last dimension for a factorised density.
    """
    # The standard case costs what the formula written out does: no subtraction of 0, no division by 1.
    z = x if isinstance(mean, (int, float)) and mean == 0 else x - mean
    if isinstance(std, Tensor):
        return -0.5 * (z / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI
    z = z if std == 1 else z / std
    return -0.5 * z * z - (math.log(std) + 0.5 * LOG_2PI)


@contextmanager
def evaluating(model: ModuleT) -> Iterator[ModuleT]:
    """``with evaluating(model):`` runs the block in eval mode and restores the previous mode after.

    Restores it even when the block raises, and leaves a model that was already in eval mode there.
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


__all__ = ["LOG_2PI", "evaluating", "gaussian_log_density"]
