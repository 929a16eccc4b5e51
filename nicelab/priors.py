"""Factorised standard priors ``p(z) = Π_i p(z_i)`` on the latent space.

``log_prob(z)`` sums over dimensions and returns shape ``(batch,)``. ``sample(n, temperature=T)``
draws ``T · ε`` with ``ε`` from the standard prior (T < 1 gives cleaner, less varied samples).
``cdf`` and ``icdf`` act elementwise on one coordinate's distribution: ``icdf(cdf(z)) == z`` and
``cdf(icdf(u)) == u`` (up to round-off), with ``icdf(0) = -inf`` and ``icdf(1) = +inf``, the limits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nicelab._checks import check_batch, check_not_nan, check_positive_int
from nicelab._utils import gaussian_log_density


def _check_probabilities(u: object) -> Tensor:
    """``u`` must be a floating tensor with every entry in ``[0, 1]`` (no NaN)."""
    if not isinstance(u, Tensor) or not u.is_floating_point():
        kind = f"a {u.dtype} tensor" if isinstance(u, Tensor) else type(u).__name__
        raise ValueError(f"u must be a floating-point torch.Tensor of probabilities, got {kind}")
    outside = torch.isnan(u) | (u < 0) | (u > 1)
    if bool(outside.any()):
        raise ValueError(
            f"u must hold probabilities in [0, 1]; {int(outside.sum())} entries are outside or NaN"
        )
    return u


class Prior(nn.Module):
    """Base class: a standard, factorised density on ``R^dim``."""

    #: standard deviation of one coordinate (used by data-dependent initialisation)
    std: float = 1.0

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        # Follows the model's device and dtype so sampling allocates in the right place.
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def log_prob(self, z: Tensor) -> Tensor:
        """``Σ_i log p(z_i)``, shape ``(batch,)``. NaN raises ``ValueError``; ±inf gives -inf, the limit."""
        check_not_nan(check_batch(z, self.dim, "z"), "z")
        return self._log_density(z).sum(dim=1)

    def cdf(self, z: Tensor) -> Tensor:
        """``P(Z_i <= z)`` of one coordinate, elementwise (any shape); NaN raises ``ValueError``."""
        if not isinstance(z, Tensor) or not z.is_floating_point():
            raise ValueError(f"z must be a floating-point torch.Tensor, got {type(z).__name__}")
        return self._cdf(check_not_nan(z, "z"))

    def icdf(self, u: Tensor) -> Tensor:
        """The inverse CDF (quantile function) of one coordinate, elementwise, for ``u`` in ``[0, 1]``.

        ``icdf(0) = -inf`` and ``icdf(1) = +inf``; ``u`` outside ``[0, 1]`` or NaN raises ``ValueError``.
        """
        return self._icdf(_check_probabilities(u))

    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws of ``T · ε``, ``ε`` from the prior by inverse-CDF sampling; shape ``(n, dim)``."""
        check_positive_int(n, "n")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        device = generator.device if generator is not None else self._anchor.device
        u = torch.rand(n, self.dim, generator=generator, device=device, dtype=self._anchor.dtype)
        # keep u off 0 (torch.rand can return it) and off 1 after round-off: every sample is finite
        u = u.clamp(torch.finfo(u.dtype).tiny, 1.0 - torch.finfo(u.dtype).eps)
        return (temperature * self._icdf(u)).to(self._anchor.device)

    def _log_density(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cdf(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _icdf(self, u: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Logistic(Prior):
    """Standard logistic: ``log p(z) = -softplus(z) - softplus(-z)`` (NICE's choice; heavier tails).

    ``cdf(z) = σ(z) = 1 / (1 + e^{-z})``, ``icdf(u) = log u - log(1 - u)`` (the logit).
    """

    std = math.pi / math.sqrt(3.0)

    def _log_density(self, z: Tensor) -> Tensor:
        return -F.softplus(z) - F.softplus(-z)

    def _cdf(self, z: Tensor) -> Tensor:
        return torch.sigmoid(z)

    def _icdf(self, u: Tensor) -> Tensor:
        return torch.log(u) - torch.log1p(-u)


class Gaussian(Prior):
    """Standard normal: ``log p(z) = -z²/2 - log(2π)/2``.

    ``cdf(z) = (1 + erf(z/√2)) / 2``, ``icdf(u) = √2 erfinv(2u - 1)``.
    """

    std = 1.0

    def _log_density(self, z: Tensor) -> Tensor:
        return gaussian_log_density(z)

    def _cdf(self, z: Tensor) -> Tensor:
        return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))

    def _icdf(self, u: Tensor) -> Tensor:
        return math.sqrt(2.0) * torch.erfinv(2.0 * u - 1.0)


PRIORS: dict[str, type[Prior]] = {"logistic": Logistic, "gaussian": Gaussian}


def make_prior(name: str, dim: int) -> Prior:
    """Build a prior by name: ``"logistic"`` or ``"gaussian"``."""
    if not isinstance(name, str) or name not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {name!r}")
    return PRIORS[name](dim)


__all__ = ["PRIORS", "Gaussian", "Logistic", "Prior", "make_prior"]
