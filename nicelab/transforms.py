"""The transform contract, composition and inversion.

Direction convention (the whole package uses it): ``forward`` maps data ``x`` to latent ``z`` and
``inverse`` maps ``z`` back to ``x``. Both return ``(output, log_det)`` where ``log_det`` has shape
``(batch,)``:

* ``forward(x) -> (z, log|det dz/dx|)``
* ``inverse(z) -> (x, log|det dx/dz|)``

so at matching points the two log-dets cancel. Invariants every transform keeps:
``inverse(forward(x)[0])[0] == x`` and ``forward(x)[1] == -inverse(forward(x)[0])[1]``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from nicelab._checks import check_batch, check_positive_int


class Transform(nn.Module):
    """A bijection of ``R^dim`` with a tractable log-determinant (see the module docstring)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")

    def _check(self, x: Tensor, name: str = "x") -> Tensor:
        return check_batch(x, self.dim, name)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """Map data to latent: ``(z, log|det dz/dx|)``."""
        raise NotImplementedError

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """Map latent to data: ``(x, log|det dx/dz|)``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Compose(Transform):
    """``forward = f_K ∘ … ∘ f_1``; the log-dets of the steps add up (chain rule)."""

    def __init__(self, transforms: Iterable[Transform]) -> None:
        steps = list(transforms)
        if not steps:
            raise ValueError("Compose needs at least one transform")
        dims = {t.dim for t in steps}
        if len(dims) != 1:
            raise ValueError(f"all transforms in Compose must share one dim, got dims {sorted(dims)}")
        super().__init__(steps[0].dim)
        self.steps = nn.ModuleList(steps)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        total = x.new_zeros(x.shape[0])
        for step in self.steps:
            x, log_det = step(x)
            total = total + log_det
        return x, total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, "z")
        total = z.new_zeros(z.shape[0])
        for step in reversed(self.steps):
            z, log_det = step.inverse(z)
            total = total + log_det
        return z, total

    def intermediates(self, x: Tensor) -> list[Tensor]:
        """States after each step in the forward direction: ``[x, f_1(x), …, z]``."""
        self._check(x)
        states = [x]
        for step in self.steps:
            x, _ = step(x)
            states.append(x)
        return states


class Inverse(Transform):
    """Swap the directions of ``transform``: ``Inverse(t).forward == t.inverse``."""

    def __init__(self, transform: Transform) -> None:
        super().__init__(transform.dim)
        self.base = transform

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.base.inverse(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.base(z)


class Shift(Transform):
    """A fixed translation ``z = x - shift``; volume-preserving, so log_det is exactly 0.

    NICE uses it to centre data in the model (so reported likelihoods stay in data space).
    """

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.register_buffer("shift", torch.zeros(dim))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        return x - self.shift, x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, "z")
        return z + self.shift, z.new_zeros(z.shape[0])
