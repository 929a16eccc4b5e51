"""The lessons' key evidence fails on deliberately broken models (lessons 05, 07 and 08).

An assert in a lesson is evidence only if it can fail when its claim is false. Each test here feeds the
same check a lesson uses a model or transform that is broken in the way the claim rules out, and sees
the check fail; where cheap, it also sees the check pass on a sound model.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nicelab import AdditiveCoupling, datasets
from nicelab.baselines import VAE
from nicelab.jacobian import log_abs_det


class LyingCoupling(AdditiveCoupling):
    """An additive coupling that also doubles its changed half but still reports log-det 0."""

    def couple(self, kept: Tensor, changed: Tensor) -> tuple[Tensor, Tensor]:
        shifted, log_det = super().couple(kept, changed)
        return 2.0 * shifted, log_det


def test_lesson08_autograd_log_det_catches_a_coupling_that_misreports_its_volume():
    # lesson 08 checks the couplings' log-det with autograd instead of trusting the formula's constant 0
    x = torch.randn(50, 4, dtype=torch.float64)
    sound = AdditiveCoupling(4, parity=0, hidden=8, depth=1).double()
    assert log_abs_det(lambda v: sound(v)[0], x).abs().max() < 1e-10  # the notebook's check passes
    lying = LyingCoupling(4, parity=0, hidden=8, depth=1).double()
    reported = lying(x)[1]
    brute = log_abs_det(lambda v: lying(v)[0], x)
    assert torch.equal(reported, torch.zeros(50, dtype=torch.float64))  # the formula says "volume kept"
    assert not brute.abs().max() < 1e-4  # the notebook's assert would fail ...
    torch.testing.assert_close(
        brute, torch.full((50,), 2 * math.log(2.0), dtype=torch.float64)
    )  # 2 coords x2


def best_gaussian_gap(dataset: datasets.Toy2D, n: int) -> tuple[float, float]:
    """Lesson 05's baseline: the moment-matched Gaussian's KL gap (the best Gaussian for KL(p || q))."""
    x = dataset.sample(n, torch.Generator().manual_seed(4)).double()
    gaussian = torch.distributions.MultivariateNormal(x.mean(0), torch.cov(x.T))
    return datasets.kl_gap(gaussian, dataset, n=n, generator=torch.Generator().manual_seed(3))


def test_lesson05_gaussian_baseline_rejects_an_untrained_nice_and_a_mis_scaled_one():
    ds = datasets.get("eight_gaussians")
    gauss, gauss_se = best_gaussian_gap(ds, 20_000)
    assert 1.0 < gauss < 2.0  # eight modes on a circle are far from any one Gaussian
    untrained = datasets.nice_for(ds, generator=torch.Generator().manual_seed(0))
    broken = datasets.nice_for(ds, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        broken.scaling.log_scale.sub_(1.0)  # every latent squeezed by e: the density is spread too wide
    for model in (untrained, broken):
        gap, gap_se = datasets.kl_gap(model, ds, n=20_000, generator=torch.Generator().manual_seed(3))
        assert not gap + 3 * math.hypot(gap_se, gauss_se) < gauss  # the lesson's assert fails


def test_lesson05_training_check_fails_when_nothing_was_learned():
    # lesson 05: every trained gap must fall below the same seed's untrained gap by 3 standard errors
    name = "moons"
    start = datasets.kl_gap(
        datasets.nice_for(name, generator=torch.Generator().manual_seed(0)),
        name,
        n=20_000,
        generator=torch.Generator().manual_seed(7),
    )
    not_trained = datasets.nice_for(name, generator=torch.Generator().manual_seed(0))  # "training" skipped
    gap, se = datasets.kl_gap(not_trained, name, n=20_000, generator=torch.Generator().manual_seed(7))
    assert not gap + 3 * math.hypot(se, start[1]) < start[0]


class NoPriorVAE(VAE):
    """A VAE whose importance weights forget the prior term ``log p(z)``: an inflated estimate."""

    def log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        mean, std = self.encode(x)
        z = mean + std * torch.randn((k, *mean.shape), generator=generator, dtype=mean.dtype)
        dec_mean, dec_std = (t.reshape(k, *x.shape) for t in self.decode(z.reshape(-1, self.latent_dim)))
        return gaussian_log_density(x, dec_mean, dec_std) - gaussian_log_density(z, mean, std)


def gaussian_log_density(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    return (-0.5 * ((x - mean) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def test_lesson07_quadrature_reference_catches_an_inflated_importance_estimate():
    torch.manual_seed(0)
    x = torch.randn(32, 2) * 0.7
    k = 64
    for cls, should_pass in ((VAE, True), (NoPriorVAE, False)):
        torch.manual_seed(1)
        vae = cls(2, latent_dim=2, hidden=16, depth=2, decoder_std=0.3)
        exact = vae.log_likelihood_quadrature(x, half_width=5.0, n=201)
        with torch.no_grad():
            log_w = vae.log_weights(x, k, generator=torch.Generator().manual_seed(2))
        is_est = torch.logsumexp(log_w, 0) - math.log(k)
        passes = bool(is_est.mean() <= exact.mean() + 0.02)  # lesson 07's assert
        assert passes is should_pass, (cls.__name__, float(is_est.mean()), float(exact.mean()))


def test_quadrature_matches_a_linear_gaussian_vae_in_closed_form():
    # decoder m(z) = A z + b with fixed noise tau: p(x) = N(b, A A^T + tau^2 I) exactly
    torch.manual_seed(0)
    vae = VAE(2, latent_dim=2, hidden=4, depth=1, decoder_std=0.5).double()
    a = torch.tensor([[1.0, 0.3], [-0.2, 0.8]], dtype=torch.float64)
    b = torch.tensor([0.1, -0.4], dtype=torch.float64)
    vae.decoder = torch.nn.Linear(2, 2).double()
    with torch.no_grad():
        vae.decoder.weight.copy_(a)
        vae.decoder.bias.copy_(b)
    x = torch.randn(20, 2, dtype=torch.float64)
    truth = torch.distributions.MultivariateNormal(b, a @ a.T + 0.25 * torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(
        vae.log_likelihood_quadrature(x, half_width=7.0, n=301), truth.log_prob(x), atol=1e-5, rtol=0
    )


def test_quadrature_rejects_bad_input():
    import pytest

    vae = VAE(2, latent_dim=2, hidden=8, depth=1, decoder_std=0.1)
    with pytest.raises(ValueError, match="half_width"):
        vae.log_likelihood_quadrature(torch.zeros(3, 2), half_width=-1.0)
    with pytest.raises(ValueError, match="n must be"):
        vae.log_likelihood_quadrature(torch.zeros(3, 2), n=1)
    with pytest.raises(ValueError, match="NaN"):
        vae.log_likelihood_quadrature(torch.tensor([[0.0, float("nan")]]))
    wide = VAE(2, latent_dim=3, hidden=8, depth=1, decoder_std=0.1)
    with pytest.raises(ValueError, match="1-D or 2-D latent"):
        wide.log_likelihood_quadrature(torch.zeros(3, 2))


def test_log_abs_det_large_d_one_matrix_at_a_time_after_setting_threads():
    # torch 2.13's batched slogdet fails for D >= 256 once threads are set explicitly; the per-sample
    # path must give the batched answer (checked here at D = 300 on a linear map with a known det).
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a = torch.eye(300, dtype=torch.float64) * 1.5
        x = torch.randn(3, 300, dtype=torch.float64)
        out = log_abs_det(lambda v: v @ a.T, x)
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(out, torch.full((3,), 300 * math.log(1.5), dtype=torch.float64))
