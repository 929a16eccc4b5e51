"""NICE's diagonal scaling layer.

Forward (data -> latent): ``z = exp(s) ⊙ x``, so ``log|det dz/dx| = Σ_i s_i``. The lecture notes
write the decoder direction with ``S_ii = exp(-s_i)``; their objective term ``-log|S_ii|`` is our
``+s_i``. A very negative ``s_i`` (``S_ii`` large in the notes' terms) squeezes data dimension i
into a tiny latent range; a very small ``S_ii`` marks an unimportant latent dimension.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nicelab.transforms import Transform


class Scaling(Transform):
    """``z = exp(s) * x`` with a learned log-scale ``s`` (initialised to 0: the identity)."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.log_scale = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        return x * torch.exp(self.log_scale), self.log_scale.sum().expand(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, "z")
        return z * torch.exp(-self.log_scale), (-self.log_scale.sum()).expand(z.shape[0])
