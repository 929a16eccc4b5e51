"""Lessons 05 and 07's build and prediction exercises: each checker passes its worked solution and gives each
typical wrong implementation its own diagnosis."""

from __future__ import annotations

import math

import pytest
import torch

from nicelab.exercises import lesson05, lesson07


def test_reference_loop_matches_fit_on_the_same_budget():
    result = lesson05.compare_with_fit(lesson05.reference_loop)
    assert result.changed and result.finite
    # same initial weights, same batches, same Adam: only float rounding separates the two
    assert abs(result.mine - result.fit) < 0.02, result
    assert result.fit < result.untrained - 10 * result.se  # the budget trains: the check can tell
    assert len(result.losses) == lesson05.LOOP_STEPS
    assert math.isclose(result.losses[0], result.first_nll, rel_tol=1e-4)
    assert result.grad_ratio < lesson05.ACCUMULATION_RATIO
    assert lesson05.fit_loop.checker(lesson05.reference_loop) is None


@pytest.mark.parametrize("mistake", sorted(lesson05.WRONG_LOOPS))
def test_each_wrong_loop_gets_its_diagnosis(mistake):
    loop, says = lesson05.WRONG_LOOPS[mistake]
    message = lesson05.fit_loop.checker(loop)
    assert message is not None and says in message, (mistake, message)


def test_forgotten_zero_grad_leaves_accumulated_gradients():
    loop, _ = lesson05.WRONG_LOOPS["no zero_grad"]
    assert lesson05.compare_with_fit(loop).grad_ratio > 2 * lesson05.ACCUMULATION_RATIO


def test_loop_check_rejects_non_functions_and_a_loop_without_losses(capsys):
    assert "function" in lesson05.fit_loop.checker("my_fit")

    def silent(model, sample, steps, lr, batch_size=256):
        lesson05.reference_loop(model, sample, steps, lr, batch_size)  # trains, but returns nothing

    assert "return the list" in lesson05.fit_loop.checker(silent)
    with pytest.raises(ValueError, match="loop must be a function"):
        lesson05.compare_with_fit(3)


def test_loop_model_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    lesson05.loop_model()
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.parametrize(
    "exercise",
    [
        lesson05.predict_peaks,
        lesson05.predict_nan_stop,
        lesson05.predict_no_scaling,
        lesson05.predict_identity,
        lesson07.predict_ladder,
    ],
)
def test_predictions_accept_the_letter_in_any_case_and_explain_each_other_option(exercise):
    right = exercise.reference()
    assert exercise.checker(right) is None and exercise.checker(f" {right.upper()} ") is None
    checker = exercise.checker
    wrong = sorted(set(checker.options) - {right})
    for letter in wrong:  # each wrong option says what happens instead
        assert checker(letter) == f"({letter}) {checker.options[letter]}: {checker.diagnoses[letter]}"
    assert checker(f"({right})") is None and "answer with one letter" in checker("e")


def test_multiple_choice_needs_a_reason_for_every_wrong_option():
    with pytest.raises(ValueError, match="why_not"):
        lesson05.multiple_choice("a", {"a": "x", "b": "y"}, {})
    with pytest.raises(ValueError, match="one of"):
        lesson05.multiple_choice("z", {"a": "x"}, {"a": "?"})


def test_iw_reference_matches_vae_log_likelihood_and_survives_far_points():
    _, expected, mean_of_logs, mine = lesson07._estimates(lesson07.reference_log_likelihood)
    torch.testing.assert_close(mine, expected)
    far = slice(lesson07.IW_N, None)
    assert torch.isfinite(mine).all() and (mine[far] < -1000).all()  # weights that exp() sends to 0
    assert (expected >= mean_of_logs - 1e-4).all()  # consistency check: log of a mean >= mean of logs
    assert lesson07.iw_estimate.checker(lesson07.reference_log_likelihood) is None


@pytest.mark.parametrize("mistake", sorted(lesson07.WRONG_ESTIMATES))
def test_each_wrong_estimate_gets_its_diagnosis(mistake):
    estimate, says = lesson07.WRONG_ESTIMATES[mistake]
    message = lesson07.iw_estimate.checker(estimate)
    assert message is not None and says in message, (mistake, message)


def test_naive_estimate_really_underflows_far_from_the_data():
    estimate, _ = lesson07.WRONG_ESTIMATES["no logsumexp (underflow)"]
    _, expected, _, naive = lesson07._estimates(estimate)
    assert torch.isinf(naive[lesson07.IW_N :]).all() and torch.isfinite(expected).all()
