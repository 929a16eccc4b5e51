"""Every transform the property tests cover, built small and with non-trivial parameters.

Add a new transform here and it gets the whole property suite (tests/test_transforms.py).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nicelab import (
    NICE,
    AdditiveCoupling,
    AffineCoupling,
    Compose,
    CouplingFlow,
    Inverse,
    Scaling,
    Shift,
    Transform,
)


def _randomise(t: Transform) -> Transform:
    """Move zero-initialised parameters (log-scales) and buffers (shifts) away from the identity."""
    with torch.no_grad():
        for p in t.parameters():
            if not p.any():
                p.add_(0.3 * torch.randn_like(p))
        for b in t.buffers():
            if b.is_floating_point() and b.dim() > 0:
                b.add_(torch.randn_like(b))
    return t


def _nice(dim: int) -> Transform:
    return _randomise(NICE(dim, n_couplings=4, hidden=16, depth=2))


def _nice_gaussian_initialised(dim: int) -> Transform:
    model = NICE(dim, n_couplings=3, hidden=16, depth=2, prior="gaussian")
    return model.init_from_data(torch.rand(64, dim))


TRANSFORMS: dict[str, Callable[[int], Transform]] = {
    "additive-even": lambda d: _randomise(AdditiveCoupling(d, parity=0, hidden=16, depth=2)),
    "additive-odd": lambda d: _randomise(AdditiveCoupling(d, parity=1, hidden=16, depth=3)),
    "affine-even": lambda d: _randomise(AffineCoupling(d, parity=0, hidden=16, depth=2)),
    "affine-odd": lambda d: _randomise(AffineCoupling(d, parity=1, hidden=16, depth=3, bound=1.5)),
    "flow-affine": lambda d: _randomise(
        CouplingFlow(d, coupling="affine", n_couplings=3, hidden=16, depth=2)
    ),
    "flow-additive-gaussian-init": lambda d: CouplingFlow(
        d, coupling="additive", n_couplings=2, hidden=16, depth=1, prior="gaussian"
    ).init_from_data(torch.rand(64, d)),
    "scaling": lambda d: _randomise(Scaling(d)),
    "shift": lambda d: _randomise(Shift(d)),
    "compose": lambda d: _randomise(
        Compose([AdditiveCoupling(d, 0, 8, 1), AdditiveCoupling(d, 1, 8, 1), Scaling(d)])
    ),
    "inverse-nice": lambda d: Inverse(_nice(d)),
    "nice": _nice,
    "nice-gaussian-init": _nice_gaussian_initialised,
}
