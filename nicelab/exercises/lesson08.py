"""Lesson 08 exercises: invert an affine coupling, its x-dependent log-det, and bits per dimension."""

from __future__ import annotations

import math

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
