"""Lesson 08 exercises: invert an affine coupling, its x-dependent log-det, and bits per dimension."""

from __future__ import annotations

import math
from typing import Any

import torch

from nicelab.exercises import Exercise, close_to, register

#: one affine coupling's outputs for a batch of 3 (changed half of size 2): z = x * exp(s) + t
S = torch.tensor([[0.5, -1.0], [0.0, 0.3], [-0.2, 1.1]], dtype=torch.float64)
T = torch.tensor([[1.0, 0.0], [-2.0, 0.5], [0.3, -0.7]], dtype=torch.float64)
Z_CHANGED = torch.tensor([[2.0, 1.0], [0.0, -1.5], [1.2, 0.4]], dtype=torch.float64)


def _tensor_checker(expected: torch.Tensor, what: str):
    def checker(answer: Any) -> str | None:
        got = torch.as_tensor(answer, dtype=torch.float64)
        if got.shape != expected.shape:
            return f"expected {what} of shape {tuple(expected.shape)}, got {tuple(got.shape)}"
        if not torch.allclose(got, expected, rtol=1e-6, atol=1e-8):
            return f"those are not the right {what}; check the order of the two operations and the signs"
        return None

    return checker


def _inverse() -> torch.Tensor:
    return (Z_CHANGED - T) * torch.exp(-S)


q1 = register(
    Exercise(
        key="lesson08.affine_inverse",
        prompt=(
            "An affine coupling computed z_change = x_change * exp(S) + T "
            "(S, T, Z_CHANGED given, shape (3, 2)). Recover x_change, a (3, 2) tensor."
        ),
        checker=_tensor_checker(_inverse(), "x_change values"),
        hint_text="Undo the last operation first: remove the shift, then undo the scaling.",
        solution_text="x_change = (Z_CHANGED - T) * torch.exp(-S)",
        reference=_inverse,
        # undone in the wrong order; divided by exp(-S); forgot the shift
        wrong=[Z_CHANGED * torch.exp(-S) - T, (Z_CHANGED - T) / torch.exp(-S), Z_CHANGED * torch.exp(-S)],
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
        checker=_tensor_checker(_log_dets(), "per-sample log-dets"),
        hint_text=(
            "The Jacobian is triangular: identity on the kept half, diag(exp(s)) on the changed half. "
            "Take log|det| of that, sample by sample."
        ),
        solution_text="S.sum(dim=1)  # = tensor([-0.5, 0.3, 0.9]); the kept half contributes log 1 = 0",
        reference=_log_dets,
        wrong=[torch.zeros(3), -S.sum(dim=1), torch.exp(S).prod(dim=1), S.sum(dim=0).tolist() + [0.0]],
    )
)

D = 784


def _bits(nats: float) -> float:
    return (D * math.log(256.0) - nats) / (D * math.log(2.0))


#: a hypothetical improvement in test log-likelihood on MNIST, nats per image (data in [0, 1])
NATS_BEFORE, NATS_AFTER = 1850.0, 2000.0

q3 = register(
    Exercise(
        key="lesson08.bits_gain",
        prompt=(
            "Swapping couplings raised an MNIST test log-likelihood from 1850 to 2000 nats per image "
            "(data in [0, 1], D = 784). By how many bits per dimension did the model improve? "
            "(A positive number.)"
        ),
        checker=close_to(_bits(NATS_BEFORE) - _bits(NATS_AFTER), rtol=1e-3),
        hint_text="bits/dim = (D ln 256 - LL) / (D ln 2). The D ln 256 term cancels in a difference.",
        solution_text="(2000 - 1850) / (784 · ln 2) ≈ 0.276 bits/dim",
        reference=lambda: _bits(NATS_BEFORE) - _bits(NATS_AFTER),
        # stayed in nats per dim; forgot to divide by D; the sign
        wrong=[150 / D, 150 / math.log(2.0), _bits(NATS_AFTER) - _bits(NATS_BEFORE)],
    )
)
