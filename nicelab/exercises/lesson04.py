"""Lesson 04 exercises: log p(x) of a tiny NICE by hand, the best scale, a scaling model's log_prob."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nicelab.exercises import Exercise, numeric, register


def _logistic(z: float) -> float:
    """Standard logistic log-density ``-softplus(z) - softplus(-z)``."""
    return -math.log1p(math.exp(-abs(z))) * 2 - abs(z)


#: q1's layer: x = (1, -1), m(a) = a**2, s = (log 2, log 4)
X_Q1 = (1.0, -1.0)
S_Q1 = (math.log(2.0), math.log(4.0))


def _tiny_nice_log_p(
    coupling: bool = True, scale: float = 1.0, log_det_sign: float = 1.0, prior: str = "logistic"
) -> float:
    """log p(x) of q1's NICE, and the same with one typical slip.

    ``coupling=False`` skips the coupling; ``scale=-1`` multiplies by exp(-s) instead of exp(s);
    ``log_det_sign`` is +1 (right), 0 (forgotten) or -1 (flipped); ``prior="gaussian"`` swaps the prior.
    """
    h = (X_Q1[0], X_Q1[1] + (X_Q1[0] ** 2 if coupling else 0.0))
    z = [math.exp(scale * s) * v for s, v in zip(S_Q1, h, strict=True)]
    if prior == "logistic":
        log_pz = sum(_logistic(v) for v in z)
    else:
        log_pz = sum(-0.5 * v * v - 0.5 * math.log(2 * math.pi) for v in z)
    return log_pz + log_det_sign * scale * sum(S_Q1)


LOG_P_Q1 = _tiny_nice_log_p()

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
        checker=numeric(
            LOG_P_Q1,
            [
                (
                    _tiny_nice_log_p(log_det_sign=0.0),
                    "the scaling's term −Σ log|S_ii| = log 2 + log 4 is missing",
                ),
                (
                    _tiny_nice_log_p(log_det_sign=-1.0),
                    "wrong sign of the scaling term: −log|S_ii| = +s_i, so it adds log 2 + log 4",
                ),
                (_tiny_nice_log_p(coupling=False), "you skipped the coupling: h2 = x2 + x1**2 = 0"),
                (
                    _tiny_nice_log_p(scale=-1.0),
                    "z = exp(s) · h multiplies by (2, 4); you multiplied by the notes' S = (1/2, 1/4)",
                ),
                (_tiny_nice_log_p(prior="gaussian"), "that uses a Gaussian prior; this one is logistic"),
            ],
        ),
        hint_text=(
            "First push x through the layers: h = (1, 1 + (-1)) ... then z = exp(s) * h. "
            "Then add the prior's log-density of each z_i and subtract log S_ii = -s_i."
        ),
        solution_text=(
            "h = (1, -1 + 1**2) = (1, 0);  z = (2·1, 4·0) = (2, 0)\n"
            f"log p(z_1) = -2 - 2 log(1 + e^-2) ≈ {_logistic(2.0):.4f};  "
            f"log p(z_2) = -2 log 2 ≈ {_logistic(0.0):.4f}\n"
            f"-log|S_11| - log|S_22| = log 2 + log 4 ≈ {sum(S_Q1):.4f}\n"
            f"log p(x) ≈ {LOG_P_Q1:.4f} nats"
        ),
        reference=lambda: LOG_P_Q1,
    )
)

#: q2: data standard deviation; the best s makes exp(s)·σ = 1, the prior's spread
SIGMA_Q2 = 0.2
BEST_S_Q2 = -math.log(SIGMA_Q2)

q2 = register(
    Exercise(
        key="lesson04.q2",
        prompt=(
            "A model that is only a scaling z = exp(s) * x with a standard Gaussian prior is fitted to "
            "1-D data with mean 0 and standard deviation 0.2. Which log-scale s (our convention) "
            "maximises the mean log-likelihood? (a number; the notes' S = exp(-s))"
        ),
        checker=numeric(
            BEST_S_Q2,
            [
                (-BEST_S_Q2, "that is log S, the notes' convention; our s = -log S"),
                (SIGMA_Q2, "that is the notes' S = exp(-s); the question asks for s"),
                (1 / SIGMA_Q2, "that is exp(s); the question asks for s itself"),
                (
                    -math.log(SIGMA_Q2 * math.sqrt(3.0) / math.pi),
                    "that matches a logistic prior's spread (π/√3); this prior is a standard Gaussian",
                ),
            ],
        ),
        hint_text=(
            "Mean log-likelihood: -exp(2s)·0.2²/2 + s + const. Set its derivative with respect to s to zero."
        ),
        solution_text=(
            f"d/ds [-exp(2s)σ²/2 + s] = -exp(2s)σ² + 1 = 0  =>  s = -log σ = log 5 ≈ {BEST_S_Q2:.3f}.\n"
            f"Then S = exp(-s) = σ = {SIGMA_Q2:g}: the latent is stretched until the data has the "
            "prior's spread."
        ),
        reference=lambda: BEST_S_Q2,
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
