"""Lessons 01-04: the build exercises (an additive coupling, NICE's log-likelihood) and the predictions.

Each build checker passes its worked solution and gives every typical wrong implementation its own
diagnosis; the prediction checkers accept the right letter or a guess within their band and say why
each other option is wrong.
"""

from __future__ import annotations

import math

import pytest
import torch

from nicelab import AdditiveCoupling, Compose
from nicelab.exercises import REGISTRY, lesson01, lesson02, lesson03, lesson04


@pytest.mark.parametrize("mistake", list(lesson03.BUILD_MISTAKES), ids=lambda c: c.__name__)
def test_coupling_check_diagnoses_each_typical_mistake(mistake):
    message = lesson03.build_coupling.checker(mistake)
    assert message is not None and lesson03.BUILD_MISTAKES[mistake] in message, message


def test_coupling_check_passes_the_solution_and_the_solution_text():
    assert lesson03.build_coupling.checker(lesson03.ReferenceCoupling) is None
    namespace = {"Transform": lesson03.Transform, "mlp": lesson03.mlp}
    exec(lesson03.BUILD_SOLUTION, namespace)  # the worked code the learner is shown must itself pass
    assert lesson03.build_coupling.checker(namespace["MyCoupling"]) is None


def test_coupling_check_does_not_move_the_global_random_stream():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    lesson03.build_coupling.checker(lesson03.ReferenceCoupling)
    assert torch.equal(torch.rand(3), expected)


def test_reference_coupling_is_nicelabs_layer_with_the_same_m():
    """The worked solution runs where nicelab's layer runs: in a Compose, at odd D, both parities."""
    torch.manual_seed(0)
    layers = [lesson03.ReferenceCoupling(7, parity=p, hidden=8).double() for p in (0, 1, 0)]
    x = torch.randn(10, 7, dtype=torch.float64)
    with torch.no_grad():
        z, log_det = Compose(layers)(x)
        expected = x
        for layer in layers:
            twin = AdditiveCoupling(7, layer.parity, hidden=1, depth=1).double()
            twin.m = layer.m
            expected = twin(expected)[0]
        back = Compose(layers).inverse(z)[0]
    assert torch.allclose(z, expected, atol=1e-12) and torch.equal(
        log_det, torch.zeros(10, dtype=torch.float64)
    )
    assert torch.allclose(back, x, atol=1e-12)


@pytest.mark.parametrize("mistake", list(lesson04.BUILD_MISTAKES), ids=lambda f: getattr(f, "__name__", "f"))
def test_log_prob_check_diagnoses_each_typical_mistake(mistake):
    message = lesson04.build_log_prob.checker(mistake)
    assert message is not None and lesson04.BUILD_MISTAKES[mistake] in message, message


def test_log_prob_check_passes_the_solution_and_the_public_api_route():
    assert lesson04.build_log_prob.checker(lesson04._nice_log_prob_reference()) is None

    def through_forward(model, x):  # z and the log-det from one forward pass: also right
        z, log_det = model(x)
        return model.prior.log_prob(z) + log_det

    assert lesson04.build_log_prob.checker(through_forward) is None


def test_log_prob_check_uses_non_zero_log_scales_and_shift():
    """Otherwise a missing or sign-flipped Σ s could not be told from the right answer."""
    for dim, seed in ((4, 0), (5, 1)):
        model, _ = lesson04._test_model(dim, seed)
        s = model.scaling.log_scale.detach()
        assert float(s.abs().min()) > 1e-3 and abs(float(s.sum())) > 1e-2
        assert float(model.shift.shift.abs().min()) > 1e-2


def test_log_prob_mistakes_are_distinct_from_the_answer():
    """Every diagnosed slip gives a value far from the right one on the checker's models."""
    model, x = lesson04._test_model(4, 0)
    with torch.no_grad():
        expected = model.log_prob(x)
    for value, message in lesson04._mistakes(model, x):
        assert (value - expected).abs().max() > 1e-3, message


@pytest.mark.parametrize(
    "key",
    sorted(k for k, ex in REGISTRY.items() if isinstance(ex.checker, (lesson01.Choice, lesson01.Guess))),
)
def test_each_prediction_explains_every_wrong_option(key):
    ex = REGISTRY[key]
    assert ex.checker(ex.reference()) is None
    if isinstance(ex.checker, lesson01.Choice):
        right = ex.checker.answer
        for letter, text in ex.checker.options.items():
            if letter != right:
                why = ex.checker.diagnoses[letter]  # every wrong option has its own diagnosis
                label = f"({letter}) {text}" if text else f"({letter})"
                assert ex.checker(letter) == f"{label}: {why}"
        assert ex.checker(right.upper()) is None  # "C" and "(c)" are the same answer
        assert ex.checker(f"({right})") is None
        assert "answer with one letter" in ex.checker("z")


def test_lesson01_choice_names_only_the_letter():
    checker = lesson01.choice("b", {"a": "too small", "c": "too big"})
    assert checker(" B ") is None and checker("a") == "(a): too small" and checker("(c)") == "(c): too big"
    assert checker("d") == 'answer with one letter, as a string: "a", "b" or "c" (got \'d\')'


def test_guess_accepts_a_band_and_says_how_far_off():
    checker = lesson01.guess(-1.0, 0.1)
    assert checker(-1.05) is None and checker(-0.9) is None
    assert "0.5 too high" in checker(-0.5) and "1 too low" in checker(-2)
    assert "finite number" in checker(math.nan) and "finite number" in checker("-1")
    assert "not True" in checker(True)
    assert lesson01.guess(30, 0)(30) is None and "1 too low" in lesson01.guess(30, 0)(29)
    assert lesson01.guess(30, 0)(torch.tensor(30)) is None  # a count computed with torch
    assert "shape (2,)" in lesson01.guess(30, 0)(torch.tensor([30, 30]))
    with pytest.raises(ValueError, match="within >= 0"):
        lesson01.guess(1.0, -1.0)


def test_choice_rejects_a_malformed_question():
    with pytest.raises(ValueError, match="single lower-case letters"):
        lesson01.choice("A", {"b": "no"})
    with pytest.raises(ValueError, match="must not have"):
        lesson01.choice("a", {"a": "no"})


def test_two_layer_fill_in_count_matches_autograd():
    """lesson03.predict_fill_in: 30 of 36 entries are non-zero after two alternating couplings."""
    torch.manual_seed(0)
    layers = [AdditiveCoupling(6, parity=p, hidden=16, depth=2).double() for p in (0, 1)]
    from nicelab.jacobian import jacobian

    J = jacobian(Compose(layers), torch.randn(1, 6, dtype=torch.float64))[0]
    assert int((J.abs() > 1e-12).sum()) == lesson03.NONZERO_TWO_LAYERS == 30


def test_lesson02_signed_mass_prediction_is_minus_one():
    assert lesson02.p2.checker(-1.0) is None and lesson02.p2.checker(1.0) is not None
