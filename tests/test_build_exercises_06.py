"""Lesson 06's build exercise (bits/dim of a batch) and predict-then-run questions; lesson 00's prediction."""

from __future__ import annotations

import math

import pytest
import torch

from nicelab import NICE
from nicelab import data as mnist
from nicelab.exercises import lesson00, lesson06
from nicelab.exercises._choice import choice

# the diagnosis each typical slip must hear (in the order of lesson06.q6.wrong)
SLIP_MESSAGES = [
    "D·ln 256 term is missing",
    "nats per dimension",
    "divided by 255 instead of 256",
    "bits per image",
    "no dequantization noise",
    "the noise is not the generator's",
    "return one number",
    "answer with a function",
]


def _verdict(answer) -> str | None:
    return lesson06.q6.checker(answer)


def test_reference_bits_per_dim_passes_and_matches_nicelab():
    my_bits = lesson06.q6.reference()
    assert _verdict(my_bits) is None
    images = mnist.load_sample("test")[0][:10]
    flow = lesson06._probe_flow(3)
    got = my_bits(flow, images, torch.Generator().manual_seed(5))
    x = mnist.dequantize(images, torch.Generator().manual_seed(5))
    assert got == pytest.approx(float(mnist.bits_per_dim(mnist.evaluate(flow, x))), abs=1e-5)


def test_nicelab_composition_and_image_shaped_noise_pass():
    def via_nicelab(model, images_u8, generator):
        return mnist.bits_per_dim(mnist.evaluate(model, mnist.dequantize(images_u8, generator)))

    def image_shaped(model, images_u8, generator):  # noise drawn as (N, 28, 28): the same numbers in order
        x = ((images_u8.float() + torch.rand(images_u8.shape, generator=generator)) / 256).reshape(-1, 784)
        with torch.no_grad():
            ll = model.log_prob(x).mean().item()
        return 8.0 - ll / (784 * math.log(2.0))

    assert _verdict(via_nicelab) is None
    assert _verdict(image_shaped) is None


@pytest.mark.parametrize(("index", "message"), list(enumerate(SLIP_MESSAGES)))
def test_each_slip_gets_its_own_diagnosis(index, message):
    problem = _verdict(lesson06.q6.wrong[index])
    assert problem is not None and message in problem, problem


def test_a_hard_coded_number_and_a_wrong_sign_fail():
    assert "never saw a batch" in _verdict(lambda model, images, generator: 4.36)

    def off_by_a_bit(model, images_u8, generator):  # the right batch, a number that is no slip we know
        return lesson06.q6.reference()(model, images_u8, generator) + 0.01

    assert "is not right" in _verdict(off_by_a_bit)

    def from_forward(model, images_u8, generator):  # log p built from f(x) by hand: right, and accepted
        x = mnist.dequantize(images_u8, generator)
        with torch.no_grad():
            z, log_det = model(x)
            ll = (model.prior.log_prob(z) + log_det).mean().item()
        return (784 * math.log(256.0) - ll) / (784 * math.log(2.0))

    assert _verdict(from_forward) is None

    def wrong_sign(model, images_u8, generator):
        x = mnist.dequantize(images_u8, generator)
        with torch.no_grad():
            ll = model.log_prob(x).mean().item()
        return (784 * math.log(256.0) + ll) / (784 * math.log(2.0))

    assert "wrong sign" in _verdict(wrong_sign)


def test_check_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    assert _verdict(lesson06.q6.reference()) is None
    assert torch.equal(state, torch.get_rng_state())


def test_unanswered_skeleton_says_not_answered(capsys):
    assert lesson06.q6.check(...) is False
    assert "Not answered" in capsys.readouterr().out


def test_temperature_answer_rests_on_a_true_claim():
    """q7's answer (a): with the same ε, a lower T gives a higher mean log p, for any weights."""
    assert lesson06.q7.checker("a") is None and lesson06.q7.checker(" (A) ") is None
    for letter in "bcd":
        assert lesson06.q7.checker(letter).startswith(f"({letter})")
    torch.manual_seed(0)
    model = NICE(6, n_couplings=4, hidden=16, depth=2)
    with torch.no_grad():
        model.scaling.log_scale.copy_(torch.randn(6))
        same_eps = [
            model.sample(500, temperature=t, generator=torch.Generator().manual_seed(1))
            for t in (1, 0.7, 0.4)
        ]
        means = [model.log_prob(x).mean() for x in same_eps]
    assert means[0] < means[1] < means[2]


def test_highest_input_is_checked_against_the_run():
    scores = {name: -1000.0 - 10 * i for i, name in enumerate(lesson06.STRANGE_INPUTS)}
    scores["all black"] = -500.0
    ex = lesson06.highest_input(scores)
    assert ex.checker("e") is None
    problem = ex.checker("a")
    assert "500 nats below (e) all black" in problem
    assert "answer with one letter" in ex.checker("g")
    assert all(ex.checker(w) is not None for w in ex.wrong) and "e" not in ex.wrong
    assert "-500.0" in ex.solution_text


def test_highest_input_rejects_bad_scores():
    with pytest.raises(ValueError, match="keys"):
        lesson06.highest_input({"test digits": 1.0})
    scores = dict.fromkeys(lesson06.STRANGE_INPUTS, 0.0)
    scores["uniform noise"] = math.nan
    with pytest.raises(ValueError, match="finite"):
        lesson06.highest_input(scores)


def test_choice_validates_its_options():
    with pytest.raises(ValueError, match="answer"):
        choice("z", {"a": "x", "b": "y"})
    with pytest.raises(ValueError, match="options"):
        choice("a", {"a": "x"})
    with pytest.raises(ValueError, match="wrong options"):
        choice("a", {"a": "x", "b": "y"}, {"a": "that is right"})
    checker = choice("b", {"a": "x", "b": "y"}, {"a": "because"})
    assert checker("B") is None and checker("a") == "(a) x: because" and "one letter" in checker(2)


def test_gap_exercise_uses_round_example_numbers_not_a_measured_run():
    assert (lesson06.EXAMPLE_TRAIN_NATS, lesson06.EXAMPLE_TEST_NATS) == (2200.0, 1800.0)
    assert "Suppose" in lesson06.q4.prompt
    assert lesson06.q4.reference() == pytest.approx(400 / (784 * math.log(2.0)))


def test_lesson00_prediction_and_the_claim_behind_it():
    """Lesson 00's answer (a): an untrained NICE's density sums to about 1 on a grid that holds its mass."""
    assert lesson00.q1.checker("a") is None
    for letter in "bcd":
        assert lesson00.q1.checker(letter).startswith(f"({letter})")
    torch.manual_seed(0)
    model = NICE(2, n_couplings=4, hidden=16, depth=2)
    side = torch.linspace(-12, 12, 401, dtype=torch.float64)
    grid = torch.cartesian_prod(side, side)
    with torch.no_grad():
        mass = float(model.double().log_prob(grid).exp().sum()) * float(side[1] - side[0]) ** 2
    assert abs(mass - 1.0) < 1e-2, mass
