"""A lesson's widget, in a real JupyterLab, in a real browser.

The headless widget tests (tests/test_widgets_*.py) prove that a view updates its figure. This test
proves what a learner sees: JupyterLab (from this environment) opens a lesson in headless Chromium,
runs every cell, the widget renders (no "Error displaying widget", no "Failed to load model class"),
nothing in it is cut off (control rows, labels, buttons and the picture fit the 1400 px window), and
moving its slider with the keyboard changes the picture. It opens the first lesson with a widget,
lesson 03 (the widest row of controls), lesson 05 (the layer-by-layer warp of a trained 2-D NICE) and
lesson 06 (MNIST: the model trains in the kernel first), and saves a screenshot of each,
``browser_widget*.png``.

**Where the screenshots go.** By default to ``runs/browser/`` (git-ignored), so a test run never
rewrites the tracked gallery. To refresh the gallery, point the test at it::

    NICELAB_BROWSER_SCREENSHOTS=figures make browser-test

(a path relative to the repository root, or an absolute one).

It also times the widget end to end (:func:`time_slider`): single slider steps, each from the key
press to the new picture decoded and on screen, and a quick run of steps (a drag) from the last key
press until the picture shows the last value. The times are printed and written to
``benchmarks/results/widgets_browser.json`` (one entry per lesson); the targets live in the benchmark
(``benchmarks/widgets.py`` and ``benchmarks/README.md``), not in assertions here.

Run it with ``make browser-test`` (``make test`` skips this folder: it needs Chromium and Playwright).
The lesson runs in fast mode (``NICELAB_FAST=1`` in the server's environment). Set
``NICELAB_BROWSER_NOTEBOOK=notebooks/NN_name.ipynb`` to open another lesson.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import nbformat
import pytest

from tests.browser.conftest import JUPYTER, ROOT, Browser
from tests.browser.widget_versions import installed_stack, mismatch

#: the screenshots' folder when NICELAB_BROWSER_SCREENSHOTS is not set (git-ignored: ``runs/``)
DEFAULT_SCREENSHOTS = ROOT / "runs" / "browser"
TIMINGS = ROOT / "benchmarks" / "results" / "widgets_browser.json"
#: single slider steps timed per lesson, and key presses in the quick run (a drag)
TIMED_STEPS = 12
DRAG_PRESSES = 10
WIDGET_ERRORS = ("Error displaying widget", "Failed to load model class")
#: run-all budget (fast mode; the slowest lesson with a widget takes well under a minute on 2 cores)
RUN_TIMEOUT_MS = 300_000

# Small JavaScript helpers run in the page; ``window.jupyterapp`` exists because the server runs
# with --LabApp.expose_app_in_browser.
NOTEBOOK_READY = """(name) => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.context || !panel.context.path.endsWith(name) || !panel.sessionContext) return false;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return panel.context.isReady && !!kernel && kernel.status === 'idle';
}"""
RUN_ALL = """() => {
    window.__nicelabRunAll = undefined;
    window.jupyterapp.commands.execute('notebook:run-all-cells').then(
        (ok) => { window.__nicelabRunAll = String(ok); },
        (err) => { window.__nicelabRunAll = 'error: ' + err; });
}"""
CELL_ERRORS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const found = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        for (const out of cell.outputs.toJSON()) {
            if (out.output_type === 'error') found.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
        }
        if (cell.executionCount === null) found.push(`cell ${i}: not executed`);
    }
    return found;
}"""

WIDGET_OUTPUTS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    let count = 0;
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        for (const out of cell.outputs.toJSON()) {
            if (out.data && out.data['application/vnd.jupyter.widget-view+json']) count += 1;
        }
    }
    return count;
}"""

#: widget parts whose content does not fit their box: a control row running off the right edge,
#: a label or toggle button shortened with an ellipsis, a slider squeezed to a stub (what a long
#: row of controls did to lesson 03's explorer), a picture wider than its output area
CUT_OFF = """() => {
    const found = [];
    const outputs = document.querySelectorAll('.jp-OutputArea-output:has(> .jupyter-widgets)');
    outputs.forEach((output, k) => {
        const area = output.getBoundingClientRect();
        output.querySelectorAll('.widget-hbox, .widget-vbox, .widget-label, .widget-toggle-button')
            .forEach((el) => {
                if (el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
                    found.push(`widget ${k}: ${el.className} '${el.innerText.slice(0, 40)}' needs ` +
                               `${el.scrollWidth}px, has ${el.clientWidth}px`);
            });
        output.querySelectorAll('.widget-slider .noUi-target').forEach((track) => {
            const width = track.getBoundingClientRect().width;
            if (track.offsetParent !== null && width < 60)
                found.push(`widget ${k}: a slider track squeezed to ${width}px`);
        });
        output.querySelectorAll('img.widget-image').forEach((img) => {
            const box = img.getBoundingClientRect();
            if (box.right > area.right + 1)
                found.push(`widget ${k}: picture ends at ${box.right}px, output area at ${area.right}px`);
        });
    });
    return found;
}"""

#: In-page stopwatch for one widget: a capturing keydown listener on the slider handle stamps each key
#: press; a MutationObserver on the <img> stamps each new ``src`` once the picture is decoded and the
#: next frame is painted. Everything is measured with the page's own clock (no Playwright round trips).
STOPWATCH = """([handle, img]) => {
    const w = {presses: [], images: []};
    handle.addEventListener('keydown', () => w.presses.push(performance.now()), true);
    new MutationObserver(async () => {
        const src = img.src;
        try { await img.decode(); } catch (err) { return; }  // superseded by a newer picture
        await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
        if (img.src === src) w.images.push(performance.now());
    }).observe(img, {attributes: true, attributeFilter: ['src']});
    window.__nicelabStopwatch = w;
}"""


#: lessons whose widgets the browser test opens besides the first (03: the widest control row)
EXTRA_LESSONS = (
    "notebooks/03_coupling_layers.ipynb",
    "notebooks/05_nice_2d.ipynb",
    "notebooks/06_nice_mnist.ipynb",
)

DEMO_NOTEBOOK = [
    "import numpy as np\nfrom matplotlib.figure import Figure\nimport ipywidgets as widgets\n"
    "from nicelab.widgets import FigureView",
    "class Wave(FigureView):\n"
    "    def __init__(self):\n"
    "        fig = Figure(figsize=(4, 3))\n"
    "        ax = fig.add_subplot()\n"
    "        self.x = np.linspace(0, 2 * np.pi, 200)\n"
    "        (self.line,) = ax.plot(self.x, np.sin(self.x))\n"
    "        ax.set_ylim(-1.1, 1.1)\n"
    "        super().__init__(fig, {'k': widgets.IntSlider(value=1, min=1, max=8, description='k')})\n"
    "    def update(self):\n"
    "        self.line.set_ydata(np.sin(self.controls['k'].value * self.x))\n"
    "\n"
    "Wave()",
]


def _key_with_room(handle) -> str:
    """The arrow key towards the farther end of the slider (right unless nearer the maximum)."""
    now, low, high = (
        float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemin", "aria-valuemax")
    )
    return "ArrowRight" if (high - now) >= (now - low) else "ArrowLeft"


def time_slider(page, slider, image) -> dict[str, object]:
    """End-to-end times of a widget in the page: key press -> new picture decoded and painted (ms).

    ``single``: ``TIMED_STEPS`` one-step moves, each waiting for its picture (back and forth, so the
    value stays in range). ``drag``: ``DRAG_PRESSES`` presses sent at once; how many pictures arrived
    and how long after the last press the last picture appeared (it shows the last value).
    """
    handle = slider.locator(".noUi-handle").first
    page.evaluate(STOPWATCH, [handle.element_handle(), image.element_handle()])
    handle.focus()
    key = _key_with_room(handle)
    back = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
    single = []
    for i in range(TIMED_STEPS):
        handle.press(key if (i // 2) % 2 == 0 else back)  # two steps out, two back: never at an end
        page.wait_for_function(f"() => window.__nicelabStopwatch.images.length >= {i + 1}", timeout=30_000)
        w = page.evaluate("() => window.__nicelabStopwatch")
        single.append(w["images"][i] - w["presses"][i])
    page.evaluate("() => { window.__nicelabStopwatch.presses = []; window.__nicelabStopwatch.images = []; }")
    key = _key_with_room(handle)
    value_before = float(handle.get_attribute("aria-valuenow"))
    for _ in range(DRAG_PRESSES):
        handle.press(key, delay=0)
    target = handle.get_attribute("aria-valuenow")
    page.wait_for_function("() => window.__nicelabStopwatch.images.length > 0", timeout=30_000)
    page.wait_for_timeout(1500)  # quiet period: every picture the run causes has arrived
    w = page.evaluate("() => window.__nicelabStopwatch")
    return {
        "single_ms": [round(v, 1) for v in single],
        "single_median_ms": round(statistics.median(single), 1),
        "single_max_ms": round(max(single), 1),
        "drag": {
            "presses": len(w["presses"]),
            "pictures": len(w["images"]),
            "from": value_before,
            "to": float(target),
            "press_span_ms": round(w["presses"][-1] - w["presses"][0], 1),
            "last_press_to_last_picture_ms": round(w["images"][-1] - w["presses"][-1], 1),
        },
    }


def record_timing(lesson: str, control: str, timing: dict[str, object]) -> None:
    """Merge one lesson's browser timing into ``benchmarks/results/widgets_browser.json``."""
    data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    data.setdefault("what", "ms from a slider key press in Chromium to the new picture decoded and painted")
    data.setdefault("lessons", {})[lesson] = {
        "control": control,
        **timing,
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
    }
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS.write_text(json.dumps(data, indent=2) + "\n")


def lesson_with_widget() -> Path | None:
    """The lesson to open: ``NICELAB_BROWSER_NOTEBOOK``, else the first lesson that shows a nicelab widget.

    ``None`` (also for ``NICELAB_BROWSER_NOTEBOOK=demo``) means: use :func:`demo_notebook`.
    """
    chosen = os.environ.get("NICELAB_BROWSER_NOTEBOOK")
    if chosen == "demo":
        return None
    if chosen:
        return (ROOT / chosen).resolve()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        if any("nicelab.widgets" in "".join(c["source"]) for c in cells if c["cell_type"] == "code"):
            return path
    return None


def has_outputs_in(text: bytes | str) -> bool:
    """Whether a notebook's JSON has any stored output or execution count."""
    cells = json.loads(text)["cells"]
    return any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code")


def has_outputs(path: Path) -> bool:
    return has_outputs_in(path.read_bytes())


def demo_notebook(folder: Path) -> Path:
    """A two-cell notebook with a FigureView, for when no lesson with a widget exists yet."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in DEMO_NOTEBOOK]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "widget_demo.ipynb"
    nbformat.write(nb, path)
    return path


def screenshot_dir() -> Path:
    """``$NICELAB_BROWSER_SCREENSHOTS`` (relative to the repository root, e.g. ``figures`` to refresh the
    gallery, or absolute) or :data:`DEFAULT_SCREENSHOTS`; the tracked ``figures/`` only when asked for."""
    chosen = os.environ.get("NICELAB_BROWSER_SCREENSHOTS", "").strip()
    if not chosen:
        return DEFAULT_SCREENSHOTS
    folder = Path(chosen).expanduser()
    return folder if folder.is_absolute() else ROOT / folder


def test_widget_python_and_lab_extension_versions_match():
    stack = installed_stack(JUPYTER)
    problem = mismatch(stack)
    assert problem is None, problem


@pytest.mark.parametrize("lesson", [None, *EXTRA_LESSONS], ids=["first-widget-lesson", *EXTRA_LESSONS])
def test_lesson_widget_renders_and_reacts_in_chromium(lab_server, chromium: Browser, tmp_path, lesson):
    problem = mismatch(installed_stack(JUPYTER))
    assert problem is None, f"widgets cannot work in the browser: {problem}"
    started = time.monotonic()
    notebook = lesson_with_widget() if lesson is None else ROOT / lesson
    if notebook is None:
        notebook = demo_notebook(tmp_path)
    name = "browser_widget.png" if lesson is None else f"browser_widget_{notebook.stem[:2]}.png"
    screenshot = screenshot_dir() / name
    root = ROOT if notebook.is_relative_to(ROOT) else notebook.parent
    original = notebook.read_bytes()
    try:
        _run_lesson_and_move_a_slider(lab_server, chromium, notebook, root, started, screenshot)
    finally:
        saved_outputs = has_outputs(notebook) and not has_outputs_in(original)
        if saved_outputs:  # lessons stay output-free: put the file back, then fail
            notebook.write_bytes(original)
    assert not saved_outputs, f"JupyterLab saved outputs into {notebook.name} (autosave should be off)"


def _run_lesson_and_move_a_slider(
    lab_server, chromium: Browser, notebook: Path, root: Path, started: float, screenshot: Path
):
    server = lab_server(root, env={"NICELAB_FAST": "1"})
    page = chromium.page
    relative = notebook.relative_to(root).as_posix()

    def explain(what: str) -> str:
        return (
            f"{what}\n--- browser console ---\n"
            + "\n".join(chromium.console[-30:])
            + (f"\n--- server log ---\n{server.log_tail()}")
        )

    page.goto(server.url(relative), wait_until="domcontentloaded", timeout=120_000)
    try:
        page.wait_for_function(NOTEBOOK_READY, arg=notebook.name, timeout=180_000, polling=500)
    except Exception as err:
        pytest.fail(explain(f"{relative} did not open with an idle kernel: {err}"))
    opened = time.monotonic()

    page.evaluate(RUN_ALL)
    page.wait_for_function("() => window.__nicelabRunAll !== undefined", timeout=RUN_TIMEOUT_MS, polling=1000)
    outcome = page.evaluate("() => window.__nicelabRunAll")
    errors = page.evaluate(CELL_ERRORS)
    assert outcome == "true" and not errors, explain(f"running {relative} failed ({outcome}): {errors}")
    ran = time.monotonic()

    # The widget of a FigureView: an output holding both a slider and the figure's <img>.
    output = (
        page.locator(".jp-OutputArea-output")
        .filter(has=page.locator(".widget-slider"))
        .filter(has=page.locator("img.widget-image"))
        .first
    )
    try:
        output.wait_for(state="visible", timeout=60_000)
    except Exception as err:
        pytest.fail(explain(f"no widget with a slider and an image rendered in {relative}: {err}"))
    body = page.inner_text("body")
    for message in WIDGET_ERRORS:
        assert message not in body, explain(f"the page says {message!r}")
    # Every widget output must render as a widget, not as its text fallback ("VBox(children=...)").
    expected = page.evaluate(WIDGET_OUTPUTS)
    rendered = page.locator(".jp-OutputArea-output:has(> .jupyter-widgets)").count()
    assert rendered == expected > 0, explain(f"{expected} widget outputs, {rendered} rendered as widgets")
    page.wait_for_timeout(500)  # let the layout settle before measuring it
    cut_off = page.evaluate(CUT_OFF)
    assert not cut_off, explain(f"widget parts cut off at {page.viewport_size}: {cut_off}")

    output.scroll_into_view_if_needed()
    image = output.locator("img.widget-image").first
    slider = output.locator(".widget-slider").first
    readout = slider.locator(".widget-readout")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    src_before, pixels_before = image.get_attribute("src"), image.screenshot()
    value_before = readout.inner_text()

    # Move it as a learner would with the keyboard: three steps right, or left if it sits at its maximum.
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    key = (
        "ArrowLeft"
        if handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        else "ArrowRight"
    )
    for _ in range(3):
        handle.press(key)
    try:
        page.wait_for_function(
            "([img, before]) => img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0",
            arg=[image.element_handle(), src_before],
            timeout=60_000,
        )
    except Exception as err:
        moved = f"moving the slider (readout {value_before!r})"
        pytest.fail(explain(f"{moved} did not re-render the image: {err}"))
    page.wait_for_timeout(300)  # let the new PNG paint
    pixels_after = image.screenshot()
    value_after = readout.inner_text()
    assert value_after != value_before, f"the slider readout stayed at {value_before!r}"
    assert pixels_after != pixels_before, "the image source changed but the picture did not"
    body = page.inner_text("body")
    for message in WIDGET_ERRORS:
        assert message not in body, explain(f"after moving the slider the page says {message!r}")

    # End to end: slider key press -> new picture on screen, in this real browser and kernel.
    control = slider.locator(".widget-label").first.inner_text()
    timing = time_slider(page, slider, image)
    record_timing(relative, control, timing)
    body = page.inner_text("body")
    for message in WIDGET_ERRORS:
        assert message not in body, explain(f"after timing the slider the page says {message!r}")

    screenshot.parent.mkdir(parents=True, exist_ok=True)
    output.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot))
    drag = timing["drag"]
    print(
        f"\n{relative}: opened in {opened - started:.1f} s, ran all cells in {ran - opened:.1f} s, "
        f"slider {value_before} -> {value_after}, total {time.monotonic() - started:.1f} s; "
        f"screenshot {screenshot}\n"
        f"  slider '{control}' end to end: median {timing['single_median_ms']:.0f} ms, "
        f"max {timing['single_max_ms']:.0f} ms over {TIMED_STEPS} steps; a drag of {drag['presses']} presses "
        f"drew {drag['pictures']} pictures, the last {drag['last_press_to_last_picture_ms']:.0f} ms "
        f"after the last press"
    )
