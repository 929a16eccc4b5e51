"""VAE (ELBO, importance-sampled log-likelihood), GAN (non-saturating losses) and mode coverage."""

from __future__ import annotations

import math

import pytest
import torch

from nicelab.baselines import GAN, VAE, mode_coverage, train_gan, train_vae


def _vae(dim: int = 3, latent: int = 2) -> VAE:
    return VAE(dim, latent_dim=latent, hidden=16, depth=1, n_importance=64).double()


def test_elbo_is_the_mean_log_weight_and_below_the_is_estimate():
    vae = _vae()
    x = torch.randn(4, 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        log_w = vae.log_weights(x, 20_000, generator=g)
        elbo = torch.stack([vae.elbo(x, generator=g) for _ in range(2000)]).mean(0)
        is_estimate = vae.log_likelihood(x, 20_000, generator=g)
    # analytic-KL ELBO and the sampled one agree in expectation
    torch.testing.assert_close(elbo, log_w.mean(0), atol=0.1, rtol=0)
    assert (is_estimate > log_w.mean(0)).all()  # Jensen: logmeanexp >= mean


def test_is_estimate_converges_to_exact_marginal_of_a_linear_gaussian_vae():
    # A VAE with linear decoder and constant noise is probabilistic PCA: p(x) = N(b, W W^T + s^2 I).
    vae = VAE(2, latent_dim=1, hidden=4, depth=1, min_std=1e-3).double()
    W, b, s = torch.tensor([[1.5], [-0.5]], dtype=torch.float64), torch.tensor([0.3, -0.2]), 0.4
    with torch.no_grad():
        for layer in vae.decoder:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.zero_()
                layer.bias.zero_()
        last = vae.decoder[-1]
        last.bias[:2] = b.double()
        # the hidden layer is ReLU(z · 1) and ReLU(-z · 1) so that a linear map of z passes through
        vae.decoder[0].weight[:2, 0] = torch.tensor([1.0, -1.0], dtype=torch.float64)
        last.weight[:2, 0] = W[:, 0]
        last.weight[:2, 1] = -W[:, 0]
        last.bias[2:] = math.log(math.expm1(s - 1e-3))  # softplus^-1 so the std is exactly s
        # proposal q(z|x) = the prior N(0, 1): a valid (if wasteful) importance distribution in 1-D
        for layer in vae.encoder:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.zero_()
                layer.bias.zero_()
        vae.encoder[-1].bias[1] = math.log(math.expm1(1.0 - 1e-4))
    cov = W @ W.T + s**2 * torch.eye(2, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(b.double(), cov)
    x = exact.sample((6,))
    with torch.no_grad():
        estimate = vae.log_likelihood(x, 200_000, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(estimate, exact.log_prob(x), atol=0.02, rtol=0)


def test_log_prob_shapes_and_sample_shapes():
    vae = _vae()
    x = torch.randn(5, 3, dtype=torch.float64)
    assert vae.log_prob(x).shape == (5,)
    assert vae.log_weights(x, 7).shape == (7, 5)
    assert vae.sample(11, generator=torch.Generator().manual_seed(0)).shape == (11, 3)
    mean, std = vae.encode(x)
    assert mean.shape == std.shape == (5, 2) and (std > 0).all()
    dec_mean, dec_std = vae.decode(mean)
    assert dec_mean.shape == (5, 3) and (dec_std >= vae.min_std).all()


def test_fixed_decoder_std():
    vae = VAE(2, hidden=8, depth=1, decoder_std=0.1).double()
    mean, std = vae.decode(torch.randn(4, 2, dtype=torch.float64))
    assert mean.shape == (4, 2) and torch.equal(std, torch.full((4, 2), 0.1, dtype=torch.float64))
    with pytest.raises(ValueError, match="decoder_std"):
        VAE(2, decoder_std=0.0)


def test_log_likelihood_chunks_agree():
    vae = _vae()
    x = torch.randn(10, 3, dtype=torch.float64)
    with torch.no_grad():
        a = vae.log_likelihood(x, 16, generator=torch.Generator().manual_seed(3), chunk=10)
        b = vae.log_likelihood(x, 16, generator=torch.Generator().manual_seed(3), chunk=10)
        c = vae.log_likelihood(x, 16, chunk=3)
    assert torch.equal(a, b) and c.shape == (10,) and torch.isfinite(c).all()


def test_train_vae_raises_elbo():
    torch.manual_seed(0)
    data = torch.randn(512, 2) * 0.5 + torch.tensor([2.0, -1.0])
    vae = VAE(2, hidden=32, depth=2)
    before = vae.elbo(data).mean().item()
    history = train_vae(vae, data, steps=200, batch_size=128, lr=3e-3, seed=0, progress=False)
    assert len(history["loss"]) == 200
    assert vae.elbo(data).mean().item() > before + 1.0


@pytest.mark.parametrize("trainer", ["vae", "gan"])
def test_trainers_draw_from_their_own_generator_only(trainer):
    # the seed alone fixes the run (batch order, the ELBO's or the generator's noise); the global RNG
    # neither moves nor matters
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(0)
        model = VAE(2, hidden=8, depth=1) if trainer == "vae" else GAN(2, hidden=8, depth=1)
        data = torch.randn(256, 2, generator=torch.Generator().manual_seed(5))
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        train = train_vae if trainer == "vae" else train_gan
        history = train(model, data, steps=5, batch_size=64, seed=3, progress=False)
        assert torch.equal(torch.get_rng_state(), before)
        runs.append(history.to_dict())
    runs[0].pop("seconds"), runs[1].pop("seconds")
    assert runs[0] == runs[1]


def test_gan_losses_match_their_definitions():
    gan = GAN(2, hidden=8, depth=1).double()
    real, fake = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(gan.discriminator(real)), torch.sigmoid(gan.discriminator(fake))
    expected_d = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    torch.testing.assert_close(gan.discriminator_loss(real, fake), expected_d)
    torch.testing.assert_close(gan.generator_loss(fake), -torch.log(d_fake).mean())
    assert not hasattr(gan, "log_prob")


def test_train_gan_moves_samples_towards_the_data_and_calls_back():
    torch.manual_seed(0)
    data = torch.randn(1024, 2) * 0.3 + torch.tensor([3.0, 3.0])
    gan = GAN(2, hidden=32, depth=2)
    seen: list[int] = []
    history = train_gan(
        gan, data, steps=300, batch_size=128, seed=0, progress=False, callback=lambda s, m: seen.append(s)
    )
    assert len(history["d_loss"]) == len(history["g_loss"]) == 300
    assert list(history) == ["step", "d_loss", "g_loss", "lr", "seconds"] and history.step[-1] == 300
    assert seen == [100, 200, 300]
    centre = gan.sample(2000, generator=torch.Generator().manual_seed(0)).mean(0)
    assert (centre - torch.tensor([3.0, 3.0])).norm() < 1.0


def test_mode_coverage_counts_and_thresholds():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = torch.cat(
        [
            torch.zeros(50, 2) + 0.1,  # mode 0: 50 samples
            torch.tensor([[10.0, 0.2]] * 4),  # mode 1: 4 samples (too few for 0.25 of 59 / 3)
            torch.tensor([[5.0, 5.0]] * 5),  # far from all centres
        ]
    )
    result = mode_coverage(samples, centres, std=0.25)
    assert result.counts == [50, 4, 0]
    assert result.covered == [True, False, False] and result.n_covered == 1 and result.n_modes == 3
    assert result.quality == pytest.approx(54 / 59)
    assert mode_coverage(samples, centres, std=0.25, min_share=0.2).n_covered == 2  # 4 >= 0.2 * 59 / 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(samples=torch.zeros(3, 3)), r"\(batch, 2\)"),
        (dict(samples=torch.full((3, 2), float("nan"))), "NaN"),
        (dict(std=0.0), "std"),
        (dict(min_share=0.0), "min_share"),
        (dict(centres=torch.zeros(0, 2)), "centres"),
    ],
)
def test_mode_coverage_rejects_bad_input(kwargs, match):
    args = dict(samples=torch.zeros(3, 2), centres=torch.zeros(2, 2), std=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        mode_coverage(**args)


def test_bad_input_raises_value_error():
    vae, gan = _vae(), GAN(2, hidden=8, depth=1)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        vae.elbo(torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        vae.log_likelihood(torch.full((2, 3), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="k must"):
        vae.log_weights(torch.zeros(2, 3, dtype=torch.float64), 0)
    with pytest.raises(ValueError, match="min_std"):
        VAE(2, min_std=0)
    with pytest.raises(ValueError, match="generator"):
        vae.sample(3, generator=0)
    with pytest.raises(ValueError, match="vae must"):
        train_vae(gan, torch.zeros(8, 2), steps=1)
    with pytest.raises(ValueError, match="gan must"):
        train_gan(vae, torch.zeros(8, 3), steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_gan(gan, torch.zeros(8, 2), steps=0)
    with pytest.raises(ValueError, match="betas"):
        train_gan(gan, torch.zeros(8, 2), steps=1, betas=(0.5, 1.0))
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        train_gan(gan, torch.zeros(8, 3), steps=1, progress=False)
