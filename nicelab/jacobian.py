"""Jacobians of batched maps, their log-determinants, and a geometric check of ``|det J|``.

A map ``f`` here takes a ``(batch, D)`` tensor and returns ``(batch, D)`` (or a tuple whose first
element is that, as every :class:`nicelab.Transform` does), acting on each row independently.
Then for every sample ``x_b``

* :func:`jacobian` gives ``J_b = ∂f(x_b)/∂x_b`` of shape ``(D, D)`` (rows: outputs, columns: inputs);
* :func:`log_abs_det` gives ``log|det J_b|``, the log of the factor by which ``f`` scales volume near
  ``x_b``: the term the change-of-variables formula adds to a log-density;
* :func:`area_change` *measures* that factor without autograd, by mapping a tiny square (``D = 2``)
  or box (``D > 2``) around ``x_b`` and comparing volumes: it should agree with ``|det J_b|``;
* :func:`time_log_det` times a dense ``slogdet`` (LU, ``O(D^3)``) against the diagonal product a
  triangular Jacobian allows (``O(D)``), the reason coupling layers are built triangular.

Core module: torch only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from nicelab._checks import check_points, check_positive_int

BatchedMap = Callable[[Tensor], Tensor | tuple[Tensor, ...]]


def _apply(f: BatchedMap, x: Tensor) -> Tensor:
    """Call ``f`` and keep the mapped points (the first element if ``f`` returns a tuple)."""
    out = f(x)
    if isinstance(out, tuple):
        out = out[0]
    if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != x.shape[0]:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"f must map (batch, D) to (batch, D_out) row by row, got output {shape}")
    return out


def jacobian(f: BatchedMap, x: Tensor, *, create_graph: bool = False) -> Tensor:
    """Per-sample Jacobians ``J[b, i, j] = ∂f(x)[b, i] / ∂x[b, j]``, shape ``(batch, D_out, D)``.

    ``f`` must treat rows independently (no batch statistics), so that
    ``∂ Σ_b f(x)[b, i] / ∂x[b, j]`` equals sample ``b``'s own Jacobian: one vectorised autograd call
    then gives every sample's Jacobian at once. Works under ``torch.no_grad()`` too.

    Example: for ``f(x) = 2 x`` in 2-D, ``jacobian(f, x)[b]`` is ``[[2, 0], [0, 2]]`` for every ``b``.
    """
    check_points(x)

    def summed(points: Tensor) -> Tensor:
        # Summing over the batch is safe because row b of the output depends only on row b of x.
        return _apply(f, points).sum(dim=0)

    full = torch.autograd.functional.jacobian(summed, x, create_graph=create_graph, vectorize=True)
    return full.permute(1, 0, 2)  # (D_out, batch, D) -> (batch, D_out, D)


#: from this matrix size up, log_abs_det factorises the per-sample Jacobians one by one
_BATCHED_SLOGDET_MAX_DIM = 128


def log_abs_det(f: BatchedMap, x: Tensor) -> Tensor:
    """``log|det ∂f/∂x|`` at each sample, shape ``(batch,)``, via autograd and ``slogdet``.

    This is the brute-force reference every cheap log-det in the package is checked against. It is
    ``-inf`` where the Jacobian is singular (``f`` is not locally invertible there).
    """
    J = jacobian(f, x)
    if J.shape[1] != J.shape[2]:
        raise ValueError(f"log_abs_det needs a square Jacobian (f: R^D -> R^D), got {tuple(J.shape[1:])}")
    if J.shape[1] < _BATCHED_SLOGDET_MAX_DIM:
        return torch.linalg.slogdet(J).logabsdet
    # One matrix at a time for large D: with torch 2.13's CPU build, a *batched* slogdet of 256 x 256 or
    # larger matrices fails inside MKL's row swaps after torch.set_num_threads(n > 1); single ones work.
    return torch.stack([torch.linalg.slogdet(j).logabsdet for j in J])


def _square_boundary(n_per_side: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Counter-clockwise points on the boundary of the square ``[-1/2, 1/2]^2``, shape ``(4n, 2)``."""
    t = torch.arange(n_per_side, dtype=dtype, device=device) / n_per_side - 0.5
    half = torch.full_like(t, 0.5)
    bottom = torch.stack([t, -half], dim=1)
    right = torch.stack([half, t], dim=1)
    top = torch.stack([-t, half], dim=1)
    left = torch.stack([-half, -t], dim=1)
    return torch.cat([bottom, right, top, left])


def polygon_area(vertices: Tensor) -> Tensor:
    """Signed area of closed polygons by the shoelace formula: ``(..., n, 2) -> (...)``.

    Positive when the vertices run counter-clockwise, negative when clockwise.
    """
    if not isinstance(vertices, Tensor) or vertices.dim() < 2 or vertices.shape[-1] != 2:
        raise ValueError(f"vertices must have shape (..., n, 2), got {getattr(vertices, 'shape', vertices)}")
    if vertices.shape[-2] < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {vertices.shape[-2]}")
    x, y = vertices[..., 0], vertices[..., 1]
    return 0.5 * (x * y.roll(-1, dims=-1) - x.roll(-1, dims=-1) * y).sum(dim=-1)


@torch.no_grad()
def area_change(f: BatchedMap, x: Tensor, eps: float = 1e-3, *, signed: bool = False, n_per_side: int = 8):
    """Measure how much ``f`` scales a tiny square (box) around each point, without autograd.

    * ``D = 2``: the boundary of the square of side ``eps`` centred on ``x_b`` is sampled
      (``n_per_side`` points per side), mapped through ``f``, and the mapped polygon's area (shoelace)
      is divided by ``eps^2``.
    * ``D > 2`` (and ``D = 1``): the box's edge vectors ``eps e_j`` are mapped by central differences,
      ``v_j = f(x + eps e_j / 2) - f(x - eps e_j / 2)``, and the volume of the parallelotope they span,
      ``det[v_1 … v_D]``, is divided by ``eps^D``.

    Both converge to ``det J(x_b)`` as ``eps -> 0`` (error ``O(eps^2)`` for smooth ``f``). With
    ``signed=False`` (default) the magnitude ``|det J|`` is returned; ``signed=True`` keeps the sign,
    which is negative where ``f`` flips orientation (a mirror image has the same area).
    Use float64 inputs for ``eps`` much below ``1e-3``: the differences lose digits otherwise.
    """
    check_points(x)
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    check_positive_int(n_per_side, "n_per_side")
    batch, dim = x.shape
    if dim == 2:
        square = eps * _square_boundary(n_per_side, x.dtype, x.device)  # (m, 2)
        corners = (x[:, None, :] + square[None]).reshape(-1, 2)
        mapped = _apply(f, corners)
        if mapped.shape[1] != 2:
            raise ValueError(f"area_change needs f: R^2 -> R^2, got output dimension {mapped.shape[1]}")
        ratio = polygon_area(mapped.reshape(batch, -1, 2)) / eps**2
    else:
        steps = 0.5 * eps * torch.eye(dim, dtype=x.dtype, device=x.device)  # (D, D): row j is eps e_j / 2
        plus = _apply(f, (x[:, None, :] + steps[None]).reshape(-1, dim))
        minus = _apply(f, (x[:, None, :] - steps[None]).reshape(-1, dim))
        if plus.shape[1] != dim:
            raise ValueError(f"area_change needs f: R^D -> R^D, got D={dim} -> {plus.shape[1]}")
        edges = (plus - minus).reshape(batch, dim, dim)  # row j: the image of edge j
        ratio = torch.linalg.det(edges.transpose(1, 2)) / eps**dim
    return ratio if signed else ratio.abs()


def _best_time(fn: Callable[[], Tensor], repeats: int) -> float:
    """Fastest of ``repeats`` timed calls (the minimum is the least noisy estimate on a shared machine)."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def triangular_log_abs_det(matrix: Tensor) -> Tensor:
    """``log|det A|`` of a (batch of) triangular matrix: ``Σ_i log|A_ii|``, ``O(D)`` work.

    Only valid for triangular ``A`` (the determinant is then the product of the diagonal).
    """
    if not isinstance(matrix, Tensor) or matrix.dim() < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"matrix must be square, shape (..., D, D), got {getattr(matrix, 'shape', matrix)}")
    return torch.diagonal(matrix, dim1=-2, dim2=-1).abs().log().sum(dim=-1)


def random_triangular(dim: int, generator: torch.Generator | None = None, dtype=torch.float64) -> Tensor:
    """A well-conditioned random lower-triangular ``(dim, dim)`` matrix, as a coupling layer's Jacobian.

    The diagonal is ``exp(u)`` with ``u ~ U(-1/2, 1/2)``; the strictly lower part is Gaussian noise
    scaled by ``1/sqrt(dim)``.
    """
    check_positive_int(dim, "dim")
    lower = torch.randn(dim, dim, generator=generator, dtype=dtype).tril(-1) / math.sqrt(dim)
    diag = torch.exp(torch.rand(dim, generator=generator, dtype=dtype) - 0.5)
    return lower + torch.diag(diag)


def time_log_det(
    dims: Sequence[int], repeats: int = 3, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> list[dict[str, float]]:
    """Time ``log|det A|`` for a random triangular ``A`` of each size in ``dims``, two ways.

    Returns one dict per size with ``dim``, ``dense_seconds`` (``torch.linalg.slogdet``, an LU
    factorisation: ``O(D^3)`` whatever the structure), ``triangular_seconds`` (sum of log-diagonal,
    ``O(D)``), both best-of-``repeats``, and ``abs_difference`` between the two answers (they must
    agree: the cheap one is exact, not an approximation, when ``A`` is triangular).
    """
    if isinstance(dims, str) or not isinstance(dims, Sequence) or len(dims) == 0:
        raise ValueError(f"dims must be a non-empty sequence of positive integers, got {dims!r}")
    for d in dims:
        check_positive_int(d, "each entry of dims")
    check_positive_int(repeats, "repeats")
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for dim in dims:
        matrix = random_triangular(dim, generator, dtype)
        dense = torch.linalg.slogdet(matrix).logabsdet
        cheap = triangular_log_abs_det(matrix)
        rows.append(
            {
                "dim": float(dim),
                "dense_seconds": _best_time(lambda m=matrix: torch.linalg.slogdet(m), repeats),
                "triangular_seconds": _best_time(lambda m=matrix: triangular_log_abs_det(m), repeats),
                "abs_difference": float((dense - cheap).abs()),
            }
        )
    return rows
