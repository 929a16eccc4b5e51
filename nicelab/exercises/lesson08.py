"""Lesson 08 exercises: invert an affine coupling, its x-dependent log-det, bits per dimension, one spline
bin built by hand, and a prediction of NICE's number of peaks."""

from __future__ import annotations

import math
from typing import Any

import torch

from nicelab.exercises import Exercise, numeric, register, tensor_close

#: one affine coupling's outputs for a batch of 3 (changed half of size 2): z = x * exp(s) + t
S = torch.tensor([[0.5, -1.0], [0.0, 0.3], [-0.2, 1.1]], dtype=torch.float64)
T = torch.tensor([[1.0, 0.0], [-2.0, 0.5], [0.3, -0.7]], dtype=torch.float64)
Z_CHANGED = torch.tensor([[2.0, 1.0], [0.0, -1.5], [1.2, 0.4]], dtype=torch.float64)


def _inverse() -> torch.Tensor:
    return (Z_CHANGED - T) * torch.exp(-S)


q1 = register(
    Exercise(
        key="lesson08.affine_inverse",
        prompt=(
            "An affine coupling computed z_change = x_change * exp(S) + T "
            "(S, T, Z_CHANGED given, shape (3, 2)). Recover x_change, a (3, 2) tensor."
        ),
        checker=tensor_close(
            _inverse(),
            "x_change values",
            [
                (
                    Z_CHANGED * torch.exp(-S) - T,
                    "you undid the scaling before the shift; the shift came last",
                ),
                ((Z_CHANGED - T) * torch.exp(S), "you multiplied by exp(S) again; undo it with exp(-S)"),
                (Z_CHANGED * torch.exp(-S), "the shift T was never removed"),
                (Z_CHANGED - T, "you removed the shift but did not undo the scaling"),
            ],
            fallback="undo the shift first, then the scaling",
        ),
        hint_text="Undo the last operation first: remove the shift, then undo the scaling.",
        solution_text="x_change = (Z_CHANGED - T) * torch.exp(-S)",
        reference=_inverse,
        # undone in the wrong order; divided by exp(-S); forgot the shift; forgot the scaling
        wrong=[
            Z_CHANGED * torch.exp(-S) - T,
            (Z_CHANGED - T) / torch.exp(-S),
            Z_CHANGED * torch.exp(-S),
            Z_CHANGED - T,
        ],
    )
)


def _log_dets() -> torch.Tensor:
    return S.sum(dim=1)


q2 = register(
    Exercise(
        key="lesson08.affine_log_det",
        prompt=(
            "For the same layer, give log|det dz/dx| for each of the 3 inputs (a tensor of shape (3,)). "
            "Unlike NICE's additive coupling, it differs from input to input."
        ),
        checker=tensor_close(
            _log_dets(),
            "per-sample log-dets",
            [
                (torch.zeros(3), "that is additive coupling's log-det; the affine one is Σ_j s_j"),
                (-S.sum(dim=1), "wrong sign: forward z = x·exp(s) + t stretches by exp(s), log-det +Σ s"),
                (torch.exp(S).prod(dim=1), "that is |det| itself; take its log (the sum of the s_j)"),
                (S.sum(dim=1) + T.sum(dim=1), "the shift t does not change volume: leave T out"),
            ],
            fallback="the log-det of one input is the sum of its row of S",
        ),
        hint_text=(
            "The Jacobian is triangular: identity on the kept half, diag(exp(s)) on the changed half. "
            "Take log|det| of that, sample by sample."
        ),
        solution_text=(
            f"S.sum(dim=1)  # = {[round(v, 4) for v in _log_dets().tolist()]}; "
            "the kept half contributes log 1 = 0"
        ),
        reference=_log_dets,
        wrong=[
            torch.zeros(3),
            -S.sum(dim=1),
            torch.exp(S).prod(dim=1),
            S.sum(dim=1) + T.sum(dim=1),
            S.sum(dim=0).tolist() + [0.0],
        ],
    )
)

D = 784


def _bits(nats: float) -> float:
    return (D * math.log(256.0) - nats) / (D * math.log(2.0))


#: a hypothetical improvement in test log-likelihood on MNIST, nats per image (data in [0, 1])
NATS_BEFORE, NATS_AFTER = 1850.0, 2000.0

BITS_GAIN = _bits(NATS_BEFORE) - _bits(NATS_AFTER)

q3 = register(
    Exercise(
        key="lesson08.bits_gain",
        prompt=(
            "Swapping couplings raised an MNIST test log-likelihood from 1850 to 2000 nats per image "
            "(data in [0, 1], D = 784). By how many bits per dimension did the model improve, i.e. "
            "bits/dim before minus bits/dim after? (A positive number.)"
        ),
        checker=numeric(
            BITS_GAIN,
            [
                (
                    -BITS_GAIN,
                    "wrong sign: bits/dim is a cost, so a higher log-likelihood gives fewer bits and the "
                    "improvement (before minus after) is positive",
                ),
                ((NATS_AFTER - NATS_BEFORE) / D, "that is nats per dimension: divide by ln 2 for bits"),
                (
                    (NATS_AFTER - NATS_BEFORE) * math.log(2.0) / D,
                    "you multiplied by ln 2; nats to bits divides by ln 2",
                ),
                ((NATS_AFTER - NATS_BEFORE) / math.log(2.0), "that is bits per image: divide by D = 784"),
                (_bits(NATS_AFTER), "that is the new model's bits/dim; the question asks for the change"),
                (_bits(NATS_BEFORE), "that is the old model's bits/dim; the question asks for the change"),
            ],
        ),
        hint_text="bits/dim = (D ln 256 - LL) / (D ln 2). The D ln 256 term cancels in a difference.",
        solution_text=(
            f"({NATS_AFTER:g} - {NATS_BEFORE:g}) / (784 · ln 2) ≈ {BITS_GAIN:.3f} bits/dim "
            f"(before {_bits(NATS_BEFORE):.3f}, after {_bits(NATS_AFTER):.3f})"
        ),
        reference=lambda: BITS_GAIN,
    )
)


#: one spline bin, as in the lesson's derivation: knots (x_k, y_k), (x_k1, y_k1), knot derivatives d_k, d_k1
BIN = {"x_k": -1.0, "x_k1": 0.5, "y_k": -0.2, "y_k1": 1.0, "d_k": 0.5, "d_k1": 2.0}
#: where the learner's function is checked: inside the bin, including both knots
BIN_POINTS = torch.tensor([-1.0, -0.7, -0.25, 0.0, 0.2, 0.5], dtype=torch.float64)


def _rq_bin(x: torch.Tensor, x_k, x_k1, y_k, y_k1, d_k, d_k1) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: the rational-quadratic map on one bin and its log-derivative (Durkan et al. 2019)."""
    w, h = x_k1 - x_k, y_k1 - y_k
    s = h / w
    xi = (x - x_k) / w
    theta = xi * (1 - xi)
    den = s + (d_k1 + d_k - 2 * s) * theta
    y = y_k + h * (s * xi**2 + d_k * theta) / den
    log_deriv = torch.log(s**2 * (d_k1 * xi**2 + 2 * s * theta + d_k * (1 - xi) ** 2)) - 2 * torch.log(den)
    return y, log_deriv


def _linear_bin(x, x_k, x_k1, y_k, y_k1, d_k, d_k1):
    s = (y_k1 - y_k) / (x_k1 - x_k)
    return y_k + s * (x - x_k), torch.full_like(x, math.log(s))


def _unsquared_denominator(x, x_k, x_k1, y_k, y_k1, d_k, d_k1):
    y, log_deriv = _rq_bin(x, x_k, x_k1, y_k, y_k1, d_k, d_k1)
    s = (y_k1 - y_k) / (x_k1 - x_k)
    xi = (x - x_k) / (x_k1 - x_k)
    den = s + (d_k1 + d_k - 2 * s) * xi * (1 - xi)
    return y, log_deriv + torch.log(den)


def _swapped_derivatives(x, x_k, x_k1, y_k, y_k1, d_k, d_k1):
    return _rq_bin(x, x_k, x_k1, y_k, y_k1, d_k1, d_k)


def _spline_checker(answer: Any) -> str | None:
    if not callable(answer):
        return "expected a function rq_bin(x, x_k, x_k1, y_k, y_k1, d_k, d_k1) returning (y, log_deriv)"
    out = answer(BIN_POINTS.clone(), **BIN)
    if not (isinstance(out, tuple) and len(out) == 2):
        return "return a pair (y, log_deriv), each a tensor shaped like x"
    got = [torch.as_tensor(v, dtype=torch.float64) for v in out]
    if any(g.shape != BIN_POINTS.shape for g in got):
        return f"y and log_deriv must have x's shape {tuple(BIN_POINTS.shape)}"
    want = _rq_bin(BIN_POINTS, **BIN)
    mistakes = [
        (_linear_bin, "that is linear interpolation between the knots; use the rational-quadratic formula"),
        (_unsquared_denominator, "y is right; in g'(x) the denominator is squared"),
        (_swapped_derivatives, "d_k belongs to the left knot (ξ = 0) and d_k1 to the right one (ξ = 1)"),
    ]
    for name, value, expected in zip(("y", "log_deriv"), got, want, strict=True):
        if not torch.allclose(value, expected, rtol=1e-6, atol=1e-8):
            for wrong, message in mistakes:
                if torch.allclose(value, wrong(BIN_POINTS, **BIN)[0 if name == "y" else 1], atol=1e-8):
                    return message
            return (
                f"{name} is not right; check ξ = (x - x_k)/w, the slope s = h/w and each term of the formula"
            )
    return None


q4 = register(
    Exercise(
        key="lesson08.spline_bin",
        prompt=(
            "Write rq_bin(x, x_k, x_k1, y_k, y_k1, d_k, d_k1) returning (y, log_deriv): the "
            "rational-quadratic spline on one bin and log g'(x), for a tensor x of points inside the bin."
        ),
        checker=_spline_checker,
        hint_text=(
            "w = x_k1 - x_k, h = y_k1 - y_k, s = h / w, ξ = (x - x_k) / w, θ = ξ(1 - ξ). "
            "y = y_k + h (s ξ² + d_k θ) / (s + (d_k1 + d_k - 2s) θ); "
            "g' = s² (d_k1 ξ² + 2 s θ + d_k (1 - ξ)²) / (s + (d_k1 + d_k - 2s) θ)²."
        ),
        solution_text=(
            "def rq_bin(x, x_k, x_k1, y_k, y_k1, d_k, d_k1):\n"
            "    w, h = x_k1 - x_k, y_k1 - y_k\n"
            "    s = h / w\n"
            "    xi = (x - x_k) / w\n"
            "    theta = xi * (1 - xi)\n"
            "    den = s + (d_k1 + d_k - 2 * s) * theta\n"
            "    y = y_k + h * (s * xi**2 + d_k * theta) / den\n"
            "    num = d_k1 * xi**2 + 2 * s * theta + d_k * (1 - xi)**2\n"
            "    log_deriv = torch.log(s**2 * num) - 2 * torch.log(den)\n"
            "    return y, log_deriv"
        ),
        reference=lambda: _rq_bin,
        wrong=[_linear_bin, _unsquared_denominator, _swapped_derivatives, "rq_bin", lambda x, **k: x],
    )
)


def _peak_count_checker(answer: Any) -> str | None:
    """A count: only a whole number is an answer, and only 1 is right."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer != int(answer):
        return f"a number of peaks is a whole number, got {answer!r}"
    if answer == 8:
        return "that is the truth's count; recall lesson 05: what does a constant log-det allow?"
    if answer < 1:
        return "a density on the plane that vanishes far away has at least one peak"
    return (
        None
        if answer == 1
        else f"{int(answer)} is not right: think of where log p_Z(f(x)) can have a maximum"
    )


q5 = register(
    Exercise(
        key="lesson08.nice_peaks",
        prompt=(
            "Predict before you run: how many peaks (local maxima of q) does lesson 05's NICE have after "
            "training on eight_gaussians, whose true density has 8?"
        ),
        checker=_peak_count_checker,
        hint_text=(
            "NICE: log q(x) = log p_Z(f(x)) + Σ s, with the same Σ s at every x. Where can log q have a "
            "local maximum if log p_Z has only one?"
        ),
        solution_text=(
            "1: with a constant log-det, log q(x) = log p_Z(f(x)) + const, and a log-concave prior with its "
            "mode at 0 gives q a single peak, at f⁻¹(0) (lesson 05's path_to_peak climbs to it)."
        ),
        reference=lambda: 1,
        wrong=[8, 0, 2, 1.5, "one", True],
    )
)
