"""Lesson 02 exercises: area from a determinant, the notes' density-1/4 example, a flow's log-likelihood."""

from __future__ import annotations

import math

from nicelab.exercises import Exercise, close_to, register

_LOG_2PI = math.log(2 * math.pi)

q1 = register(
    Exercise(
        key="lesson02.q1",
        prompt=(
            "The linear map x = A z with A = [[3, 1], [2, -1]] sends the unit square to a parallelogram. "
            "What is its area? (A number.)"
        ),
        checker=close_to(5.0, rtol=1e-6),
        hint_text="Area scales by |det A|; det [[a, b], [c, d]] = a d - b c. Mind the absolute value.",
        solution_text=(
            "det A = 3 * (-1) - 1 * 2 = -5. The minus sign only says the square comes out mirrored\n"
            "(orientation flipped); the area is |det A| = 5. Check: nicelab.jacobian.area_change."
        ),
        reference=lambda: 5.0,
        wrong=[-5.0, 1.0, -1.0, 3.0],
    )
)


q2 = register(
    Exercise(
        key="lesson02.q2",
        prompt=(
            "The notes' example: z ~ N(0, I) in 2-D and x = J z with J = [[2, 0], [0, 2]]. "
            "What is log p_X(0)? (A number; log p_Z(0) = -log(2 pi).)"
        ),
        checker=close_to(-_LOG_2PI - math.log(4.0), rtol=1e-4),
        hint_text="The unit square's area grows by det J = 4: each x-space point gets 1/4 as much density.",
        solution_text=(
            "log p_X(0) = log p_Z(J^{-1} 0) + log|det J^{-1}| = -log(2 pi) - log 4\n"
            "           ≈ -1.8379 - 1.3863 = -3.2242."
        ),
        reference=lambda: -_LOG_2PI - math.log(4.0),
        wrong=[-_LOG_2PI, -_LOG_2PI + math.log(4.0), -_LOG_2PI - math.log(2.0), 0.25 / (2 * math.pi)],
    )
)


def _flow_answer() -> float:
    # undo the steps in reverse: reflection diag(1, -1), shear [[1, 0], [1, 1]], scaling diag(2, 3)
    x = (2.0, 5.0)
    h2 = (x[0], -x[1])
    h1 = (h2[0], h2[1] - h2[0])
    z = (h1[0] / 2.0, h1[1] / 3.0)
    log_pz = -0.5 * (z[0] ** 2 + z[1] ** 2) - _LOG_2PI
    # per-layer log|det| of the inverses: -log 6, -log 1, -log|-1|
    return log_pz - math.log(6.0) - 0.0 - 0.0


_ANSWER = _flow_answer()

q3 = register(
    Exercise(
        key="lesson02.q3",
        prompt=(
            "A three-layer 2-D flow x = f3(f2(f1(z))), z ~ N(0, I): f1 scales by diag(2, 3), f2 is the shear "
            "[[1, 0], [1, 1]], f3 is the reflection diag(1, -1). Compute log p_X(x) at x = (2, 5) as "
            "log p_Z(z) + the sum of the per-layer log|det| of the inverses. (A number.)"
        ),
        checker=close_to(_ANSWER, rtol=1e-4),
        hint_text=(
            "Invert one layer at a time, last layer first, to find z. Each inverse layer contributes "
            "log|det| of its own matrix inverse; a shear has det 1, a reflection |det| = 1."
        ),
        solution_text=(
            "Inverse of f3: (2, -5); of f2: (2, -5 - 2) = (2, -7); of f1: z = (1, -7/3).\n"
            "log p_Z(z) = -(1 + 49/9)/2 - log(2 pi) ≈ -5.0601; log-dets: -log 6 + 0 + 0.\n"
            f"log p_X(2, 5) = {_ANSWER:.4f}"
        ),
        reference=lambda: _ANSWER,
        wrong=[
            _ANSWER + math.log(6.0),
            _ANSWER + 2 * math.log(6.0),
            -0.5 * (4 + 25) - _LOG_2PI - math.log(6.0),
        ],
    )
)
