"""Headless tests of the lesson 01 and 02 views: controls change the artists, and the numbers are right."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nicelab.densities import Affine, Chain1D, Exp, naive_log_prob, pushforward_log_prob, trapezoid
from nicelab.widgets import ChangeOfVariablesView, LinearMapView
from nicelab.widgets.change_of_variables import FAMILIES, build_map, masses
from nicelab.widgets.jacobian import linear_gaussian_log_prob

EXP = "exp: x = exp(a z) + b"
CUBIC = "cubic: x = z + a z³ + b"


@pytest.fixture(scope="module")
def cov_view():
    view = ChangeOfVariablesView(n=5000)
    view.refresh()
    return view


@pytest.fixture(scope="module")
def linear_view():
    view = LinearMapView(n=5000)
    view.refresh()
    return view


def test_change_of_variables_controls_update_artists_and_image(cov_view):
    view = cov_view
    before = {
        "png": view.image.value,
        "map": view.map_line.get_ydata().copy(),
        "correct": view.correct_line.get_ydata().copy(),
        "wrong": view.wrong_line.get_ydata().copy(),
        "hist": view.x_hist.get_data().values.copy(),
        "text": view.text.get_text(),
    }
    renders = view.renders
    view.controls["family"].value = EXP
    view.controls["a"].value = 0.5
    assert view.renders == renders + 2
    assert view.image.value != before["png"]
    for key, artist in [("map", view.map_line), ("correct", view.correct_line), ("wrong", view.wrong_line)]:
        assert not np.allclose(artist.get_ydata(), before[key]), key
    assert not np.allclose(view.x_hist.get_data().values, before["hist"])
    assert view.text.get_text() != before["text"]
    # the axes were updated in place, never cleared: the same artists are still attached
    assert view.correct_line in view.axes[2].lines and view.map_line in view.axes[1].lines


@pytest.mark.parametrize("family", list(FAMILIES))
def test_plotted_densities_are_the_right_numbers(cov_view, family):
    view = cov_view
    view.controls["family"].value = family
    view.controls["a"].value = 0.8
    view.controls["b"].value = 0.5
    f = view.fmap
    xs = view.xs
    torch.testing.assert_close(
        torch.as_tensor(view.correct_line.get_ydata()), pushforward_log_prob(xs, f).exp(), rtol=1e-12, atol=0
    )
    torch.testing.assert_close(
        torch.as_tensor(view.wrong_line.get_ydata()), naive_log_prob(xs, f).exp(), rtol=1e-12, atol=0
    )
    # the correct density integrates to 1, the wrong one to E|f'(Z)| (analytic for each family, a = 0.8)
    expected_wrong = {
        "affine": 0.8,
        "exp": 0.8 * math.exp(0.32),
        "sinh": 0.8 * math.exp(0.32),
        "cubic": 1 + 3 * 0.8,
    }[family.split(":")[0]]
    assert view.mass_correct == pytest.approx(1.0, abs=1e-4)
    assert view.mass_wrong == pytest.approx(expected_wrong, rel=1e-4)
    assert abs(view.mass_wrong - 1) > 0.09  # visibly not a density
    # equal probability in the shaded interval on both sides of the map
    assert view.band_mass_x == pytest.approx(view.band_mass_z, abs=1e-4)
    assert "∫ correct dx = 1.000" in view.text.get_text()


def test_histogram_bars_follow_the_correct_density(cov_view):
    view = cov_view
    view.controls["family"].value = CUBIC
    view.controls["a"].value = 0.5
    view.controls["b"].value = 0.0
    data = view.x_hist.get_data()
    values, edges = data.values, data.edges
    edges_t = torch.as_tensor(edges)
    cdf = torch.special.ndtr(view.fmap.f_inv(edges_t))
    expected = ((cdf[1:] - cdf[:-1]) / (edges_t[1:] - edges_t[:-1])).numpy()
    # 5000 samples, bins of width 0.15: compare where bins are well populated
    busy = expected > 0.1
    assert busy.sum() > 10
    assert np.abs(values[busy] - expected[busy]).max() < 0.35 * expected.max()
    # the wrong density is clearly further from the bars than the correct one
    centres = torch.as_tensor(0.5 * (edges[1:] + edges[:-1]))
    err_correct = np.abs(pushforward_log_prob(centres, view.fmap).exp().numpy() - values).mean()
    err_wrong = np.abs(naive_log_prob(centres, view.fmap).exp().numpy() - values).mean()
    assert err_wrong > 3 * err_correct


def test_build_map_and_masses():
    f = build_map(EXP, 1.0, -1.0)
    assert isinstance(f, Chain1D) and f.support == (-1.0, math.inf)
    assert isinstance(build_map(EXP, 1.0), Exp)
    correct, wrong = masses(Affine(3.0, 1.0))
    assert correct == pytest.approx(1.0) and wrong == pytest.approx(3.0)
    with pytest.raises(ValueError, match="family must be one of"):
        build_map("tanh", 1.0)


def test_linear_view_notes_example(linear_view):
    view = linear_view
    for name, value in zip("abcd", [2.0, 0.0, 0.0, 2.0], strict=True):
        view.controls[name].value = value
    assert view.det == pytest.approx(4.0)
    assert view.square_area == pytest.approx(4.0)  # the unit square's image has area 4
    peak = view.exact_image.get_array().max()
    assert peak == pytest.approx(1 / (2 * math.pi * 4), rel=1e-2)  # density 1/4 of the base's peak
    assert view.grid_mass == pytest.approx(1.0, abs=0.01)


def test_linear_view_controls_update_artists_and_image(linear_view):
    view = linear_view
    view.controls["b"].value = 0.0
    view.controls["d"].value = 2.0
    before_png = view.image.value
    before_exact = view.exact_image.get_array().copy()
    before_samples = view.sample_image.get_array().copy()
    before_segments = [s.copy() for s in view.warped_grid.get_segments()]
    before_square = view.square_patch.get_xy().copy()
    view.controls["b"].value = 1.0
    view.controls["d"].value = -1.0  # A = [[2, 1], [0, -1]]: det -2, orientation flipped
    assert view.image.value != before_png
    assert not np.allclose(view.exact_image.get_array(), before_exact)
    assert not np.allclose(view.sample_image.get_array(), before_samples)
    assert not all(
        np.allclose(a, b) for a, b in zip(view.warped_grid.get_segments(), before_segments, strict=True)
    )
    assert not np.allclose(view.square_patch.get_xy(), before_square)
    assert view.det == pytest.approx(-2.0)
    assert view.square_area == pytest.approx(2.0)  # magnitude only
    assert "orientation flipped" in view.text.get_text()
    assert view.grid_mass == pytest.approx(1.0, abs=0.01)
    # exact image equals the formula; the sample histogram agrees with it on the same colour scale
    exact = view.exact_image.get_array()
    assert exact.max() == pytest.approx(1 / (2 * math.pi * 2), rel=1e-2)
    assert view.exact_image.get_clim() == view.sample_image.get_clim()


def test_linear_view_singular_matrix(linear_view):
    view = linear_view
    for name, value in zip("abcd", [1.0, 1.0, 1.0, 1.0], strict=True):
        view.controls[name].value = value
    assert view.det == pytest.approx(0.0, abs=1e-12)
    assert view.square_area == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(view.grid_mass)
    assert "singular" in view.text.get_text()
    assert view.exact_image.get_array().max() == 0


def test_linear_gaussian_log_prob_matches_multivariate_normal():
    A = torch.tensor([[1.5, -0.7], [0.4, -2.0]], dtype=torch.float64)
    x = torch.randn(50, 2, dtype=torch.float64)
    expected = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64), A @ A.T).log_prob(
        x
    )
    torch.testing.assert_close(linear_gaussian_log_prob(A, x), expected)
    with pytest.raises(ValueError, match="singular"):
        linear_gaussian_log_prob(torch.ones(2, 2, dtype=torch.float64), x)
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        linear_gaussian_log_prob(torch.eye(3), x)
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        linear_gaussian_log_prob(torch.eye(2), x[:, :1])


def test_trapezoid_on_the_view_grid_agrees_with_mass(cov_view):
    view = cov_view
    view.controls["family"].value = "affine: x = a z + b"
    view.controls["a"].value = 0.5
    view.controls["b"].value = 0.0
    # N(0, 0.25) lies well inside the window: the drawn curve itself integrates to 1
    area = trapezoid(torch.as_tensor(view.correct_line.get_ydata()), view.xs)
    assert area == pytest.approx(1.0, abs=1e-6)
