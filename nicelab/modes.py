"""Peaks of a 2-D density, counted on a fine grid where the log-density is evaluated exactly.

A grid point is a peak when its ``log q`` is strictly greater than at all 8 neighbours. This finds every
local maximum separated from the others by more than a grid step, with no optimiser that could stall:
gradient ascent creeps along NICE's ridges (lesson 05), where ``log q`` climbs ever so slowly to the single
peak. The count ignores the grid's border (a border point has no full neighbourhood) and, by default,
peaks more than ``depth`` nats below the highest (a bump where the density is ``e^-depth`` times the peak's
holds no mass worth a mode's name; flows can leave such ripples far out in their tails).

Evaluated exactly: a ``torch.nn.Module`` is evaluated in float64 (on a copy), so float32 round-off cannot
make or break a tie between neighbouring points on a plateau or a ridge.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

Bounds = tuple[float, float, float, float]
LogProb = Callable[[Tensor], Tensor]


def _check_bounds(bounds: object) -> Bounds:
    ok = isinstance(bounds, (tuple, list)) and len(bounds) == 4
    ok = ok and all(
        isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b) for b in bounds
    )
    if not ok or not (bounds[0] < bounds[1] and bounds[2] < bounds[3]):  # type: ignore[index]
        raise ValueError(
            f"bounds must be finite (xmin, xmax, ymin, ymax) with xmin < xmax, ymin < ymax, got {bounds!r}"
        )
    return tuple(float(b) for b in bounds)  # type: ignore[return-value]


@torch.no_grad()
def log_prob_grid(
    log_prob: LogProb | nn.Module, bounds: Bounds, n: int = 401
) -> tuple[Tensor, Tensor, Tensor]:
    """``(xs, ys, L)`` with ``L[i, j] = log q(xs[j], ys[i])`` on an ``n x n`` grid, in float64.

    ``log_prob`` is a model with a ``log_prob`` method (evaluated on a float64 copy) or a function
    ``(m, 2) -> (m,)``.
    """
    xmin, xmax, ymin, ymax = _check_bounds(bounds)
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise ValueError(f"n must be an integer >= 3 (grid points per side), got {n!r}")
    if isinstance(log_prob, nn.Module):
        model = copy.deepcopy(log_prob).double().eval()
        fn: LogProb = model.log_prob
    elif callable(getattr(log_prob, "log_prob", None)):
        fn = log_prob.log_prob  # type: ignore[union-attr]
    elif callable(log_prob):
        fn = log_prob
    else:
        raise ValueError(
            f"log_prob must be a model with log_prob(x) or a function, got {type(log_prob).__name__}"
        )
    xs = torch.linspace(xmin, xmax, n, dtype=torch.float64)
    ys = torch.linspace(ymin, ymax, n, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    values = torch.cat([fn(points[i : i + 16384]).double() for i in range(0, points.shape[0], 16384)])
    if values.shape != (n * n,):
        raise ValueError(f"log_prob must return shape (batch,), got {tuple(values.shape)} for {n * n} points")
    return xs, ys, values.reshape(n, n)


def grid_peaks(values: Tensor, depth: float = 10.0) -> Tensor:
    """Indices ``(k, 2)`` (row, column) of the strict 8-neighbour local maxima of a 2-D grid of log-values.

    Border points are never peaks; ``-inf`` points never are; peaks lower than the highest by more than
    ``depth`` nats are dropped (``depth=math.inf`` keeps them all).
    """
    if not isinstance(values, Tensor) or values.dim() != 2 or min(values.shape) < 3:
        raise ValueError(
            f"values must be a 2-D tensor of at least 3 x 3, got {getattr(values, 'shape', values)!r}"
        )
    if not (isinstance(depth, (int, float)) and not isinstance(depth, bool) and depth > 0):
        raise ValueError(f"depth must be a positive number of nats (or math.inf), got {depth!r}")
    if torch.isnan(values).any():
        raise ValueError("values contain NaN; expected log-densities (finite or -inf)")
    v = values.double()
    # Highest of the 8 neighbours of every interior point (a 3x3 max pool with the centre masked out).
    padded = F.pad(v[None, None], (1, 1, 1, 1), value=-math.inf)[0, 0]
    rows, cols = v.shape
    neighbours = torch.stack(
        [
            padded[1 + di : 1 + di + rows, 1 + dj : 1 + dj + cols]
            for di in (-1, 0, 1)
            for dj in (-1, 0, 1)
            if (di, dj) != (0, 0)
        ]
    ).amax(dim=0)
    peak = (v > neighbours) & torch.isfinite(v)
    peak[0, :] = peak[-1, :] = peak[:, 0] = peak[:, -1] = False
    if peak.any() and math.isfinite(depth):
        peak &= v >= v[peak].max() - depth
    return peak.nonzero()


def count_modes(log_prob: LogProb | nn.Module, bounds: Bounds, n: int = 401, depth: float = 10.0) -> int:
    """The number of peaks of ``q`` inside ``bounds``: strict local maxima of ``log q`` on an ``n x n`` grid.

    A NICE (additive couplings, log-concave prior) has exactly one (lesson 05); a mixture of well-separated
    Gaussians has one per component. Use a grid fine enough that two peaks are at least two steps apart, and
    bounds that contain them (the border is never counted). See :func:`grid_peaks` for ``depth``.
    """
    return int(grid_peaks(log_prob_grid(log_prob, bounds, n)[2], depth).shape[0])


def find_modes(log_prob: LogProb | nn.Module, bounds: Bounds, n: int = 401, depth: float = 10.0) -> Tensor:
    """Locations ``(k, 2)`` of the peaks :func:`count_modes` counts, highest first."""
    xs, ys, values = log_prob_grid(log_prob, bounds, n)
    idx = grid_peaks(values, depth)
    order = values[idx[:, 0], idx[:, 1]].argsort(descending=True)
    idx = idx[order]
    return torch.stack([xs[idx[:, 1]], ys[idx[:, 0]]], dim=1)


__all__ = ["count_modes", "find_modes", "grid_peaks", "log_prob_grid"]
