"""benchmarks/lesson_times.py: the counting rule, exercise kinds, and copying minutes into the docs."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def lt(load_benchmark):
    return load_benchmark("lesson_times")


def notebook(tmp_path, cells):
    path = tmp_path / "99_demo.ipynb"
    raw = [
        {"cell_type": kind, "source": source.splitlines(keepends=True), "metadata": {}}
        | ({"outputs": [], "execution_count": None} if kind == "code" else {})
        for kind, source in cells
    ]
    path.write_text(json.dumps({"cells": raw, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_core_and_going_further_are_counted_apart(lt, tmp_path):
    path = notebook(
        tmp_path,
        [
            ("markdown", "# Title\n**Time.** About 5 minutes\none two three"),
            ("code", "import math\n\n# a comment\nx = 1\nprint(x)\n"),
            ("code", "from nicelab.exercises.lesson01 import q1\n_ = q1.check(...)\n"),
            ("markdown", "## Going further (optional)\nfour five"),
            ("code", "y = 2\n"),
        ],
    )
    core, further = lt.measure_notebook(path)
    assert (core.words, core.code_lines, core.quick, core.build) == (9, 5, 1, 0)
    assert (further.words, further.code_lines) == (6, 1)
    expected = 9 / 150 + 5 / 10 + 2 + 60 / 60
    assert core.minutes(run_seconds=60) == pytest.approx(expected)


def test_build_exercises_are_those_whose_answer_is_code(lt):
    class Fake:
        def __init__(self, answer):
            self.answer = answer

        def reference(self):
            return self.answer

    import torch

    assert lt.is_build(Fake(lambda x: x)) and lt.is_build(Fake(torch.nn.Linear))
    assert not lt.is_build(Fake(1.5)) and not lt.is_build(Fake(torch.zeros(3)))


def test_minutes_are_written_into_table_rows(lt):
    text = "| lesson | x | minutes |\n|---|---|---|\n| 01 change | y | 30 |\n| 02 next | z | 35 |\n"
    new = lt._table_minutes(text, {"01": 45}, r"^\| (\d\d) ")
    assert "| 01 change | y | 45 |" in new and "| 02 next | z | 35 |" in new
    assert lt.round_up(40.1) == 45 and lt.round_up(40.0) == 40


def test_exercises_used_through_a_module_alias_are_counted(lt, tmp_path):
    # lesson 05 imports its module (`from nicelab.exercises import lesson05 as L05`) and checks
    # `L05.fit_loop` (a build exercise) and `L05.predict_peaks` (a prediction); both must count
    path = notebook(
        tmp_path,
        [
            ("code", "from nicelab.exercises import lesson05 as L05\nL05.fit_loop.check(...)\n"),
            ("code", "L05.predict_peaks.check(...)\nL05.not_an_exercise.check(...)\n"),
        ],
    )
    core, _ = lt.measure_notebook(path)
    assert (core.build, core.quick) == (1, 1)


def test_cell_seconds_come_from_nbconverts_timing(lt):
    cell = {
        "metadata": {
            "execution": {
                "iopub.execute_input": "2026-12-02T07:00:00.000000Z",
                "shell.execute_reply": "2026-12-02T07:01:30.500000Z",
            }
        }
    }
    assert lt.cell_seconds(cell) == pytest.approx(90.5)
    assert lt.cell_seconds({"metadata": {}}) == 0.0


def test_only_the_named_lessons_are_run(lt, monkeypatch):
    ran = []
    monkeypatch.setattr(lt, "run_full_mode", lambda path: ran.append(path.name[:2]) or (12.0, 3.0))
    stored = {"01_change_of_variables": {"run_seconds": 40.0, "longest_cell_seconds": 9.0}}
    report = lt.build_report({"02"}, stored)
    assert ran == ["02"]
    by_number = {item["lesson"][:2]: item for item in report["lessons"]}
    assert by_number["01"]["run_seconds"] == 40.0 and by_number["01"]["longest_cell_seconds"] == 9.0
    assert by_number["02"]["run_seconds"] == 12.0 and by_number["02"]["longest_cell_seconds"] == 3.0


def test_minutes_are_written_into_a_named_column(lt):
    # the instructor guide's overview table has the minutes in its second column
    text = "| lesson | minutes | idea |\n|---|---|---|\n| 05 nice | 45 | mle |\n"
    assert "| 05 nice | 60 | mle |" in lt._table_minutes(text, {"05": 60}, r"^\| (\d\d) ", column=1)
