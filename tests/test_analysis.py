"""nicelab.analysis: the latent importance order, top-k sampling and latent interpolation of lesson 06."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import nicelab
from nicelab.analysis import interpolate, latent_importance, sample_top_k

DIM = 16


@pytest.fixture(scope="module")
def model() -> nicelab.NICE:
    torch.manual_seed(0)
    net = nicelab.NICE(DIM, n_couplings=4, hidden=8, depth=1)
    net.init_from_data(torch.rand(64, DIM))
    with torch.no_grad():  # distinct scales, so "most important" is well defined, and non-zero couplings
        net.scaling.log_scale.copy_(torch.linspace(-2.0, 2.0, DIM)[torch.randperm(DIM)])
        for p in net.parameters():
            if p.dim() == 2:
                p.add_(0.3 * torch.randn_like(p))
    return net.eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(2, DIM, generator=torch.Generator().manual_seed(1))


def gen(seed: int = 3) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_latent_importance_sorts_by_the_notes_decoder_scale(model):
    order, scale = latent_importance(model)
    s = model.scaling.log_scale.detach()
    assert order.shape == scale.shape == (DIM,) and sorted(order.tolist()) == list(range(DIM))
    torch.testing.assert_close(scale, torch.exp(-s))
    assert int(order[0]) == int(torch.argmin(s)) and int(order[-1]) == int(torch.argmax(s))
    assert bool((scale[order][:-1] >= scale[order][1:]).all())


def test_latent_importance_needs_a_flow_with_a_scaling_layer():
    with pytest.raises(ValueError, match="dim"):
        latent_importance(torch.nn.Linear(2, 2))
    flow = nicelab.CouplingFlow(4, n_couplings=2, hidden=4, depth=1)
    flow.scaling = None  # a flow that lost its Scaling
    with pytest.raises(ValueError, match="Scaling"):
        latent_importance(flow)


def test_sample_top_k_draws_exactly_the_k_most_important_dims(model):
    k, n = 5, 4
    x = sample_top_k(model, k, n, generator=gen())
    assert x.shape == (n, DIM)
    order, _ = latent_importance(model)
    eps = model.prior.sample(n, generator=gen())  # the same draw
    z = model(x)[0]
    top, rest = order[:k], order[k:]
    torch.testing.assert_close(z[:, top], eps[:, top], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(z[:, rest], torch.zeros(n, DIM - k), atol=1e-4, rtol=0)


def test_sample_top_k_ends_are_the_central_image_and_ordinary_samples(model):
    centre = sample_top_k(model, 0, 3, generator=gen())
    torch.testing.assert_close(centre, model.inverse(torch.zeros(3, DIM))[0])
    full = sample_top_k(model, DIM, 3, temperature=0.7, generator=gen())
    torch.testing.assert_close(full, model.sample(3, temperature=0.7, generator=gen()), atol=1e-6, rtol=1e-6)
    cold = sample_top_k(model, DIM, 3, temperature=0.0, generator=gen())
    torch.testing.assert_close(cold, centre)  # T = 0 draws z = 0 in every dim


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": DIM + 1}, "k must be"),
        ({"k": -1}, "k must be"),
        ({"k": True}, "k must be"),
        ({"k": 2.0}, "k must be"),
        ({"n": 0}, "n must be"),
        ({"temperature": -0.5}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"generator": 3}, "generator"),
    ],
)
def test_sample_top_k_rejects_bad_input(model, kwargs, match):
    args = {"k": 2, "n": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        sample_top_k(model, **args)


def test_sample_top_k_needs_a_prior():
    flow = nicelab.NICE(4, n_couplings=2, hidden=4, depth=1)
    del flow.prior
    with pytest.raises(ValueError, match="prior"):
        sample_top_k(flow, 1, 1)


def test_interpolation_ends_at_the_inputs_and_is_straight_in_latent_space(model, images):
    a, b = images
    ts = torch.linspace(0, 1, 5)
    latent, pixel = interpolate(model, a, b, ts)
    assert latent.shape == pixel.shape == (5, DIM) and latent.dtype == a.dtype
    torch.testing.assert_close(latent[0], a, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(latent[-1], b, atol=1e-5, rtol=1e-5)
    z_a, z_b = model(images)[0]
    with torch.no_grad():
        z_path = model(latent)[0]
    torch.testing.assert_close(z_path, (1 - ts[:, None]) * z_a + ts[:, None] * z_b, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(pixel[2], (a + b) / 2)
    assert not torch.allclose(latent[2], pixel[2], atol=1e-3)  # a curved path in pixel space


@pytest.mark.parametrize(
    ("a", "ts", "match"),
    [
        (torch.rand(2, DIM), torch.linspace(0, 1, 3), "single images"),
        (torch.rand(DIM + 1), torch.linspace(0, 1, 3), "single images"),
        (torch.zeros(DIM, dtype=torch.long), torch.linspace(0, 1, 3), "single images"),
        (torch.full((DIM,), float("nan")), torch.linspace(0, 1, 3), "NaN"),
        (torch.rand(DIM), torch.zeros(0), "non-empty 1-D"),
        (torch.rand(DIM), torch.zeros(2, 2), "non-empty 1-D"),
        (torch.rand(DIM), [0.0, 1.0], "non-empty 1-D"),
        (torch.rand(DIM), torch.tensor([0.0, float("inf")]), "ts contains"),
    ],
)
def test_interpolate_rejects_bad_input(model, a, ts, match):
    with pytest.raises(ValueError, match=match):
        interpolate(model, a, torch.rand(DIM), ts)


def test_analysis_is_a_work_layer_without_plots_or_widgets():
    code = "import sys, nicelab.analysis\nassert not {'matplotlib', 'ipywidgets'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
