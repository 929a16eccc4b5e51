"""Every registered exercise accepts its reference answer and rejects each wrong answer."""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
import torch

import nicelab.exercises as exercises

LESSON_MODULES = {m.name for m in pkgutil.iter_modules(exercises.__path__) if not m.name.startswith("_")}
for _name in LESSON_MODULES:
    importlib.import_module(f"{exercises.__name__}.{_name}")

KEYS = sorted(exercises.REGISTRY)


def test_every_exercise_module_registers_something():
    prefixes = {key.split(".")[0] for key in KEYS}
    assert LESSON_MODULES <= prefixes, f"modules without exercises: {LESSON_MODULES - prefixes}"


@pytest.mark.parametrize("key", KEYS)
def test_reference_answer_passes(key, capsys):
    ex = exercises.REGISTRY[key]
    assert ex.check(ex.reference()) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("key", KEYS)
def test_wrong_answers_fail_with_feedback(key, capsys):
    ex = exercises.REGISTRY[key]
    assert ex.wrong, f"{key} lists no wrong answers: its checker is untested"
    for answer in ex.wrong:
        assert ex.check(answer) is False, f"{key} accepted a wrong answer: {answer!r}"
        assert "Not yet" in capsys.readouterr().out


@pytest.mark.parametrize("key", KEYS)
def test_unanswered_hint_and_solution_print(key, capsys):
    ex = exercises.REGISTRY[key]
    assert ex.check(...) is False
    ex.hint()
    ex.solution()
    out = capsys.readouterr().out
    assert "Not answered" in out and "Hint" in out and "Solution" in out


def test_exercise_api_on_a_tiny_example(capsys):
    ex = exercises.Exercise(
        key="demo.square",
        prompt="square 3",
        checker=exercises.close_to(9.0),
        hint_text="multiply",
        solution_text="3 * 3",
        reference=lambda: 9,
        wrong=[8, "nine"],
    )
    assert ex.check(9.0) and not ex.check(8) and not ex.check("nine")
    assert "raised ValueError" in capsys.readouterr().out
    with pytest.raises(ValueError, match="already registered"):
        exercises.register(ex) and exercises.register(ex)
    exercises.REGISTRY.pop("demo.square")


# --- numeric answers: what a learner copies passes, slips get their diagnosis -------------------------

NUMERIC = {key: ex for key, ex in exercises.REGISTRY.items() if isinstance(ex.checker, exercises.Numeric)}
TENSOR = {key: ex for key, ex in exercises.REGISTRY.items() if isinstance(ex.checker, exercises.TensorClose)}
#: exercises whose "close" band is deliberately narrower than 1 %, and why
NARROW_CLOSE = {"lesson07.logmeanexp": "a log-density near -800: 1 % would be 8 nats"}
#: exercises whose tolerance is wider than three significant figures, and why
WIDE_TOLERANCE = {
    "lesson05.mixture_entropy": "the Monte-Carlo entropy, 0.5 % below the closed form, passes too"
}
#: a typical mistake whose 3-s.f. rounding is also the right answer's 3-s.f. rounding (cannot be told apart)
SAME_AT_3SF = {
    ("lesson07.logmeanexp", -800.0): "LOG_W.max() = -799.7 and the answer -800.48 both round to -800"
}


def _round_half_up(value: float, figures: int) -> float:
    """``value`` to ``figures`` significant figures as a person rounds its printed digits (5 rounds up)."""
    digits = Decimal(repr(value))
    quantum = Decimal(1).scaleb(digits.adjusted() - figures + 1)
    return float(digits.quantize(quantum, rounding=ROUND_HALF_UP))


def test_the_course_has_numeric_exercises_in_every_lesson_with_numbers():
    lessons = {key.split(".")[0] for key in NUMERIC}
    assert {f"lesson0{n}" for n in range(1, 9)} <= lessons, sorted(lessons)


@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_every_numeric_exercise_diagnoses_a_typical_mistake(key):
    assert NUMERIC[key].checker.diagnoses, f"{key} lists no typical mistake with a diagnosis"


@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_right_answer_copied_to_three_significant_figures_passes(key, capsys):
    ex = NUMERIC[key]
    expected = float(ex.reference())
    assert expected == ex.checker.expected
    copies = {exercises.round_sig(expected, 3), _round_half_up(expected, 3), exercises.round_sig(expected, 6)}
    if abs(expected) >= 10:  # one decimal is never too few (and for |x| >= 100 it is more than 3 s.f.)
        copies |= {round(expected, 1), float(Decimal(repr(expected)).quantize(Decimal("0.1"), ROUND_HALF_UP))}
    for copy in sorted(copies):
        assert ex.check(copy) is True, f"{key} rejected the right answer copied as {copy!r}"
        assert ex.check(f"{copy!r}") is True, f"{key} rejected the right answer typed as the string {copy!r}"
    assert "Not yet" not in capsys.readouterr().out


@pytest.mark.parametrize("key", sorted(NUMERIC))
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_ten_percent_off_fails(key, factor, capsys):
    ex = NUMERIC[key]
    answer = factor * ex.checker.expected
    kind, _ = ex.checker.verdict(answer)
    assert kind not in ("right", "close"), f"{key}: {answer!r} (10 % off) is {kind}"
    assert ex.check(answer) is False and "Not yet" in capsys.readouterr().out


@pytest.mark.parametrize("key", sorted(NUMERIC))
@pytest.mark.parametrize("factor", [0.995, 1.005, 0.993, 1.007])
def test_near_miss_is_told_to_give_more_digits(key, factor, capsys):
    checker = NUMERIC[key].checker
    answer = factor * checker.expected
    kind, message = checker.verdict(answer)
    if abs(factor - 1) > 0.005 and key not in WIDE_TOLERANCE:  # 3 s.f. never allow more than 0.5 %
        assert kind != "right"
    if kind == "right":
        return
    if abs(answer - checker.expected) <= checker.close_band:
        assert kind == "close" and "give more digits" in message, f"{key}: {answer!r} got {message!r}"
    else:
        assert key in NARROW_CLOSE and kind == "wrong", f"{key}: {answer!r} got {message!r}"
    assert NUMERIC[key].check(answer) is False and "Not yet" in capsys.readouterr().out


@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_close_band_is_about_one_percent_and_tolerance_three_figures(key):
    checker = NUMERIC[key].checker
    assert checker.tolerance >= exercises.sig_tolerance(checker.expected)  # 3 s.f. always pass
    widest = 0.01 if key in WIDE_TOLERANCE else 0.005  # 3 s.f. are never more than 0.5 % off
    assert checker.tolerance <= widest * abs(checker.expected) * (1 + 1e-9)
    if key in NARROW_CLOSE:
        assert checker.close_band == checker.tolerance
    else:
        assert checker.close_band >= 0.01 * abs(checker.expected) - 1e-12
        assert checker.close_band <= max(0.0101 * abs(checker.expected), 2 * checker.tolerance)


@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_each_typical_mistake_fails_with_its_own_diagnosis(key, capsys):
    ex = NUMERIC[key]
    for diag in ex.checker.diagnoses:
        copies = [diag.value]
        if math.isfinite(diag.value) and diag.value != 0:
            copies.append(exercises.round_sig(diag.value, 3))
        for copy in copies:
            if (key, copy) in SAME_AT_3SF:
                assert ex.checker.verdict(copy)[0] == "right"
                continue
            kind, message = ex.checker.verdict(copy)
            assert kind == "diagnosed" and message.endswith(diag.message), f"{key}: {copy!r} got {message!r}"
            assert ex.check(copy) is False
            assert diag.message in capsys.readouterr().out


@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_solution_states_the_computed_answer(key):
    """Some number in the solution is the reference rounded to the decimals shown (none is typed wrong)."""
    ex = NUMERIC[key]
    expected = ex.checker.expected
    numbers = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\.?\d)(?!\w)", ex.solution_text)
    matches = [
        text
        for text in numbers
        if float(text) == round(expected, len(text.split(".")[1]) if "." in text else 0)
    ]
    assert matches, f"{key}: no number in the solution is {expected!r} rounded: {numbers}"


def test_peak_vs_typical_solution_is_the_computed_value():
    # the lesson 06 solution once said 481.3; 784 · (2 - log 4) is 481.1 to one decimal
    from nicelab.exercises import lesson06

    assert f"{784 * (2 - math.log(4)):.1f}" == "481.1" and "481.1" in lesson06.q5.solution_text
    assert "481.3" not in lesson06.q5.solution_text


def test_mixture_entropy_accepts_the_monte_carlo_value():
    from nicelab.datasets import get
    from nicelab.exercises import lesson05

    estimate, stderr = get("eight_gaussians").entropy_estimate(generator=torch.Generator().manual_seed(0))
    assert stderr < 0.005
    assert lesson05.q4.checker(estimate) is None, f"the Monte-Carlo entropy {estimate:.4f} is rejected"


@pytest.mark.parametrize("key", sorted(TENSOR))
def test_tensor_answers_copied_as_printed_pass_and_slips_are_named(key):
    ex = TENSOR[key]
    right = torch.as_tensor(ex.reference(), dtype=torch.float64)
    printed = torch.round(right * 1e4) / 1e4  # torch prints 4 decimals
    assert ex.checker(printed) is None and ex.checker(right.numpy().round(3)) is None
    assert ex.checker(right * 1.1) is not None
    assert ex.checker.diagnoses
    for value, message in ex.checker.diagnoses:
        assert ex.checker(value).endswith(message)
        assert ex.checker(torch.round(value * 1e4) / 1e4).endswith(message)


# --- the numeric rule itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "expected, accepted, close, wrong",
    [
        (481.145, [481, 481.1, 481.3, 481.5], [482, 478], [530, 433]),
        (0.27603, [0.276, 0.2760, 0.27603], [0.275, 0.277, 0.28], [0.3, 0.25]),
        (4.35554, [4.36, 4.356], [4.4, 4.34], [4.0, 4.8]),
        (-800.482, [-800, -800.5, -800.48], [], [-801, -799.9, -805]),
    ],
)
def test_the_numeric_rule_on_examples(expected, accepted, close, wrong):
    narrow = exercises.sig_tolerance(expected) if expected < -100 else None
    checker = exercises.numeric(expected, [(-expected, "the sign")], close=narrow)
    for answer in accepted:
        assert checker.verdict(answer) == ("right", None), answer
    for answer in close:
        assert checker.verdict(answer)[0] == "close", answer
    for answer in wrong:
        assert checker.verdict(answer)[0] == "wrong", answer
    assert checker.verdict(-expected)[1].endswith("the sign")


def test_non_numbers_and_bad_checkers_are_refused():
    checker = exercises.numeric(2.0, [(-2.0, "the sign")])
    assert "not True" in checker(True) and "shape (2,)" in checker(torch.ones(2))
    assert (
        checker(torch.tensor([2.0])) is None and checker(np.float32(2.0)) is None and checker("2.00") is None
    )
    assert "finite" in checker(math.nan)
    with pytest.raises(ValueError, match="close band"):
        exercises.numeric(1.0, [(1.005, "a rounding")])
    with pytest.raises(ValueError, match="atol"):
        exercises.numeric(0.0)
    with pytest.raises(ValueError, match="real number"):
        exercises.numeric("1.0")
    with pytest.raises(ValueError, match="pair"):
        exercises.numeric(1.0, ["the sign"])
    assert exercises.numeric(0.0, atol=1e-3)(0.0005) is None
    assert exercises.close_to(100.0, rtol=0.05)(104) is None  # rtol and atol can only widen
