"""Lesson 06 views, headless: each control changes the artists and the rendered image. The maths they
draw (importance order, top-k sampling, interpolation) is tested in tests/test_analysis.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nicelab
from nicelab import analysis
from nicelab.widgets import InpaintingView, InterpolationView, SampleGridView, TopKView
from nicelab.widgets.mnist import interpolate, latent_importance, sample_top_k


@pytest.fixture(scope="module")
def model() -> nicelab.NICE:
    torch.manual_seed(0)
    net = nicelab.NICE(784, n_couplings=2, hidden=16, depth=1)
    net.init_from_data(torch.rand(64, 784) * 0.3)
    with torch.no_grad():  # distinct scales, so "most important" is well defined
        net.scaling.log_scale.copy_(torch.linspace(-2.0, 2.0, 784)[torch.randperm(784)])
    return net


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(3, 784) * 0.2


def _changed(before: np.ndarray, after: object) -> bool:
    return not np.array_equal(before, np.asarray(after))


def test_the_helpers_moved_to_nicelab_analysis_and_are_still_importable_from_here():
    assert (interpolate, latent_importance, sample_top_k) == (
        analysis.interpolate,
        analysis.latent_importance,
        analysis.sample_top_k,
    )


def test_sample_grid_temperature_slider(model):
    view = SampleGridView(model, n=9, ncols=3)
    view.refresh()
    before, png = np.asarray(view.artist.get_array()).copy(), view.image.value
    view.controls["temperature"].value = 0.3
    assert _changed(before, view.artist.get_array()) and view.image.value != png
    assert "0.30" in view.title.get_text()
    view.controls["temperature"].value = 0.0  # T = 0: all samples are the same image
    grid = np.asarray(view.artist.get_array())
    assert np.allclose(grid[:28, :28], grid[:28, 29:57])


@pytest.fixture(scope="module")
def inpainting_view(model, digits) -> InpaintingView:
    view = InpaintingView(model, digits, labels=["a", "b", "c"], steps=20, frames=5, step_size=0.01)
    view.refresh()
    return view


def test_inpainting_view_precomputes_every_pair(inpainting_view):
    view = inpainting_view
    assert view.result.images.shape == (3 * len(view.mask_names), 784)
    assert view.result.frame_steps == [0, 5, 10, 15, 20]


@pytest.mark.parametrize(("name", "value"), [("step", 0), ("mask", "left"), ("digit", 2), ("step", 10)])
def test_inpainting_view_controls_change_the_picture(inpainting_view, name, value):
    view = inpainting_view
    before = np.asarray(view.fill_artist.get_array()).copy()
    seen = np.asarray(view.seen_artist.get_array()).copy()
    png = view.image.value
    view.controls[name].value = value
    assert view.image.value != png
    assert _changed(before, view.fill_artist.get_array()) or _changed(seen, view.seen_artist.get_array())
    row = view._row()
    frame = view.result.frame_steps.index(view.controls["step"].value)
    shown = np.asarray(view.fill_artist.get_array())
    assert np.allclose(shown, view.result.iterates[frame, row].clamp(0, 1).view(28, 28).numpy())
    assert view.marker.get_xdata()[0] == view.controls["step"].value
    truth, missing = view.truth[view.controls["digit"].value], view.result.missing[row]
    mse = float(((view.result.iterates[frame, row] - truth) ** 2)[missing].mean())
    assert view.fill_title.get_text() == f"step {view.controls['step'].value}: MSE {mse:.3f}"


def test_inpainting_view_rejects_bad_images(model):
    with pytest.raises(ValueError, match="images"):
        InpaintingView(model, torch.rand(2, 10))
    with pytest.raises(ValueError, match="labels"):
        InpaintingView(model, torch.rand(2, 784) * 0.5, labels=["only one"])


def test_top_k_view_slider(model):
    view = TopKView(model, n=4, ncols=4)
    view.refresh()
    before, png = np.asarray(view.artist.get_array()).copy(), view.image.value
    view.controls["k"].value = 100
    assert _changed(before, view.artist.get_array()) and view.image.value != png
    assert list(view.kline.get_xdata()) == [100, 100]
    assert "top 100" in view.title.get_text()


def test_interpolation_view_slider(model, digits):
    view = InterpolationView(model, digits[0], digits[1], points=5)
    view.refresh()
    before, png = np.asarray(view.latent_artist.get_array()).copy(), view.image.value
    view.controls["t"].value = 1.0
    assert _changed(before, view.latent_artist.get_array()) and view.image.value != png
    assert np.allclose(np.asarray(view.pixel_artist.get_array()), digits[1].view(28, 28).numpy())


def test_views_reject_a_model_of_the_wrong_size():
    small = nicelab.NICE(16, n_couplings=2, hidden=4, depth=1)
    with pytest.raises(ValueError, match="784"):
        SampleGridView(small)
    with pytest.raises(ValueError, match="NICE"):
        TopKView(torch.nn.Linear(2, 2))
