"""NICE's diagonal scaling layer.

Forward (data -> latent): ``z = exp(s) ⊙ x``, so ``log|det dz/dx| = Σ_i s_i``. The lecture notes
write the decoder direction with ``S_ii = exp(-s_i)``; their objective term ``-log|S_ii|`` is our
``+s_i``. A very negative ``s_i`` (``S_ii`` large in the notes' terms) squeezes data dimension i
into a tiny latent range; a very small ``S_ii`` marks an unimportant latent dimension.

The log-det does not depend on ``x`` (``constant_log_det``), though it is not 0: a NICE density is the
prior's pushed through a volume-preserving map, then rescaled by one constant factor ``exp(Σ s)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from nicelab.transforms import Transform


class Scaling(Transform):
    """``z = exp(s) * x`` with a learned log-scale ``s`` (initialised to 0: the identity)."""

    #: the stage's name in pictures (:meth:`nicelab.flows.Flow.layer_names`)
    label = "scaling"

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.log_scale = nn.Parameter(torch.zeros(dim))

    @property
    def constant_log_det(self) -> bool:
        return True

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        return x * torch.exp(self.log_scale), self.log_scale.sum().expand(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, "z")
        return z * torch.exp(-self.log_scale), (-self.log_scale.sum()).expand(z.shape[0])

    @torch.no_grad()
    def initialize(self, x: Tensor, std: float, floor: float) -> Tensor:
        """``s_i = log(std) - log(max(std_i(x), floor))``: each output coordinate gets spread ``std``.

        The floor matters: pixels that are almost constant would otherwise get a huge ``exp(s)`` that
        amplifies every earlier layer's output and stalls training.
        """
        spread = x.std(dim=0).clamp_min(floor)
        self.log_scale.copy_(math.log(std) - torch.log(spread))
        return self(x)[0]
