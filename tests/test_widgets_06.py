"""Lesson 06 views, headless: each control changes the artists and the rendered image, and the helpers
(importance order, top-k sampling, interpolation) do what the lesson says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nicelab
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


def test_latent_importance_orders_by_the_notes_scale(model):
    order, scale = latent_importance(model)
    s = model.scaling.log_scale.detach()
    assert torch.allclose(scale, torch.exp(-s))
    assert int(order[0]) == int(torch.argmin(s)) and int(order[-1]) == int(torch.argmax(s))
    assert (scale[order][:-1] >= scale[order][1:]).all()


def test_sample_top_k_freezes_the_other_dims(model):
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    centre = sample_top_k(model, 0, 4, generator=gen())
    assert torch.allclose(centre, centre[:1].expand(4, -1))  # k = 0: every sample is f^{-1}(0)
    order, _ = latent_importance(model)
    z = model(sample_top_k(model, 5, 4, generator=gen()))[0]
    rest = torch.ones(784, dtype=torch.bool)
    rest[order[:5]] = False
    assert torch.allclose(z[:, rest], torch.zeros_like(z[:, rest]), atol=1e-4)
    assert (z[:, order[:5]].abs() > 0).all()
    full = sample_top_k(model, 784, 4, generator=gen())
    assert torch.allclose(full, model.sample(4, generator=gen()), atol=1e-6)
    with pytest.raises(ValueError, match="k must be"):
        sample_top_k(model, 785, 2)


def test_interpolate_ends_at_the_two_images(model, digits):
    latent, pixel = interpolate(model, digits[0], digits[1], torch.linspace(0, 1, 5))
    assert latent.shape == pixel.shape == (5, 784)
    assert torch.allclose(latent[0], digits[0], atol=1e-5) and torch.allclose(
        latent[-1], digits[1], atol=1e-5
    )
    assert torch.allclose(pixel[2], (digits[0] + digits[1]) / 2)
    with pytest.raises(ValueError, match="single images"):
        interpolate(model, digits[:2], digits[1], torch.linspace(0, 1, 3))


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
