"""The NICE model: additive couplings with alternating parity, then a diagonal scaling.

In our forward (data -> latent) direction::

    x --Shift--> x - μ --c_1--> … --c_K--> h --Scaling--> z = exp(s) ⊙ h

and the exact log-likelihood is (NICE eq. 3, written in the encoder direction)::

    log p(x) = Σ_i log p_prior(z_i) + Σ_i s_i

because every additive coupling and the shift have log-det exactly 0. ``μ`` is a fixed buffer (zero
until :meth:`NICE.init_from_data`); it is a layer of the model, so likelihoods stay in data space.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from nicelab._checks import check_batch, check_positive_int
from nicelab.coupling import AdditiveCoupling, Coupling, merge, split
from nicelab.priors import make_prior
from nicelab.scaling import Scaling
from nicelab.transforms import Shift, Transform


class NICE(Transform):
    """NICE (Dinh, Krueger & Bengio, 2014) with the package's direction convention.

    Args:
        dim: data dimension (784 for MNIST).
        n_couplings: additive coupling layers; parities alternate 0, 1, 0, …
        hidden, depth: each coupling's MLP has ``depth`` hidden layers of ``hidden`` ReLU units.
        prior: ``"logistic"`` (the paper's choice) or ``"gaussian"``.
    """

    def __init__(
        self, dim: int, n_couplings: int = 4, hidden: int = 1000, depth: int = 5, prior: str = "logistic"
    ) -> None:
        if dim < 2:
            raise ValueError(f"NICE needs dim >= 2, got {dim}")
        check_positive_int(n_couplings, "n_couplings")
        super().__init__(dim)
        self.n_couplings, self.hidden, self.depth, self.prior_name = n_couplings, hidden, depth, prior
        self.prior = make_prior(prior, dim)
        self.shift = Shift(dim)
        self.couplings = nn.ModuleList(
            AdditiveCoupling(dim, parity=i % 2, hidden=hidden, depth=depth) for i in range(n_couplings)
        )
        self.scaling = Scaling(dim)

    def config(self) -> dict[str, Any]:
        """The constructor arguments; ``NICE(**model.config())`` rebuilds the architecture."""
        return {
            "dim": self.dim,
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
        """Human-readable names matching :meth:`intermediates` (``"input"`` first)."""
        names = ["input", "centre"]
        names += [
            f"coupling {i + 1} (updates {'even' if c.parity == 0 else 'odd'})"
            for i, c in enumerate(self._couplings())
        ]
        return [*names, "scaling (latent)"]

    def _couplings(self) -> list[Coupling]:
        return list(self.couplings)  # type: ignore[arg-type]

    def _run_couplings(self, x: Tensor, inverse: bool) -> Tensor:
        # Keep the even and odd halves as separate tensors across all couplings and interleave once
        # at the end: the same maths as calling each layer, without a gather/scatter per layer.
        halves = list(split(x, 1))  # [even positions, odd positions]
        order = reversed(self._couplings()) if inverse else self._couplings()
        for c in order:
            changed, kept = halves[c.parity], halves[1 - c.parity]
            halves[c.parity] = (c.uncouple if inverse else c.couple)(kept, changed)[0]
        return merge(halves[0], halves[1], 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z, log|det dz/dx|)``; the log-det is ``Σ s`` for every x."""
        check_batch(x, self.dim, "x")
        h = self._run_couplings(self.shift(x)[0], inverse=False)
        return self.scaling(h)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(x, log|det dx/dz|)``; the log-det is ``-Σ s`` for every z."""
        check_batch(z, self.dim, "z")
        h, log_det = self.scaling.inverse(z)
        return self.shift.inverse(self._run_couplings(h, inverse=True))[0], log_det

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` in nats, shape ``(batch,)``: ``log p_prior(z) + log|det dz/dx|``."""
        z, log_det = self(x)
        return self.prior.log_prob(z) + log_det

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` samples ``x = f^{-1}(T·ε)``, ``ε ~ prior``; shape ``(n, dim)``."""
        return self.inverse(self.prior.sample(n, temperature=temperature, generator=generator))[0]

    def intermediates(self, x: Tensor) -> list[Tensor]:
        """States after each layer, input first and latent last (see :meth:`layer_names`)."""
        check_batch(x, self.dim, "x")
        states = [x]
        for layer in self.layers:
            states.append(layer(states[-1])[0])
        return states

    @torch.no_grad()
    def init_from_data(self, x: Tensor, floor: float = 0.05) -> NICE:
        """Data-dependent initialisation: z has roughly the prior's scale at step 0.

        Sets the shift to the data mean, runs the (untrained) couplings, and sets
        ``s_i = log(std_prior) - log(max(std_i, floor))`` from the per-dimension std of their output.
        The floor matters: pixels that are almost constant would otherwise get a huge ``exp(s)``
        that amplifies every coupling's output and stalls training.
        """
        check_batch(x, self.dim, "x", finite=True)
        if x.shape[0] < 2:
            raise ValueError("init_from_data needs at least 2 samples to estimate a spread")
        if not (isinstance(floor, (int, float)) and floor > 0):
            raise ValueError(f"floor must be a positive number, got {floor!r}")
        self.shift.shift.copy_(x.mean(dim=0))
        h = self._run_couplings(self.shift(x)[0], inverse=False)
        std = h.std(dim=0).clamp_min(floor)
        self.scaling.log_scale.copy_(math.log(self.prior.std) - torch.log(std))
        return self

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())
