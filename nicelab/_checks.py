"""Input validation shared by every public function: clear ``ValueError`` messages."""

from __future__ import annotations

import torch
from torch import Tensor


def check_batch(x: object, dim: int, name: str = "x", *, finite: bool = False) -> Tensor:
    """Check that ``x`` is a non-empty ``(batch, dim)`` floating tensor and return it.

    ``finite=True`` also rejects NaN and infinity (one reduction, so keep it off hot inner layers).
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (batch, {dim}), got {type(x).__name__}")
    if x.dim() != 2 or x.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (batch, {dim}), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch: expected shape (batch, {dim}) with batch >= 1")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinity; expected finite values")
    return x


def check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value
