"""Factorised standard priors ``p(z) = Π_i p(z_i)`` on the latent space.

``log_prob(z)`` sums over dimensions and returns shape ``(batch,)``. ``sample(n, temperature=T)``
draws ``T · ε`` with ``ε`` from the standard prior (T < 1 gives cleaner, less varied samples).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nicelab._checks import check_batch, check_not_nan, check_positive_int


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

    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        check_positive_int(n, "n")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        device = generator.device if generator is not None else self._anchor.device
        u = torch.rand(n, self.dim, generator=generator, device=device, dtype=self._anchor.dtype)
        return (temperature * self._from_uniform(u)).to(self._anchor.device)

    def _log_density(self, z: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _from_uniform(self, u: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Logistic(Prior):
    """Standard logistic: ``log p(z) = -softplus(z) - softplus(-z)`` (NICE's choice; heavier tails)."""

    std = math.pi / math.sqrt(3.0)

    def _log_density(self, z: Tensor) -> Tensor:
        return -F.softplus(z) - F.softplus(-z)

    def _from_uniform(self, u: Tensor) -> Tensor:
        tiny = torch.finfo(u.dtype).tiny
        u = u.clamp(tiny, 1.0 - torch.finfo(u.dtype).eps)
        return torch.log(u) - torch.log1p(-u)


class Gaussian(Prior):
    """Standard normal: ``log p(z) = -z²/2 - log(2π)/2``."""

    std = 1.0

    def _log_density(self, z: Tensor) -> Tensor:
        return -0.5 * z * z - 0.5 * math.log(2 * math.pi)

    def _from_uniform(self, u: Tensor) -> Tensor:
        tiny = torch.finfo(u.dtype).tiny
        return math.sqrt(2.0) * torch.erfinv(2 * u.clamp(tiny, 1.0 - torch.finfo(u.dtype).eps) - 1)


PRIORS: dict[str, type[Prior]] = {"logistic": Logistic, "gaussian": Gaussian}


def make_prior(name: str, dim: int) -> Prior:
    """Build a prior by name: ``"logistic"`` or ``"gaussian"``."""
    if name not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {name!r}")
    return PRIORS[name](dim)
