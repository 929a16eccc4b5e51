"""How long each lesson takes a learner, measured by a stated rule instead of guessed.

For every notebook the script counts, in its **core** (everything before a heading that starts with
"Going further") and in its optional "Going further" part:

* words of markdown (formulas count as words too: they take longer to read, not shorter),
* lines of code (blank lines and comments left out),
* exercises, by kind: **build** (the learner writes a function or a class) and **quick** (a number,
  a tensor or a multiple-choice prediction),

and combines them with the full-mode run time of the whole notebook into minutes by this rule::

    minutes = words / 150  +  code lines / 10  +  8 · build  +  2 · quick  +  run seconds / 60

150 words a minute is a careful reading speed for technical prose with mathematics; a minute per ten
lines is reading code and watching it run; eight minutes per build exercise and two per quick one are
what a learner needs to write and check them. The run time counts once, in the core.

``--run`` executes every notebook in full mode (``NICELAB_FAST=0``) with nbconvert, one after another,
and stores the wall seconds and the longest cell's seconds in ``benchmarks/results/lesson_times.json``;
without it the stored seconds are used. ``--run --lessons 05 06`` executes only those lessons.
``--write-docs`` copies the core minutes (rounded up to 5) into the README's course table, lesson
00's course map, each notebook's "**Time.**" line and the instructor guide's lesson headings, so every
document states the measured time.

Usage::

    python benchmarks/lesson_times.py [--run [--lessons NN ...]] [--write-docs] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results" / "lesson_times.json"
RULE = {"words_per_minute": 150, "code_lines_per_minute": 10, "build_minutes": 8, "quick_minutes": 2}
GOING_FURTHER = re.compile(r"^#+\s*(\d+\s*[·.]\s*)?Going further", re.IGNORECASE | re.MULTILINE)
CHECK_CALL = re.compile(r"\b((?:\w+\.)?\w+)\.check\(")
EXERCISE_IMPORT = re.compile(r"from\s+nicelab\.exercises\.(lesson\d\d)\s+import\s+\(?([\w\s,]+)\)?")
#: ``from nicelab.exercises import lesson05 as L05``: exercises then used as ``L05.name.check(...)``
MODULE_ALIAS = re.compile(r"from\s+nicelab\.exercises\s+import\s+(lesson\d\d)\s+as\s+(\w+)")


@dataclass
class Part:
    """What one part of a lesson (core or going further) asks of a learner."""

    words: int = 0
    code_lines: int = 0
    build: int = 0
    quick: int = 0

    def minutes(self, run_seconds: float = 0.0) -> float:
        return (
            self.words / RULE["words_per_minute"]
            + self.code_lines / RULE["code_lines_per_minute"]
            + RULE["build_minutes"] * self.build
            + RULE["quick_minutes"] * self.quick
            + run_seconds / 60.0
        )


def exercise_kinds(cells: list[dict]) -> dict[str, bool]:
    """``{variable name: is_build}`` for every exercise a notebook imports from ``nicelab.exercises``."""
    kinds: dict[str, bool] = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        for module_name, names in EXERCISE_IMPORT.findall(source):
            module = importlib.import_module(f"nicelab.exercises.{module_name}")
            for name in (n.strip() for n in names.replace("\n", ",").split(",")):
                exercise = getattr(module, name, None)
                if exercise is not None and hasattr(exercise, "reference"):
                    kinds[name] = is_build(exercise)
        for module_name, alias in MODULE_ALIAS.findall(source):
            module = importlib.import_module(f"nicelab.exercises.{module_name}")
            for name, exercise in vars(module).items():
                if hasattr(exercise, "reference") and hasattr(exercise, "check"):
                    kinds[f"{alias}.{name}"] = is_build(exercise)
    return kinds


def is_build(exercise: object) -> bool:
    """A build exercise's answer is code: its reference answer is a function or a class."""
    answer = exercise.reference()  # type: ignore[attr-defined]
    return callable(answer) and not hasattr(answer, "shape")


def count_code(source: str) -> int:
    lines = (line.strip() for line in source.splitlines())
    return sum(1 for line in lines if line and not line.startswith("#"))


def measure_notebook(path: Path) -> tuple[Part, Part]:
    """``(core, going_further)`` counts of one notebook."""
    cells = json.loads(path.read_text())["cells"]
    kinds = exercise_kinds(cells)
    core, further = Part(), Part()
    part = core
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            if GOING_FURTHER.search(source):
                part = further
            part.words += len(source.split())
            continue
        part.code_lines += count_code(source)
        for name in CHECK_CALL.findall(source):
            if name in kinds:
                part.build += kinds[name]
                part.quick += not kinds[name]
    return core, further


def run_full_mode(path: Path) -> tuple[float, float]:
    """``(wall seconds, longest cell's seconds)`` to execute ``path`` top to bottom in full mode.

    The executed copy goes to a temporary folder; nbconvert records each cell's start and end
    (``metadata.execution``), which gives the longest cell.
    """
    env = dict(os.environ, NICELAB_FAST="0", MPLBACKEND="Agg")
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute"]
    command += ["--ExecutePreprocessor.timeout=-1"]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([*command, "--output-dir", out, str(path)], check=True, env=env, cwd=path.parent)
        seconds = time.perf_counter() - start
        cells = json.loads((Path(out) / path.name).read_text())["cells"]
    return seconds, max((cell_seconds(cell) for cell in cells), default=0.0)


def cell_seconds(cell: dict) -> float:
    """Seconds a cell of an executed notebook ran (0 if nbconvert recorded no timing for it)."""
    timing = cell.get("metadata", {}).get("execution", {})
    begin, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (begin and end):
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(begin)).total_seconds()


def round_up(minutes: float, step: int = 5) -> int:
    return int(math.ceil(minutes / step) * step)


def build_report(run: bool | set[str], stored: dict) -> dict:
    """Counts, run seconds and minutes for every lesson, in notebook order.

    ``run``: ``True`` executes every notebook, a set of two-digit lesson numbers only those; the
    others keep their ``stored`` seconds (0 if none).
    """
    lessons = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        core, further = measure_notebook(path)
        old = stored.get(path.stem, {})
        if run is True or (run and path.name[:2] in run):
            seconds, longest = run_full_mode(path)
        else:
            seconds, longest = old.get("run_seconds", 0.0), old.get("longest_cell_seconds", 0.0)
        lessons.append(
            {
                "lesson": path.stem,
                "core": asdict(core),
                "going_further": asdict(further),
                "run_seconds": round(seconds, 1),
                "longest_cell_seconds": round(longest, 1),
                "core_minutes": round(core.minutes(seconds), 1),
                "going_further_minutes": round(further.minutes(), 1),
                "stated_minutes": round_up(core.minutes(seconds)),
            }
        )
    total_run = sum(item["run_seconds"] for item in lessons)
    return {"rule": RULE, "lessons": lessons, "total_run_seconds": round(total_run, 1)}


def print_table(report: dict) -> None:
    head = f"{'lesson':30s} {'words':>6s} {'code':>5s} {'build':>5s} {'quick':>5s} {'run s':>6s}"
    print(f"{head} {'core min':>8s} {'stated':>6s} {'further min':>11s}")
    for item in report["lessons"]:
        c = item["core"]
        print(
            f"{item['lesson']:30s} {c['words']:6d} {c['code_lines']:5d} {c['build']:5d} {c['quick']:5d} "
            f"{item['run_seconds']:6.0f} {item['core_minutes']:8.1f} {item['stated_minutes']:6d} "
            f"{item['going_further_minutes']:11.1f}"
        )
    core_total = sum(item["stated_minutes"] for item in report["lessons"])
    longest = max(report["lessons"], key=lambda item: item.get("longest_cell_seconds", 0.0))
    print(f"core path, all lessons: {core_total} min; full-mode compute {report['total_run_seconds']:.0f} s")
    print(f"longest cell: {longest.get('longest_cell_seconds', 0.0):.0f} s ({longest['lesson']})")


def write_docs(report: dict) -> None:
    """Copy each lesson's stated minutes into the README, lesson 00, the notebooks and the guide."""
    minutes = {item["lesson"][:2]: item["stated_minutes"] for item in report["lessons"]}
    readme = ROOT / "README.md"
    readme.write_text(_table_minutes(readme.read_text(), minutes, r"^\| (\d\d) "))
    for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"):
        notebook = json.loads(path.read_text())
        number = path.name[:2]
        for cell in notebook["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            text = "".join(cell["source"])
            new = re.sub(r"(\*\*Time\.\*\* About )\d+( minutes)", rf"\g<1>{minutes[number]}\2", text)
            if number == "00":
                new = _table_minutes(new, minutes, r"^\| (\d\d) ")
            if new != text:
                cell["source"] = new.splitlines(keepends=True)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    guide = ROOT / "docs" / "INSTRUCTOR.md"
    text = _table_minutes(guide.read_text(), minutes, r"^\| (\d\d) ", column=1)  # the overview table
    for number, value in minutes.items():
        text = re.sub(rf"^(### {number} · .*\()\d+( min\))", rf"\g<1>{value}\2", text, flags=re.MULTILINE)
    guide.write_text(text)


def _table_minutes(text: str, minutes: dict[str, int], row: str, column: int = -1) -> str:
    """Replace cell ``column`` (default: the last) of each Markdown table row starting with a lesson number.

    ``column`` counts the row's cells from 0 (the lesson's own cell), as written between the pipes.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        match = re.match(row, line)
        if match and match.group(1) in minutes and line.rstrip().endswith("|"):
            cells = line.rstrip().rstrip("|").split("|")
            cells[column if column < 0 else column + 1] = f" {minutes[match.group(1)]} "
            lines[i] = "|".join(cells) + "|"
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="store_true", help="execute every notebook in full mode and time it")
    parser.add_argument(
        "--lessons",
        nargs="+",
        help="with --run: execute only these (e.g. 05 06)",
    )
    parser.add_argument("--write-docs", action="store_true", help="copy the stated minutes into the docs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON file for the report")
    args = parser.parse_args(argv)
    stored = {}
    if args.out.is_file():
        stored = {item["lesson"]: item for item in json.loads(args.out.read_text())["lessons"]}
    if args.lessons and not args.run:
        parser.error("--lessons needs --run")
    report = build_report(set(args.lessons) if args.lessons else args.run, stored)
    print_table(report)
    if args.run or not args.out.is_file():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.write_docs:
        write_docs(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
