"""Lesson 07/08 views, headless: controls move the artists and the image, and the numbers are right."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nicelab import NICE, CouplingFlow
from nicelab.baselines import VAE
from nicelab.widgets import LatentComparison, LogDetMap

BOUNDS = (-3.0, 3.0, -3.0, 3.0)


@pytest.fixture(scope="module")
def latent_view() -> LatentComparison:
    torch.manual_seed(0)
    flow = NICE(2, n_couplings=4, hidden=16, depth=2)
    vae = VAE(2, hidden=16, depth=1)
    data = torch.randn(300, 2)
    view = LatentComparison(flow, vae, data, BOUNDS, k=50)
    view.refresh()
    return view


def test_latent_comparison_moves_every_artist(latent_view):
    view = latent_view
    before = {
        "point": np.array(view.point.get_data()).copy(),
        "flow_z": np.array(view.flow_z.get_data()).copy(),
        "posterior": view.posterior.get_offsets().copy(),
        "recon": view.recon.get_offsets().copy(),
        "centre": np.array(view.ellipse.get_center()).copy(),
        "png": view.image.value,
        "text": view.text.get_text(),
    }
    view.controls["x1"].value = 1.7
    view.controls["x2"].value = -2.1
    assert not np.allclose(np.array(view.point.get_data()), before["point"])
    assert not np.allclose(np.array(view.flow_z.get_data()), before["flow_z"])
    assert not np.allclose(view.posterior.get_offsets(), before["posterior"])
    assert not np.allclose(view.recon.get_offsets(), before["recon"])
    assert not np.allclose(np.array(view.ellipse.get_center()), before["centre"])
    assert view.image.value != before["png"] and view.text.get_text() != before["text"]
    assert view.posterior.get_offsets().shape == (50, 2)


def test_latent_comparison_numbers_are_the_models(latent_view):
    view = latent_view
    view.controls["x1"].value = 0.4
    view.controls["x2"].value = 0.9
    x = torch.tensor([[0.4, 0.9]])
    n = view.numbers
    assert n["flow_log_p"] == pytest.approx(float(view.flow.log_prob(x).detach()), abs=1e-5)
    assert n["flow_round_trip"] < 1e-5  # the flow's latent is exact: the round trip returns x
    assert n["vae_recon"] > 1e-3  # the VAE's reconstructions land near x, not on it
    assert n["vae_is"] >= n["vae_elbo"]  # logmeanexp >= mean (Jensen), same draws
    z, _ = view.flow(x)
    np.testing.assert_allclose(
        np.array(view.flow_z.get_data()).ravel(), z.detach().numpy().ravel(), atol=1e-6
    )
    mu, std = view.vae.encode(x)
    np.testing.assert_allclose(view.ellipse.get_center(), mu.detach().numpy().ravel(), atol=1e-6)
    assert view.ellipse.get_width() == pytest.approx(4 * float(std[0, 0].detach()))
    log_w = view.vae.log_weights(x, 50, generator=torch.Generator().manual_seed(0))[:, 0]
    assert n["vae_is"] == pytest.approx(float(torch.logsumexp(log_w.detach(), 0) - math.log(50)), abs=1e-5)


def test_latent_comparison_rejects_bad_input():
    flow, vae = NICE(2, hidden=8, depth=1), VAE(2, hidden=8, depth=1)
    with pytest.raises(ValueError, match="vae"):
        LatentComparison(flow, VAE(3, hidden=8, depth=1), torch.randn(5, 2), BOUNDS)
    with pytest.raises(ValueError, match="flow"):
        LatentComparison(NICE(3, hidden=8, depth=1), vae, torch.randn(5, 2), BOUNDS)
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        LatentComparison(flow, vae, torch.randn(5, 3), BOUNDS)
    with pytest.raises(ValueError, match="bounds"):
        LatentComparison(flow, vae, torch.randn(5, 2), (1.0, 0.0, 0.0, 1.0))


@pytest.fixture(scope="module")
def logdet_view() -> LogDetMap:
    torch.manual_seed(0)
    models = {
        "additive": CouplingFlow(2, coupling="additive", n_couplings=3, hidden=16, depth=1),
        "affine": CouplingFlow(2, coupling="affine", n_couplings=3, hidden=16, depth=1),
    }
    view = LogDetMap(models, BOUNDS, n=32)
    view.refresh()
    return view


def test_logdet_map_is_flat_for_additive_and_varies_for_affine(logdet_view):
    view = logdet_view
    view.controls["model"].value = "additive"
    assert view.numbers == {"min": 0.0, "max": 0.0}
    flat_png = view.image.value
    view.controls["model"].value = "affine"
    shown = np.asarray(view.heat.get_array())
    assert shown.std() > 1e-3 and view.numbers["max"] > view.numbers["min"]
    assert view.image.value != flat_png
    # the map is the model's own per-point coupling log-det
    model = view.models["affine"]
    x = torch.tensor([[BOUNDS[0], BOUNDS[2]]])
    assert shown[0, 0] == pytest.approx(float(model.coupling_log_det(x).detach()), abs=1e-5)


def test_logdet_map_layers_slider_changes_the_map(logdet_view):
    view = logdet_view
    view.controls["model"].value = "affine"
    view.controls["layers"].value = 3
    full = np.asarray(view.heat.get_array()).copy()
    view.controls["layers"].value = 1
    assert not np.allclose(np.asarray(view.heat.get_array()), full)
    assert "first 1 coupling" in view.title.get_text()


def test_logdet_map_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        LogDetMap({}, BOUNDS)
    with pytest.raises(ValueError, match="2-D flow"):
        LogDetMap({"x": CouplingFlow(3, hidden=8, depth=1)}, BOUNDS)
    with pytest.raises(ValueError, match="2-D flow"):
        LogDetMap({"x": torch.nn.Linear(2, 2)}, BOUNDS)  # not a flow: no layers to walk
