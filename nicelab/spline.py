"""Monotone rational-quadratic spline coupling (Durkan, Bekasov, Murray & Papamakarios 2019, "Neural Spline
Flows"), written from the paper's formulas.

**The elementwise map.** On ``[-B, B]`` a spline with ``K`` bins has knots
``-B = x_0 < x_1 < … < x_K = B`` and ``-B = y_0 < … < y_K = B`` and positive derivatives ``d_k`` at the
knots, ``d_0 = d_K = 1`` so that it joins the identity tails ``g(x) = x`` outside ``[-B, B]`` with a
continuous first derivative. In bin ``k`` write ``w = x_{k+1} - x_k``, ``h = y_{k+1} - y_k``, the bin's
slope ``σ = h / w``, the position ``ξ = (x - x_k) / w ∈ [0, 1]`` and ``θ = ξ (1 - ξ)``. Then::

    g(x)  = y_k + h (σ ξ² + d_k θ) / (σ + (d_{k+1} + d_k - 2σ) θ)
    g'(x) = σ² (d_{k+1} ξ² + 2σ θ + d_k (1 - ξ)²) / (σ + (d_{k+1} + d_k - 2σ) θ)²

``g(x_k) = y_k``, ``g(x_{k+1}) = y_{k+1}``, ``g'(x_k) = d_k``, ``g'(x_{k+1}) = d_{k+1}``, and ``g' > 0``
everywhere (all three terms of the numerator are >= 0 and not all 0), so ``g`` is a strictly increasing
bijection of the real line, smooth inside each bin and C¹ across knots.

**The exact inverse.** Given ``y`` in bin ``k`` put ``Δ = y - y_k`` and ``c₂ = d_{k+1} + d_k - 2σ``.
Multiplying ``g(x) = y`` out by the denominator gives a quadratic ``a ξ² + b ξ + c = 0`` with::

    a = h (σ - d_k) + Δ c₂,   b = h d_k - Δ c₂,   c = -σ Δ

Because ``c <= 0`` and the map is monotone, the root in ``[0, 1]`` is
``ξ = 2c / (-b - √(b² - 4ac))``; this form has no cancellation when ``a`` is near 0.

**The coupling.** ``z_keep = x_keep``, ``z_change = g(x_change; θ(x_keep))``: a conditioner network reads the
kept half and emits, for each changed coordinate, ``K`` raw widths, ``K`` raw heights and ``K - 1`` raw
interior derivatives. Widths and heights go through a softmax (plus a floor ``min_bin``), derivatives through
a shifted softplus (plus a floor ``min_derivative``; a raw 0 gives derivative 1, so a zero network output is
the identity). The Jacobian is triangular, hence ``log|det dz/dx| = Σ_j log g'(x_change,j)``, which depends
on ``x`` (unlike NICE's additive coupling, whose log-det is 0).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nicelab.coupling import Coupling, mlp
from nicelab.flows import CouplingFlow, CouplingFlowBase

DEFAULT_BINS = 8
DEFAULT_BOUND = 5.0


def _check_spline_params(x: Tensor, widths: Tensor, heights: Tensor, derivatives: Tensor) -> int:
    """Validate the raw spline parameters against ``x``; return the number of bins ``K``."""
    for name, value in (("x", x), ("widths", widths), ("heights", heights), ("derivatives", derivatives)):
        if not isinstance(value, Tensor) or not value.is_floating_point():
            raise ValueError(f"{name} must be a floating-point torch.Tensor, got {type(value).__name__}")
    bins = widths.shape[-1]
    if bins < 2:
        raise ValueError(f"a spline needs at least 2 bins (widths.shape[-1] >= 2), got {bins}")
    expected = {"widths": (*x.shape, bins), "heights": (*x.shape, bins), "derivatives": (*x.shape, bins - 1)}
    for name, value in (("widths", widths), ("heights", heights), ("derivatives", derivatives)):
        if tuple(value.shape) != expected[name]:
            raise ValueError(
                f"{name} must have shape {expected[name]} for x of shape {tuple(x.shape)}, "
                f"got {tuple(value.shape)}"
            )
    return bins


def _knots(raw: Tensor, bound: float, min_bin: float) -> tuple[Tensor, Tensor]:
    """Bins from raw values: ``(knots (…, K+1) from -B to B, sizes (…, K))``, each size >= ``2B·min_bin``.

    The end knots are set to exactly ``±B`` (a cumulative sum would miss ``B`` by round-off) and the sizes are
    recomputed as knot differences, so that knots and sizes agree to the last bit.
    """
    bins = raw.shape[-1]
    fractions = min_bin + (1.0 - min_bin * bins) * torch.softmax(raw, dim=-1)
    knots = 2.0 * bound * F.pad(torch.cumsum(fractions, dim=-1), (1, 0)) - bound
    knots = torch.cat(
        [torch.full_like(knots[..., :1], -bound), knots[..., 1:-1], torch.full_like(knots[..., :1], bound)],
        dim=-1,
    )
    return knots, knots[..., 1:] - knots[..., :-1]


def _derivatives(raw: Tensor, min_derivative: float) -> Tensor:
    """Knot derivatives ``(…, K+1)``: 1 at both ends (the identity tails), ``min_d + softplus`` inside.

    The softplus is shifted so that a raw 0 gives exactly 1 (zero network output: identity map).
    """
    offset = math.log(math.expm1(1.0 - min_derivative))
    inner = min_derivative + F.softplus(raw + offset)
    one = torch.ones_like(inner[..., :1])
    return torch.cat([one, inner, one], dim=-1)


def _gather(t: Tensor, index: Tensor) -> Tensor:
    return torch.gather(t, -1, index).squeeze(-1)


def rational_quadratic_spline(
    x: Tensor,
    widths: Tensor,
    heights: Tensor,
    derivatives: Tensor,
    *,
    bound: float = DEFAULT_BOUND,
    inverse: bool = False,
    min_bin: float = 1e-3,
    min_derivative: float = 1e-3,
) -> tuple[Tensor, Tensor]:
    """Apply the monotone rational-quadratic spline elementwise (see the module docstring for the math).

    Args:
        x: values of any shape ``S``.
        widths, heights: raw (unnormalised) bin widths and heights, shape ``(*S, K)``.
        derivatives: raw interior-knot derivatives, shape ``(*S, K - 1)``.
        bound: the spline acts on ``[-bound, bound]``; outside, the map is the identity.
        inverse: apply ``g⁻¹`` instead of ``g``.

    Returns:
        ``(y, log|dy/dx|)`` elementwise, both of shape ``S``; the log-derivative is 0 in the tails, and the
        inverse's is minus the forward's at the matching point.

    Raises:
        ValueError: shapes that do not match, fewer than 2 bins, a bad bound or floors.
    """
    bins = _check_spline_params(x, widths, heights, derivatives)
    if not (isinstance(bound, (int, float)) and not isinstance(bound, bool) and 0 < bound < math.inf):
        raise ValueError(f"bound must be a positive finite number, got {bound!r}")
    if not (0 <= min_bin < 1.0 / bins) or not (0 <= min_derivative < 1.0):
        raise ValueError(
            f"need 0 <= min_bin < 1/K = {1.0 / bins} and 0 <= min_derivative < 1, "
            f"got {min_bin!r} and {min_derivative!r}"
        )
    xs, w_all = _knots(widths, bound, min_bin)
    ys, h_all = _knots(heights, bound, min_bin)
    d_all = _derivatives(derivatives, min_derivative)

    inside = (x >= -bound) & (x <= bound)
    v = x.clamp(-bound, bound)  # tail values take the identity branch below; clamping keeps both finite
    # Bin index: how many interior knots lie at or below v (0 … K-1) in the input's own coordinate.
    knots = ys if inverse else xs
    k = torch.searchsorted(knots[..., 1:-1].contiguous(), v.unsqueeze(-1).contiguous(), right=True)
    k = k.clamp(0, bins - 1)
    x_k, w = _gather(xs, k), _gather(w_all, k)
    y_k, h = _gather(ys, k), _gather(h_all, k)
    d_k, d_k1 = _gather(d_all, k), _gather(d_all, k + 1)
    slope = h / w
    c2 = d_k1 + d_k - 2.0 * slope

    if inverse:
        delta = v - y_k
        a = h * (slope - d_k) + delta * c2
        b = h * d_k - delta * c2
        c = -slope * delta
        disc = (b * b - 4.0 * a * c).clamp_min(0.0)
        # Not clamped to [0, 1]: the root is there up to round-off, and a clamp would zero its gradient.
        xi = (2.0 * c) / (-b - torch.sqrt(disc))
        out = x_k + xi * w
    else:
        xi = (v - x_k) / w
    theta = xi * (1.0 - xi)
    denominator = slope + c2 * theta
    numerator = d_k1 * xi * xi + 2.0 * slope * theta + d_k * (1.0 - xi) ** 2
    log_deriv = 2.0 * torch.log(slope) + torch.log(numerator) - 2.0 * torch.log(denominator)
    if inverse:
        log_deriv = -log_deriv
    else:
        out = y_k + h * (slope * xi * xi + d_k * theta) / denominator
    return torch.where(inside, out, x), torch.where(inside, log_deriv, torch.zeros_like(log_deriv))


class SplineCoupling(Coupling):
    """A coupling whose changed half goes through a monotone rational-quadratic spline (Neural Spline Flows).

    ``z_keep = x_keep``, ``z_change,j = g(x_change,j; θ_j(x_keep))`` with ``g`` the spline of the module
    docstring on ``[-bound, bound]`` (identity outside), and
    ``log|det dz/dx| = Σ_j log g'(x_change,j)``. Inverse (exact up to round-off: the conditioner sees the same
    kept half both ways, and each bin's inverse is the root of a quadratic), with log-det the negative.

    Args:
        dim, parity: as for every :class:`~nicelab.coupling.Coupling` (``x[:, parity::2]`` changes).
        hidden, depth: the built-in conditioner is an MLP with ``depth`` hidden layers of ``hidden`` ReLU
            units (the same network the additive and affine couplings use).
        bins: number of spline bins ``K`` (>= 2).
        bound: half-width ``B`` of the spline's interval.
        conditioner: optional network to use instead, mapping ``(batch, n_kept)`` to
            ``(batch, n_changed * (3K - 1))``.
        min_bin, min_derivative: floors on bin widths/heights (as a fraction of ``2B``) and on derivatives.
    """

    def __init__(
        self,
        dim: int,
        parity: int,
        hidden: int = 1000,
        depth: int = 5,
        bins: int = DEFAULT_BINS,
        bound: float = DEFAULT_BOUND,
        conditioner: nn.Module | None = None,
        min_bin: float = 1e-3,
        min_derivative: float = 1e-3,
    ) -> None:
        super().__init__(dim, parity)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
        if not (isinstance(bound, (int, float)) and not isinstance(bound, bool) and 0 < bound < math.inf):
            raise ValueError(f"bound must be a positive finite number, got {bound!r}")
        if not (isinstance(min_bin, (int, float)) and 0 <= min_bin < 1.0 / bins):
            raise ValueError(f"min_bin must be in [0, 1/bins) = [0, {1.0 / bins}), got {min_bin!r}")
        if not (isinstance(min_derivative, (int, float)) and 0 <= min_derivative < 1.0):
            raise ValueError(f"min_derivative must be in [0, 1), got {min_derivative!r}")
        if conditioner is not None and not isinstance(conditioner, nn.Module):
            raise ValueError(
                f"conditioner must be a torch.nn.Module or None, got {type(conditioner).__name__}"
            )
        self.bins, self.bound = bins, float(bound)
        self.min_bin, self.min_derivative = float(min_bin), float(min_derivative)
        self.n_params = 3 * bins - 1
        self.net = (
            conditioner
            if conditioner is not None
            else mlp(self.n_kept, self.n_changed * self.n_params, hidden, depth)
        )

    def spline_params(self, kept: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Raw ``(widths, heights, derivatives)``, each ``(batch, n_changed, K or K - 1)``."""
        raw = self.net(kept)
        expected = (kept.shape[0], self.n_changed * self.n_params)
        if tuple(raw.shape) != expected:
            raise ValueError(f"the conditioner must return shape {expected}, got {tuple(raw.shape)}")
        raw = raw.reshape(kept.shape[0], self.n_changed, self.n_params)
        k = self.bins
        return raw[..., :k], raw[..., k : 2 * k], raw[..., 2 * k :]

    def _spline(self, kept: Tensor, changed: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        widths, heights, derivatives = self.spline_params(kept)
        out, log_deriv = rational_quadratic_spline(
            changed,
            widths,
            heights,
            derivatives,
            bound=self.bound,
            inverse=inverse,
            min_bin=self.min_bin,
            min_derivative=self.min_derivative,
        )
        return out, log_deriv.sum(dim=1)

    def couple(self, kept: Tensor, changed: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(kept, changed, inverse=False)

    def uncouple(self, kept: Tensor, changed: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(kept, changed, inverse=True)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, parity={self.parity}, bins={self.bins}, bound={self.bound}"


class SplineFlow(CouplingFlow):
    """A :class:`~nicelab.flows.CouplingFlow` whose couplings are :class:`SplineCoupling` s.

    Same layers as every coupling flow (``Shift``, couplings with parities 0, 1, 0, …, ``Scaling``, then the
    prior), so sampling, ``intermediates``, ``init_from_data`` and ``coupling_log_det`` are shared; in our
    forward direction ``log p(x) = log p_prior(z) + Σ_k Σ_j log g_k'(·) + Σ_i s_i``.

    Args:
        dim, n_couplings, hidden, depth, prior: as for :class:`~nicelab.flows.CouplingFlow`.
        bins, bound: each coupling's spline (see :class:`SplineCoupling`).
    """

    def __init__(
        self,
        dim: int,
        n_couplings: int = 4,
        hidden: int = 1000,
        depth: int = 5,
        prior: str = "logistic",
        bins: int = DEFAULT_BINS,
        bound: float = DEFAULT_BOUND,
    ) -> None:
        # The coupling flows' shared constructor (CouplingFlow's own takes a name from flows.COUPLINGS, which
        # has no "spline"): it checks dim and n_couplings, builds Shift, the chain of
        # SplineCoupling(dim, i % 2, hidden=…, depth=…, bins=…, bound=…) (which check bins and bound) and
        # Scaling, and the prior, so the layers and state-dict keys are every coupling flow's.
        CouplingFlowBase.__init__(
            self, dim, SplineCoupling, n_couplings, hidden, depth, prior, bins=bins, bound=bound
        )
        self.bins, self.bound = bins, float(bound)

    def config(self) -> dict[str, Any]:
        """The constructor arguments; ``SplineFlow(**flow.config())`` rebuilds the architecture."""
        config = super().config()
        del config["coupling"]
        return config | {"bins": self.bins, "bound": self.bound}


__all__ = ["DEFAULT_BINS", "DEFAULT_BOUND", "SplineCoupling", "SplineFlow", "rational_quadratic_spline"]
