"""NICE as a density: normalisation, log_prob, sampling, init, and input validation."""

from __future__ import annotations

import math

import pytest
import torch

from nicelab import NICE, AdditiveCoupling, AffineCoupling, Compose, Flow, Gaussian, Logistic, Scaling, Shift
from nicelab.jacobian import log_abs_det
from nicelab.nice import path_to_peak


def grid_mass(model: NICE, half_width: float = 12.0, n: int = 601) -> float:
    axis = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    points = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    with torch.no_grad():
        density = model.log_prob(points).exp()
    cell = (axis[1] - axis[0]) ** 2
    return float(density.sum() * cell)


@pytest.mark.parametrize("prior", ["logistic", "gaussian"])
def test_2d_density_sums_to_one_on_a_grid(prior):
    model = NICE(2, n_couplings=4, hidden=32, depth=2, prior=prior).double()
    model.init_from_data(torch.randn(500, 2, dtype=torch.float64) * torch.tensor([1.0, 0.5]))
    assert abs(grid_mass(model) - 1.0) < 1e-2


def test_log_prob_is_prior_at_z_plus_the_autograd_log_det():
    # Non-zero log-scales (a fresh model has s = 0, where a dropped or flipped Σ s would go unseen), and
    # the log-det from autograd's Jacobian of the whole map, not from the library's own formula.
    model = random_nice(6, "logistic")
    assert model.scaling.log_scale.sum().abs() > 0.5
    x = torch.randn(4, 6, dtype=torch.float64)
    z, log_det = model(x)
    brute = log_abs_det(lambda v: model(v)[0], x)
    torch.testing.assert_close(log_det, brute)
    torch.testing.assert_close(brute, model.scaling.log_scale.sum().expand(4))  # couplings keep volume
    torch.testing.assert_close(model.log_prob(x), model.prior.log_prob(z) + brute)
    # and z is what the layers compute one after another
    h = x
    for layer in model.layers:
        h = layer(h)[0]
    torch.testing.assert_close(z, h)


@pytest.mark.parametrize("prior_cls", [Logistic, Gaussian])
def test_priors_normalised_and_sample_with_the_right_spread(prior_cls):
    prior = prior_cls(1).double()
    z = torch.linspace(-40, 40, 200001, dtype=torch.float64).unsqueeze(1)
    mass = prior.log_prob(z).exp().sum() * (z[1, 0] - z[0, 0])
    assert abs(float(mass) - 1.0) < 1e-6
    samples = prior_cls(3).sample(20000, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (20000, 3) and torch.isfinite(samples).all()
    assert abs(float(samples.std()) - prior_cls.std) < 0.05 * prior_cls.std
    cold = prior_cls(3).sample(20000, temperature=0.5, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(cold, 0.5 * samples)


def test_sample_shape_temperature_and_generator_reproducible():
    model = NICE(6, n_couplings=2, hidden=8, depth=1)
    a = model.sample(5, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert a.shape == (5, 6) and torch.equal(a, b)
    zero = model.sample(2, temperature=0.0)
    torch.testing.assert_close(zero[0], zero[1])
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, temperature=-1.0)
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0)


def test_init_from_data_gives_latents_prior_scale_and_centres():
    torch.manual_seed(0)
    x = torch.rand(2000, 10) * torch.linspace(0.01, 3.0, 10)
    model = NICE(10, n_couplings=4, hidden=32, depth=2).init_from_data(x)
    z, _ = model(x)
    std = z.std(dim=0)
    wide = x.std(dim=0) > 0.05  # dimensions above the floor reach the prior's spread
    torch.testing.assert_close(std[wide], torch.full_like(std[wide], Logistic.std), rtol=0.05, atol=0)
    torch.testing.assert_close(model.shift.shift, x.mean(dim=0))
    before = NICE(10, n_couplings=4, hidden=32, depth=2)
    before.load_state_dict(model.state_dict())
    assert model.log_prob(x).mean() > NICE(10, 4, 32, 2).log_prob(x).mean()


def test_init_from_data_rejects_bad_input():
    model = NICE(4, n_couplings=2, hidden=8, depth=1)
    with pytest.raises(ValueError, match="NaN"):
        model.init_from_data(torch.tensor([[0.0, 1.0, 2.0, math.nan], [0.0, 0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="at least 2"):
        model.init_from_data(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="floor"):
        model.init_from_data(torch.rand(10, 4), floor=0.0)


@pytest.mark.parametrize(
    "bad", [torch.zeros(3), torch.zeros(2, 5), torch.zeros(0, 4), torch.zeros(2, 2, 4), [[0.0] * 4]]
)
def test_log_prob_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        NICE(4, n_couplings=2, hidden=8, depth=1).log_prob(bad)


def test_log_prob_rejects_integer_input():
    with pytest.raises(ValueError, match="floating"):
        NICE(4, n_couplings=2, hidden=8, depth=1).log_prob(torch.zeros(2, 4, dtype=torch.long))


def random_nice(dim: int, prior: str, seed: int = 0) -> NICE:
    # random couplings and log-scales, so the peak is nowhere special
    torch.manual_seed(seed)
    model = NICE(dim, n_couplings=4, hidden=16, depth=2, prior=prior).double()
    model.init_from_data(torch.randn(256, dim, dtype=torch.float64) * 2.0 + 1.0)
    with torch.no_grad():
        model.scaling.log_scale.add_(0.3 * torch.randn(dim, dtype=torch.float64))
    return model


@pytest.mark.parametrize("prior", ["logistic", "gaussian"])
@pytest.mark.parametrize("dim", [2, 5])
def test_path_to_peak_climbs_from_every_start_to_the_one_peak(prior, dim):
    model = random_nice(dim, prior)
    x = torch.randn(40, dim, dtype=torch.float64) * 3.0
    path = path_to_peak(model, x, n_points=33)
    assert path.shape == (33, 40, dim)
    torch.testing.assert_close(path[0], x)
    peak = model.inverse(torch.zeros(1, dim, dtype=torch.float64))[0]
    torch.testing.assert_close(path[-1], peak.expand(40, dim))
    with torch.no_grad():
        log_q = model.log_prob(path.reshape(-1, dim)).reshape(33, 40)
        peak_log_q = model.log_prob(peak)
        elsewhere = model.log_prob(model.sample(2000, generator=torch.Generator().manual_seed(1)).double())
    assert (log_q.diff(dim=0) >= -1e-10).all()  # never downhill
    assert (log_q[-1] > log_q[0]).all()
    # the peak's height is the prior's at 0 plus Σ s, and no sample is higher
    torch.testing.assert_close(
        peak_log_q, model.prior.log_prob(torch.zeros(1, dim)).double() + model.scaling.log_scale.sum()
    )
    assert (elsewhere <= peak_log_q).all()


def test_path_to_peak_rejects_affine_flows_and_bad_input():
    from nicelab.flows import CouplingFlow

    affine = CouplingFlow(2, "affine", n_couplings=2, hidden=8, depth=1)
    with pytest.raises(ValueError, match=r"additive couplings.*CouplingFlow\(coupling='affine'\)"):
        path_to_peak(affine, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="additive couplings.*Linear"):
        path_to_peak(torch.nn.Linear(2, 2), torch.zeros(3, 2))  # type: ignore[arg-type]
    model = NICE(2, n_couplings=2, hidden=8, depth=1)
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        path_to_peak(model, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="NaN"):
        path_to_peak(model, torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="n_points"):
        path_to_peak(model, torch.zeros(3, 2), n_points=1)


def test_nice_is_exactly_a_flow_of_shift_additive_couplings_and_scaling():
    model = random_nice(5, "gaussian")
    layers = [model.shift, *model.couplings, model.scaling]
    assert all(isinstance(c, AdditiveCoupling) for c in model.couplings) and model.layers == layers
    plain = Flow(Compose(layers), Gaussian(5)).double()  # the same layers, walked one by one
    x = torch.randn(7, 5, dtype=torch.float64)
    torch.testing.assert_close(model.log_prob(x), plain.log_prob(x), rtol=1e-12, atol=1e-12)
    z = torch.randn(7, 5, dtype=torch.float64)
    torch.testing.assert_close(model.inverse(z)[0], plain.inverse(z)[0], rtol=1e-12, atol=1e-12)


def test_path_to_peak_reads_the_constant_log_det_property():
    d = 3
    torch.manual_seed(1)
    generic = Flow(
        Compose([Shift(d), AdditiveCoupling(d, 0, 8, 1), AdditiveCoupling(d, 1, 8, 1), Scaling(d)]),
        Gaussian(d),
    ).double()
    x = torch.randn(4, d, dtype=torch.float64)
    path = path_to_peak(generic, x, n_points=5)
    torch.testing.assert_close(path[-1], generic.inverse(torch.zeros(4, d, dtype=torch.float64))[0])
    mixed = Flow(Compose([AdditiveCoupling(d, 0, 8, 1), AffineCoupling(d, 1, 8, 1)]), Gaussian(d))
    with pytest.raises(ValueError, match="additive couplings.*got Flow$"):
        path_to_peak(mixed, torch.zeros(2, d))
