"""Lesson 04 exercises: log p(x) of a tiny NICE by hand, the best scale, a scaling model's log_prob."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nicelab.exercises import Exercise, close_to, register


def _logistic(z: float) -> float:
    """Standard logistic log-density ``-softplus(z) - softplus(-z)``."""
    return -math.log1p(math.exp(-abs(z))) * 2 - abs(z)


def _tiny_nice_log_p() -> float:
    # x = (1, -1); coupling keeps x1: h = (x1, x2 + x1**2) = (1, 0); s = (log 2, log 4): z = (2, 0)
    z = (2.0, 0.0)
    return sum(_logistic(v) for v in z) + math.log(2.0) + math.log(4.0)


q1 = register(
    Exercise(
        key="lesson04.q1",
        prompt=(
            "A 2-D NICE (our forward direction, data -> latent): one additive coupling keeps x1 and "
            "sets h2 = x2 + m(x1) with m(a) = a**2; then the scaling z = exp(s) * h with "
            "s = (log 2, log 4), i.e. the notes' S = diag(1/2, 1/4); a standard logistic prior "
            "(log p(z) = -z - 2 log(1 + exp(-z)) per coordinate). Compute log p(x) at x = (1, -1) "
            "with the notes' formula Σ_i [log p(f⁻¹(x)_i) − log|S_ii|] (a number, in nats)."
        ),
        checker=close_to(_tiny_nice_log_p(), rtol=1e-4),
        hint_text=(
            "First push x through the layers: h = (1, 1 + (-1)) ... then z = exp(s) * h. "
            "Then add the prior's log-density of each z_i and subtract log S_ii = -s_i."
        ),
        solution_text=(
            "h = (1, -1 + 1**2) = (1, 0);  z = (2·1, 4·0) = (2, 0)\n"
            "log p(z_1) = -2 - 2 log(1 + e^-2) ≈ -2.2539;  log p(z_2) = -2 log 2 ≈ -1.3863\n"
            "-log|S_11| - log|S_22| = log 2 + log 4 ≈ 2.0794\n"
            f"log p(x) ≈ {_tiny_nice_log_p():.4f} nats"
        ),
        reference=_tiny_nice_log_p,
        wrong=[
            _tiny_nice_log_p() - math.log(8.0),  # forgot the scaling term
            _tiny_nice_log_p() - 2 * math.log(8.0),  # subtracted it: wrong sign
            _logistic(2.0) + _logistic(-4.0) + math.log(8.0),  # skipped the coupling
            -0.5 * 4.0 - math.log(2 * math.pi) + math.log(8.0),  # a Gaussian prior instead
        ],
    )
)


q2 = register(
    Exercise(
        key="lesson04.q2",
        prompt=(
            "A model that is only a scaling z = exp(s) * x with a standard Gaussian prior is fitted to "
            "1-D data with mean 0 and standard deviation 0.2. Which log-scale s (our convention) "
            "maximises the mean log-likelihood? (a number; the notes' S = exp(-s))"
        ),
        checker=close_to(math.log(5.0), rtol=1e-3),
        hint_text=(
            "Mean log-likelihood: -exp(2s)·0.2²/2 + s + const. Set its derivative with respect to s to zero."
        ),
        solution_text=(
            "d/ds [-exp(2s)σ²/2 + s] = -exp(2s)σ² + 1 = 0  =>  s = -log σ = log 5 ≈ 1.609.\n"
            "Then S = exp(-s) = σ = 0.2: the latent is stretched until the data has the prior's spread."
        ),
        reference=lambda: math.log(5.0),
        wrong=[-math.log(5.0), 0.2, 5.0, math.log(5.0 * math.pi / math.sqrt(3.0))],
    )
)


def _scaling_log_prob_reference() -> Callable[[Tensor, Tensor], Tensor]:
    def log_prob(x: Tensor, log_scale: Tensor) -> Tensor:
        z = torch.exp(log_scale) * x
        return (-F.softplus(z) - F.softplus(-z)).sum(dim=1) + log_scale.sum()

    return log_prob


def _check_scaling_log_prob(answer: Any) -> str | None:
    if not callable(answer):
        return "answer with a function `log_prob(x, log_scale)` returning a (batch,) tensor"
    from nicelab.priors import Logistic
    from nicelab.scaling import Scaling

    generator = torch.Generator().manual_seed(4)
    for dim in (1, 3):
        x = torch.randn(10, dim, generator=generator, dtype=torch.float64) * 2
        s = torch.randn(dim, generator=generator, dtype=torch.float64)
        layer = Scaling(dim).double()
        with torch.no_grad():
            layer.log_scale.copy_(s)
            z, log_det = layer(x)
            expected = Logistic(dim).double().log_prob(z) + log_det
        got = answer(x.clone(), s.clone())
        if not isinstance(got, Tensor) or got.shape != (10,):
            return f"expected a tensor of shape (10,), got {getattr(got, 'shape', got)!r}"
        if not torch.allclose(got.detach().to(torch.float64), expected, atol=1e-8):
            diff = float((got.detach().to(torch.float64) - expected).mean())
            if abs(abs(diff) - abs(float(s.sum()))) < 1e-6 or abs(abs(diff) - 2 * abs(float(s.sum()))) < 1e-6:
                return "the log-det term is missing or has the wrong sign (forward: z = exp(s)·x)"
            return f"log p(x) differs from the model's by {diff:.4g} on average (D={dim})"
    return None


q3 = register(
    Exercise(
        key="lesson04.q3",
        prompt=(
            "Write `log_prob(x, log_scale)` for the model z = exp(log_scale) * x with a standard logistic "
            "prior: x is (batch, D), log_scale is (D,); return log p(x) of shape (batch,)."
        ),
        checker=_check_scaling_log_prob,
        hint_text=(
            "log p(x) = Σ_i log p_logistic(z_i) + log|det dz/dx|, and dz/dx is diagonal with entries "
            "exp(s_i). The logistic log-density is -softplus(z) - softplus(-z)."
        ),
        solution_text=(
            "def log_prob(x, log_scale):\n"
            "    z = torch.exp(log_scale) * x\n"
            "    return (-F.softplus(z) - F.softplus(-z)).sum(dim=1) + log_scale.sum()"
        ),
        reference=_scaling_log_prob_reference,
        wrong=[
            lambda x, s: (-F.softplus(torch.exp(s) * x) - F.softplus(-torch.exp(s) * x)).sum(1),
            lambda x, s: (-F.softplus(torch.exp(s) * x) - F.softplus(-torch.exp(s) * x)).sum(1) - s.sum(),
            lambda x, s: (-F.softplus(torch.exp(-s) * x) - F.softplus(-torch.exp(-s) * x)).sum(1) - s.sum(),
            lambda x, s: (-0.5 * (torch.exp(s) * x) ** 2 - 0.5 * math.log(2 * math.pi)).sum(1) + s.sum(),
            lambda x, s: (-F.softplus(torch.exp(s) * x) - F.softplus(-torch.exp(s) * x)).mean(1) + s.sum(),
        ],
    )
)

__all__ = ["q1", "q2", "q3"]
