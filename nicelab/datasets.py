"""Two-dimensional toy distributions with exact densities, and the KL gap of a model to them.

Every dataset is a :class:`Toy2D`: ``sample(n, generator=None)`` draws an ``(n, 2)`` float32 batch and
``log_prob(x)`` returns the *exact* ``log p(x)`` in nats, shape ``(n,)``: in closed form, or by
Gauss-Legendre quadrature over a curve parameter that is accurate far below 1e-3 nats.

Because ``log p`` is known, the course can report what a model really misses::

    KL(p || q) = E_p[log p(x) - log q(x)] = NLL_q - H(p)  >= 0,

estimated on fresh samples by :func:`kl_gap` (a paired estimate, so its standard error is small).

This is the data layer: the distributions and the score, nothing else (no models, training code or
plots). Lesson 05's 2-D training recipe (``NICE_2D``, ``FIT_2D``, ``nice_for``) lives next to training,
in :mod:`nicelab.train.toy2d`; ``nicelab.datasets.NICE_2D`` etc. still resolve to those same objects.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from nicelab._checks import check_batch, check_positive_int
from nicelab._utils import evaluating

Bounds = tuple[float, float, float, float]  # (xmin, xmax, ymin, ymax)

_TWO_PI = 2.0 * math.pi


class Toy2D:
    """A 2-D distribution with a sampler and an exact log-density.

    Subclasses implement ``_sample(n, generator) -> (n, 2) float64`` and ``_log_prob(x64) -> (n,)``.

    Attributes:
        name: key in :data:`DATASETS`.
        bounds: ``(xmin, xmax, ymin, ymax)``, a plotting window that holds all but a negligible
            fraction (< 1e-3) of the mass.
    """

    name: str = "toy"
    bounds: Bounds = (-1.0, 1.0, -1.0, 1.0)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` independent draws as an ``(n, 2)`` float32 tensor (``generator`` makes them reproducible)."""
        check_positive_int(n, "n")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        return self._sample(n, generator).float()

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` in nats, shape ``(n,)``, in ``x``'s dtype (computed in float64).

        Points outside the support get ``-inf``.
        """
        check_batch(x, 2, "x", finite=True)
        return self._log_prob(x.detach().double()).to(x.dtype)

    def entropy_estimate(
        self, n: int = 200_000, generator: torch.Generator | None = None
    ) -> tuple[float, float]:
        """Monte-Carlo ``(H, stderr)`` with ``H = -E_p[log p(x)]`` in nats, on ``n`` fresh samples."""
        check_positive_int(n, "n", minimum=2)
        log_p = self._log_prob(self._sample(n, generator))
        return float(-log_p.mean()), float(log_p.std() / math.sqrt(n))

    def entropy(self, n: int = 200_000, generator: torch.Generator | None = None) -> float:
        """Monte-Carlo estimate of the differential entropy ``H(p) = -E_p[log p]`` in nats.

        Its standard error is ``entropy_estimate(n, generator)[1]`` (about 0.003 nats at the default n).
        """
        return self.entropy_estimate(n, generator)[0]

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _log_prob(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _uniform(n: int, generator: torch.Generator | None, *shape: int) -> Tensor:
    return torch.rand(n, *shape, generator=generator, dtype=torch.float64)


def _normal(n: int, generator: torch.Generator | None, *shape: int) -> Tensor:
    return torch.randn(n, *shape, generator=generator, dtype=torch.float64)


def _log_normal_2d(sq_dist: Tensor, std: float) -> Tensor:
    """``log N(d; 0, std² I)`` in 2-D from the squared distance."""
    return -0.5 * sq_dist / std**2 - math.log(_TWO_PI * std**2)


class GaussianMixture(Toy2D):
    """``p(x) = Σ_k w_k N(x; μ_k, σ² I)``: closed form, ``log p = logsumexp_k(log w_k + log N_k)``."""

    def __init__(self, name: str, means: Tensor, std: float, bounds: Bounds, weights: Tensor | None = None):
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.dim() != 2 or means.shape[1] != 2 or means.shape[0] == 0:
            raise ValueError(f"means must have shape (k, 2) with k >= 1, got {tuple(means.shape)}")
        if not std > 0:
            raise ValueError(f"std must be positive, got {std!r}")
        k = means.shape[0]
        weights = torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None else weights.double()
        if weights.shape != (k,) or bool((weights <= 0).any()) or abs(float(weights.sum()) - 1) > 1e-9:
            raise ValueError("weights must be k positive numbers summing to 1")
        self.name, self.means, self.std, self.bounds, self.weights = name, means, float(std), bounds, weights

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        return self.means[k] + self.std * _normal(n, generator, 2)

    def _log_prob(self, x: Tensor) -> Tensor:
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        return torch.logsumexp(self.weights.log() + _log_normal_2d(sq, self.std), dim=1)


class Rings(Toy2D):
    """Concentric circles of radii ``r_j`` (weights ∝ ``r_j``, so uniform along the arc) plus N(0, σ² I).

    With ``ρ = |x|``, integrating the noise over the uniform angle gives a closed form
    (``I0`` is the modified Bessel function, ``i0e(a) = e^{-a} I0(a)`` keeps it finite)::

        p(x) = Σ_j w_j ∫ N(x; r_j u(t), σ² I) dt/2π = Σ_j w_j exp(-(ρ - r_j)²/2σ²) i0e(ρ r_j/σ²) / (2πσ²)
    """

    def __init__(self, name: str = "rings", radii: tuple[float, ...] = (0.75, 1.5, 2.25), std: float = 0.1):
        self.name, self.std = name, float(std)
        self.radii = torch.tensor(radii, dtype=torch.float64)
        self.weights = self.radii / self.radii.sum()
        edge = float(self.radii.max()) + 5.5 * self.std
        self.bounds = (-edge, edge, -edge, edge)

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        j = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        t = _TWO_PI * _uniform(n, generator)
        on_curve = self.radii[j, None] * torch.stack([torch.cos(t), torch.sin(t)], dim=1)
        return on_curve + self.std * _normal(n, generator, 2)

    def _log_prob(self, x: Tensor) -> Tensor:
        rho = x.norm(dim=1, keepdim=True)
        r, s2 = self.radii[None], self.std**2
        terms = (
            self.weights.log()
            - 0.5 * (rho - r) ** 2 / s2
            + torch.log(torch.special.i0e(rho * r / s2))
            - math.log(_TWO_PI * s2)
        )
        return torch.logsumexp(terms, dim=1)


def gauss_legendre(a: float, b: float, panels: int, order: int) -> tuple[Tensor, Tensor]:
    """Composite Gauss-Legendre nodes and weights on ``[a, b]`` (``panels × order`` of each, float64)."""
    check_positive_int(panels, "panels")
    check_positive_int(order, "order")
    nodes, weights = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(a, b, panels + 1)
    half = 0.5 * np.diff(edges)[:, None]
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
    return torch.from_numpy((mid + half * nodes).ravel()), torch.from_numpy((half * weights).ravel())


class Moons(Toy2D):
    """Two interleaved half circles plus N(0, σ² I): the curve parameter ``t ~ U(0, π)``.

    Upper moon ``c(t) = (cos t, sin t)``, lower moon ``c(t) = (1 - cos t, 1/2 - sin t)``, both shifted by
    ``(-1/2, -1/4)`` so the mean is near 0. The density has no closed form; we integrate over t::

        p(x) = ½ Σ_moons (1/π) ∫_0^π N(x; c(t), σ² I) dt

    by composite Gauss-Legendre (``panels × order`` nodes), in log space (logsumexp) so points far from
    the curve keep full relative accuracy. The defaults (160 nodes per moon) are accurate to ~1e-12
    nats inside ``bounds``.
    """

    def __init__(self, name: str = "moons", std: float = 0.1, panels: int = 8, order: int = 20):
        self.name, self.std = name, float(std)
        self.offset = torch.tensor([-0.5, -0.25], dtype=torch.float64)
        self.bounds = (-2.0, 2.0, -1.5, 1.5)
        self.set_quadrature(panels, order)

    def set_quadrature(self, panels: int, order: int) -> None:
        """Choose the quadrature rule (more nodes: slower and more accurate)."""
        t, w = gauss_legendre(0.0, math.pi, panels, order)
        self._curve = torch.cat([self._curve_points(t, 0), self._curve_points(t, 1)])  # (2m, 2)
        self._log_w = torch.log(torch.cat([w, w]) / math.pi) + math.log(0.5)

    def _curve_points(self, t: Tensor, moon: int) -> Tensor:
        if moon == 0:
            points = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
        else:
            points = torch.stack([1.0 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
        return points + self.offset

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        moon = _uniform(n, generator) < 0.5
        t = math.pi * _uniform(n, generator)
        points = torch.where(moon[:, None], self._curve_points(t, 1), self._curve_points(t, 0))
        return points + self.std * _normal(n, generator, 2)

    def _log_prob(self, x: Tensor) -> Tensor:
        out = torch.empty(x.shape[0], dtype=torch.float64)
        for start in range(0, x.shape[0], 4096):  # chunks keep the (chunk, nodes) matrix small
            chunk = x[start : start + 4096]
            sq = torch.cdist(chunk, self._curve).square()
            out[start : start + 4096] = torch.logsumexp(self._log_w + _log_normal_2d(sq, self.std), dim=1)
        return out


class Checkerboard(Toy2D):
    """Uniform on the 8 "black" unit squares of a 4×4 board on ``[-2, 2]²``: ``p = 1/8`` there, else 0.

    Its entropy is exactly ``log 8``; ``log_prob`` is ``-inf`` off the support.
    """

    def __init__(self, name: str = "checkerboard"):
        self.name, self.bounds = name, (-2.2, 2.2, -2.2, 2.2)
        cells = [(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0]
        self.corners = torch.tensor(cells, dtype=torch.float64) - 2.0  # lower-left corners

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        cell = torch.randint(0, len(self.corners), (n,), generator=generator)
        return self.corners[cell] + _uniform(n, generator, 2)

    def _log_prob(self, x: Tensor) -> Tensor:
        inside = (x.abs() < 2).all(dim=1)
        ij = torch.floor(x + 2.0)
        black = (ij.sum(dim=1) % 2) == 0
        return torch.where(inside & black, -math.log(8.0), -math.inf).to(torch.float64)


class Pinwheel(Toy2D):
    """``K`` spiral arms, defined in polar coordinates ``(r, φ)`` so the density is exact.

    ``r ~ Gamma(α, β)`` (integer α: a sum of α exponentials), arm ``k`` uniform, and
    ``φ = θ_k + rate·r + τ ε`` with ``ε ~ N(0, 1)``, wrapped to the circle. Changing variables from
    polar to Cartesian divides by ``r``::

        p(x) = Gamma(r; α, β) / r · (1/K) Σ_k WrappedNormal(φ - θ_k - rate·r; τ)

    The wrapped normal sums the three nearest windings (the rest is below 1e-300 for τ <= 0.5).
    """

    def __init__(
        self,
        name: str = "pinwheel",
        arms: int = 5,
        alpha: int = 8,
        beta: float = 0.16,
        rate: float = 1.2,
        tau: float = 0.18,
    ):
        check_positive_int(arms, "arms")
        check_positive_int(alpha, "alpha", minimum=2)
        if not 0 < tau <= 0.5:
            raise ValueError(f"tau must be in (0, 0.5], got {tau!r}")
        self.name, self.arms, self.alpha, self.beta, self.rate, self.tau = name, arms, alpha, beta, rate, tau
        self.bounds = (-4.0, 4.0, -4.0, 4.0)
        self.theta = _TWO_PI * torch.arange(arms, dtype=torch.float64) / arms

    def _sample(self, n: int, generator: torch.Generator | None) -> Tensor:
        u = _uniform(n, generator, self.alpha).clamp_min(1e-300)
        r = -self.beta * u.log().sum(dim=1)
        arm = torch.randint(0, self.arms, (n,), generator=generator)
        phi = self.theta[arm] + self.rate * r + self.tau * _normal(n, generator)
        return r[:, None] * torch.stack([torch.cos(phi), torch.sin(phi)], dim=1)

    def _log_prob(self, x: Tensor) -> Tensor:
        r = x.norm(dim=1)
        phi = torch.atan2(x[:, 1], x[:, 0])
        a, b = self.alpha, self.beta
        log_gamma = (a - 1) * torch.log(r) - r / b - math.lgamma(a) - a * math.log(b)
        d = (
            torch.remainder(phi[:, None] - self.theta[None] - self.rate * r[:, None] + math.pi, _TWO_PI)
            - math.pi
        )
        windings = d[..., None] + _TWO_PI * torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
        log_wrapped = -0.5 * (windings / self.tau) ** 2 - math.log(self.tau * math.sqrt(_TWO_PI))
        log_angle = torch.logsumexp(log_wrapped.flatten(1), dim=1) - math.log(self.arms)
        return log_gamma - torch.log(r) + log_angle


def _eight_gaussians() -> GaussianMixture:
    angles = _TWO_PI * torch.arange(8, dtype=torch.float64) / 8
    means = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture("eight_gaussians", means, std=0.25, bounds=(-3.2, 3.2, -3.2, 3.2))


def _two_gaussians() -> GaussianMixture:
    """Unequal weights: the scaling layer must give the small mode less latent volume."""
    means = torch.tensor([[-1.5, -0.5], [1.5, 0.5]], dtype=torch.float64)
    weights = torch.tensor([0.7, 0.3], dtype=torch.float64)
    return GaussianMixture("two_gaussians", means, std=0.4, bounds=(-3.5, 3.5, -3.0, 3.0), weights=weights)


#: every 2-D dataset by name
DATASETS: dict[str, Toy2D] = {
    ds.name: ds
    for ds in (
        _eight_gaussians(),
        _two_gaussians(),
        Moons(),
        Rings(),
        Checkerboard(),
        Pinwheel(),
    )
}


def get(name: str) -> Toy2D:
    """The dataset called ``name`` (a key of :data:`DATASETS`)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


class HasLogProb(Protocol):
    def log_prob(self, x: Tensor) -> Tensor: ...


def _model_dtype(model: Any) -> torch.dtype:
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return first.dtype if first is not None and first.is_floating_point() else torch.float32


class _GapAndError(NamedTuple):
    gap: float
    stderr: float


class KLGap(_GapAndError):
    """:func:`kl_gap`'s result: the pair ``(gap, stderr)`` (so ``gap, se = kl_gap(...)`` unpacks it), plus
    the two terms of the gap on the same samples as attributes.

    Attributes:
        gap: ``mean_i [log p(x_i) - log q(x_i)]``, the estimate of ``KL(p || q)`` in nats.
        stderr: ``std_i [log p(x_i) - log q(x_i)] / √n``, its standard error.
        nll: ``-mean_i log q(x_i)``, the model's negative log-likelihood on the samples.
        entropy: ``-mean_i log p(x_i)``, the Monte-Carlo entropy of the data on the same samples.

    Invariant: ``gap == nll - entropy`` up to float64 rounding (both are means over the same ``x_i``).
    Equality and unpacking see the pair only.
    """

    nll: float
    entropy: float

    def __new__(cls, gap: float, stderr: float, nll: float, entropy: float) -> KLGap:
        self = super().__new__(cls, gap, stderr)
        self.nll, self.entropy = nll, entropy
        return self

    def __getnewargs__(self) -> tuple[float, float, float, float]:  # pickle and copy keep all four
        return (self.gap, self.stderr, self.nll, self.entropy)

    def __repr__(self) -> str:
        return f"KLGap(gap={self.gap!r}, stderr={self.stderr!r}, nll={self.nll!r}, entropy={self.entropy!r})"


@torch.no_grad()
def kl_gap(
    model: HasLogProb, dataset: Toy2D | str, n: int = 100_000, generator: torch.Generator | None = None
) -> KLGap:
    """Estimate ``KL(p_data || q_model) = NLL_model - H(p_data)`` in nats on ``n`` fresh samples.

    Draws ``x_1 … x_n = dataset.sample(n, generator)`` (the same samples for the same generator state) and
    uses the paired per-sample differences ``d_i = log p(x_i) - log q(x_i)``: their mean is the estimate
    and ``std(d)/√n`` its standard error (far smaller than the errors of NLL and H estimated separately).
    ``log q`` is evaluated in the model's dtype, in chunks of 8192, in eval mode (restored afterwards).

    Returns:
        A :class:`KLGap`: the pair ``(gap, stderr)`` with ``.nll`` and ``.entropy`` of the same samples;
        ``gap`` is ``inf`` if the model gives some sample zero density.

    Raises:
        ValueError: an unknown dataset, ``n < 2``, a model without ``log_prob`` or one whose ``log_prob``
            does not return shape ``(batch,)``.
    """
    dataset = get(dataset) if isinstance(dataset, str) else dataset
    if not isinstance(dataset, Toy2D):
        raise ValueError(f"dataset must be a Toy2D or a dataset name, got {type(dataset).__name__}")
    check_positive_int(n, "n", minimum=2)
    if not callable(getattr(model, "log_prob", None)):
        raise ValueError("model must have a log_prob(x) method")
    x = dataset.sample(n, generator)
    log_p = dataset.log_prob(x.double())
    dtype = _model_dtype(model)
    with evaluating(model) if isinstance(model, nn.Module) else nullcontext():
        log_q = torch.cat([model.log_prob(x[i : i + 8192].to(dtype)) for i in range(0, n, 8192)]).double()
    if log_q.shape != (n,):
        raise ValueError(f"model.log_prob must return shape (batch,), got {tuple(log_q.shape)}")
    diff = log_p - log_q
    return KLGap(
        gap=float(diff.mean()),
        stderr=float(diff.std() / math.sqrt(n)),
        nll=float(-log_q.mean()),
        entropy=float(-log_p.mean()),
    )


#: names that moved to ``nicelab.train.toy2d`` (the 2-D training recipe), still importable from here
_MOVED_TO_TOY2D = frozenset({"FIT_2D", "NICE_2D", "nice_for"})


def __getattr__(name: str) -> Any:
    """Resolve the recipe names that moved to :mod:`nicelab.train.toy2d` (``D.NICE_2D`` …) on first use.

    Imported lazily: ``nicelab.train.toy2d`` imports this module, so a top-level import would be a cycle,
    and the data layer should not load the training layer unless an old name asks for it.
    """
    if name in _MOVED_TO_TOY2D:
        from nicelab.train import toy2d

        return getattr(toy2d, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASETS",
    "Checkerboard",
    "GaussianMixture",
    "KLGap",
    "Moons",
    "Pinwheel",
    "Rings",
    "Toy2D",
    "gauss_legendre",
    "get",
    "kl_gap",
]
