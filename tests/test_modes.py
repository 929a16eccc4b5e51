"""nicelab.modes: peaks of a 2-D density counted on a grid evaluated exactly."""

from __future__ import annotations

import math

import pytest
import torch

from nicelab import NICE
from nicelab import datasets as D
from nicelab.modes import count_modes, find_modes, grid_peaks, log_prob_grid, prominences


def mixture(centres: list[tuple[float, float]], weights: list[float], std: float = 0.3):
    """log of a mixture of isotropic Gaussians, as a plain function of ``(m, 2)`` points."""
    c = torch.tensor(centres, dtype=torch.float64)
    log_w = torch.tensor(weights, dtype=torch.float64).log()

    def log_prob(x: torch.Tensor) -> torch.Tensor:
        sq = ((x[:, None, :] - c[None]) ** 2).sum(-1)
        return torch.logsumexp(log_w - sq / (2 * std**2) - math.log(2 * math.pi * std**2), dim=1)

    return log_prob


def test_a_known_mixture_gives_its_count_and_locations():
    centres = [(-1.5, 0.0), (1.5, 0.5), (0.0, -1.8)]
    log_prob = mixture(centres, [0.5, 0.3, 0.2])
    bounds = (-3.0, 3.0, -3.0, 3.0)
    assert count_modes(log_prob, bounds, n=201) == 3
    found = find_modes(log_prob, bounds, n=201)
    assert found.shape == (3, 2)
    torch.testing.assert_close(found[0], torch.tensor(centres[0], dtype=torch.float64), atol=0.05, rtol=0)
    assert count_modes(mixture(centres[:1], [1.0]), bounds, n=201) == 1


@pytest.mark.parametrize("name, expected", [("eight_gaussians", 8), ("two_gaussians", 2)])
def test_the_built_in_mixtures_have_their_number_of_peaks(name, expected):
    data = D.get(name)
    assert count_modes(data, data.bounds, n=301) == expected


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_nice_has_exactly_one_peak(seed):
    torch.manual_seed(seed)
    data = D.get("eight_gaussians")
    model = NICE(2, n_couplings=6, hidden=32, depth=2).init_from_data(data.sample(2048))
    with torch.no_grad():
        for c in model.couplings:
            c.m[-1].weight.mul_(5.0)  # strongly bent couplings: many ridges, still a single peak
    with torch.no_grad():
        peak = model.inverse(torch.zeros(1, 2))[0][0].double()
    lo, hi = float(peak.detach().min()) - 3.0, float(peak.detach().max()) + 3.0
    assert count_modes(model, (lo, hi, lo, hi), n=301, depth=math.inf, min_prominence=0) == 1
    torch.testing.assert_close(find_modes(model, (lo, hi, lo, hi), n=301)[0], peak, atol=0.05, rtol=0)


def test_depth_drops_negligible_bumps_and_the_border_never_counts():
    log_prob = mixture([(-1.5, -1.5), (2.0, 2.0)], [1.0, 1e-12])  # the second is ~27.6 nats lower
    bounds = (-3.0, 3.0, -3.0, 3.0)
    assert count_modes(log_prob, bounds, n=201) == 1
    assert count_modes(log_prob, bounds, n=201, depth=math.inf) == 2
    slope = grid_peaks(torch.arange(25.0).reshape(5, 5))  # highest at a corner: no interior peak
    assert slope.shape == (0, 2)
    plateau = torch.zeros(5, 5)
    assert grid_peaks(plateau).shape == (0, 2)  # ties are not peaks
    assert grid_peaks(torch.tensor([[0, 0, 0], [0, 1.0, 0], [0, 0, 0]])).tolist() == [[1, 1]]


def test_the_grid_is_evaluated_in_float64_row_by_y():
    xs, ys, values = log_prob_grid(lambda x: x[:, 0] + 10 * x[:, 1], (0.0, 1.0, 2.0, 3.0), n=5)
    assert values.dtype == torch.float64 and values.shape == (5, 5)
    assert values[0, 1] == xs[1] + 10 * ys[0] and values[2, 0] == xs[0] + 10 * ys[2]


def test_bad_input_is_rejected():
    f = mixture([(0.0, 0.0)], [1.0])
    with pytest.raises(ValueError, match="bounds"):
        count_modes(f, (1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="bounds"):
        count_modes(f, (0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="n must be"):
        count_modes(f, (0.0, 1.0, 0.0, 1.0), n=2)
    with pytest.raises(ValueError, match="depth"):
        count_modes(f, (0.0, 1.0, 0.0, 1.0), depth=0)
    with pytest.raises(ValueError, match="log_prob must be"):
        count_modes("not a model", (0.0, 1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="shape"):
        count_modes(lambda x: x, (0.0, 1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="NaN"):
        grid_peaks(torch.full((3, 3), math.nan))
    with pytest.raises(ValueError, match="2-D tensor"):
        grid_peaks(torch.zeros(9))


def test_prominence_is_the_descent_to_higher_ground_and_ripples_are_not_modes():
    v = torch.tensor([[0.0, 0, 0, 0, 0, 0, 0], [0, 5, 1, 3, 2.5, 2.8, 0], [0, 0, 0, 0, 0, 0, 0]])
    p = prominences(v)
    assert p[1, 1] == math.inf and p[1, 3] == 2.0 and p[1, 5] == pytest.approx(0.3)
    assert p[1, 2] == 0 and p[0, 0] == 0
    hill = mixture([(0.0, 0.0)], [1.0], std=1.0)

    def rippled(x):  # one broad hill with a 0.2-nat ripple: many strict maxima, one mode
        return hill(x) + 0.1 * torch.sin(12 * x[:, 0]) * torch.sin(12 * x[:, 1])

    bounds = (-2.5, 2.5, -2.5, 2.5)
    assert count_modes(rippled, bounds, n=201, min_prominence=0) > 10
    assert count_modes(rippled, bounds, n=201) == 1
    with pytest.raises(ValueError, match="min_prominence"):
        count_modes(rippled, bounds, min_prominence=-1)
