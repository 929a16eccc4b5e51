"""Lesson 03 exercises: invert an additive coupling, its Jacobian's sparsity, a general coupling's log-det."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nicelab.exercises import Exercise, numeric, register


def _test_m(d: int, out: int, seed: int) -> Callable[[Tensor], Tensor]:
    """A fixed random nonlinear ``m: R^d -> R^out`` used to test an answer (not invertible itself)."""
    generator = torch.Generator().manual_seed(seed)
    w1 = torch.randn(d, 8, generator=generator, dtype=torch.float64)
    w2 = torch.randn(8, out, generator=generator, dtype=torch.float64)
    return lambda a: torch.tanh(a @ w1) @ w2 + (a**2).sum(dim=1, keepdim=True)


def _couple(x: Tensor, m: Callable[[Tensor], Tensor]) -> Tensor:
    """The notes' partition (contiguous halves), forward direction: ``z = (x₁, x₂ + m(x₁))``."""
    d = x.shape[1] // 2
    return torch.cat([x[:, :d], x[:, d:] + m(x[:, :d])], dim=1)


def _check_uncouple(answer: Any) -> str | None:
    if not callable(answer):
        return "answer with a function `uncouple(z, m)` that returns x"
    for dim, seed in ((2, 0), (5, 1), (8, 2)):
        d = dim // 2
        m = _test_m(d, dim - d, seed)
        x = torch.randn(16, dim, generator=torch.Generator().manual_seed(seed + 10), dtype=torch.float64)
        z = _couple(x, m)
        got = answer(z.clone(), m)
        if not isinstance(got, Tensor) or got.shape != x.shape:
            return (
                f"for D={dim} expected a tensor of shape {tuple(x.shape)}, got {getattr(got, 'shape', got)!r}"
            )
        if not torch.allclose(got, x, atol=1e-9):
            if torch.allclose(got[:, :d], x[:, :d], atol=1e-9):
                return (
                    f"for D={dim} the kept half is right but the changed half is not (which input feeds m?)"
                )
            return f"for D={dim} uncouple(couple(x)) is not x (max error {float((got - x).abs().max()):.3g})"
    return None


def _uncouple_reference() -> Callable[[Tensor, Callable[[Tensor], Tensor]], Tensor]:
    def uncouple(z: Tensor, m: Callable[[Tensor], Tensor]) -> Tensor:
        d = z.shape[1] // 2
        return torch.cat([z[:, :d], z[:, d:] - m(z[:, :d])], dim=1)

    return uncouple


q1 = register(
    Exercise(
        key="lesson03.q1",
        prompt=(
            "Write `uncouple(z, m)`, the inverse of the additive coupling with the notes' partition: "
            "d = D // 2, z[:, :d] = x[:, :d] and z[:, d:] = x[:, d:] + m(x[:, :d]). Return x "
            "(a (batch, D) tensor). You may not invert m."
        ),
        checker=_check_uncouple,
        hint_text="The first d coordinates pass through unchanged, so you know exactly what m was fed.",
        solution_text=(
            "def uncouple(z, m):\n"
            "    d = z.shape[1] // 2\n"
            "    return torch.cat([z[:, :d], z[:, d:] - m(z[:, :d])], dim=1)"
        ),
        reference=_uncouple_reference,
        wrong=[
            lambda z, m: z,  # forgets to undo the shift
            lambda z, m: torch.cat(
                [z[:, : z.shape[1] // 2], z[:, z.shape[1] // 2 :] + m(z[:, : z.shape[1] // 2])], 1
            ),
            lambda z, m: torch.cat(
                [z[:, : z.shape[1] // 2], z[:, z.shape[1] // 2 :] - m(z[:, z.shape[1] - z.shape[1] // 2 :])],
                1,
            ),
            "x = z - m(z)",
        ],
    )
)


def _jacobian_mask() -> np.ndarray:
    # D = 6, parity 1: positions 1, 3, 5 change, 0, 2, 4 are kept. Rows are outputs z, columns inputs x.
    mask = np.eye(6, dtype=bool)
    for changed in (1, 3, 5):
        mask[changed, [0, 2, 4]] = True
    return mask


def _check_mask(answer: Any) -> str | None:
    got = np.asarray(answer)
    if got.shape != (6, 6):
        return f"expected a 6x6 array of True/False, got shape {got.shape}"
    got = got.astype(bool)
    expected = _jacobian_mask()
    if np.array_equal(got, expected):
        return None
    if np.array_equal(got, expected.T):
        return "that is the transpose: rows are outputs z_i, columns are inputs x_j"
    if not got.diagonal().all():
        return "the diagonal is never zero: dz_i/dx_i = 1 for every i in an additive coupling"
    missing = int((expected & ~got).sum())
    extra = int((got & ~expected).sum())
    return (
        f"{missing} entries that can be non-zero are marked False, {extra} that are always 0 are marked True"
    )


q2 = register(
    Exercise(
        key="lesson03.q2",
        prompt=(
            "AdditiveCoupling(6, parity=1) changes x[:, 1::2] (positions 1, 3, 5) and keeps positions "
            "0, 2, 4. Give a 6x6 boolean array `mask` with mask[i, j] True where dz_i/dx_j CAN be "
            "non-zero for some m (rows: outputs z, columns: inputs x)."
        ),
        checker=_check_mask,
        hint_text=(
            "Kept outputs copy one input each. A changed output z_i = x_i + m(kept)_i depends on x_i "
            "(with derivative 1) and on every kept input, but on no other changed input."
        ),
        solution_text=(
            "mask = np.eye(6, dtype=bool)\n"
            "for i in (1, 3, 5):\n"
            "    mask[i, [0, 2, 4]] = True\n"
            "# reordered as (kept, changed) this is [[I, 0], [dm/dx_kept, I]]: block-triangular"
        ),
        reference=_jacobian_mask,
        wrong=[
            np.tril(np.ones((6, 6), dtype=bool)),
            _jacobian_mask().T,
            np.ones((6, 6), dtype=bool),
            np.eye(6),
        ],
    )
)


#: q3: R^5, 2 kept coordinates, 3 changed ones scaled by 2
KEPT_Q3, CHANGED_Q3, FACTOR_Q3 = 2, 3, 2.0
LOG_DET_Q3 = CHANGED_Q3 * math.log(FACTOR_Q3)

q3 = register(
    Exercise(
        key="lesson03.q3",
        prompt=(
            "A general coupling layer on R^5 keeps 2 coordinates and maps the other 3 by "
            "g(a; m) = 2·a + m(kept), elementwise. What is log|det dz/dx| of this layer (a number)?"
        ),
        checker=numeric(
            LOG_DET_Q3,
            [
                (0.0, "that is additive coupling's log-det; here g multiplies each changed coordinate by 2"),
                (math.log(FACTOR_Q3), "each of the 3 changed coordinates contributes log 2, not just one"),
                (KEPT_Q3 * math.log(FACTOR_Q3), "the 3 changed coordinates are scaled, not the 2 kept ones"),
                (
                    (KEPT_Q3 + CHANGED_Q3) * math.log(FACTOR_Q3),
                    "the kept coordinates are copied: their diagonal entries are 1 and add log 1 = 0",
                ),
                (FACTOR_Q3**CHANGED_Q3, "that is |det| itself; the question asks for its log"),
                (CHANGED_Q3 * FACTOR_Q3, "you added the factors 2; the log-det adds their logs"),
                (-LOG_DET_Q3, "wrong sign: z = 2·a stretches volume, so the log-det is positive"),
            ],
        ),
        hint_text=(
            "The Jacobian is block-triangular: its determinant is the product of the determinants of the "
            "two diagonal blocks. What are those blocks here?"
        ),
        solution_text=(
            "The blocks are I_2 (kept) and 2·I_3 (changed); m only fills the off-diagonal block.\n"
            f"det = 1 · 2**3 = {FACTOR_Q3**CHANGED_Q3:g}, so log|det| = 3·log 2 ≈ {LOG_DET_Q3:.4f}."
        ),
        reference=lambda: LOG_DET_Q3,
    )
)

__all__ = ["q1", "q2", "q3"]
