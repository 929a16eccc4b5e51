"""nicelab.densities: 1-D maps, the push-forward density, the wrong density, and numeric integration."""

from __future__ import annotations

import math

import pytest
import torch

from nicelab.densities import (
    Affine,
    Chain1D,
    Cubic,
    Exp,
    Sinh,
    grid,
    histogram_density,
    integrate_density,
    naive_log_prob,
    normal_log_prob,
    pushforward_log_prob,
    sample_pushforward,
    trapezoid,
)

D64 = torch.float64

MAPS = {
    "affine": lambda: Affine(2.0, 1.0),
    "affine-flip": lambda: Affine(-0.5, 0.3),
    "exp": lambda: Exp(0.8),
    "exp-decreasing": lambda: Exp(-0.5),
    "sinh": lambda: Sinh(0.7),
    "cubic": lambda: Cubic(0.5),
    "cubic-identity": lambda: Cubic(0.0),
    "chain": lambda: Chain1D([Affine(1.0, -1.0), Exp(0.5), Affine(1.0, 2.0)]),
    "chain-flip": lambda: Chain1D([Cubic(0.3), Affine(-1.5, 0.0), Sinh(0.4)]),
}
# E_Z|f'(Z)| for Z ~ N(0, 1): what the wrong density integrates to (substitute x = f(z))
NAIVE_MASS = {
    "affine": 2.0,
    "affine-flip": 0.5,
    "exp": 0.8 * math.exp(0.8**2 / 2),
    "exp-decreasing": 0.5 * math.exp(0.5**2 / 2),
    "sinh": 0.7 * math.exp(0.7**2 / 2),
    "cubic": 1 + 3 * 0.5,
    "cubic-identity": 1.0,
}


def test_normal_log_prob_matches_torch_distributions():
    z = torch.linspace(-5, 5, 11, dtype=D64)
    torch.testing.assert_close(normal_log_prob(z), torch.distributions.Normal(0.0, 1.0).log_prob(z))


@pytest.mark.parametrize("name", sorted(MAPS))
class TestEveryMap:
    def test_inverse_round_trip(self, name):
        m = MAPS[name]()
        z = 2 * torch.randn(500, dtype=D64)
        torch.testing.assert_close(m.f_inv(m.f(z)), z, rtol=1e-10, atol=1e-10)

    def test_log_derivatives_match_autograd(self, name):
        m = MAPS[name]()
        z = torch.randn(50, dtype=D64, requires_grad=True)
        (dfdz,) = torch.autograd.grad(m.f(z).sum(), z)
        torch.testing.assert_close(m.log_abs_df(z.detach()), dfdz.abs().log())
        x = m.f(z.detach()).requires_grad_(True)
        (dzdx,) = torch.autograd.grad(m.f_inv(x).sum(), x)
        torch.testing.assert_close(m.log_abs_df_inv(x.detach()), dzdx.abs().log())
        torch.testing.assert_close(m.log_abs_df_inv(x.detach()), -m.log_abs_df(z.detach()))

    def test_support_is_the_image(self, name):
        m = MAPS[name]()
        x = m.f(6 * torch.randn(1000, dtype=D64))
        lo, hi = m.support
        assert bool(((x >= lo) & (x <= hi)).all())

    def test_pushforward_integrates_to_one_naive_does_not(self, name):
        m = MAPS[name]()
        # a grid that is uniform in z and mapped to x resolves heavy tails and sharp peaks alike
        xs = m.f(grid(-8.0, 8.0, n=20001)).sort().values
        correct = trapezoid(pushforward_log_prob(xs, m).exp(), xs)
        assert correct == pytest.approx(1.0, abs=1e-6)
        if name in NAIVE_MASS:
            wrong = trapezoid(naive_log_prob(xs, m).exp(), xs)
            assert wrong == pytest.approx(NAIVE_MASS[name], rel=1e-6)
            assert abs(wrong - 1.0) > 0.1 or name == "cubic-identity"

    def test_uniform_x_grid_integral(self, name):
        m = MAPS[name]()
        if name.startswith("chain"):
            pytest.skip("the chains' tails are too heavy for a uniform grid in x")
        lo, hi = m.f(torch.tensor([-7.0, 7.0], dtype=D64)).sort().values.tolist()
        assert integrate_density(lambda x: pushforward_log_prob(x, m), lo, hi, n=40001) == pytest.approx(
            1.0, abs=2e-4
        )

    def test_pushforward_matches_sample_histogram(self, name):
        m = MAPS[name]()
        _, x = sample_pushforward(m, 200_000, torch.Generator().manual_seed(0))
        lo, hi = torch.quantile(x, torch.tensor([0.05, 0.95], dtype=D64)).tolist()
        edges = torch.linspace(lo, hi, 21, dtype=D64)
        hist = histogram_density(x, edges)
        # exact probability of each bin: the base mass between the pre-images of its edges
        cdf = torch.special.ndtr(m.f_inv(edges))
        expected = (cdf[1:] - cdf[:-1]).abs() / (edges[1:] - edges[:-1])
        # binomial sampling noise of each bin's count: demand agreement within 5 standard deviations
        n, width = x.numel(), edges[1:] - edges[:-1]
        p = expected * width
        z_scores = (hist - expected) * width * n / (n * p * (1 - p)).sqrt()
        assert z_scores.abs().max() < 5, z_scores
        assert (hist - expected).abs().max() < 0.1 * expected.max()
        # and the bin average of the push-forward density is that same probability (the formula is right)
        fine = torch.linspace(lo, hi, 20 * 200 + 1, dtype=D64)
        dens = pushforward_log_prob(fine, m).exp().reshape(-1)
        per_bin = torch.tensor(
            [
                trapezoid(dens[i * 200 : (i + 1) * 200 + 1], fine[i * 200 : (i + 1) * 200 + 1])
                for i in range(20)
            ]
        )
        torch.testing.assert_close(per_bin.to(D64) / (edges[1:] - edges[:-1]), expected, rtol=1e-6, atol=1e-9)


def test_density_is_zero_outside_the_support():
    m = Exp(1.0)
    x = torch.tensor([-1.0, 0.0, 1.0, math.inf], dtype=D64)
    logp = pushforward_log_prob(x, m)
    assert logp[0] == -math.inf and logp[1] == -math.inf and logp[3] == -math.inf
    assert logp[2] == pytest.approx(-0.5 * math.log(2 * math.pi))
    assert naive_log_prob(x, m)[0] == -math.inf
    assert torch.isnan(m.f_inv(x[:1])).all() and torch.isnan(m.log_abs_df_inv(x[:1])).all()
    chain = Chain1D([Exp(1.0), Affine(1.0, 2.0)])
    assert chain.support == (2.0, math.inf)
    assert pushforward_log_prob(torch.tensor([1.5, 2.5], dtype=D64), chain)[0] == -math.inf


def test_exp_gives_the_lognormal_density():
    x = torch.linspace(0.1, 5, 20, dtype=D64)
    expected = torch.distributions.LogNormal(0.0, 0.8).log_prob(x)
    torch.testing.assert_close(pushforward_log_prob(x, Exp(0.8)), expected)


def test_affine_gives_the_shifted_scaled_normal():
    x = torch.linspace(-4, 6, 20, dtype=D64)
    expected = torch.distributions.Normal(1.0, 2.0).log_prob(x)
    torch.testing.assert_close(pushforward_log_prob(x, Affine(-2.0, 1.0)), expected)


def test_chain_log_det_is_sum_of_per_step_terms():
    chain = Chain1D([Cubic(0.3), Sinh(0.5), Affine(2.0, -1.0)])
    z = torch.randn(30, dtype=D64)
    states = chain.intermediates(z)
    assert len(states) == 4 and torch.equal(states[0], z)
    x = states[-1]
    terms = chain.step_log_abs_df_inv(x)
    assert len(terms) == 3
    # per-step terms evaluated at the right intermediate points (K ... 1)
    for k, term in zip([2, 1, 0], terms, strict=True):
        torch.testing.assert_close(term, chain.maps[k].log_abs_df_inv(states[k + 1]))
    # log p(x) = log p(z) + sum_k log|d f_k^{-1}/dx_k|  (the notes' per-layer sum)
    torch.testing.assert_close(pushforward_log_prob(x, chain), normal_log_prob(z) + sum(terms))


def test_cubic_inverse_for_extreme_inputs():
    for a in (1e-9, 1e-3, 1.0, 1e3):
        m = Cubic(a)
        x = torch.tensor([-1e6, -3.0, -1e-8, 0.0, 1e-8, 2.0, 1e6], dtype=D64)
        torch.testing.assert_close(m.f(m.f_inv(x)), x, rtol=1e-12, atol=1e-15)


def test_trapezoid_is_exact_for_linear_and_matches_torch():
    x = torch.tensor([0.0, 0.5, 2.0, 3.0], dtype=D64)
    assert trapezoid(3 * x + 1, x) == pytest.approx(3 * 9 / 2 + 3)
    y = torch.sin(x)
    assert trapezoid(y, x) == pytest.approx(float(torch.trapezoid(y, x)))
    assert integrate_density(normal_log_prob, -8, 8, n=2001) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: trapezoid(torch.ones(3, dtype=D64), torch.ones(4, dtype=D64)), "same length"),
        (lambda: trapezoid(torch.ones(1, dtype=D64), torch.zeros(1, dtype=D64)), "two grid points"),
        (lambda: trapezoid(torch.ones(3, dtype=D64), torch.tensor([0.0, 2.0, 1.0], dtype=D64)), "increasing"),
        (lambda: trapezoid(torch.tensor([1.0, math.inf, 1.0]), torch.arange(3.0)), "finite"),
        (lambda: trapezoid([1.0, 2.0], torch.arange(2.0)), "torch.Tensor"),
        (lambda: grid(1.0, 1.0), "lo < hi"),
        (lambda: grid(0.0, 1.0, n=1), "n must be"),
        (lambda: grid(0.0, math.nan), "finite real"),
        (lambda: Affine(0.0), "non-zero"),
        (lambda: Exp(0.0), "non-zero"),
        (lambda: Sinh(math.inf), "finite"),
        (lambda: Cubic(-0.1), ">= 0"),
        (lambda: Cubic("1"), "finite real"),
        (lambda: Chain1D([]), "non-empty"),
        (lambda: Chain1D([lambda z: z]), "Map1D"),
        (lambda: Exp(1.0).f_inv(torch.tensor([1.0, math.nan])), "NaN"),
        (lambda: Exp(1.0).f(torch.tensor([1, 2])), "floating"),
        (lambda: Sinh(1.0).f(torch.empty(0)), "empty"),
        (lambda: pushforward_log_prob(torch.ones(2), "exp"), "Map1D"),
        (lambda: naive_log_prob(torch.ones(2), None), "Map1D"),
        (lambda: sample_pushforward(Exp(1.0), 0), "n must be"),
        (lambda: sample_pushforward("exp", 5), "Map1D"),
        (lambda: histogram_density(torch.ones(3), torch.tensor([1.0, 0.0])), "increasing"),
    ],
)
def test_bad_input_raises_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_histogram_density_counts_all_samples_in_the_normaliser():
    samples = torch.tensor([0.1, 0.2, 0.6, 5.0], dtype=D64)  # one sample outside the edges
    edges = torch.tensor([0.0, 0.5, 1.0], dtype=D64)
    torch.testing.assert_close(histogram_density(samples, edges), torch.tensor([1.0, 0.5], dtype=D64))
