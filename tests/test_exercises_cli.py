"""`python -m nicelab.exercises`: lists exercises, and shows solutions only when asked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nicelab.exercises.__main__ import load_all, main, select

REGISTRY = load_all()
FIRST = sorted(REGISTRY)[0]
LESSON = FIRST.split(".")[0].removeprefix("lesson")  # e.g. "01"
IN_LESSON = [ex for key, ex in sorted(REGISTRY.items()) if key.startswith(f"lesson{LESSON}.")]


def test_every_lesson_module_is_loaded():
    lessons = {key.split(".")[0] for key in REGISTRY}
    assert len(lessons) >= 2 and all(name.startswith("lesson") for name in lessons)


def test_listing_shows_prompts_but_no_solutions(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for key, ex in REGISTRY.items():
        assert f"[{key}]" in out
        assert ex.solution_text.splitlines()[0] not in out, f"the plain listing spoils {key}"


def test_solutions_and_hints_for_one_lesson(capsys):
    assert main(["--lesson", LESSON, "--solutions", "--hints"]) == 0
    out = capsys.readouterr().out
    for ex in IN_LESSON:
        assert ex.solution_text.splitlines()[0].strip() in out and ex.hint_text in out
    others = [key for key in REGISTRY if not key.startswith(f"lesson{LESSON}.")]
    assert others and not any(f"[{key}]" in out for key in others)


def test_markdown_answer_key(capsys):
    assert main(["--lesson", f"lesson{LESSON}", "--solutions", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.count("### `") == len(IN_LESSON) and out.count("*Solution.*") == len(IN_LESSON)


@pytest.mark.parametrize("lesson, says", [("99", "has no exercises"), ("one", "expects a lesson number")])
def test_bad_lesson_is_rejected_with_a_message(lesson, says, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--lesson", lesson])
    assert exit_info.value.code == 2 and says in capsys.readouterr().err
    with pytest.raises(ValueError, match=says):
        select(REGISTRY, lesson)


def test_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "nicelab.exercises", "--lesson", LESSON, "--solutions"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"[{FIRST}]" in done.stdout and "solution:" in done.stdout


def test_full_answer_key_prints_every_solution_with_its_computed_numbers(capsys):
    assert main(["--solutions", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.count("### `") == len(REGISTRY)
    for key, ex in REGISTRY.items():
        assert ex.solution_text in out, f"the answer key lacks the solution of {key}"
    # solutions are built from the reference: the lesson 06 peak-vs-typical gap is 784 · (2 - log 4)
    assert f"{REGISTRY['lesson06.peak_vs_typical'].reference():.1f} nats" in out
