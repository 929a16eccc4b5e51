"""Lesson 02 exercises: area from a determinant, the notes' density-1/4 example, a flow's log-likelihood,
and two predictions (a shear's area, the mass of a density built with a signed determinant)."""

from __future__ import annotations

import math

from nicelab.exercises import Exercise, numeric, register
from nicelab.exercises.lesson01 import choice, guess

_LOG_2PI = math.log(2 * math.pi)

q1 = register(
    Exercise(
        key="lesson02.q1",
        prompt=(
            "The linear map x = A z with A = [[3, 1], [2, -1]] sends the unit square to a parallelogram. "
            "What is its area? (A number.)"
        ),
        checker=numeric(
            5.0,
            [
                (-5.0, "that is det A; an area is |det A| (the sign only says the square is mirrored)"),
                (-1.0, "that is a d + b c; the determinant is a d - b c"),
                (1.0, "that is |a d + b c|; the determinant is a d - b c"),
                (2.0, "that is the trace a + d; the area is |det A| = |a d - b c|"),
            ],
        ),
        hint_text="Area scales by |det A|; det [[a, b], [c, d]] = a d - b c. Mind the absolute value.",
        solution_text=(
            f"det A = 3 * (-1) - 1 * 2 = {3 * -1 - 1 * 2}. The minus sign only says the square comes out\n"
            f"mirrored (orientation flipped); the area is |det A| = {abs(3 * -1 - 1 * 2)}. "
            "Check: nicelab.jacobian.area_change."
        ),
        reference=lambda: 5.0,
        wrong=[3.0],
    )
)


q2 = register(
    Exercise(
        key="lesson02.q2",
        prompt=(
            "The notes' example: z ~ N(0, I) in 2-D and x = J z with J = [[2, 0], [0, 2]]. "
            "What is log p_X(0)? (A number; log p_Z(0) = -log(2 pi).)"
        ),
        checker=numeric(
            -_LOG_2PI - math.log(4.0),
            [
                (-_LOG_2PI, "that is log p_Z(0) alone: add log|det J^{-1}| = -log 4"),
                (
                    -_LOG_2PI + math.log(4.0),
                    "wrong sign: J spreads the mass over 4 times the area, so subtract log 4",
                ),
                (-_LOG_2PI - math.log(2.0), "det J is 2 · 2 = 4, not 2: both axes are stretched"),
                (0.25 / (2 * math.pi), "that is p_X(0) itself; the question asks for its log"),
            ],
        ),
        hint_text="The unit square's area grows by det J = 4: each x-space point gets 1/4 as much density.",
        solution_text=(
            "log p_X(0) = log p_Z(J^{-1} 0) + log|det J^{-1}| = -log(2 pi) - log 4\n"
            f"           ≈ {-_LOG_2PI:.4f} - {math.log(4.0):.4f} = {-_LOG_2PI - math.log(4.0):.4f}."
        ),
        reference=lambda: -_LOG_2PI - math.log(4.0),
    )
)


def _log_pz(z: tuple[float, float]) -> float:
    return -0.5 * (z[0] ** 2 + z[1] ** 2) - _LOG_2PI


def _invert(x: tuple[float, float], order: str = "right", shear_sign: float = -1.0) -> tuple[float, float]:
    """z from x for the three-layer flow: reflection diag(1, -1), shear [[1, 0], [1, 1]], scaling diag(2, 3).

    ``order="right"`` undoes f3, f2, f1 (last layer first); ``"wrong"`` undoes f1 first, a typical slip.
    ``shear_sign=+1`` "undoes" the shear by adding, another slip.
    """
    steps = {
        "f3": lambda h: (h[0], -h[1]),
        "f2": lambda h: (h[0], h[1] + shear_sign * h[0]),
        "f1": lambda h: (h[0] / 2.0, h[1] / 3.0),
    }
    for name in ("f3", "f2", "f1") if order == "right" else ("f1", "f2", "f3"):
        x = steps[name](x)
    return x


X_Q3 = (2.0, 5.0)
#: per-layer log|det| of the inverses: -log 6 (the scaling), -log 1 (the shear), -log|-1| (the reflection)
LOG_DET_Q3 = -math.log(6.0) - 0.0 - 0.0
Z_Q3 = _invert(X_Q3)
_ANSWER = _log_pz(Z_Q3) + LOG_DET_Q3

q3 = register(
    Exercise(
        key="lesson02.q3",
        prompt=(
            "A three-layer 2-D flow x = f3(f2(f1(z))), z ~ N(0, I): f1 scales by diag(2, 3), f2 is the shear "
            "[[1, 0], [1, 1]], f3 is the reflection diag(1, -1). Compute log p_X(x) at x = (2, 5) as "
            "log p_Z(z) + the sum of the per-layer log|det| of the inverses. (A number.)"
        ),
        checker=numeric(
            _ANSWER,
            [
                (_log_pz(Z_Q3), "that is log p_Z(z) alone: add the inverses' log-dets (-log 6)"),
                (_log_pz(Z_Q3) - LOG_DET_Q3, "wrong sign: undoing a scaling by 6 shrinks area, -log 6"),
                (_log_pz(X_Q3) + LOG_DET_Q3, "you evaluated p_Z at x; invert the three layers to find z"),
                (
                    _log_pz(_invert(X_Q3, order="wrong")) + LOG_DET_Q3,
                    "you undid f1 first; undo the last layer, f3, first",
                ),
                (
                    _log_pz(_invert(X_Q3, shear_sign=1.0)) + LOG_DET_Q3,
                    "the shear added h_1 to h_2, so its inverse subtracts it",
                ),
            ],
        ),
        hint_text=(
            "Invert one layer at a time, last layer first, to find z. Each inverse layer contributes "
            "log|det| of its own matrix inverse; a shear has det 1, a reflection |det| = 1."
        ),
        solution_text=(
            "Inverse of f3: (2, -5); of f2: (2, -5 - 2) = (2, -7); of f1: z = (1, -7/3).\n"
            f"log p_Z(z) = -(1 + 49/9)/2 - log(2 pi) ≈ {_log_pz(Z_Q3):.4f}; log-dets: -log 6 + 0 + 0.\n"
            f"log p_X(2, 5) = {_ANSWER:.4f}"
        ),
        reference=lambda: _ANSWER,
    )
)

p1 = register(
    Exercise(
        key="lesson02.predict_shear",
        prompt=(
            "Predict before you run: the shear A = [[1, 1.5], [0, 1]] slides each horizontal line sideways. "
            "What is the area of the image of the unit square? (a) 1  (b) 1.5  (c) 2.5  (d) 0. "
            "Answer with a letter."
        ),
        checker=choice(
            "a",
            {
                "b": "1.5 is the off-diagonal entry; a parallelogram's area is base times height",
                "c": "the image is a slanted parallelogram, not a wider rectangle: base 1, height 1",
                "d": "A is invertible (det = 1·1 - 1.5·0), so it cannot squash the square flat",
            },
        ),
        hint_text="det [[a, b], [c, d]] = ad - bc. Or: base and height of the slanted parallelogram.",
        solution_text="(a) 1: det A = 1·1 - 1.5·0 = 1. A shear keeps area (base 1, height 1).",
        reference=lambda: "a",
        wrong=["b", "c", "d", 1.0],
    )
)

p2 = register(
    Exercise(
        key="lesson02.predict_signed_mass",
        prompt=(
            "Predict before you run: x = M z with M = diag(2, -2), z ~ N(0, I). If the density used the "
            "signed "
            "det(M^-1) = -1/4 instead of |det(M^-1)| = 1/4, what would it integrate to over the plane? "
            "(A number; a guess within 0.1 counts.)"
        ),
        checker=guess(-1.0, 0.1),
        hint_text="Every value is multiplied by -1/4 instead of +1/4. What did the right one integrate to?",
        solution_text=(
            "-1: the signed version is the right density times -1 everywhere, so its integral is -1. "
            "A density must be >= 0: only |det| makes sense."
        ),
        reference=lambda: -1,
        wrong=[1, 0, -0.25, 0.25, "minus one", True],
    )
)

__all__ = ["p1", "p2", "q1", "q2", "q3"]
