"""Learning-rate factors shared by :func:`nicelab.fit` and the MNIST recipe."""

from __future__ import annotations

import math


def cosine(progress: float) -> float:
    """Learning-rate factor: 1 at the start, 0 at the end of the budget (``progress`` in [0, 1])."""
    return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


def warmup_factor(steps_taken: int, warmup: int) -> float:
    """Linear warm-up: ``(steps_taken + 1) / warmup`` for the first ``warmup`` steps, then 1 (0: no warm-up).

    Adam's first steps move every weight by about ``lr`` in the sign of its gradient; ramping ``lr``
    keeps that first jolt from switching ReLU units off for good.
    """
    return min(1.0, (steps_taken + 1) / warmup) if warmup > 0 else 1.0


__all__ = ["cosine", "warmup_factor"]
