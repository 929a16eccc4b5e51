"""One-dimensional change of variables: push a base density through an invertible map.

Direction: this module follows the lecture notes, ``x = f(z)`` with ``z ~ p_Z`` (the *decoder*
direction; the package's transforms call ``z -> x`` their ``inverse``). Each :class:`Map1D` knows

* ``f(z)``: the map, strictly monotone on the whole real line;
* ``f_inv(x)``: its inverse, defined on ``support`` (NaN outside);
* ``log_abs_df_inv(x)``: ``log|d f^{-1}(x)/dx|``, the 1-D Jacobian factor of the inverse;
* ``log_abs_df(z)``: ``log|d f(z)/dz|`` (equal to ``-log_abs_df_inv(f(z))``).

The correct density of ``x`` is the push-forward

    log p_X(x) = log p_Z(f^{-1}(x)) + log|d f^{-1}(x)/dx|       (:func:`pushforward_log_prob`)

and it integrates to 1. Dropping the Jacobian factor, ``p_Z(f^{-1}(x))`` (:func:`naive_log_prob`), is
the classic mistake: it integrates to ``E_Z|f'(Z)|`` instead of 1 (substitute ``x = f(z)``).

Core module: torch only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from nicelab._checks import check_real, check_values
from nicelab._utils import gaussian_log_density

LogProb = Callable[[Tensor], Tensor]


def normal_log_prob(z: Tensor) -> Tensor:
    """Standard normal log-density ``-z^2/2 - log sqrt(2 pi)``, elementwise."""
    check_values(z, "z")
    return gaussian_log_density(z)


class Map1D:
    """An invertible map of the real line (see the module docstring for the four methods)."""

    #: where ``f`` takes its values: ``f_inv`` is defined there and the density is 0 outside
    support: tuple[float, float] = (-math.inf, math.inf)
    name = "map"

    def f(self, z: Tensor) -> Tensor:
        """``x = f(z)``."""
        return self._f(check_values(z, "z"))

    def f_inv(self, x: Tensor) -> Tensor:
        """``z = f^{-1}(x)``; NaN outside ``support``."""
        x = check_values(x)
        return torch.where(self._inside(x), self._f_inv(x), torch.full_like(x, math.nan))

    def log_abs_df_inv(self, x: Tensor) -> Tensor:
        """``log|d f^{-1}(x)/dx|``; NaN outside ``support``."""
        x = check_values(x)
        return torch.where(self._inside(x), self._log_abs_df_inv(x), torch.full_like(x, math.nan))

    def log_abs_df(self, z: Tensor) -> Tensor:
        """``log|d f(z)/dz|``, the local stretch of the line at ``z``."""
        return self._log_abs_df(check_values(z, "z"))

    def _inside(self, x: Tensor) -> Tensor:
        lo, hi = self.support
        return (x > lo) & (x < hi)

    # subclasses implement these four on checked input
    def _f(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _f_inv(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _log_abs_df_inv(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _log_abs_df(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class Affine(Map1D):
    """``x = a z + b`` with ``a != 0``; ``|d f^{-1}/dx| = 1/|a|`` everywhere (``a < 0`` flips the line)."""

    def __init__(self, a: float = 2.0, b: float = 0.0) -> None:
        self.a = check_real(a, "a", nonzero=True)
        self.b = check_real(b, "b")
        self.name = f"x = {self.a:g} z {'-' if self.b < 0 else '+'} {abs(self.b):g}"

    def _f(self, z):
        return self.a * z + self.b

    def _f_inv(self, x):
        return (x - self.b) / self.a

    def _log_abs_df_inv(self, x):
        return torch.full_like(x, -math.log(abs(self.a)))

    def _log_abs_df(self, z):
        return torch.full_like(z, math.log(abs(self.a)))


class Exp(Map1D):
    """``x = exp(a z)`` with ``a != 0`` (a standard normal ``z`` gives a log-normal ``x``); ``x > 0``."""

    support = (0.0, math.inf)

    def __init__(self, a: float = 1.0) -> None:
        self.a = check_real(a, "a", nonzero=True)
        self.name = f"x = exp({self.a:g} z)"

    def _f(self, z):
        return torch.exp(self.a * z)

    def _f_inv(self, x):
        return torch.log(x) / self.a

    def _log_abs_df_inv(self, x):
        return -torch.log(x) - math.log(abs(self.a))

    def _log_abs_df(self, z):
        return self.a * z + math.log(abs(self.a))


class Sinh(Map1D):
    """``x = sinh(a z)`` with ``a != 0``: nearly linear near 0, exponential tails (heavy-tailed ``x``)."""

    def __init__(self, a: float = 1.0) -> None:
        self.a = check_real(a, "a", nonzero=True)
        self.name = f"x = sinh({self.a:g} z)"

    def _f(self, z):
        return torch.sinh(self.a * z)

    def _f_inv(self, x):
        return torch.asinh(x) / self.a

    def _log_abs_df_inv(self, x):
        # d asinh(x)/dx = 1/sqrt(1 + x^2)
        return -0.5 * torch.log1p(x**2) - math.log(abs(self.a))

    def _log_abs_df(self, z):
        # log cosh(u) = |u| + log1p(exp(-2|u|)) - log 2, stable for large |u|
        u = (self.a * z).abs()
        return u + torch.log1p(torch.exp(-2 * u)) - math.log(2.0) + math.log(abs(self.a))


class Cubic(Map1D):
    """``x = z + a z^3`` with ``a >= 0`` (strictly increasing since ``f'(z) = 1 + 3 a z^2 >= 1``).

    The inverse solves the cubic with Newton's method started to the right of the root (for
    ``x > 0``; odd symmetry handles ``x < 0``), where the convex increasing ``f`` makes Newton
    converge monotonically; it stops once no point moves by more than rounding (< 10 steps).
    """

    newton_steps = 60

    def __init__(self, a: float = 0.5) -> None:
        self.a = check_real(a, "a")
        if self.a < 0:
            raise ValueError(f"a must be >= 0 (a < 0 makes x = z + a z^3 non-monotone), got {a!r}")
        self.name = f"x = z + {self.a:g} z^3"

    def _f(self, z):
        return z + self.a * z**3

    def _f_inv(self, x):
        if self.a == 0:
            return x.clone()
        target = x.abs()
        # both x and (x/a)^(1/3) lie at or right of the root of z + a z^3 = |x|; start at the smaller
        z = torch.minimum(target, (target / self.a).pow(1.0 / 3.0))
        for _ in range(self.newton_steps):
            step = (z + self.a * z * z * z - target) / (1 + 3 * self.a * z * z)
            z = z - step
            # from this start Newton needs < 10 steps; stop once no point moves by more than rounding
            if not bool((step.abs() > 4 * torch.finfo(z.dtype).eps * z.abs()).any()):
                break
        return torch.sign(x) * z

    def _log_abs_df_inv(self, x):
        return -self._log_abs_df(self._f_inv(x))

    def _log_abs_df(self, z):
        return torch.log1p(3 * self.a * z**2)


class Chain1D(Map1D):
    """``f = f_K ∘ … ∘ f_1``: a 1-D normalizing flow. The log-derivatives of the steps add up.

    ``log|d f^{-1}/dx| = Σ_k log|d f_k^{-1}/dx_k|`` evaluated at the intermediate points
    ``x_K = x, x_{k-1} = f_k^{-1}(x_k)`` (chain rule), which is the notes' per-layer sum.
    """

    def __init__(self, maps: Sequence[Map1D]) -> None:
        steps = list(maps)
        if not steps or not all(isinstance(m, Map1D) for m in steps):
            raise ValueError("Chain1D needs a non-empty sequence of Map1D steps")
        self.maps = steps
        # a continuous strictly monotone map sends R onto the open interval between its limits
        ends = self._f(torch.tensor([-math.inf, math.inf], dtype=torch.float64)).tolist()
        self.support = (min(ends), max(ends))
        self.name = " then ".join(m.name for m in steps)

    def _f(self, z):
        for m in self.maps:
            z = m.f(z)
        return z

    def intermediates(self, z: Tensor) -> list[Tensor]:
        """``[z, f_1(z), f_2(f_1(z)), …, x]``: the sample after each step."""
        states = [check_values(z, "z")]
        for m in self.maps:
            states.append(m.f(states[-1]))
        return states

    def step_log_abs_df_inv(self, x: Tensor) -> list[Tensor]:
        """Per-step terms ``log|d f_k^{-1}/dx_k|`` at the intermediate points, for ``k = K … 1``.

        Entries are NaN where an intermediate point falls outside its step's support.
        """
        x = check_values(x)
        terms = []
        for m in reversed(self.maps):
            inside = m._inside(x)
            safe = torch.where(inside, x, torch.full_like(x, _interior(m)))
            nan = torch.full_like(x, math.nan)
            terms.append(torch.where(inside, m._log_abs_df_inv(safe), nan))
            x = torch.where(inside, m._f_inv(safe), nan)
        return terms

    def _f_inv(self, x):
        for m in reversed(self.maps):
            inside = m._inside(x)
            safe = torch.where(inside, x, torch.full_like(x, _interior(m)))
            x = torch.where(inside, m._f_inv(safe), torch.full_like(x, math.nan))
        return x

    def _log_abs_df_inv(self, x):
        return torch.stack(self.step_log_abs_df_inv(x)).sum(dim=0)

    def _log_abs_df(self, z):
        total = torch.zeros_like(z)
        for m in self.maps:
            total = total + m.log_abs_df(z)
            z = m.f(z)
        return total


def pushforward_log_prob(x: Tensor, fmap: Map1D, base_log_prob: LogProb = normal_log_prob) -> Tensor:
    """The correct ``log p_X(x) = log p_Z(f^{-1}(x)) + log|d f^{-1}(x)/dx|``; ``-inf`` outside the support."""
    x = check_values(x)
    if not isinstance(fmap, Map1D):
        raise ValueError(f"fmap must be a Map1D, got {type(fmap).__name__}")
    inside = fmap._inside(x)
    safe = torch.where(inside, x, torch.full_like(x, _interior(fmap)))
    value = base_log_prob(fmap.f_inv(safe)) + fmap.log_abs_df_inv(safe)
    return torch.where(inside, value, torch.full_like(x, -math.inf))


def naive_log_prob(x: Tensor, fmap: Map1D, base_log_prob: LogProb = normal_log_prob) -> Tensor:
    """The WRONG ``log p_Z(f^{-1}(x))`` (no Jacobian factor), for contrast; ``-inf`` outside the support.

    It is not a density: it integrates to ``E_Z|f'(Z)|``, not 1.
    """
    x = check_values(x)
    if not isinstance(fmap, Map1D):
        raise ValueError(f"fmap must be a Map1D, got {type(fmap).__name__}")
    inside = fmap._inside(x)
    safe = torch.where(inside, x, torch.full_like(x, _interior(fmap)))
    return torch.where(inside, base_log_prob(fmap.f_inv(safe)), torch.full_like(x, -math.inf))


def _interior(fmap: Map1D) -> float:
    """A point inside the support: ``f(0)`` (used to keep masked-out evaluations finite)."""
    return float(fmap._f(torch.zeros((), dtype=torch.float64)))


def sample_pushforward(fmap: Map1D, n: int, generator: torch.Generator | None = None, dtype=torch.float64):
    """Draw ``z ~ N(0, 1)`` (``n`` of them) and return ``(z, x = f(z))``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(fmap, Map1D):
        raise ValueError(f"fmap must be a Map1D, got {type(fmap).__name__}")
    z = torch.randn(n, generator=generator, dtype=dtype)
    return z, fmap.f(z)


def grid(lo: float, hi: float, n: int = 2001, dtype=torch.float64) -> Tensor:
    """``n`` evenly spaced points from ``lo`` to ``hi`` (inclusive)."""
    lo, hi = check_real(lo, "lo"), check_real(hi, "hi")
    if not hi > lo:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    return torch.linspace(lo, hi, n, dtype=dtype)


def trapezoid(y: Tensor, x: Tensor) -> float:
    """``∫ y dx`` by the trapezoid rule on strictly increasing ``x``: ``Σ_i (y_i + y_{i+1}) Δx_i / 2``."""
    y, x = check_values(y, "y"), check_values(x, "x")
    if x.dim() != 1 or y.shape != x.shape:
        raise ValueError(f"x and y must be 1-D of the same length, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.numel() < 2:
        raise ValueError("need at least two grid points to integrate")
    dx = x[1:] - x[:-1]
    if not bool((dx > 0).all()):
        raise ValueError("x must be strictly increasing")
    if not bool(torch.isfinite(y).all()):
        raise ValueError(
            "y must be finite on the grid (an infinite density cannot be integrated numerically)"
        )
    return float(0.5 * ((y[1:] + y[:-1]) * dx).sum())


def integrate_density(log_prob: LogProb, lo: float, hi: float, n: int = 20001) -> float:
    """``∫_lo^hi exp(log_prob(x)) dx`` by the trapezoid rule on ``n`` points (float64)."""
    xs = grid(lo, hi, n)
    return trapezoid(log_prob(xs).exp(), xs)


def histogram_density(samples: Tensor, edges: Tensor) -> Tensor:
    """Histogram of ``samples`` normalised as a density over *all* samples: ``count / (N · width)``.

    Samples outside ``[edges[0], edges[-1]]`` count in ``N`` but in no bin, so the bars compare
    directly with the true density on the shown range.
    """
    samples, edges = check_values(samples, "samples"), check_values(edges, "edges")
    if edges.dim() != 1 or edges.numel() < 2 or not bool((edges[1:] > edges[:-1]).all()):
        raise ValueError("edges must be a 1-D strictly increasing tensor with at least two entries")
    flat = samples.reshape(-1).to(edges.dtype)
    counts = torch.histogram(flat.cpu(), bins=edges.cpu()).hist.to(edges.device)
    return counts / (flat.numel() * (edges[1:] - edges[:-1]))
