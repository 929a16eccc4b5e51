"""Input validation shared by every public function: clear ``ValueError`` messages."""

from __future__ import annotations

import math

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
    if finite:
        check_finite(x, name)
    return x


def _non_finite_counts(x: Tensor) -> str:
    """``"2 NaN, 1 +inf"``: what a tensor holds instead of finite values (the error path only)."""
    counts = {"NaN": torch.isnan(x), "+inf": torch.isposinf(x), "-inf": torch.isneginf(x)}
    return ", ".join(f"{int(mask.sum())} {kind}" for kind, mask in counts.items() if bool(mask.any()))


def check_finite(x: Tensor, name: str = "x") -> Tensor:
    """Check that every entry of the tensor ``x`` is finite (no NaN, no ±inf) and return it.

    One reduction on the fast path; the counts of NaN and ±inf are computed only for the message.
    """
    if x.is_floating_point() or x.is_complex():
        if not bool(torch.isfinite(x).all()):
            raise ValueError(
                f"{name} contains NaN or infinity ({_non_finite_counts(x)}); expected finite values"
            )
    return x


def check_not_nan(x: Tensor, name: str = "x") -> Tensor:
    """Check that the tensor ``x`` holds no NaN (±inf allowed, e.g. a log-density of -inf) and return it."""
    if x.is_floating_point() and bool(torch.isnan(x).any()):
        raise ValueError(f"{name} contains {int(torch.isnan(x).sum())} NaN; expected numbers (±inf allowed)")
    return x


def check_finite_number(value: object, name: str) -> float | Tensor:
    """Check that ``value`` is a real number or a real tensor with only finite entries; return it.

    Python ``bool`` is refused (``True`` is an int, but never a meaningful measurement).
    """
    if isinstance(value, Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise ValueError(f"{name} must be a real number or tensor, got a {value.dtype} tensor")
        return check_finite(value, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a real number or tensor, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_points(x: object, name: str = "x") -> Tensor:
    """Check that ``x`` is a finite, non-empty ``(batch, D)`` floating tensor of any ``D`` and return it."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (batch, D), got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (batch, D), got {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty: expected shape (batch, D) with batch >= 1 and D >= 1")
    return check_batch(x, x.shape[1], name, finite=True)


def check_values(x: object, name: str = "x") -> Tensor:
    """Check that ``x`` is a non-empty floating tensor of any shape without NaN (±inf allowed)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty: expected at least one value")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return check_not_nan(x, name)


def check_real(value: object, name: str, *, nonzero: bool = False, positive: bool = False) -> float:
    """Check that ``value`` is a finite real number (optionally non-zero or positive); return it as float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if nonzero and value == 0:
        raise ValueError(f"{name} must be non-zero (the map would not be invertible), got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


def check_generator(generator: object) -> None:
    """Check that ``generator`` is a ``torch.Generator`` or ``None``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
