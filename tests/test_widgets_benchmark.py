"""benchmarks/widgets.py: its sweeps, browser-style changes, timing and table, on a small lesson view."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from nicelab.widgets import ChangeOfVariablesView


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("widgets")


def test_sweep_goes_there_and_back_on_the_slider_grid(bench):
    values = bench.sweep(0.2, 1.5, 14, 0.05)
    assert len(values) == 14 and max(values) == pytest.approx(1.5)
    assert all(abs(v / 0.05 - round(v / 0.05)) < 1e-9 for v in values)  # on the slider's steps
    peak = values.index(max(values))
    assert values[:peak] == sorted(values[:peak]) and values[peak:] == sorted(values[peak:], reverse=True)


def test_browser_set_sends_values_or_indices_as_the_front_end_does(bench):
    slider = widgets.FloatSlider(value=0.0, min=0.0, max=1.0)
    bench.browser_set(slider, 0.5)
    choice = widgets.Dropdown(options=[("first", 10), ("second", 20)])
    bench.browser_set(choice, 20)
    steps = widgets.SelectionSlider(options=[0, 5, 10], value=0)
    bench.browser_set(steps, 10)
    assert (slider.value, choice.value, steps.value) == (0.5, 20, 10)


def test_run_case_times_every_change_and_writes_a_table_row(bench):
    case = bench.Case("01", "ChangeOfVariablesView", "a", bench.sweep(0.3, 1.2, 14, 0.05), None)
    case.build = lambda w: w.ChangeOfVariablesView(n=500)
    result = bench.run_case(case, changes=12, old=None, bursts=6)
    after = result["after"]
    assert after["changes"] == 12 and 0 < after["median_ms"] <= after["max_ms"]
    assert after["update_ms"] > 0 and after["draw_ms"] > 0 and after["encode_ms"] > 0
    assert after["burst"]["events"] == 6 and 1 <= after["burst"]["renders"] <= 6
    row = bench.markdown([result]).splitlines()[-1]
    assert row.startswith("| 01 ChangeOfVariablesView (a) | - |") and f"**{after['median_ms']:.0f}**" in row


def test_time_change_refuses_a_change_that_draws_nothing(bench):
    view = ChangeOfVariablesView(n=500)
    view.refresh()
    phases = bench.instrument(view)
    with pytest.raises(RuntimeError, match="renders"):
        bench.time_change(view, "a", view.controls["a"].value, phases)  # same value: no change, no picture
