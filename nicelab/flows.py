"""A coupling flow with a swappable coupling type: NICE's additive one or Real NVP's affine one.

The architecture is NICE's (see :mod:`nicelab.nice`), with the coupling layers made a choice::

    x --Shift--> x - μ --c_1--> … --c_K--> h --Scaling--> z = exp(s) ⊙ h

and, in our forward (data -> latent) direction,
``log p(x) = log p_prior(z) + Σ_k log|det ∂c_k/∂·| + Σ_i s_i``.
With ``coupling="additive"`` every coupling log-det is 0 and this is exactly NICE (same parameter
names, so a NICE state dict loads into it). With ``coupling="affine"`` each coupling contributes
``Σ_j s_j(x_keep)``, a log-det that depends on ``x``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from nicelab._checks import check_batch, check_positive_int
from nicelab.coupling import AdditiveCoupling, AffineCoupling, Coupling
from nicelab.priors import make_prior
from nicelab.scaling import Scaling
from nicelab.transforms import Shift, Transform

#: coupling types a :class:`CouplingFlow` can use
COUPLINGS: dict[str, type[Coupling]] = {"additive": AdditiveCoupling, "affine": AffineCoupling}


class CouplingFlow(Transform):
    """Shift, ``n_couplings`` couplings of one type (parities 0, 1, 0, …), then a diagonal scaling.

    Args:
        dim: data dimension.
        coupling: ``"additive"`` (NICE) or ``"affine"`` (Real NVP-style, bounded log-scale).
        n_couplings, hidden, depth: as in :class:`nicelab.NICE`.
        prior: ``"logistic"`` or ``"gaussian"``.
    """

    def __init__(
        self,
        dim: int,
        coupling: str = "additive",
        n_couplings: int = 4,
        hidden: int = 1000,
        depth: int = 5,
        prior: str = "logistic",
    ) -> None:
        if dim < 2:
            raise ValueError(f"{type(self).__name__} needs dim >= 2, got {dim}")
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {sorted(COUPLINGS)}, got {coupling!r}")
        check_positive_int(n_couplings, "n_couplings")
        super().__init__(dim)
        self.coupling, self.n_couplings, self.hidden, self.depth = coupling, n_couplings, hidden, depth
        self.prior_name = prior
        self.prior = make_prior(prior, dim)
        self.shift = Shift(dim)
        kind = COUPLINGS[coupling]
        self.couplings = nn.ModuleList(
            kind(dim, parity=i % 2, hidden=hidden, depth=depth) for i in range(n_couplings)
        )
        self.scaling = Scaling(dim)

    def config(self) -> dict[str, Any]:
        """The constructor arguments; ``CouplingFlow(**flow.config())`` rebuilds the architecture."""
        return {
            "dim": self.dim,
            "coupling": self.coupling,
            "n_couplings": self.n_couplings,
            "hidden": self.hidden,
            "depth": self.depth,
            "prior": self.prior_name,
        }

    @property
    def layers(self) -> list[Transform]:
        """The layers in forward order: shift, couplings, scaling."""
        return [self.shift, *self.couplings, self.scaling]

    def layer_names(self) -> list[str]:
        """Names matching :meth:`intermediates` (``"input"`` first)."""
        names = ["input", "centre"]
        names += [
            f"{self.coupling} coupling {i + 1} (updates {'even' if c.parity == 0 else 'odd'})"
            for i, c in enumerate(self.couplings)
        ]
        return [*names, "scaling (latent)"]

    def _run_couplings(self, h: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        """All couplings in order (or undone in reverse): ``(output, summed coupling log-dets)``."""
        total = h.new_zeros(h.shape[0])
        for c in reversed(self.couplings) if inverse else self.couplings:
            h, log_det = c.inverse(h) if inverse else c(h)
            total = total + log_det
        return h, total

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z, log|det dz/dx|)``: the couplings' log-dets (0 if additive) plus ``Σ s``.

        ``x`` must be finite: a NaN or ±inf input raises ``ValueError`` (one reduction per call, here at
        the flow's entry rather than in every layer).
        """
        check_batch(x, self.dim, "x", finite=True)
        h, coupling_log_det = self._run_couplings(self.shift(x)[0], inverse=False)
        z, scale_log_det = self.scaling(h)
        return z, coupling_log_det + scale_log_det

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(x, log|det dx/dz|)``, the layers undone in reverse order; ``z`` must be finite."""
        check_batch(z, self.dim, "z", finite=True)
        h, scale_log_det = self.scaling.inverse(z)
        h, coupling_log_det = self._run_couplings(h, inverse=True)
        return self.shift.inverse(h)[0], coupling_log_det + scale_log_det

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` in nats, shape ``(batch,)``; ``x`` must be finite (``ValueError`` otherwise)."""
        z, log_det = self(x)  # checks x
        # The prior's unchecked density: a finite x whose z overflowed (a diverged model) must reach
        # the loss as -inf/NaN, which the training loops report as divergence (FloatingPointError).
        return self.prior._log_density(z).sum(dim=1) + log_det

    def coupling_log_det(self, x: Tensor) -> Tensor:
        """``Σ_k log|det ∂c_k|`` per sample, shape ``(batch,)``: 0 for additive, x-dependent for affine."""
        check_batch(x, self.dim, "x", finite=True)
        return self._run_couplings(self.shift(x)[0], inverse=False)[1]

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` samples ``x = f^{-1}(T·ε)``, ``ε ~ prior``; shape ``(n, dim)``."""
        return self.inverse(self.prior.sample(n, temperature=temperature, generator=generator))[0]

    def intermediates(self, x: Tensor) -> list[Tensor]:
        """States after each layer, input first and latent last (see :meth:`layer_names`)."""
        check_batch(x, self.dim, "x", finite=True)
        states = [x]
        for layer in self.layers:
            states.append(layer(states[-1])[0])
        return states

    @torch.no_grad()
    def init_from_data(self, x: Tensor, floor: float = 0.05) -> CouplingFlow:
        """Data-dependent initialisation: z has roughly the prior's scale at step 0.

        Sets the shift to the data mean, runs the (untrained) couplings, and sets
        ``s_i = log(std_prior) - log(max(std_i, floor))`` from the per-dimension std of their output.
        The floor matters: pixels that are almost constant would otherwise get a huge ``exp(s)``
        that amplifies every coupling's output and stalls training.
        """
        check_batch(x, self.dim, "x", finite=True)
        if x.shape[0] < 2:
            raise ValueError("init_from_data needs at least 2 samples to estimate a spread")
        finite = isinstance(floor, (int, float)) and not isinstance(floor, bool) and math.isfinite(floor)
        if not (finite and floor > 0):
            raise ValueError(f"floor must be a positive finite number, got {floor!r}")
        self.shift.shift.copy_(x.mean(dim=0))
        h = self._run_couplings(self.shift(x)[0], inverse=False)[0]
        std = h.std(dim=0).clamp_min(floor)
        self.scaling.log_scale.copy_(math.log(self.prior.std) - torch.log(std))
        return self

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())


__all__ = ["COUPLINGS", "CouplingFlow"]
