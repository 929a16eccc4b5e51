"""Lesson 01 exercises: a push-forward density value, the wrong density's mass, a log-density function."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from nicelab.exercises import Exercise, close_to, register

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z - _LOG_SQRT_2PI)


q1 = register(
    Exercise(
        key="lesson01.q1",
        prompt=(
            "z ~ N(0, 1) and x = f(z) = 2 z + 1. What is the density p_X(3)? Answer with a number "
            "(you may compute it in Python)."
        ),
        checker=close_to(_phi(1.0) / 2, rtol=1e-3),
        hint_text="Find z = f^{-1}(3) first, then ask how much f stretches a small interval around it.",
        solution_text=(
            "f^{-1}(x) = (x - 1) / 2, so z = 1 and |d f^{-1}/dx| = 1/2:\n"
            "p_X(3) = N(1; 0, 1) * 1/2 = 0.24197 / 2 = 0.12099.\n"
            "(Forgetting the factor gives 0.24197: the classic mistake this lesson is about.)"
        ),
        reference=lambda: _phi(1.0) / 2,
        wrong=[_phi(1.0), 2 * _phi(1.0), _phi(3.0) / 2, _phi(3.0)],
    )
)


q2 = register(
    Exercise(
        key="lesson01.q2",
        prompt=(
            "For x = exp(z) with z ~ N(0, 1), the wrong 'density' p_Z(f^{-1}(x)) = p_Z(log x) does not "
            "integrate to 1. Exactly what does it integrate to? (A number; substitute x = exp(z).)"
        ),
        checker=close_to(math.exp(0.5), rtol=1e-3),
        hint_text="With x = exp(z), dx = exp(z) dz, so the integral becomes an expectation over z ~ N(0, 1).",
        solution_text=(
            "∫ p_Z(log x) dx = ∫ p_Z(z) e^z dz = E[e^Z] = e^{1/2} ≈ 1.6487.\n"
            "In general the wrong density integrates to E|f'(Z)|: it is 1 only if f preserves length\n"
            "on average."
        ),
        reference=lambda: math.exp(0.5),
        wrong=[1.0, math.e, 0.5, math.exp(-0.5)],
    )
)


def _check_log_prob(answer: Any) -> str | None:
    if not callable(answer):
        return "answer with a function log_p(x) that takes a tensor and returns a tensor of the same shape"
    x = torch.linspace(-20.0, 20.0, 41, dtype=torch.float64)
    got = answer(x.clone())
    if not isinstance(got, Tensor) or got.shape != x.shape:
        return (
            f"expected a tensor of shape {tuple(x.shape)}, got {getattr(got, 'shape', type(got).__name__)!r}"
        )
    z = torch.asinh(x)
    expected = -0.5 * z**2 - _LOG_SQRT_2PI - 0.5 * torch.log1p(x**2)
    if torch.allclose(got.to(torch.float64), expected, atol=1e-6, rtol=1e-6):
        return None
    naive = -0.5 * z**2 - _LOG_SQRT_2PI
    if torch.allclose(got.to(torch.float64), naive, atol=1e-6, rtol=1e-6):
        return "that is log p_Z(f^{-1}(x)): the Jacobian term log|d f^{-1}/dx| is missing"
    flipped = naive + 0.5 * torch.log1p(x**2)
    if torch.allclose(got.to(torch.float64), flipped, atol=1e-6, rtol=1e-6):
        return "the Jacobian term has the wrong sign: it is the derivative of the INVERSE that you need"
    return f"log_p(x) differs from the right answer by up to {float((got - expected).abs().max()):.3g}"


def _reference_log_prob() -> Callable[[Tensor], Tensor]:
    def log_p(x: Tensor) -> Tensor:
        z = torch.asinh(x)
        return -0.5 * z**2 - 0.5 * math.log(2 * math.pi) - 0.5 * torch.log1p(x**2)

    return log_p


q3 = register(
    Exercise(
        key="lesson01.q3",
        prompt=(
            "Write log_p(x), the log-density of x = sinh(z) with z ~ N(0, 1), for a tensor x "
            "(elementwise, torch only). Use d asinh(x)/dx = 1/sqrt(1 + x^2)."
        ),
        checker=_check_log_prob,
        hint_text="log p_X(x) = log p_Z(asinh(x)) + log|d asinh(x)/dx|; torch.log1p(x**2) is log(1 + x^2).",
        solution_text=(
            "def log_p(x):\n"
            "    z = torch.asinh(x)\n"
            "    return -0.5 * z**2 - 0.5 * math.log(2 * math.pi) - 0.5 * torch.log1p(x**2)\n"
            "Check: nicelab.densities.pushforward_log_prob(x, Sinh(1.0)) gives the same numbers."
        ),
        reference=_reference_log_prob,
        wrong=[
            lambda x: -0.5 * torch.asinh(x) ** 2 - _LOG_SQRT_2PI,  # no Jacobian term
            lambda x: -0.5 * torch.asinh(x) ** 2 - _LOG_SQRT_2PI + 0.5 * torch.log1p(x**2),  # sign flipped
            lambda x: -0.5 * x**2 - _LOG_SQRT_2PI,  # the base density at x itself
            lambda x: float(x.sum()),  # not a tensor of the right shape
            "log p",  # not a function
        ],
    )
)
