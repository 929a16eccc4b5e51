"""Lesson 01 exercises: a push-forward density value, the wrong density's mass, a log-density function,
two predictions; and the predict-then-run checkers lessons 01-04 import from here: :func:`choice` (a thin
wrapper over ``nicelab.exercises._choice``), :class:`Choice`, and :class:`Guess` / :func:`guess`
(re-exported from ``nicelab.exercises._numeric``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from nicelab.exercises import Exercise, _choice, numeric, register
from nicelab.exercises._choice import Choice
from nicelab.exercises._numeric import Guess, guess

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z - _LOG_SQRT_2PI)


#: q1's answer, p_X(3) for x = 2 z + 1: z = f^{-1}(3) = 1 and |d f^{-1}/dx| = 1/2
P_X3 = _phi(1.0) / 2

q1 = register(
    Exercise(
        key="lesson01.q1",
        prompt=(
            "z ~ N(0, 1) and x = f(z) = 2 z + 1. What is the density p_X(3)? Answer with a number "
            "(you may compute it in Python)."
        ),
        checker=numeric(
            P_X3,
            [
                (_phi(1.0), "that is p_Z(f^{-1}(3)) without the factor |d f^{-1}/dx| = 1/2"),
                (2 * _phi(1.0), "you multiplied by |df/dz| = 2; the factor is |d f^{-1}/dx| = 1/2"),
                (_phi(3.0) / 2, "you evaluated p_Z at x = 3; evaluate it at z = f^{-1}(3)"),
                (_phi(3.0), "that is p_Z(3): evaluate p_Z at z = f^{-1}(3), then multiply by |d f^{-1}/dx|"),
                (_phi(2.0) / 2, "f^{-1}(x) = (x - 1) / 2, so z = 1, not 2"),
            ],
        ),
        hint_text="Find z = f^{-1}(3) first, then ask how much f stretches a small interval around it.",
        solution_text=(
            "f^{-1}(x) = (x - 1) / 2, so z = 1 and |d f^{-1}/dx| = 1/2:\n"
            f"p_X(3) = N(1; 0, 1) * 1/2 = {_phi(1.0):.5f} / 2 = {P_X3:.5f}.\n"
            f"(Forgetting the factor gives {_phi(1.0):.5f}: the classic mistake this lesson is about.)"
        ),
        reference=lambda: P_X3,
    )
)

#: q2's answer: ∫ p_Z(log x) dx = E[e^Z] = e^{1/2}
WRONG_MASS = math.exp(0.5)

q2 = register(
    Exercise(
        key="lesson01.q2",
        prompt=(
            "For x = exp(z) with z ~ N(0, 1), the wrong 'density' p_Z(f^{-1}(x)) = p_Z(log x) does not "
            "integrate to 1. Exactly what does it integrate to? (A number; substitute x = exp(z).)"
        ),
        checker=numeric(
            WRONG_MASS,
            [
                (1.0, "a true density integrates to 1, but this one lacks the factor |d log x / dx|"),
                (math.e, "E[e^Z] for Z ~ N(0, 1) is e^{1/2}, not e^1"),
                (0.5, "that is the exponent: the integral is e^{1/2}"),
                (math.exp(-0.5), "wrong sign in the exponent: dx = e^z dz multiplies by e^z"),
            ],
        ),
        hint_text="With x = exp(z), dx = exp(z) dz, so the integral becomes an expectation over z ~ N(0, 1).",
        solution_text=(
            f"∫ p_Z(log x) dx = ∫ p_Z(z) e^z dz = E[e^Z] = e^{{1/2}} ≈ {WRONG_MASS:.4f}.\n"
            "In general the wrong density integrates to E|f'(Z)|: it is 1 only if f preserves length\n"
            "on average."
        ),
        reference=lambda: WRONG_MASS,
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


# --- predict, then run: checkers for a guess made before a cell shows the answer -----------------------
# Lessons 01-04 import them from here. The multiple-choice checker is nicelab.exercises._choice's (one
# parser, one wording for the whole course); the numeric prediction, Guess, lives in _numeric.


def choice(right: str, why: Mapping[str, str]) -> Choice:
    """A multiple-choice checker for a prompt that states its options itself.

    ``right`` is the right letter and ``why`` maps every wrong letter to what it misses, so the options are
    ``{right, *why}`` and each wrong one has its diagnosis. A thin wrapper over
    :func:`nicelab.exercises._choice.choice` with empty option texts: feedback for a wrong ``"b"`` is
    ``"(b): <why['b']>"``.
    """
    return _choice.choice(right, dict.fromkeys([right, *why], ""), why)


#: p1's map: x = 2 z + 1, whose naive curve p_Z((x - 1) / 2) integrates to |a| = 2
p1 = register(
    Exercise(
        key="lesson01.predict_naive_mass",
        prompt=(
            "Predict before you run: for the affine map x = 2 z + 1, what does the naive curve "
            "p_Z(f^{-1}(x)) = p_Z((x - 1) / 2) integrate to over the whole line? "
            "(a) 0.5  (b) 1  (c) 2  (d) it diverges. Answer with a letter."
        ),
        checker=choice(
            "c",
            {
                "a": "the naive curve keeps p_Z's height but is twice as wide: more area, not less",
                "b": "only the correct density, with the factor 1/|a| = 1/2, integrates to 1",
                "d": "it is a Gaussian bump: its integral is finite",
            },
        ),
        hint_text="p_Z((x - 1) / 2) is p_Z's bell stretched horizontally by 2 (same height). Area?",
        solution_text=(
            "(c) 2: substitute x = 2 z + 1, dx = 2 dz: ∫ p_Z((x - 1) / 2) dx = 2 ∫ p_Z(z) dz = 2.\n"
            "In general the naive curve integrates to E|f'(Z)|."
        ),
        reference=lambda: "c",
        wrong=["a", "b", "d", "e", 2, ""],
    )
)

p2 = register(
    Exercise(
        key="lesson01.predict_interval",
        prompt=(
            "Predict before you run: the z-interval [1, 1.25] is mapped by x = sinh(z) to an x-interval "
            "about 0.4 long. Compared with the fraction of samples z in [1, 1.25], the fraction of samples x "
            "in its image is (a) the same  (b) larger, since the interval is longer  (c) smaller, since the "
            "density of x is lower there. Answer with a letter."
        ),
        checker=choice(
            "a",
            {
                "b": "x lands in the image exactly when its z lands in [1, 1.25]: the count cannot grow",
                "c": (
                    "the density is lower, but over a longer interval: the same samples, the same fraction"
                ),
            },
        ),
        hint_text="f is a bijection: which z's produce an x in [sinh(1), sinh(1.25)]?",
        solution_text=(
            "(a) the same: x = sinh(z) lies in [sinh 1, sinh 1.25] exactly when z lies in [1, 1.25], so the "
            "very same samples are counted. Probability is conserved; length is not, so the density drops."
        ),
        reference=lambda: "a",
        wrong=["b", "c", "d", 1],
    )
)

__all__ = ["Choice", "Guess", "choice", "guess", "p1", "p2", "q1", "q2", "q3"]
