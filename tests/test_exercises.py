"""Every registered exercise accepts its reference answer and rejects each wrong answer."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

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
