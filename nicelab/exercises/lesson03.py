"""Lesson 03 exercises: invert an additive coupling, its Jacobian's sparsity, a general coupling's log-det,
build an additive coupling layer (the ``build_coupling`` check), and two predictions."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nicelab.coupling import AdditiveCoupling, mlp
from nicelab.exercises import Exercise, numeric, register
from nicelab.exercises.lesson01 import choice, guess
from nicelab.jacobian import log_abs_det
from nicelab.transforms import Transform


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


# --- build: an additive coupling layer as a transform -------------------------------------------------

#: what the learner's unfilled skeleton hears
NOT_ANSWERED = "not answered yet: replace every `...` in your class, then run the cell again"
#: (dim, parity) pairs the build check runs, even dimensions first so an odd-only failure is diagnosed
BUILD_CASES = ((6, 0), (6, 1), (5, 0), (5, 1), (2, 1))
_BATCH = 16


class ReferenceCoupling(Transform):
    """The worked solution: ``z[:, p::2] = x[:, p::2] + m(x[:, 1-p::2])``, the rest copied; log-det 0.

    ``m`` is an MLP with two hidden layers of ``hidden`` ReLU units, from the ``n_kept`` coordinates
    to the ``n_changed = len(range(parity, dim, 2))`` ones (for odd ``dim`` parity 0 changes one more).
    """

    def __init__(self, dim: int, parity: int, hidden: int = 64) -> None:
        super().__init__(dim)
        self.parity = parity
        n_changed = len(range(parity, dim, 2))  # positions parity, parity + 2, ...
        n_kept = dim - n_changed
        self.m = mlp(n_kept, n_changed, hidden, depth=2)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        p = self.parity
        z = x.clone()  # never write into the caller's x
        z[:, p::2] = x[:, p::2] + self.m(x[:, 1 - p :: 2])
        return z, x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        p = self.parity
        x = z.clone()
        x[:, p::2] = z[:, p::2] - self.m(z[:, 1 - p :: 2])  # m sees the same kept half as in forward
        return x, z.new_zeros(z.shape[0])


def _call(layer: Any, method: str, t: Tensor) -> tuple[Tensor, Tensor] | str:
    """``layer.method(t)`` as ``(out, log_det)`` with the right shapes, or a message saying what is wrong."""
    try:
        out = getattr(layer, method)(t)
    except Exception as err:  # the learner's code may raise anything
        if "ellipsis" in str(err).lower():
            return NOT_ANSWERED
        return f"{method} raised {type(err).__name__}: {err}"
    if out is None or out is Ellipsis:
        return NOT_ANSWERED if out is Ellipsis or method == "forward" else f"{method} returns nothing"
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(o, Tensor) for o in out)):
        return f"{method} must return a pair of tensors (output, log_det), got {type(out).__name__}"
    result, log_det = out
    if result.shape != t.shape:
        return f"{method}'s output must have the input's shape {tuple(t.shape)}, got {tuple(result.shape)}"
    if log_det.shape != (t.shape[0],):
        return (
            f"{method}'s log_det must have shape (batch,) = ({t.shape[0]},), one number per sample, "
            f"got {tuple(log_det.shape)} (e.g. x.new_zeros(x.shape[0]))"
        )
    return result, log_det


def _diagnose_forward(x: Tensor, z: Tensor, m: nn.Module, dim: int, parity: int) -> str:
    """Why ``z`` is not ``x`` with ``x[:, p::2]`` shifted by ``m(x[:, 1-p::2])``."""
    changed, kept = slice(parity, None, 2), slice(1 - parity, None, 2)
    if torch.equal(z, x):
        return "forward returned x unchanged: shift the changed half x[:, parity::2] by m(kept half)"
    if not torch.equal(z[:, kept], x[:, kept]):
        if torch.equal(z[:, changed], x[:, changed]):
            return (
                f"with parity={parity} your layer changed x[:, {1 - parity}::2] and copied "
                f"x[:, {parity}::2]: "
                "the other way round (is parity used?)"
            )
        return (
            f"with parity={parity} the kept coordinates x[:, {1 - parity}::2] must be copied unchanged; "
            "yours changed some (nicelab interleaves: parity p changes positions p, p+2, ...)"
        )
    with torch.no_grad():
        shift = m(x[:, kept])
        if torch.allclose(z[:, changed], x[:, changed] - shift, atol=1e-10):
            return "forward subtracts m(kept); it adds it (z = x_changed + m(x_kept)), the inverse subtracts"
        if x[:, kept].shape == x[:, changed].shape:
            own = m(x[:, changed])
            if torch.allclose(z[:, changed], x[:, changed] + own, atol=1e-10):
                return "m must read the kept half x[:, 1-parity::2], not the half it changes"
    return f"D={dim}, parity={parity}: z[:, parity::2] is not x[:, parity::2] + m(x[:, 1-parity::2])"


def _diagnose_inverse(z: Tensor, x_back: Tensor, x: Tensor, m: nn.Module, parity: int) -> str:
    """Why ``x_back = inverse(z)`` is not ``x``."""
    changed, kept = slice(parity, None, 2), slice(1 - parity, None, 2)
    if torch.equal(x_back, z):
        return "inverse returned z unchanged: undo the shift of the changed half"
    with torch.no_grad():
        if torch.allclose(x_back[:, changed], z[:, changed] + m(z[:, kept]), atol=1e-10):
            return "the inverse adds m(kept) again; it must subtract it: x_changed = z_changed - m(z_kept)"
    error = float((x_back - x).abs().max())
    return f"inverse(forward(x)) is not x (max error {error:.3g}): which half does m read in the inverse?"


def _with_hint(message: str, hint: str) -> str:
    return f"{message}. {hint}" if hint else message


def _check_one_coupling(answer: type, dim: int, parity: int) -> str | None:
    """Build ``answer(dim, parity, hidden=8)`` and test it against nicelab on one batch (float64)."""
    n_changed = len(range(parity, dim, 2))
    odd_hint = (
        f"For D={dim}, parity {parity} changes {n_changed} coordinates and keeps {dim - n_changed}: "
        "count them with len(range(parity, dim, 2)), not dim // 2."
        if dim % 2
        else ""
    )
    try:
        layer = answer(dim, parity, hidden=8)
    except Exception as err:
        if "ellipsis" in str(err).lower():
            return NOT_ANSWERED
        return _with_hint(
            f"{answer.__name__}({dim}, {parity}, hidden=8) raised {type(err).__name__}: {err}", odd_hint
        )
    if not isinstance(getattr(layer, "m", None), nn.Module):
        return "keep the conditioner as the module self.m (the skeleton builds it with mlp)"
    layer = layer.double()
    x = torch.randn(
        _BATCH, dim, generator=torch.Generator().manual_seed(dim + 10 * parity), dtype=torch.float64
    )
    x_in = x.clone()
    got = _call(layer, "forward", x_in)
    if isinstance(got, str):
        return _with_hint(got, odd_hint) if "raised" in got else got
    z, log_det = got
    if not torch.equal(x_in, x):
        return "forward changed its input x in place: start from a copy, z = x.clone()"
    reference = AdditiveCoupling(dim, parity, hidden=1, depth=1).double()
    reference.m = layer.m  # nicelab's layer with the learner's own conditioner
    with torch.no_grad():
        z_ref = reference(x)[0]
    if not torch.allclose(z, z_ref, atol=1e-10):
        return _with_hint(_diagnose_forward(x, z.detach(), layer.m, dim, parity), odd_hint)
    try:
        brute = log_abs_det(lambda t: layer(t)[0], x)
    except Exception as err:
        return f"autograd could not differentiate forward ({type(err).__name__}): no no_grad or .detach there"
    if not torch.allclose(log_det.detach(), brute, atol=1e-9):
        return (
            f"forward's log_det should be log|det dz/dx|, which autograd finds is 0 at every point "
            f"(your log_det: {float(log_det.detach().abs().max()):.3g} at most): an additive coupling "
            "preserves volume"
        )
    got = _call(layer, "inverse", z.detach().clone())
    if isinstance(got, str):
        return got
    x_back, inv_log_det = got
    if not torch.allclose(x_back, x, atol=1e-10):
        return _diagnose_inverse(z.detach(), x_back.detach(), x, layer.m, parity)
    if inv_log_det.detach().abs().max() > 1e-12:
        return "inverse's log_det must be 0 too (log|det dx/dz| = -log|det dz/dx| = 0)"
    return None


def _check_coupling_class(answer: Any) -> str | None:
    if not isinstance(answer, type):
        return "answer with your class itself (e.g. `MyCoupling`), not an instance or a function"
    with torch.random.fork_rng():  # the MLPs' random init must not move the notebook's random stream
        torch.manual_seed(0)
        for dim, parity in BUILD_CASES:
            problem = _check_one_coupling(answer, dim, parity)
            if problem is not None:
                return problem
    return None


BUILD_SOLUTION = """class MyCoupling(Transform):
    def __init__(self, dim, parity, hidden=64):
        super().__init__(dim)
        self.parity = parity
        n_changed = len(range(parity, dim, 2))  # positions parity, parity + 2, ...
        n_kept = dim - n_changed
        self.m = mlp(n_kept, n_changed, hidden, depth=2)

    def forward(self, x):
        p = self.parity
        z = x.clone()  # never write into the caller's x
        z[:, p::2] = x[:, p::2] + self.m(x[:, 1 - p :: 2])
        return z, x.new_zeros(x.shape[0])

    def inverse(self, z):
        p = self.parity
        x = z.clone()
        x[:, p::2] = z[:, p::2] - self.m(z[:, 1 - p :: 2])  # m sees the same kept half
        return x, z.new_zeros(z.shape[0])"""


class _InverseAdds(ReferenceCoupling):
    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        p = self.parity
        x = z.clone()
        x[:, p::2] = z[:, p::2] + self.m(z[:, 1 - p :: 2])
        return x, z.new_zeros(z.shape[0])


class _ForwardSubtracts(ReferenceCoupling):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return ReferenceCoupling.inverse(self, x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return ReferenceCoupling.forward(self, z)


class _MReadsChangedHalf(ReferenceCoupling):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        p = self.parity
        z = x.clone()
        z[:, p::2] = x[:, p::2] + self.m(x[:, p::2])
        return z, x.new_zeros(x.shape[0])


class _ParityIgnored(ReferenceCoupling):
    def __init__(self, dim: int, parity: int, hidden: int = 64) -> None:
        super().__init__(dim, 0, hidden)  # always changes the even positions


class _LogDetOfM(ReferenceCoupling):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z, _ = super().forward(x)
        return z, self.m(x[:, 1 - self.parity :: 2]).sum(dim=1)  # "the shift's size" is not a log-det


class _LogDetScalar(ReferenceCoupling):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return super().forward(x)[0], x.new_zeros(())


class _HalfSplit(ReferenceCoupling):
    def __init__(self, dim: int, parity: int, hidden: int = 64) -> None:
        super().__init__(dim, parity, hidden)
        self.m = mlp(dim // 2, dim // 2, hidden, depth=2)  # right only for even dim


class _InPlace(ReferenceCoupling):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        p = self.parity
        x[:, p::2] += self.m(x[:, 1 - p :: 2])
        return x, x.new_zeros(x.shape[0])


class _Skeleton(Transform):
    """The notebook's skeleton with its `...` still in place."""

    def __init__(self, dim: int, parity: int, hidden: int = 64) -> None:
        super().__init__(dim)
        self.parity = parity
        n_changed = ...
        n_kept = ...
        self.m = mlp(n_kept, n_changed, hidden, depth=2)  # type: ignore[arg-type]


#: each typical wrong class and the words its diagnosis must contain (tests/test_build_exercises_01_04.py)
BUILD_MISTAKES: dict[type, str] = {
    _InverseAdds: "must subtract",
    _ForwardSubtracts: "forward subtracts",
    _MReadsChangedHalf: "m must read the kept half",
    _ParityIgnored: "is parity used",
    _LogDetOfM: "autograd finds is 0",
    _LogDetScalar: "shape (batch,)",
    _HalfSplit: "len(range(parity, dim, 2))",
    _InPlace: "in place",
    _Skeleton: "not answered yet",
}

build_coupling = register(
    Exercise(
        key="lesson03.build_coupling",
        prompt=(
            "Build an additive coupling layer as a nicelab Transform: a class with __init__(dim, "
            "parity, hidden) that keeps m = mlp(n_kept, n_changed, hidden, depth=2) as self.m, "
            "forward(x) -> (z, log_det) with z[:, parity::2] = x[:, parity::2] + m(x[:, 1-parity::2]) "
            "and the other coordinates copied, and inverse(z) -> (x, log_det); log_det of shape (batch,). "
            "The check runs both parities, an odd dimension, round trips, and compares your log-det with "
            "autograd's."
        ),
        checker=_check_coupling_class,
        hint_text=(
            "Copy first (z = x.clone()), then overwrite the changed positions z[:, p::2]. The inverse "
            "recomputes m on the kept half, which z still holds unchanged. For odd dim, parity 0 changes "
            "one coordinate more than parity 1: len(range(parity, dim, 2)). log_det: x.new_zeros(x.shape[0])."
        ),
        solution_text=BUILD_SOLUTION,
        reference=lambda: ReferenceCoupling,
        wrong=[*BUILD_MISTAKES, ReferenceCoupling(4, 0, 8), "MyCoupling"],
    )
)


# --- predictions ---------------------------------------------------------------------------------------

p1 = register(
    Exercise(
        key="lesson03.predict_roundtrip",
        prompt=(
            "Predict before you run: a 100-D additive coupling whose m is a deep ReLU network (not "
            "invertible) "
            "maps float32 points x to z and back. The largest round-trip error |x - inverse(forward(x))| is "
            "(a) exactly 0  (b) about 1e-7, float32 rounding  (c) about 1e-2  (d) large: m cannot be "
            "inverted. Answer with a letter."
        ),
        checker=choice(
            "b",
            {
                "a": "(x + m) - m is computed in float32: each operation rounds, so tiny errors remain",
                "c": "nothing is approximated or iterated: the only error is rounding, near float32's eps",
                "d": "m is never inverted: the inverse recomputes m on the kept half and subtracts it",
            },
        ),
        hint_text="What does the inverse compute, and which operations in it can lose precision?",
        solution_text=(
            "(b) about 1e-7: the inverse recomputes exactly the same m(kept) and subtracts it, so only "
            "float32 rounding (eps ≈ 1.2e-7, times the size of the numbers) is left."
        ),
        reference=lambda: "b",
        wrong=["a", "c", "d", 1e-7],
    )
)

#: D = 6: after one layer 6 + 3·3 entries; after two, rows of the first-changed half see 4 inputs, the rest 6
NONZERO_TWO_LAYERS = 3 * 4 + 3 * 6

p2 = register(
    Exercise(
        key="lesson03.predict_fill_in",
        prompt=(
            "Predict before you run: in 6-D, one additive coupling's Jacobian has 6 + 3·3 = 15 non-zero "
            "entries (of 36). Two layers with alternating parities: how many of the 36 entries of the "
            "composed Jacobian can be non-zero? (A whole number.)"
        ),
        checker=guess(NONZERO_TWO_LAYERS, 0),
        hint_text=(
            "Layer 1 changes positions 0, 2, 4 from 1, 3, 5. Layer 2 changes 1, 3, 5 from the NEW 0, 2, 4. "
            "Which inputs does each final output depend on?"
        ),
        solution_text=(
            "30: outputs 0, 2, 4 come from layer 1 (each depends on itself and on x1, x3, x5: 4 entries); "
            "outputs 1, 3, 5 add m(new 0, 2, 4), which depends on all six inputs (6 entries each): "
            "3·4 + 3·6 = 30. A third layer fills the last 6."
        ),
        reference=lambda: NONZERO_TWO_LAYERS,
        wrong=[15, 36, 24, 29.5, "30"],
    )
)

__all__ = [
    "BUILD_MISTAKES",
    "BUILD_SOLUTION",
    "NOT_ANSWERED",
    "ReferenceCoupling",
    "build_coupling",
    "p1",
    "p2",
    "q1",
    "q2",
    "q3",
]
