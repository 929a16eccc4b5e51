"""Priors' CDF and inverse CDF, and the shared Gaussian log-density and eval-mode helpers."""

from __future__ import annotations

import math

import pytest
import torch

from nicelab import Gaussian, Logistic
from nicelab._utils import LOG_2PI, evaluating, gaussian_log_density

PRIORS = [Logistic, Gaussian]


@pytest.mark.parametrize("prior_cls", PRIORS)
def test_icdf_and_cdf_are_inverse(prior_cls):
    prior = prior_cls(3)
    u = torch.linspace(1e-6, 1 - 1e-6, 1001, dtype=torch.float64)
    torch.testing.assert_close(prior.cdf(prior.icdf(u)), u, rtol=0, atol=1e-12)
    # any shape (elementwise); beyond |z| = 5 a Gaussian's cdf is within 3e-7 of 1, and 1 - u loses digits
    z = torch.linspace(-5, 5, 801, dtype=torch.float64).reshape(3, -1)
    torch.testing.assert_close(prior.icdf(prior.cdf(z)), z, rtol=1e-7, atol=1e-7)
    assert prior.icdf(torch.tensor([0.5])).item() == 0.0  # both are symmetric about 0
    ends = prior.icdf(torch.tensor([0.0, 1.0]))
    assert ends[0] == -math.inf and ends[1] == math.inf  # the limits, not an error


@pytest.mark.parametrize("prior_cls", PRIORS)
def test_cdf_is_the_integral_of_the_density(prior_cls):
    prior = prior_cls(1)
    z = torch.linspace(-30, 2, 200001, dtype=torch.float64)
    mass = torch.trapezoid(prior.log_prob(z[:, None]).exp(), z)
    torch.testing.assert_close(mass, prior.cdf(torch.tensor(2.0, dtype=torch.float64)), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("prior_cls", PRIORS)
def test_icdf_matches_torch_distributions(prior_cls):
    u = torch.rand(1000, dtype=torch.float64).clamp(1e-9, 1 - 1e-9)
    if prior_cls is Gaussian:
        expected = torch.distributions.Normal(0.0, 1.0).icdf(u)
    else:
        expected = torch.logit(u)
    torch.testing.assert_close(prior_cls(1).icdf(u), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("prior_cls", PRIORS)
@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.tensor([0.5, 1.5]), r"in \[0, 1\]; 1 entries"),
        (torch.tensor([-0.1]), r"in \[0, 1\]"),
        (torch.tensor([math.nan, 0.2]), "NaN"),
        (torch.tensor([0, 1]), "floating-point"),
        ([0.5], "floating-point"),
    ],
)
def test_icdf_rejects_bad_input(prior_cls, bad, match):
    with pytest.raises(ValueError, match=match):
        prior_cls(2).icdf(bad)


@pytest.mark.parametrize("prior_cls", PRIORS)
def test_cdf_rejects_bad_input(prior_cls):
    with pytest.raises(ValueError, match="NaN"):
        prior_cls(2).cdf(torch.tensor([math.nan]))
    with pytest.raises(ValueError, match="floating-point"):
        prior_cls(2).cdf(torch.tensor([1, 2]))


@pytest.mark.parametrize("prior_cls", PRIORS)
def test_sampling_is_the_inverse_cdf_of_uniforms(prior_cls):
    prior = prior_cls(4)
    u = torch.rand(6, 4, generator=torch.Generator().manual_seed(5))
    samples = prior.sample(6, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(samples, prior.icdf(u))


def test_gaussian_log_density_is_the_formula_and_torchs():
    x = torch.randn(50, 3, dtype=torch.float64)
    mean, std = torch.randn(3, dtype=torch.float64), torch.rand(3, dtype=torch.float64) + 0.5
    expected = torch.distributions.Normal(mean, std).log_prob(x)
    torch.testing.assert_close(gaussian_log_density(x, mean, std), expected)
    torch.testing.assert_close(
        gaussian_log_density(x, 0.5, 2.0), torch.distributions.Normal(0.5, 2.0).log_prob(x)
    )
    torch.testing.assert_close(gaussian_log_density(x), -0.5 * x**2 - 0.5 * LOG_2PI)
    assert math.isclose(LOG_2PI, math.log(2 * math.pi))
    torch.testing.assert_close(Gaussian(3).log_prob(x), gaussian_log_density(x).sum(1))


def test_evaluating_restores_the_mode_even_on_error():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
    with evaluating(model) as inside:
        assert inside is model and not model.training and not model[1].training
    assert model.training and model[1].training
    with pytest.raises(RuntimeError), evaluating(model):
        raise RuntimeError("boom")
    assert model.training
    model.eval()
    with evaluating(model):
        pass
    assert not model.training  # a model already in eval mode stays there
