"""How every view renders: the fast (blitted) picture equals a full draw, and a dragged slider coalesces.

Each view draws only its live artists over a cached background. These tests move every control of
every lesson view and compare the picture the view shows with ``savefig`` of the same figure (which
draws everything): equal pixel for pixel, so blitting never shows a stale or mis-stacked picture.
They also fire bursts of browser-style changes (``Widget.set_state``, what a comm message does) and
check that the last value is drawn and stale ones are skipped.
"""

from __future__ import annotations

import io
import threading
import zlib

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from nicelab import NICE, CouplingFlow
from nicelab import datasets as D
from nicelab.baselines import VAE
from nicelab.widgets import (
    ChangeOfVariablesView,
    CouplingExplorer,
    FigureView,
    FlowLayersView,
    InpaintingView,
    InterpolationView,
    LatentComparison,
    LinearMapView,
    LogDetMap,
    SampleGridView,
    ScalingExplorer,
    TopKView,
    render_png,
)
from nicelab.widgets._base import encode_png, nice_ceiling
from nicelab.widgets._blit import frame_artists


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def assert_shows_full_draw(view: FigureView) -> None:
    """The view's picture equals ``savefig`` of its figure, up to antialiasing where ticks meet it.

    A tick mark's inner edge pixel may blend with a heat map differently (the axis is kept in the
    background, under the live image): a few pixels, by a few levels. A stale or mis-stacked artist
    differs by far more, over far more pixels.
    """
    shown, full = pixels(view.image.value), pixels(render_png(view.figure, view.dpi))
    assert shown.shape == full.shape
    diff = np.abs(shown.astype(int) - full.astype(int)).max(axis=2)
    assert diff.max() <= 16 and (diff > 0).sum() <= 16, (
        f"{int((diff > 0).sum())} pixels differ from a full draw, by up to {diff.max()} levels"
    )


def _mnist_model() -> NICE:
    torch.manual_seed(0)
    net = NICE(784, n_couplings=2, hidden=16, depth=1)
    net.init_from_data(torch.rand(64, 784) * 0.3)
    with torch.no_grad():
        net.scaling.log_scale.copy_(torch.linspace(-2.0, 2.0, 784)[torch.randperm(784)])
    return net


def _tiny_2d(name: str, couplings: int = 2) -> NICE:
    return D.nice_for(name, n_init=512, n_couplings=couplings, hidden=8, depth=1)


def _flows() -> dict[str, CouplingFlow]:
    flows = {}
    for kind in ("additive", "affine"):
        torch.manual_seed(1)
        flow = CouplingFlow(2, coupling=kind, n_couplings=3, hidden=8, depth=1)
        flows[kind] = flow.init_from_data(torch.randn(256, 2))
    return flows


MNIST = {}


def mnist() -> NICE:
    if not MNIST:
        MNIST["model"] = _mnist_model()
    return MNIST["model"]


#: name -> (builder, [(control, value), ...]): every control of every lesson view, at small sizes
VIEWS = {
    "01": (
        lambda: ChangeOfVariablesView(n=2000),
        [("a", 0.4), ("a", 0.45), ("b", 1.2), ("family", "exp: x = exp(a z) + b"), ("a", 1.3)],
    ),
    "02": (lambda: LinearMapView(n=2000), [("a", 1.0), ("b", 0.7), ("c", -0.4), ("d", -1.5), ("d", 1.0)]),
    "03": (
        lambda: CouplingExplorer(n=40, lines=7),
        [
            ("amplitude", -1.5),
            ("frequency", 2.5),
            ("family", "tanh bump"),
            ("direction", "latent → data (inverse)"),
            ("keep", "keep x₂, shift x₁"),
        ],
    ),
    "04": (
        lambda: ScalingExplorer(n=40),
        [("s1", 1.0), ("s2", -0.5), ("prior", "gaussian"), ("spread", 0.01), ("s2", 4.0)],
    ),
    "05": (
        lambda: FlowLayersView(
            {"moons": _tiny_2d("moons"), "eight_gaussians": _tiny_2d("eight_gaussians", 3)},
            n_points=200,
            resolution=16,
        ),
        [("layer", 1), ("layer", 3), ("dataset", "eight_gaussians"), ("layer", 4), ("layer", 0)],
    ),
    "06": (lambda: SampleGridView(mnist(), n=4, ncols=2), [("temperature", 0.5), ("temperature", 0.0)]),
    "06b": (
        lambda: InpaintingView(
            mnist(), torch.rand(2, 784) * 0.2, steps=6, frames=3, mask_names=("top", "left")
        ),
        [("step", 0), ("step", 3), ("mask", "left"), ("digit", 1)],
    ),
    "06c": (lambda: TopKView(mnist(), n=4, ncols=2), [("k", 0), ("k", 200), ("k", 784)]),
    "06d": (
        lambda: InterpolationView(mnist(), torch.rand(784) * 0.2, torch.rand(784) * 0.2, points=5),
        [("t", 0.0), ("t", 1.0), ("t", 0.25)],
    ),
    "07": (
        lambda: LatentComparison(
            NICE(2, n_couplings=2, hidden=8, depth=1),
            VAE(2, hidden=8, depth=1),
            torch.randn(200, 2),
            (-3, 3, -3, 3),
        ),
        [("x1", 1.5), ("x2", -2.0), ("x1", -0.3)],
    ),
    "08": (
        lambda: LogDetMap(_flows(), (-3, 3, -3, 3), n=16),
        [("layers", 1), ("model", "affine"), ("layers", 2)],
    ),
}


@pytest.mark.parametrize("key", list(VIEWS))
def test_every_control_changes_the_picture_and_it_equals_a_full_draw(key):
    build, changes = VIEWS[key]
    view = build()
    view.refresh()
    assert_shows_full_draw(view)
    for name, value in changes:
        before, renders = view.image.value, view.renders
        view.controls[name].value = value
        assert view.renders == renders + 1, f"{name}: one change, one picture"
        assert view.image.value != before, f"{name} = {value!r} did not change the picture"
        assert_shows_full_draw(view)
    if key != "05":  # (lesson 05 changes every axes' limits with every stage: see the next test)
        # the static parts were drawn once and then reused (or redrawn for only the axes that changed)
        assert view.blitter is not None and view.blitter.full_draws < 1 + len(changes)


def test_a_slider_dragged_back_reuses_the_backgrounds_it_passed():
    build, _ = VIEWS["05"]
    view = build()
    view.refresh()
    for k in (1, 2, 3):
        view.controls["layer"].value = k
    full, hits = view.blitter.full_draws, view.blitter.cache_hits
    for k in (2, 1, 0):  # every stage has its own window, drawn already on the way out
        view.controls["layer"].value = k
        assert_shows_full_draw(view)
    assert view.blitter.full_draws == full and view.blitter.cache_hits == hits + 3


def test_views_keep_their_layout_and_draw_at_their_dpi():
    view = ChangeOfVariablesView(n=1000)
    boxes = [ax.get_position().bounds for ax in view.figure.axes]
    view.refresh()
    frozen = [ax.get_position().bounds for ax in view.figure.axes]
    view.controls["a"].value = 0.3
    assert [ax.get_position().bounds for ax in view.figure.axes] == frozen  # no relayout per change
    assert len(boxes) == 3 and view.figure.get_layout_engine().__class__.__name__ == "PlaceHolderLayoutEngine"
    width, height = Image.open(io.BytesIO(view.image.value)).size
    assert (width, height) == tuple(round(v * view.dpi) for v in view.figure.get_size_inches())


class Wave(FigureView):
    """A minimal view whose update can be held at a gate, to make a render slow on purpose."""

    def __init__(self) -> None:
        figure = Figure(figsize=(3, 2))
        ax = figure.add_subplot()
        self.x = np.linspace(0, 2 * np.pi, 100)
        (self.line,) = ax.plot(self.x, np.sin(self.x))
        ax.set_ylim(-1.1, 1.1)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.drawn: list[int] = []
        slider = widgets.IntSlider(value=1, min=1, max=50, description="k")
        super().__init__(figure, {"k": slider}, live=[self.line])

    def update(self) -> None:
        self.entered.set()
        assert self.gate.wait(10)
        k = self.controls["k"].value
        self.drawn.append(k)
        self.line.set_ydata(np.sin(k * self.x))


def test_a_dragged_slider_draws_the_latest_value_and_skips_stale_ones():
    view = Wave()
    view.refresh()
    first = view.renders
    view.gate.clear()
    view.entered.clear()
    slider = view.controls["k"]
    slider.set_state({"value": 2})  # as a comm message from the browser: rendered on a worker thread
    assert view.entered.wait(10)  # the worker is now stuck drawing k = 2 ...
    for k in range(3, 41):  # ... while 38 more values arrive
        slider.set_state({"value": k})
    assert view.renders == first  # the kernel's thread was not held up by drawing
    view.gate.set()
    assert view.wait(30)
    assert view.render_error is None
    assert view.drawn[-1] == 40 and view.renders - first <= 2  # k = 2 (already started), then 40
    assert set(view.drawn[1:]) <= {2, 40}  # nothing in between was ever drawn
    assert view.coalesced == 37  # 38 requests merged into the one pending render
    reference = Wave()
    reference.controls["k"].value = 40  # set by code: rendered before the assignment returns
    assert pixels(view.image.value).tolist() == pixels(reference.image.value).tolist()


def test_a_burst_without_a_gate_ends_on_the_last_value():
    view = ChangeOfVariablesView(n=1000)
    view.refresh()
    first = view.renders
    values = [round(0.2 + 0.05 * i, 2) for i in range(26)]
    for value in values:
        view.controls["a"].set_state({"value": value})
    assert view.wait(60) and view.render_error is None
    assert 1 <= view.renders - first <= len(values)
    assert view.fmap.name == ChangeOfVariablesView(n=1000, a=values[-1]).fmap.name  # the last value's map
    assert_shows_full_draw(view)


def test_code_changes_render_before_the_assignment_returns():
    view = Wave()
    view.refresh()
    renders = view.renders
    view.controls["k"].value = 7
    assert view.renders == renders + 1 and view.drawn[-1] == 7 and view.wait(0)


def test_a_failing_background_render_is_kept_not_lost(capsys):
    view = Wave()
    view.refresh()

    def broken() -> None:
        raise RuntimeError("boom")

    view.update = broken
    view.controls["k"].set_state({"value": 5})
    assert view.wait(10)
    assert isinstance(view.render_error, RuntimeError) and "boom" in capsys.readouterr().err


def test_encode_png_round_trips_and_validates():
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(7, 11, 4), dtype=np.uint8)
    png = encode_png(rgba)
    np.testing.assert_array_equal(pixels(png), rgba[..., :3])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and zlib.decompress(png[41:-12])[0] == 0  # no row filter
    for bad in (rgba[..., :3], rgba.astype(np.float32), rgba[0]):
        with pytest.raises(ValueError, match="uint8"):
            encode_png(bad)
    with pytest.raises(ValueError, match="level"):
        encode_png(rgba, level=10)


def test_nice_ceiling_rounds_up_to_round_numbers():
    assert [nice_ceiling(v) for v in (0.45, 0.5, 0.55, 1.1, 2.6, 9.0, 1234.0)] == [
        0.5,
        0.5,
        0.6,
        1.2,
        3.0,
        10.0,
        1500.0,
    ]
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive"):
            nice_ceiling(bad)


def test_frame_artists_follow_matplotlibs_stacking_order():
    figure = Figure()
    ax = figure.add_subplot()
    below = ax.axvspan(0, 1, zorder=0.5)
    (live,) = ax.plot([0, 1], [0, 1], zorder=2)
    above = ax.text(0.5, 0.5, "over the line", zorder=3)
    legend = ax.legend(["line"])
    frame = frame_artists(figure, [live])
    assert below not in frame and frame[0] is live
    assert above in frame and legend in frame and all(s in frame for s in ax.spines.values())
    assert ax.xaxis not in frame and ax.yaxis not in frame
    stray = Figure().add_subplot().plot([0], [0])[0]
    with pytest.raises(ValueError, match="not drawn by this figure"):
        frame_artists(figure, [stray])


def test_figure_view_rejects_bad_arguments():
    slider = {"k": widgets.IntSlider()}
    with pytest.raises(ValueError, match="Figure"):
        FigureView("not a figure", slider)  # type: ignore[arg-type]
    for dpi in (0, -80, 80.5, True):
        with pytest.raises(ValueError, match="dpi"):
            FigureView(Figure(), slider, dpi=dpi)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="artists"):
        FigureView(Figure(), slider, live=["a line"])  # type: ignore[list-item]
