"""2-D datasets: exact densities (normalised, matching the samplers), entropies, and the KL gap."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys

import pytest
import torch

from nicelab import NICE
from nicelab import datasets as D

NAMES = sorted(D.DATASETS)
REQUIRED = {"moons", "rings", "eight_gaussians", "checkerboard", "pinwheel"}


def midpoint_grid(bounds, n: int) -> tuple[torch.Tensor, float]:
    """Cell centres of an n × n grid over bounds (float64) and the cell area."""
    xmin, xmax, ymin, ymax = bounds
    dx, dy = (xmax - xmin) / n, (ymax - ymin) / n
    xs = xmin + dx * (torch.arange(n, dtype=torch.float64) + 0.5)
    ys = ymin + dy * (torch.arange(n, dtype=torch.float64) + 0.5)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1), dx * dy


def histogram_tv(samples_of, density_of, bounds, bins: int = 15, sub: int = 12, n: int = 300_000) -> float:
    """Total-variation distance between a sample histogram and the density integrated over each bin."""
    x = samples_of(n).double()
    xmin, xmax, ymin, ymax = bounds
    ix = ((x[:, 0] - xmin) / (xmax - xmin) * bins).floor().long()
    iy = ((x[:, 1] - ymin) / (ymax - ymin) * bins).floor().long()
    ok = (ix >= 0) & (ix < bins) & (iy >= 0) & (iy < bins)
    counts = torch.bincount((iy * bins + ix)[ok], minlength=bins * bins).double() / n
    points, cell = midpoint_grid(bounds, bins * sub)
    mass = (density_of(points).exp() * cell).reshape(bins, sub, bins, sub).sum(dim=(1, 3)).reshape(-1)
    return 0.5 * float((counts - mass).abs().sum())


def test_the_required_datasets_exist_and_get_finds_them():
    assert REQUIRED <= set(D.DATASETS)
    for name in NAMES:
        ds = D.get(name)
        assert ds.name == name and isinstance(ds, D.Toy2D)
        xmin, xmax, ymin, ymax = ds.bounds
        assert xmin < xmax and ymin < ymax
    with pytest.raises(ValueError, match="eight_gaussians"):
        D.get("nope")


@pytest.mark.parametrize("name", NAMES)
def test_samples_are_float32_pairs_and_reproducible(name):
    ds = D.get(name)
    a = ds.sample(500, torch.Generator().manual_seed(3))
    b = ds.sample(500, torch.Generator().manual_seed(3))
    c = ds.sample(500, torch.Generator().manual_seed(4))
    assert a.shape == (500, 2) and a.dtype == torch.float32 and bool(torch.isfinite(a).all())
    assert torch.equal(a, b) and not torch.equal(a, c)
    # every sample lies where the density is positive
    assert bool(torch.isfinite(ds.log_prob(a)).all())


@pytest.mark.parametrize("name", NAMES)
def test_density_integrates_to_one_on_a_grid(name):
    ds = D.get(name)
    points, cell = midpoint_grid(ds.bounds, 500)
    mass = float(ds.log_prob(points).exp().sum()) * cell
    assert abs(mass - 1.0) < 3e-3, mass


@pytest.mark.parametrize("name", NAMES)
def test_sample_histogram_matches_the_density(name):
    ds = D.get(name)
    g = torch.Generator().manual_seed(11)
    tv = histogram_tv(lambda n: ds.sample(n, g), ds.log_prob, ds.bounds)
    assert tv < 0.012, tv


def test_histogram_check_can_fail():
    """The same check rejects a sampler whose noise is 30% too wide (so a passing test means something)."""
    wide, moons = D.Moons(std=0.13), D.get("moons")
    g = torch.Generator().manual_seed(11)
    assert histogram_tv(lambda n: wide.sample(n, g), moons.log_prob, moons.bounds) > 0.03


def test_moons_quadrature_is_converged():
    moons = D.Moons()
    points = torch.cat(
        [moons.sample(3000, torch.Generator().manual_seed(0)).double(), midpoint_grid(moons.bounds, 40)[0]]
    )
    default = moons.log_prob(points)
    moons.set_quadrature(panels=200, order=20)
    assert float((default - moons.log_prob(points)).abs().max()) < 1e-6


def test_rings_closed_form_equals_quadrature_over_the_angle():
    rings = D.get("rings")
    points = torch.cat(
        [rings.sample(2000, torch.Generator().manual_seed(0)).double(), midpoint_grid(rings.bounds, 30)[0]]
    )
    t, w = D.gauss_legendre(0.0, 2 * math.pi, 100, 16)
    per_ring = []
    for r, weight in zip(rings.radii, rings.weights, strict=True):
        centres = r * torch.stack([torch.cos(t), torch.sin(t)], dim=1)
        sq = torch.cdist(points, centres).square()
        log_n = -0.5 * sq / rings.std**2 - math.log(2 * math.pi * rings.std**2)
        per_ring.append(torch.logsumexp(torch.log(w / (2 * math.pi)) + log_n, dim=1) + weight.log())
    quadrature = torch.logsumexp(torch.stack(per_ring, dim=1), dim=1)
    assert float((quadrature - rings.log_prob(points)).abs().max()) < 1e-8


def test_gaussian_mixture_matches_torch_distributions():
    ds = D.get("two_gaussians")
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=ds.weights),
        torch.distributions.Independent(torch.distributions.Normal(ds.means, ds.std), 1),
    )
    x = torch.randn(200, 2, dtype=torch.float64) * 2
    torch.testing.assert_close(ds.log_prob(x), mixture.log_prob(x))


def test_pinwheel_radius_follows_its_gamma_law():
    ds = D.get("pinwheel")
    r = ds.sample(100_000, torch.Generator().manual_seed(0)).double().norm(dim=1)
    mean, var = ds.alpha * ds.beta, ds.alpha * ds.beta**2
    assert abs(float(r.mean()) - mean) < 4 * math.sqrt(var / 100_000)
    assert abs(float(r.var()) / var - 1) < 0.03


def test_entropies():
    board = D.get("checkerboard")
    h, se = board.entropy_estimate(1000)
    assert h == pytest.approx(math.log(8)) and se == pytest.approx(0.0, abs=1e-12)
    gauss = D.get("eight_gaussians")
    h, se = gauss.entropy_estimate(100_000, torch.Generator().manual_seed(0))
    separated = math.log(8) + math.log(2 * math.pi * math.e * gauss.std**2)  # modes hardly overlap
    assert 0 < se < 0.01 and abs(h - separated) < 4 * se + 0.01
    assert gauss.entropy(1000, torch.Generator().manual_seed(1)) == pytest.approx(
        gauss.entropy_estimate(1000, torch.Generator().manual_seed(1))[0]
    )


def test_log_prob_keeps_dtype_and_rejects_bad_input():
    ds = D.get("eight_gaussians")
    assert ds.log_prob(torch.zeros(3, 2)).dtype == torch.float32
    assert ds.log_prob(torch.zeros(3, 2, dtype=torch.float64)).dtype == torch.float64
    for bad in (torch.zeros(3, 3), torch.zeros(0, 2), torch.tensor([[0.0, math.nan]]), [[0.0, 0.0]]):
        with pytest.raises(ValueError):
            ds.log_prob(bad)
    with pytest.raises(ValueError, match="n must be"):
        ds.sample(0)
    with pytest.raises(ValueError, match="generator"):
        ds.sample(3, generator=0)
    assert float(D.get("checkerboard").log_prob(torch.tensor([[0.5, -0.5]]))) == -math.inf


class Isotropic(torch.nn.Module):
    """N(0, s² I) in 2-D, as a model with log_prob."""

    def __init__(self, s: float):
        super().__init__()
        self.s = torch.nn.Parameter(torch.tensor(s, dtype=torch.float64))

    def log_prob(self, x):
        return -0.5 * (x.double() ** 2).sum(1) / self.s**2 - math.log(2 * math.pi) - 2 * torch.log(self.s)


def test_kl_gap_is_zero_for_the_truth_and_matches_a_closed_form():
    ds = D.get("rings")
    gap, se = D.kl_gap(ds, ds, n=2000, generator=torch.Generator().manual_seed(0))
    assert abs(gap) < 1e-6 and se < 1e-6  # float32 rounding of the "model" only
    unit = D.GaussianMixture("unit", torch.zeros(1, 2), std=1.0, bounds=(-4, 4, -4, 4))
    gap, se = D.kl_gap(Isotropic(2.0), unit, n=200_000, generator=torch.Generator().manual_seed(0))
    exact = 2 * (math.log(2.0) + 1 / 8 - 1 / 2)  # KL(N(0,1)||N(0,4)) per dimension, times 2
    assert 0 < se < 0.01 and abs(gap - exact) < 4 * se


def test_kl_gap_also_reports_the_nll_and_the_entropy_of_the_same_samples():
    ds, n = D.get("moons"), 3000
    model = D.get("eight_gaussians")  # a wrong density with an exact log_prob
    result = D.kl_gap(model, ds, n=n, generator=torch.Generator().manual_seed(2))
    x = ds.sample(n, torch.Generator().manual_seed(2))
    assert result.nll == pytest.approx(float(-model.log_prob(x).double().mean()), rel=1e-6)
    assert result.entropy == pytest.approx(float(-ds.log_prob(x.double()).mean()), rel=1e-12)
    assert result.gap == pytest.approx(result.nll - result.entropy, abs=1e-9) and result.gap > 1
    gap, se = result  # still the pair the lessons unpack
    assert (gap, se) == (result.gap, result.stderr) and len(result) == 2
    assert "nll=" in repr(result) and pickle.loads(pickle.dumps(result)).entropy == result.entropy


def test_kl_gap_validates_and_restores_training_mode():
    model = D.nice_for("eight_gaussians", n_init=256, hidden=8, depth=1, n_couplings=2)
    model.train()
    gap, se = D.kl_gap(model, "eight_gaussians", n=500, generator=torch.Generator().manual_seed(0))
    assert gap > 0 and se > 0 and model.training
    with pytest.raises(ValueError, match="unknown dataset"):
        D.kl_gap(model, "nope", n=10)
    with pytest.raises(ValueError, match="log_prob"):
        D.kl_gap(object(), "moons", n=10)
    with pytest.raises(ValueError, match="n must be"):
        D.kl_gap(model, "moons", n=1)


def test_nice_for_uses_the_defaults_and_initialises_from_data():
    model = D.nice_for("two_gaussians", generator=torch.Generator().manual_seed(0))
    assert isinstance(model, NICE)
    assert {k: model.config()[k] for k in D.NICE_2D} == D.NICE_2D
    data = D.get("two_gaussians").sample(4096, torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.shift.shift, data.mean(0))
    assert model.config()["n_couplings"] != 1 and D.nice_for("moons", n_couplings=1).n_couplings == 1
    with pytest.raises(ValueError, match="unknown NICE options"):
        D.nice_for("moons", width=3)


def test_the_recipe_moved_to_train_toy2d_and_the_old_names_are_the_same_objects():
    from nicelab.train import toy2d

    assert D.NICE_2D is toy2d.NICE_2D is toy2d.RECIPES["additive"]["flow"]
    assert D.FIT_2D is toy2d.FIT_2D is toy2d.RECIPES["additive"]["fit"]
    assert D.nice_for is toy2d.nice_for
    from nicelab.datasets import FIT_2D, NICE_2D, nice_for  # the from-import form too

    assert (NICE_2D, FIT_2D, nice_for) == (toy2d.NICE_2D, toy2d.FIT_2D, toy2d.nice_for)
    assert "nice_for" not in D.__all__  # the data layer exports distributions only
    with pytest.raises(AttributeError, match="no attribute 'RECIPES'"):
        D.RECIPES  # noqa: B018 - only the moved names resolve lazily


def test_the_data_layer_loads_the_training_layer_only_when_an_old_name_asks():
    code = (
        "import sys, nicelab.datasets as D\n"
        "assert 'nicelab.train' not in sys.modules, 'import nicelab.datasets loaded training code'\n"
        "D.NICE_2D\n"
        "assert 'nicelab.train.toy2d' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
