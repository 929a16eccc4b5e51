"""Lesson 03/04 widgets, headless: controls change the artists and the image, and the numbers are right."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nicelab import Gaussian, Logistic
from nicelab.widgets import CouplingExplorer, ScalingExplorer
from nicelab.widgets.coupling import DIRECTIONS, FAMILIES, KEEPS, FamilyM, quad_areas


@pytest.fixture(scope="module")
def coupling_view() -> CouplingExplorer:
    view = CouplingExplorer(n=48, lines=7)
    view.refresh()
    return view


@pytest.fixture(scope="module")
def scaling_view() -> ScalingExplorer:
    view = ScalingExplorer(n=48)
    view.refresh()
    return view


def test_quad_areas_of_a_unit_grid_and_a_shear():
    xs, ys = np.meshgrid(np.arange(4.0), np.arange(3.0))
    np.testing.assert_allclose(quad_areas(xs, ys), np.ones((2, 3)))
    np.testing.assert_allclose(quad_areas(2 * xs, ys), 2 * np.ones((2, 3)))
    np.testing.assert_allclose(quad_areas(xs, ys + np.sin(xs)), np.ones((2, 3)))  # additive shear
    with pytest.raises(ValueError, match="vertex arrays"):
        quad_areas(xs, ys[:1])


def test_family_m_validates_and_every_family_is_finite():
    a = torch.linspace(-4, 4, 50, dtype=torch.float64)
    for family in FAMILIES:
        out = FamilyM(family, 1.3, 2.0)(a)
        assert out.shape == a.shape and torch.isfinite(out).all()
        assert torch.allclose(FamilyM(family, 0.0, 2.0)(a), torch.zeros_like(a))  # zero amplitude: no shift
    with pytest.raises(ValueError, match="family"):
        FamilyM("cubic")
    with pytest.raises(ValueError, match="amplitude"):
        FamilyM("sine", float("nan"), 1.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [("family", "tanh bump"), ("amplitude", -1.7), ("frequency", 2.6), ("keep", list(KEEPS)[1])],
)
def test_coupling_controls_move_the_warp_and_the_density(coupling_view, name, value):
    view = coupling_view
    lines_before = [segment.copy() for segment in view.dst_grid.get_segments()]
    density_before = np.asarray(view.dst_image.get_array()).copy()
    png, renders = view.image.value, view.renders
    view.controls[name].value = value
    lines_after = view.dst_grid.get_segments()
    assert any(not np.allclose(a, b) for a, b in zip(lines_before, lines_after, strict=True))
    assert not np.allclose(np.asarray(view.dst_image.get_array()), density_before)
    assert view.renders == renders + 1 and view.image.value != png


def test_coupling_numbers_show_unit_area_and_conserved_mass(coupling_view):
    view = coupling_view
    for direction in DIRECTIONS:
        view.controls["direction"].value = direction
        v = view.numbers
        assert v["area_ratio_min"] == pytest.approx(1.0, abs=1e-9)
        assert v["area_ratio_max"] == pytest.approx(1.0, abs=1e-9)
        assert v["mass_source"] == pytest.approx(1.0, abs=2e-3)
        # the target density is the source density moved around: same values, so same peak and sum
        assert v["peak_target"] <= v["peak_source"] * 1.01
        assert 0.0 < v["mass_target"] <= v["mass_source"] + 1e-6
        assert f"{v['mass_target']:.3f}" in view.text.get_text()


def test_coupling_target_density_is_the_change_of_variables(coupling_view):
    view = coupling_view
    view.controls["family"].value = "sine"
    view.controls["keep"].value = list(KEEPS)[0]
    view.controls["direction"].value = DIRECTIONS[1]  # latent -> data: p(x) = N(f(x)) with f additive
    a, w = view.controls["amplitude"].value, view.controls["frequency"].value
    x = torch.tensor([[0.3, -0.2], [1.5, 2.0]], dtype=torch.float64)
    z = torch.stack([x[:, 0], x[:, 1] + a * torch.sin(w * x[:, 0])], 1)
    expected = -0.5 * (z**2).sum(1) - math.log(2 * math.pi)
    torch.testing.assert_close(view.target_log_prob(x), expected)
    # the drawn warped grid is the inverse map applied to the straight grid
    line = view.dst_grid.get_segments()[0]
    pts = view.grid_lines[0]
    np.testing.assert_allclose(line[:, 1], (pts[:, 1] - a * torch.sin(w * pts[:, 0])).numpy())
    np.testing.assert_allclose(line[:, 0], pts[:, 0].numpy())  # the kept coordinate stays put
    # the straight source grid is drawn as one collection with one segment per grid line
    assert len(view.src_grid.get_segments()) == len(view.grid_lines) == len(view.dst_grid.get_segments())


def test_coupling_layers_take_the_hand_picked_m_as_their_conditioner(coupling_view):
    view = coupling_view
    # built with conditioner=m, one layer per partition: nothing is patched when the controls move
    assert [layer.parity for layer in view.layers.values()] == [0, 1]
    assert all(layer.m is view.m and layer.custom_conditioner for layer in view.layers.values())
    for keep, parity in KEEPS.items():
        view.controls["keep"].value = keep
        assert view.layer is view.layers[parity] and view.layer.parity == parity
    assert [layer.parity for layer in view.layers.values()] == [0, 1]


def test_coupling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bounds"):
        CouplingExplorer(bounds=(2.0, -2.0))
    with pytest.raises(ValueError, match="n >= 8"):
        CouplingExplorer(n=2)


@pytest.mark.parametrize(
    ("name", "value"), [("s1", 1.2), ("s2", 2.5), ("prior", "gaussian"), ("spread", 0.1)]
)
def test_scaling_controls_change_density_points_and_image(scaling_view, name, value):
    view = scaling_view
    density_before = np.asarray(view.x_image.get_array()).copy()
    markers_before = [m.get_ydata()[0] for m in view.markers]
    z_before = view.z_scatter.get_offsets().copy()
    x_before = view.x_scatter.get_offsets().copy()
    png, renders = view.image.value, view.renders
    view.controls[name].value = value
    if name == "spread":  # the data move, the model density does not
        assert not np.allclose(view.x_scatter.get_offsets(), x_before)
        np.testing.assert_array_equal(np.asarray(view.x_image.get_array()), density_before)
    else:
        assert not np.allclose(np.asarray(view.x_image.get_array()), density_before)
    assert [m.get_ydata()[0] for m in view.markers] != markers_before
    if name != "prior":  # the prior does not move the latent points
        assert not np.allclose(view.z_scatter.get_offsets(), z_before)
    assert view.renders == renders + 1 and view.image.value != png


@pytest.mark.parametrize("prior_cls", [Logistic, Gaussian])
def test_scaling_numbers_match_the_formula(scaling_view, prior_cls):
    view = scaling_view
    view.controls["prior"].value = "logistic" if prior_cls is Logistic else "gaussian"
    view.controls["spread"].value = 0.5
    view.controls["s1"].value, view.controls["s2"].value = 0.4, 1.1
    data = view.base_data * torch.tensor([1.0, 0.5], dtype=torch.float64)
    s = torch.tensor([0.4, 1.1], dtype=torch.float64)
    expected = (prior_cls(2).double().log_prob(torch.exp(s) * data) + s.sum()).mean()
    v = view.numbers
    assert v["mean_log_p"] == pytest.approx(float(expected), rel=1e-12)
    assert v["log_det"] == pytest.approx(1.5)
    assert v["S11"] == pytest.approx(math.exp(-0.4)) and v["S22"] == pytest.approx(math.exp(-1.1))
    assert f"{v['mean_log_p']:+.3f}" in view.text.get_text()
    # the curves' maxima are where the scaled data has the prior's spread (up to the grid step)
    if prior_cls is Gaussian:
        rms = data.pow(2).mean(0).sqrt()
        assert v["best_s1"] == pytest.approx(-math.log(float(rms[0])), abs=0.03)
        assert v["best_s2"] == pytest.approx(-math.log(float(rms[1])), abs=0.03)


def test_collapsing_a_dimension_drives_its_best_scale_and_likelihood_up(scaling_view):
    view = scaling_view
    view.controls["prior"].value = "gaussian"
    results = []
    for spread in (1.0, 0.1, 0.01):
        view.controls["spread"].value = spread
        results.append((view.numbers["best_s2"], view.numbers["best_mean_log_p"]))
    (s_a, ll_a), (s_b, ll_b), (s_c, ll_c) = results
    # each factor of 10 less spread adds log(10) to the best s2 and to the best log-likelihood
    ten = math.log(10)
    assert s_b - s_a == pytest.approx(ten, abs=0.05) and s_c - s_b == pytest.approx(ten, abs=0.05)
    assert ll_b - ll_a == pytest.approx(ten, abs=0.01) and ll_c - ll_b == pytest.approx(ten, abs=0.01)


def test_scaling_rejects_bad_data():
    with pytest.raises(ValueError, match="shape"):
        ScalingExplorer(data=torch.zeros(10, 3))
    with pytest.raises(ValueError, match="NaN"):
        ScalingExplorer(data=torch.full((10, 2), float("nan")))
