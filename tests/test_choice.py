"""The course's one multiple-choice checker (nicelab.exercises._choice) and the wrappers lessons 01 and 05
keep for their call signatures: one parser, one wording, whichever door a question comes in by."""

from __future__ import annotations

import pytest

from nicelab.exercises import _choice, _numeric, lesson01, lesson05
from nicelab.exercises._choice import Choice, choice, render_options

OPTIONS = {"a": "rises", "b": "falls", "c": "stays"}
WHY = {"b": "the peak moves up", "c": "the input changes"}


@pytest.mark.parametrize("spelling", ["a", "A", "(a)", " a) ", "( A )"])
def test_every_spelling_of_the_right_letter_passes(spelling):
    assert choice("a", OPTIONS, WHY)(spelling) is None


def test_a_wrong_option_hears_its_text_and_its_diagnosis():
    checker = choice("a", OPTIONS, WHY)
    assert checker("b") == "(b) falls: the peak moves up"
    assert checker("(C)") == "(c) stays: the input changes"


def test_a_wrong_option_without_a_diagnosis_hears_the_fallback():
    assert choice("a", OPTIONS, {"b": "x"})("c") == f"(c) stays: {_choice.FALLBACK_DIAGNOSIS}"


@pytest.mark.parametrize("answer", ["d", "ab", "", "b c", 2, None, ["a"]])
def test_anything_but_an_option_letter_is_told_the_letters(answer):
    expected = f'answer with one letter, as a string: "a", "b" or "c" (got {answer!r})'
    assert choice("a", OPTIONS, WHY)(answer) == expected


@pytest.mark.parametrize(
    "answer, options, diagnoses, says",
    [
        ("a", {"a": "x", "B": "y"}, {}, "single lower-case letters"),
        ("a", {"a": "x", "bc": "y"}, {}, "single lower-case letters"),
        ("z", OPTIONS, {}, "one of the option letters"),
        ("a", OPTIONS, {"a": "right"}, "must not have"),
        ("a", OPTIONS, {"d": "no such option"}, "wrong options only"),
        ("a", {"a": "x"}, {}, "at least two"),
    ],
)
def test_a_malformed_question_is_refused(answer, options, diagnoses, says):
    with pytest.raises(ValueError, match=says):
        choice(answer, options, diagnoses)


def test_lesson01_choice_and_lesson05_multiple_choice_are_the_same_checker():
    assert lesson01.Choice is Choice
    full = choice("a", OPTIONS, WHY)
    assert lesson05.multiple_choice("a", OPTIONS, WHY) == full
    short = lesson01.choice("a", WHY)  # the options are stated by the prompt only
    assert isinstance(short, Choice) and set(short.options) == set(OPTIONS)
    for answer in ["a", "(A)", "b", "c", "d", 7]:
        message, bare = full(answer), short(answer)
        if message is None or message.startswith("answer with"):
            assert bare == message, answer  # the same verdict, word for word
        else:
            assert bare == message.replace(f" {OPTIONS[answer]}:", ":"), answer  # only the text is left out


def test_multiple_choice_needs_a_why_not_for_every_wrong_option():
    with pytest.raises(ValueError, match="missing \\['c'\\]"):
        lesson05.multiple_choice("a", OPTIONS, {"b": "x"})


def test_options_render_inline_or_one_per_line():
    assert render_options(OPTIONS, inline=True) == "(a) rises (b) falls (c) stays"
    assert render_options(OPTIONS) == "  (a) rises\n  (b) falls\n  (c) stays"
    assert choice("a", OPTIONS, WHY).render() == render_options(OPTIONS)
    prompt = lesson05._prompt("T goes down:", {"b": "falls", "a": "rises"})
    assert prompt == "T goes down: (a) rises (b) falls"


def test_guess_has_one_home():
    assert lesson01.Guess is _numeric.Guess and lesson01.guess is _numeric.guess
    assert isinstance(lesson01.guess(2, 0.5), _numeric.Guess)
    with pytest.raises(ValueError, match="within"):
        _numeric.guess(1.0, "wide")
