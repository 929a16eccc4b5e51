"""Exercises with instant feedback: ``ex.check(answer)``, ``ex.hint()``, ``ex.solution()``.

Each lesson module (``nicelab.exercises.lesson01`` …) builds :class:`Exercise` objects and registers
them in :data:`REGISTRY`. Every exercise carries a reference answer and some wrong answers, so the
test suite runs right and wrong answers through every checker (a check that cannot fail is a bug).

Numeric answers go through :func:`numeric` (or its older name :func:`close_to`): a right answer copied to
three significant figures passes, a near miss hears "close: give more digits", and each typical mistake
the exercise lists (a sign, a factor ln 2, a forgotten D·ln 256) gets its own diagnosis. Tensor answers
go through :func:`tensor_close`, elementwise. The rule is spelled out in ``nicelab.exercises._numeric``.
A numeric *prediction* (a guess before a cell shows the value) goes through :func:`guess`, a plain band.
Multiple-choice answers go through ``nicelab.exercises._choice.choice``: one letter, a diagnosis for each
wrong option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nicelab.exercises._numeric import (
    Diagnosis,
    Guess,
    Numeric,
    TensorClose,
    close_to,
    guess,
    numeric,
    round_sig,
    sig_tolerance,
    tensor_close,
)

__all__ = [
    "REGISTRY",
    "Diagnosis",
    "Exercise",
    "Guess",
    "Numeric",
    "TensorClose",
    "close_to",
    "guess",
    "numeric",
    "register",
    "round_sig",
    "sig_tolerance",
    "tensor_close",
]

#: every exercise in the course, by ``"lessonNN.name"``
REGISTRY: dict[str, Exercise] = {}


@dataclass
class Exercise:
    """One exercise.

    Attributes:
        key: unique id, e.g. ``"lesson01.integral"``.
        prompt: what the learner must produce (shown by ``print(ex)``).
        checker: ``checker(answer) -> None`` if right, else a short message saying what is wrong.
        hint_text: a nudge that does not give the answer away.
        solution_text: the worked solution (code and/or explanation), shown only on request.
        reference: ``reference() -> answer`` that passes the checker (used by the tests).
        wrong: answers that must fail the checker (used by the tests). A :class:`Numeric` checker's
            diagnosed mistakes are added to it, so each is tested without being listed twice.
    """

    key: str
    prompt: str
    checker: Callable[[Any], str | None]
    hint_text: str
    solution_text: str
    reference: Callable[[], Any]
    wrong: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.checker, Numeric):
            listed = list(self.wrong)
            self.wrong = listed + [d.value for d in self.checker.diagnoses if d.value not in listed]

    def check(self, answer: Any) -> bool:
        """Print instant feedback for ``answer`` and return whether it is right."""
        if answer is None or answer is Ellipsis:
            print(f"[{self.key}] Not answered yet: replace the `...` with your answer, then run the cell.")
            return False
        try:
            problem = self.checker(answer)
        except Exception as err:  # the learner's answer may be anything; say what went wrong
            problem = f"checking your answer raised {type(err).__name__}: {err}"
        if problem is None:
            print(f"[{self.key}] Correct!")
            return True
        print(f"[{self.key}] Not yet: {problem}\n  (Try ex.hint() for a nudge.)")
        return False

    def hint(self) -> None:
        """Print the hint."""
        print(f"[{self.key}] Hint: {self.hint_text}")

    def solution(self) -> None:
        """Print the worked solution."""
        print(f"[{self.key}] Solution:\n{self.solution_text}")

    def __str__(self) -> str:
        return f"[{self.key}] {self.prompt}"


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to :data:`REGISTRY` (keys must be unique) and return it."""
    if exercise.key in REGISTRY:
        raise ValueError(f"an exercise with key {exercise.key!r} is already registered")
    REGISTRY[exercise.key] = exercise
    return exercise
