"""Teacher's view of the exercises: ``python -m nicelab.exercises [--hints] [--solutions] [--lesson NN]``.

Learners see a solution only when they ask for it (``q1.solution()`` in a notebook). This command is
for whoever runs the course: it lists every exercise by lesson, and with ``--solutions`` prints the
worked solutions too, e.g. to prepare a class or print an answer key
(``python -m nicelab.exercises --solutions --markdown > answer_key.md``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import nicelab.exercises as exercises
from nicelab.exercises import Exercise


def load_all() -> dict[str, Exercise]:
    """Import every ``nicelab.exercises.lessonNN`` module so that the registry holds every exercise."""
    for module in pkgutil.iter_modules(exercises.__path__):
        if module.name.startswith("lesson"):
            importlib.import_module(f"{exercises.__name__}.{module.name}")
    return dict(exercises.REGISTRY)


def select(registry: dict[str, Exercise], lesson: str | None) -> list[Exercise]:
    """The exercises of ``lesson`` ("03", "3" or "lesson03"), or all of them, in key order."""
    if lesson is None:
        return [registry[key] for key in sorted(registry)]
    digits = lesson.removeprefix("lesson")
    if not digits.isdigit():
        raise ValueError(f"--lesson expects a lesson number such as 03, got {lesson!r}")
    prefix = f"lesson{int(digits):02d}."
    chosen = [registry[key] for key in sorted(registry) if key.startswith(prefix)]
    if not chosen:
        known = sorted({key.split(".")[0].removeprefix("lesson") for key in registry})
        raise ValueError(f"lesson {digits} has no exercises; lessons with exercises: {', '.join(known)}")
    return chosen


def render(chosen: Sequence[Exercise], hints: bool, solutions: bool, markdown: bool) -> str:
    """The listing as plain text, or as Markdown with one section per exercise."""
    blocks = []
    for ex in chosen:
        if markdown:
            parts = [f"### `{ex.key}`", "", ex.prompt]
            if hints:
                parts += ["", f"*Hint.* {ex.hint_text}"]
            if solutions:
                parts += ["", "*Solution.*", "", "```text", ex.solution_text, "```"]
        else:
            parts = [f"[{ex.key}] {ex.prompt}"]
            if hints:
                parts.append(f"  hint: {ex.hint_text}")
            if solutions:
                parts.append(
                    "  solution:\n" + "\n".join(f"    {line}" for line in ex.solution_text.splitlines())
                )
        blocks.append("\n".join(parts))
    return "\n\n".join(blocks) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nicelab.exercises",
        description="List the course's exercises; --solutions prints the worked solutions (for teachers).",
    )
    parser.add_argument("--lesson", help="only this lesson, e.g. 03")
    parser.add_argument("--hints", action="store_true", help="print each exercise's hint")
    parser.add_argument("--solutions", action="store_true", help="print each exercise's worked solution")
    parser.add_argument("--markdown", action="store_true", help="write Markdown (e.g. an answer key)")
    args = parser.parse_args(argv)
    try:
        chosen = select(load_all(), args.lesson)
    except ValueError as err:
        parser.error(str(err))
    sys.stdout.write(render(chosen, args.hints, args.solutions, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
