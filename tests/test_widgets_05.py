"""Lesson 05's layer-by-layer view: precomputed stages are right, and controls update artists in place."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nicelab import NICE
from nicelab import datasets as D
from nicelab.plots import grid_points
from nicelab.widgets import FlowLayersView
from nicelab.widgets.flow2d import compute_stages, prior_quantile


def tiny(name: str, n_couplings: int = 2, prior: str = "logistic") -> NICE:
    model = D.nice_for(name, n_init=512, n_couplings=n_couplings, hidden=8, depth=1, prior=prior)
    with torch.no_grad():
        model.scaling.log_scale.add_(torch.tensor([0.3, -0.1]))  # a non-trivial total log-det
    return model


@pytest.mark.parametrize("prior", ["logistic", "gaussian"])
def test_stages_are_the_models_intermediates_and_pulled_back_prior(prior):
    model = tiny("moons", prior=prior)
    data = D.get("moons").sample(300, torch.Generator().manual_seed(0))
    stages = compute_stages(model, data, D.get("moons").bounds, resolution=20)
    n = len(model.layer_names())
    assert stages.names == model.layer_names() and len(stages.points) == len(stages.lines) == n
    with torch.no_grad():
        z, _ = model(data)
        # the last stage is the latent code; the first is the data
        np.testing.assert_allclose(stages.points[-1], z.numpy(), atol=1e-5)
        np.testing.assert_allclose(stages.points[0], data.numpy())
        # pushing the input-stage grid lines forward recovers the prior's quantile grid
        lines0 = torch.from_numpy(stages.lines[0]).reshape(-1, 2)
        np.testing.assert_allclose(model(lines0)[0].numpy(), stages.lines[-1].reshape(-1, 2), atol=1e-4)
        # the input-stage density is the model's density
        grid, _ = grid_points(D.get("moons").bounds, 20)
        np.testing.assert_allclose(
            stages.densities[0], model.log_prob(grid).exp().reshape(20, 20).numpy(), rtol=1e-4, atol=1e-7
        )
    # only the scaling layer changes volume, by Σ s
    assert stages.log_dets[:-1] == [0.0] * (n - 1)
    assert stages.log_dets[-1] == pytest.approx(float(model.scaling.log_scale.detach().sum()), abs=1e-6)
    q = prior_quantile(model.prior, torch.tensor([0.5, 0.9]))
    assert float(q[0]) == pytest.approx(0.0, abs=1e-6) and float(q[1]) > 1.0


@pytest.mark.parametrize("prior", ["logistic", "gaussian"])
def test_stages_match_a_plain_layer_loop_in_float64(prior):
    # the reference walks model.layers by hand: forward through layers[k:] for the density of stage k,
    # backward through reversed(layers[k:]) for the grid lines; compute_stages uses the public chain API
    model = tiny("moons", n_couplings=3, prior=prior).double().train()
    data = D.get("moons").sample(200, torch.Generator().manual_seed(1)).double()
    stages = compute_stages(model, data, D.get("moons").bounds, resolution=12, n_lines=4, line_points=9)
    assert model.training  # the mode is restored
    layers = model.layers
    # the latent stage's lines are the prior's quantile grid, from the quantile formula itself
    u = torch.linspace(0.05, 0.95, 4, dtype=torch.float64)
    q = torch.log(u) - torch.log1p(-u) if prior == "logistic" else math.sqrt(2.0) * torch.erfinv(2 * u - 1)
    np.testing.assert_allclose(stages.lines[-1][:4, 0, 0], q.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(stages.lines[-1][4:, 0, 1], q.numpy(), rtol=0, atol=1e-12)
    latent_lines = torch.from_numpy(stages.lines[-1]).reshape(-1, 2)
    h = data
    with torch.no_grad():
        for k in range(len(layers) + 1):
            if k > 0:
                h, log_det = layers[k - 1](h)
                assert stages.log_dets[k] == pytest.approx(float(log_det.mean()), abs=1e-10)
            np.testing.assert_allclose(stages.points[k], h.numpy(), rtol=0, atol=1e-10)
            grid, _ = grid_points(stages.windows[k], 12, dtype=torch.float64)
            z, total = grid, torch.zeros(len(grid), dtype=torch.float64)
            for layer in layers[k:]:
                z, log_det = layer(z)
                total = total + log_det
            density = (model.prior.log_prob(z) + total).exp().reshape(12, 12)
            np.testing.assert_allclose(stages.densities[k], density.numpy(), rtol=1e-10, atol=1e-12)
            back = latent_lines
            for layer in reversed(layers[k:]):
                back = layer.inverse(back)[0]
            np.testing.assert_allclose(stages.lines[k].reshape(-1, 2), back.numpy(), rtol=0, atol=1e-10)
    assert stages.windows[0] == D.get("moons").bounds


def test_prior_quantile_is_the_priors_icdf():
    model = tiny("moons", prior="gaussian")
    u = torch.tensor([0.025, 0.5, 0.975], dtype=torch.float64)
    q = prior_quantile(model.prior, u)
    np.testing.assert_allclose(q.numpy(), [-1.959964, 0.0, 1.959964], atol=1e-6)
    with pytest.raises(ValueError, match="Prior"):
        prior_quantile("logistic", u)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        prior_quantile(model.prior, torch.tensor([1.5]))


def test_slider_and_dropdown_update_artists_in_place():
    models = {"moons": tiny("moons"), "eight_gaussians": tiny("eight_gaussians", n_couplings=3)}
    view = FlowLayersView(models, n_points=200, resolution=16)
    view.refresh()
    before = (view.scatter.get_offsets().copy(), view.heatmap.get_array().copy(), view.image.value)
    segments_before = [s.copy() for s in view.grid_lines.get_segments()]
    scatter, heatmap, lines = view.scatter, view.heatmap, view.grid_lines

    view.controls["layer"].value = view.controls["layer"].max  # the latent stage
    assert view.scatter is scatter and view.heatmap is heatmap and view.grid_lines is lines  # in place
    assert not np.allclose(view.scatter.get_offsets(), before[0])
    assert not np.allclose(view.heatmap.get_array(), before[1])
    assert not np.allclose(view.grid_lines.get_segments()[0], segments_before[0])
    assert view.image.value != before[2] and "scaling" in view.title.get_text()
    assert "volume changed" in view.title.get_text()

    assert view.controls["layer"].max == len(models["moons"].layer_names()) - 1
    view.controls["dataset"].value = "eight_gaussians"
    assert view.controls["layer"].max == len(models["eight_gaussians"].layer_names()) - 1
    view.controls["layer"].value = 2
    assert "coupling 1" in view.title.get_text() and "volume kept" in view.title.get_text()
    np.testing.assert_allclose(view.scatter.get_offsets(), view.stages["eight_gaussians"].points[2])


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="at least one"):
        FlowLayersView({})
    with pytest.raises(ValueError, match="no dataset"):
        FlowLayersView({"mine": tiny("moons")})
    with pytest.raises(ValueError, match="2-D"):
        compute_stages(NICE(3, hidden=4, depth=1), torch.zeros(20, 3))
    with pytest.raises(ValueError, match="n >= 10"):
        compute_stages(tiny("moons"), torch.zeros(3, 2))
