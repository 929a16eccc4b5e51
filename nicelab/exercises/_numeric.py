"""Checkers for numeric answers: accept what a learner copies, say why a wrong number is wrong.

The rule, shared by every numeric exercise:

* **right** when ``|answer - expected| <= tolerance``, where ``tolerance`` is half a unit in the third
  significant figure of ``expected``, ``0.5 · 10^(floor(log10|expected|) - 2)`` (widened by an explicit
  ``atol`` where an exercise needs it). So the correctly rounded value at three significant figures
  passes (481.145 → 481, 0.27603 → 0.276), and so does every rounding with more digits. For
  ``|expected| >= 100`` three significant figures are coarser than one decimal, so the value rounded to
  one decimal (481.1, 2138.9) passes too: a learner is never asked for fewer than one decimal, nor for
  more than three significant figures. (For ``|expected| < 10`` one decimal is fewer than three
  significant figures and is not enough: 4.4 for 4.356 is 1 % off, and hears "close".)
* **a typical mistake** when the answer is near one of the exercise's :class:`Diagnosis` values (within
  that value's own three-significant-figure tolerance, or the checker's relative close band, 1 % by
  default): the learner gets that mistake's diagnosis ("a factor ln 2: nats, not bits"), whichever of
  the listed mistakes is nearest.
* **close** when the answer lies within the close band (``1 %`` of ``|expected|`` unless the exercise
  sets ``close``), or equals ``expected`` rounded to two significant figures: "give more digits".
* otherwise **wrong**: the tolerance is at most 0.5 % of ``|expected|`` (unless ``atol`` widens it), so an
  answer 10 % off never passes; it is told it is not right, without a hint at the value. Between 1 % and
  10 % nothing is "close": a copy to three figures is never more than 0.5 % off, so a larger miss is a
  slip in the working, not in the copying (two significant figures excepted, see above).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

#: default half-width of the "close: give more digits" band, relative to |expected|
CLOSE_REL = 0.01
#: float round-off allowed on top of a tolerance (a decimal rounding of a binary value may land on the edge)
_EDGE = 1e-9


def sig_tolerance(value: float, figures: int = 3) -> float:
    """Half a unit in the ``figures``-th significant figure of ``value`` (0 for ``value == 0``).

    Every number that rounds to ``value``'s correct ``figures``-significant-figure rounding lies within it.
    """
    if figures < 1:
        raise ValueError(f"figures must be an integer >= 1, got {figures!r}")
    if value == 0 or not math.isfinite(value):
        return 0.0
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - figures + 1)


def round_sig(value: float, figures: int) -> float:
    """``value`` rounded to ``figures`` significant figures, as a learner would write it."""
    return float(f"{value:.{figures}g}")


def _real(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a real number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Diagnosis:
    """A typical wrong answer and what it tells the learner: ``value`` is what the mistake produces."""

    value: float
    message: str

    def __post_init__(self) -> None:
        _real(self.value, "a diagnosis value")
        if not isinstance(self.message, str) or not self.message.strip():
            raise ValueError(f"a diagnosis needs a non-empty message, got {self.message!r}")

    def band(self, rel: float, floor: float) -> float:
        """How near an answer must be to count as this mistake.

        Its own 3-s.f. tolerance, the checker's relative close band ``rel`` (1 % by default), or ``floor``
        (the checker's tolerance), whichever is widest.
        """
        return max(sig_tolerance(self.value), rel * abs(self.value), floor)


def as_diagnoses(diagnoses: Iterable[Diagnosis | tuple[float, str]]) -> tuple[Diagnosis, ...]:
    """Normalise ``[(value, message), ...]`` or :class:`Diagnosis` objects to a tuple of diagnoses."""
    out = []
    for item in diagnoses:
        if isinstance(item, Diagnosis):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(Diagnosis(float(_real(item[0], "a diagnosis value")), item[1]))
        else:
            raise ValueError(f"a diagnosis is a (value, message) pair, got {item!r}")
    return tuple(out)


def _answer_to_float(answer: Any) -> float | str:
    """The learner's number, or a message saying why it is not one."""
    if isinstance(answer, bool):
        return f"answer with a number, not {answer!r}"
    if hasattr(answer, "shape") and hasattr(answer, "reshape"):  # a tensor or an array holding one number
        if math.prod(answer.shape) != 1:
            return f"answer with one number, not an array of shape {tuple(answer.shape)}"
        answer = answer.reshape(-1)[0]
        answer = answer.item() if hasattr(answer, "item") else answer
    return float(answer)  # a string that is not a number raises, and Exercise.check reports it


@dataclass(frozen=True)
class Numeric:
    """A checker for one number: ``checker(answer) -> None`` if right, else the feedback message.

    Build it with :func:`numeric`. ``verdict`` says which of right / close / diagnosed / wrong an answer
    is, so tests can ask for the kind of feedback without parsing it.
    """

    expected: float
    tolerance: float
    close_band: float
    diagnoses: tuple[Diagnosis, ...]

    def verdict(self, answer: Any) -> tuple[str, str | None]:
        """``("right", None)``, or ``(kind, message)`` with kind "close", "diagnosed" or "wrong"."""
        value = _answer_to_float(answer)
        if isinstance(value, str):
            return "wrong", value
        if math.isfinite(value) and abs(value - self.expected) <= self.tolerance * (1 + _EDGE):
            return "right", None
        near = self._nearest_mistake(value)
        if near is not None:
            return "diagnosed", f"{value:.6g} is not right: {near.message}"
        if not math.isfinite(value):
            return "wrong", f"{value} is not a finite number"
        if self._is_close(value):
            return "close", (
                f"{value:.6g} is close, but not within three significant figures: give more digits "
                "(copy at least 3 significant figures, or compute it in Python)"
            )
        return "wrong", f"{value:.6g} is not right"

    def __call__(self, answer: Any) -> str | None:
        return self.verdict(answer)[1]

    @property
    def _close_rel(self) -> float:
        """The close band relative to ``|expected|``: how loosely a learner's copy of any value may match."""
        return self.close_band / abs(self.expected) if self.expected else CLOSE_REL

    def _is_close(self, value: float) -> bool:
        if abs(value - self.expected) <= self.close_band:
            return True
        return self.expected != 0 and value == round_sig(self.expected, 2)

    def _nearest_mistake(self, value: float) -> Diagnosis | None:
        """The diagnosis nearest ``value`` (relative to its band), if any is near enough.

        An answer inside the close band goes to a diagnosis only if it is nearer to it (in band units).
        """
        if not math.isfinite(value):
            return next((d for d in self.diagnoses if d.value == value), None)
        best, best_ratio = None, 1.0
        for diag in self.diagnoses:
            if not math.isfinite(diag.value):
                continue
            ratio = abs(value - diag.value) / diag.band(self._close_rel, self.tolerance)
            if ratio <= best_ratio * (1 + _EDGE):
                best, best_ratio = diag, ratio
        if best is not None and self.close_band > 0:
            if abs(value - self.expected) / self.close_band < best_ratio:
                return None
        return best


def numeric(
    expected: float,
    diagnoses: Iterable[Diagnosis | tuple[float, str]] = (),
    *,
    atol: float = 0.0,
    close: float | None = None,
) -> Numeric:
    """A checker accepting ``expected`` to three significant figures, with a diagnosis for each mistake.

    Args:
        expected: the right answer (finite).
        diagnoses: ``(value, message)`` pairs: the number a typical mistake produces, and what to tell
            the learner who gives it. Each value must lie outside the close band around ``expected``
            (else a rounding could not be told from the mistake).
        atol: widen the tolerance to at least this (e.g. an answer that may be computed two ways).
            Required (> 0) when ``expected`` is 0, which has no significant figures.
        close: half-width of the "close: give more digits" band; default 1 % of ``|expected|``, at least
            twice the tolerance. Set it where a relative band is meaningless (log-densities near -800).

    Tolerance: ``max(0.5 · 10^(floor(log10|expected|) - 2), atol)``; see the module docstring.
    """
    expected = _real(expected, "expected")
    atol = _real(atol, "atol")
    if not math.isfinite(expected) or atol < 0 or (expected == 0 and atol == 0):
        raise ValueError(
            f"expected must be finite and atol >= 0 (> 0 if expected is 0); got {expected}, {atol}"
        )
    tolerance = max(sig_tolerance(expected), atol)
    band = max(CLOSE_REL * abs(expected), 2 * tolerance) if close is None else _real(close, "close")
    if band < tolerance:
        raise ValueError(f"close must be at least the tolerance {tolerance:.3g}, got {band}")
    diags = as_diagnoses(diagnoses)
    for diag in diags:
        if abs(diag.value - expected) <= band:
            raise ValueError(
                f"the mistake {diag.value:.6g} ({diag.message!r}) is within the close band of the answer "
                f"{expected:.6g}: a learner's rounding could not be told from it"
            )
    return Numeric(expected, tolerance, band, diags)


def close_to(
    expected: float,
    rtol: float = 0.0,
    atol: float = 0.0,
    diagnoses: Iterable[Diagnosis | tuple[float, str]] = (),
) -> Numeric:
    """:func:`numeric` under its older name: ``rtol`` and ``atol`` can only widen the 3-s.f. tolerance."""
    expected = _real(expected, "expected")
    if _real(rtol, "rtol") < 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    return numeric(expected, diagnoses, atol=max(_real(atol, "atol"), rtol * abs(expected)))


@dataclass(frozen=True)
class Guess:
    """A numeric prediction: any guess within ``within`` of ``expected`` passes; else how far off it is.

    Right when ``|answer - expected| <= within``. A prediction, made before a cell shows the value, is a
    guess, not a computation, so the band is set per question and wide on purpose: the three-significant-
    figure rule of :func:`numeric` does not fit (its "close: give more digits" would be the wrong advice).
    ``within = 0`` asks for an exact count. The answer is read as :func:`numeric` reads it (a tensor
    holding one number counts); a string or a non-finite number is not a guess.
    """

    expected: float
    within: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.expected) and math.isfinite(self.within) and self.within >= 0):
            raise ValueError(
                f"expected and within must be finite, within >= 0; got {self.expected}, {self.within}"
            )

    def __call__(self, answer: Any) -> str | None:
        value = _guess_to_float(answer)
        if isinstance(value, str):
            return value
        miss = value - self.expected
        if abs(miss) <= self.within * (1 + 1e-12):
            return None
        direction = "high" if miss > 0 else "low"
        return f"your guess {value:g} is {abs(miss):.3g} too {direction}; run the next cell"


def _guess_to_float(answer: Any) -> float | str:
    """The learner's guess as a finite float, or a message saying why it is not one."""
    not_a_number = f"answer with a finite number, not {answer!r}"
    if isinstance(answer, str):
        return not_a_number
    try:
        value = _answer_to_float(answer)
    except (TypeError, ValueError):
        return not_a_number
    if isinstance(value, str):  # an array of several numbers
        return value
    return value if math.isfinite(value) else not_a_number


def guess(expected: float, within: float) -> Guess:
    """A :class:`Guess` checker: guesses within ``within`` of ``expected`` pass."""
    return Guess(_real(expected, "expected"), _real(within, "within"))


def _tensor_tolerance(expected: torch.Tensor, atol: float) -> torch.Tensor:
    """Elementwise :func:`sig_tolerance` of ``expected``, at least ``atol``."""
    tol = [max(sig_tolerance(float(v)), atol) for v in expected.reshape(-1).tolist()]
    return torch.tensor(tol, dtype=torch.float64).reshape(expected.shape)


@dataclass(frozen=True)
class TensorClose:
    """A checker for a tensor answer: every entry right to three significant figures (see the module rule).

    Build it with :func:`tensor_close`; ``diagnoses`` holds ``(tensor, message)`` pairs of typical mistakes.
    """

    expected: torch.Tensor
    what: str
    tolerance: torch.Tensor
    diagnoses: tuple[tuple[torch.Tensor, str], ...]
    fallback: str

    def __call__(self, answer: Any) -> str | None:
        got = torch.as_tensor(answer, dtype=torch.float64)
        if got.shape != self.expected.shape:
            return f"expected {self.what} of shape {tuple(self.expected.shape)}, got {tuple(got.shape)}"
        if self._near(got, self.expected):
            return None
        for value, message in self.diagnoses:
            if self._near(got, value):
                return f"those are not the right {self.what}: {message}"
        return f"those are not the right {self.what}; {self.fallback}"

    def _near(self, got: torch.Tensor, target: torch.Tensor) -> bool:
        tol = torch.maximum(self.tolerance, _tensor_tolerance(target, 0.0)) * (1 + _EDGE)
        return bool(((got - target).abs() <= tol).all())


def tensor_close(
    expected: torch.Tensor,
    what: str,
    diagnoses: Sequence[tuple[torch.Tensor, str]] = (),
    *,
    fallback: str = "compare your steps with the hint",
    atol: float = 1e-6,
) -> TensorClose:
    """A checker for a tensor: each entry within its own 3-s.f. tolerance (at least ``atol``).

    A tensor printed by torch (4 decimals) and copied is accepted as long as each entry keeps three
    significant figures. ``diagnoses`` maps typical wrong tensors to messages; ``fallback`` is said otherwise.
    """
    expected = torch.as_tensor(expected, dtype=torch.float64)
    if not bool(torch.isfinite(expected).all()):
        raise ValueError("expected must be a finite tensor")
    tolerance = _tensor_tolerance(expected, _real(atol, "atol"))
    checked = []
    for value, message in diagnoses:
        value = torch.as_tensor(value, dtype=torch.float64)
        if value.shape != expected.shape or bool(((value - expected).abs() <= tolerance).all()):
            raise ValueError(f"the mistake for {message!r} has the wrong shape or equals the answer")
        checked.append((value, message))
    return TensorClose(expected, what, tolerance, tuple(checked), fallback)
