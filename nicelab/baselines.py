"""Two non-flow baselines for lesson 07, in plain torch: a small VAE and a small GAN.

**VAE** (Kingma & Welling, 2014). Encoder ``q(z|x) = N(μ(x), diag σ(x)²)``, decoder
``p(x|z) = N(m(z), diag τ(z)²)``, prior ``p(z) = N(0, I)``. It is trained on the ELBO, a lower bound::

    log p(x) >= ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))

and its true ``log p(x) = log ∫ p(x|z) p(z) dz`` has no closed form. The importance-sampled estimate
with ``K`` draws ``z_k ~ q(z|x)``::

    log p̂_K(x) = logmeanexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)]

is still a lower bound in expectation, but a tighter one as ``K`` grows (Burda et al., 2016), and it
converges to ``log p(x)``. ``K = 1`` is the ELBO (with a sampled instead of an analytic KL).

**GAN** (Goodfellow et al., 2014). A generator ``x = G(ε)``, ``ε ~ N(0, I)``, and a discriminator
``D(x)`` (a logit), trained with the non-saturating losses::

    L_D = -log σ(D(x_real)) - log(1 - σ(D(G(ε))))        L_G = -log σ(D(G(ε)))

Its generator defines a distribution (the law of ``G(ε)``) but gives no way to evaluate it; with less
noise than data dimensions that distribution lives on a low-dimensional set and has no density in data
space at all. So nothing like a KL gap can be computed for it; instead we count the modes its samples
cover (:func:`mode_coverage`).

Work layer: imports the core and the training helpers, never plots or widgets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nicelab._checks import check_batch, check_positive_int
from nicelab._utils import gaussian_log_density
from nicelab.coupling import mlp
from nicelab.train import fit
from nicelab.train.loop import History, HistoryBase, LoopState
from nicelab.train.seeding import make_generator


def _check_generator(generator: object) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _randn(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise with ``like``'s dtype and device (drawn where ``generator`` lives)."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


class VAE(nn.Module):
    """A Gaussian VAE: MLP encoder and decoder with ``depth`` hidden layers of ``hidden`` ReLU units.

    Args:
        dim: data dimension.
        latent_dim: dimension of ``z``.
        min_std: floor on the decoder's standard deviation ``τ(z)``; without it the decoder can
            shrink ``τ`` around a few points and the likelihood blows up.
        n_importance: ``K`` used by :meth:`log_prob` (the importance-sampled estimate).
        decoder_std: if given, ``τ`` is this constant instead of a learned function of ``z``. In 2-D a
            learned ``τ`` lets the decoder explain the data as one wide Gaussian and ignore ``z``
            (posterior collapse); a fixed small ``τ`` forces the model to use its latent.
    """

    def __init__(
        self,
        dim: int,
        latent_dim: int = 2,
        hidden: int = 64,
        depth: int = 2,
        min_std: float = 0.01,
        n_importance: int = 256,
        decoder_std: float | None = None,
    ) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.n_importance = check_positive_int(n_importance, "n_importance")
        if not (isinstance(min_std, (int, float)) and 0 < min_std < math.inf):
            raise ValueError(f"min_std must be a positive finite number, got {min_std!r}")
        if decoder_std is not None and not (
            isinstance(decoder_std, (int, float)) and 0 < decoder_std < math.inf
        ):
            raise ValueError(f"decoder_std must be None or a positive finite number, got {decoder_std!r}")
        self.min_std = float(min_std)
        self.decoder_std = None if decoder_std is None else float(decoder_std)
        self.encoder = mlp(dim, 2 * latent_dim, hidden, depth)
        self.decoder = mlp(latent_dim, dim if decoder_std is not None else 2 * dim, hidden, depth)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The approximate posterior ``q(z|x)``: its mean and standard deviation, ``(batch, latent_dim)``."""
        check_batch(x, self.dim, "x")
        mean, raw = self.encoder(x).chunk(2, dim=1)
        return mean, F.softplus(raw) + 1e-4

    def decode(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The likelihood ``p(x|z)``: its mean and standard deviation, each ``(batch, dim)``."""
        check_batch(z, self.latent_dim, "z")
        if self.decoder_std is not None:
            mean = self.decoder(z)
            return mean, torch.full_like(mean, self.decoder_std)
        mean, raw = self.decoder(z).chunk(2, dim=1)
        return mean, F.softplus(raw) + self.min_std

    def elbo(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One-sample ELBO per input, shape ``(batch,)``: reparameterised reconstruction minus analytic KL.

        ``KL(N(μ, σ²) || N(0, 1)) = ½ Σ (μ² + σ² - 1) - Σ log σ``.
        """
        _check_generator(generator)
        mean, std = self.encode(x)
        z = mean + std * _randn(tuple(mean.shape), mean, generator)
        recon = gaussian_log_density(x, *self.decode(z)).sum(dim=-1)
        kl = 0.5 * (mean**2 + std**2 - 1.0).sum(dim=1) - torch.log(std).sum(dim=1)
        return recon - kl

    def log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """Log importance weights ``log p(x|z_k) + log p(z_k) - log q(z_k|x)``, ``z_k ~ q(z|x)``.

        Shape ``(k, batch)``; their mean over ``k`` estimates the ELBO, their logmeanexp ``log p(x)``.
        """
        check_positive_int(k, "k")
        _check_generator(generator)
        mean, std = self.encode(x)
        z = mean + std * _randn((k, *mean.shape), mean, generator)  # (k, batch, latent)
        dec_mean, dec_std = self.decode(z.reshape(-1, self.latent_dim))
        # log N(·; mean, diag std²): the elementwise densities summed over the last dimension
        log_px_z = gaussian_log_density(
            x.expand(k, *x.shape), *(t.reshape(k, *x.shape) for t in (dec_mean, dec_std))
        ).sum(dim=-1)
        log_pz = gaussian_log_density(z).sum(dim=-1)
        log_qz = gaussian_log_density(z, mean, std).sum(dim=-1)
        return log_px_z + log_pz - log_qz

    def log_likelihood(
        self, x: Tensor, k: int = 256, generator: torch.Generator | None = None, chunk: int = 1024
    ) -> Tensor:
        """Importance-sampled ``log p̂_K(x) = logmeanexp_k log w_k``, shape ``(batch,)`` (see the module doc).

        Works through the batch ``chunk`` inputs at a time so ``k × chunk`` decoder calls fit in memory.
        """
        check_batch(x, self.dim, "x", finite=True)
        check_positive_int(chunk, "chunk")
        parts = [
            torch.logsumexp(self.log_weights(x[i : i + chunk], k, generator), dim=0) - math.log(k)
            for i in range(0, x.shape[0], chunk)
        ]
        return torch.cat(parts)

    @torch.no_grad()
    def log_likelihood_quadrature(
        self, x: Tensor, half_width: float = 5.0, n: int = 301, chunk: int = 16
    ) -> Tensor:
        """The exact ``log p(x) = log ∫ p(x|z) p(z) dz`` by quadrature, for a 1-D or 2-D latent space.

        A midpoint-style sum over an ``n``-point grid per latent axis on ``[-half_width, half_width]``:
        ``log p(x) ≈ logsumexp_j [log p(x|z_j) + log p(z_j)] + latent_dim · log Δz``. The prior's mass
        outside the box is below ``2·latent_dim·Φ(-half_width)`` (about 6e-7 at 5), and ``n`` must resolve
        the decoder's narrowest feature. This is the reference the IS estimate and the ELBO are checked
        against (lesson 07): unlike them it does not depend on the encoder at all.
        """
        check_batch(x, self.dim, "x", finite=True)
        if self.latent_dim > 2:
            raise ValueError(f"quadrature needs a 1-D or 2-D latent space, got latent_dim={self.latent_dim}")
        if not (isinstance(half_width, (int, float)) and math.isfinite(half_width) and half_width > 0):
            raise ValueError(f"half_width must be a positive finite number, got {half_width!r}")
        check_positive_int(n, "n", minimum=2)
        check_positive_int(chunk, "chunk")
        anchor = next(self.parameters())
        axis = torch.linspace(-half_width, half_width, n, dtype=anchor.dtype, device=anchor.device)
        axes = torch.meshgrid(*([axis] * self.latent_dim), indexing="ij")
        z = torch.stack([a.reshape(-1) for a in axes], dim=1)
        dec_mean, dec_std = self.decode(z)
        log_pz = gaussian_log_density(z).sum(dim=-1)
        log_cell = self.latent_dim * math.log(float(axis[1] - axis[0]))
        parts = []
        for i in range(0, x.shape[0], chunk):
            log_px_z = gaussian_log_density(x[i : i + chunk, None, :], dec_mean[None], dec_std[None])
            parts.append(torch.logsumexp(log_px_z.sum(dim=-1) + log_pz, dim=1) + log_cell)
        return torch.cat(parts)

    def log_prob(self, x: Tensor) -> Tensor:
        """An *estimate* of ``log p(x)``: :meth:`log_likelihood` with ``K = n_importance``.

        Random, and biased low (a lower bound in expectation); a flow's ``log_prob`` is exact.
        """
        return self.log_likelihood(x, self.n_importance)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws of ``x ~ p(x|z)``, ``z ~ N(0, I)`` (decoder noise included); shape ``(n, dim)``."""
        check_positive_int(n, "n")
        _check_generator(generator)
        anchor = next(self.parameters())
        z = _randn((n, self.latent_dim), anchor, generator)
        mean, std = self.decode(z)
        return mean + std * _randn(tuple(mean.shape), mean, generator)


def train_vae(
    vae: VAE,
    data: Tensor | Callable[..., Tensor],
    *,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int | None = None,
    progress: bool = True,
    schedule: str = "constant",
    generator: torch.Generator | None = None,
) -> History:
    """Maximise the ELBO with Adam: :func:`nicelab.fit` with the negative one-sample ELBO as the loss.

    The batch order, fresh samples and the reparameterisation noise all come from one generator (seeded
    by ``seed``, or ``generator``). Returns ``fit``'s history; its ``loss`` is the batch's negative ELBO
    (an upper bound on the NLL).
    """
    if not isinstance(vae, VAE):
        raise ValueError(f"vae must be a nicelab.baselines.VAE, got {type(vae).__name__}")
    source = make_generator(seed, generator)
    return fit(
        vae,
        data,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        generator=source,
        progress=progress,
        schedule=schedule,
        loss=lambda x: -vae.elbo(x, source).mean(),
        desc="vae",
    )


class GAN(nn.Module):
    """A generator ``G: R^noise_dim -> R^dim`` and a discriminator ``D: R^dim -> R`` (a logit), both MLPs."""

    def __init__(self, dim: int, noise_dim: int = 2, hidden: int = 64, depth: int = 2) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")
        self.noise_dim = check_positive_int(noise_dim, "noise_dim")
        self.generator = mlp(noise_dim, dim, hidden, depth)
        self.discriminator = mlp(dim, 1, hidden, depth)

    def generate(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``G(ε)`` for ``n`` draws ``ε ~ N(0, I)``, with gradients (used in training)."""
        check_positive_int(n, "n")
        _check_generator(generator)
        anchor = next(self.generator.parameters())
        return self.generator(_randn((n, self.noise_dim), anchor, generator))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``x = G(ε)``; shape ``(n, dim)``. There is no ``log_prob``: a GAN has no density."""
        return self.generate(n, generator)

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """``mean[-log σ(D(real))] + mean[-log(1 - σ(D(fake)))]`` (binary cross-entropy on logits)."""
        check_batch(real, self.dim, "real")
        check_batch(fake, self.dim, "fake")
        real_logit, fake_logit = self.discriminator(real), self.discriminator(fake)
        return F.binary_cross_entropy_with_logits(
            real_logit, torch.ones_like(real_logit)
        ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))

    def generator_loss(self, fake: Tensor) -> Tensor:
        """Non-saturating ``mean[-log σ(D(fake))]``: strong gradients even when D wins early."""
        check_batch(fake, self.dim, "fake")
        logit = self.discriminator(fake)
        return F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))


@dataclass
class GANHistory(HistoryBase):
    """Per-step columns of :func:`train_gan`: ``step``, ``d_loss``, ``g_loss``, ``lr``, ``seconds``."""

    STEP_COLUMNS: ClassVar[tuple[str, ...]] = ("step", "d_loss", "g_loss", "lr", "seconds")

    step: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


GAN_HISTORY_KEYS = GANHistory.STEP_COLUMNS


class GANStep:
    """One discriminator and one generator Adam step (a :class:`nicelab.train.loop.Step` for ``fit``).

    The fake batches are drawn from ``generator``; the discriminator sees a detached one, so the generator
    gets no gradient from the discriminator's loss. Neither network is updated on a non-finite loss.
    """

    def __init__(
        self, gan: GAN, lr: float, betas: tuple[float, float], generator: torch.Generator | None
    ) -> None:
        self.gan, self.generator = gan, generator
        self.opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=lr, betas=betas)
        self.opt_g = torch.optim.Adam(gan.generator.parameters(), lr=lr, betas=betas)
        self.optimizers = [self.opt_d, self.opt_g]

    def __call__(self, real: Tensor) -> dict[str, float]:
        n = real.shape[0]
        d_loss = self.gan.discriminator_loss(real, self.gan.generate(n, self.generator).detach())
        if not math.isfinite(d_value := d_loss.item()):
            return {"d_loss": d_value, "g_loss": math.nan}
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        g_loss = self.gan.generator_loss(self.gan.generate(n, self.generator))
        if not math.isfinite(g_value := g_loss.item()):
            return {"d_loss": d_value, "g_loss": g_value}
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        return {"d_loss": d_value, "g_loss": g_value}


def train_gan(
    gan: GAN,
    data: Tensor | Callable[..., Tensor],
    *,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int | None = None,
    progress: bool = True,
    callback: Callable[[int, GAN], None] | None = None,
    callback_every: int = 100,
    generator: torch.Generator | None = None,
) -> GANHistory:
    """Alternate one discriminator and one generator Adam step, ``steps`` times: :func:`nicelab.fit` with a
    :class:`GANStep`.

    ``data`` is a ``(N, dim)`` tensor or a callable ``data(batch_size)``, as for :func:`nicelab.fit`; the
    batch order, fresh samples and the generator's noise come from one generator (``seed`` or
    ``generator``). Returns the per-step ``step, d_loss, g_loss, lr, seconds``. ``callback(step, gan)``
    runs every ``callback_every`` steps and at the end (e.g. to track mode coverage).

    Raises:
        ValueError: bad arguments or data.
        FloatingPointError: a loss became NaN or infinite.
    """
    if not isinstance(gan, GAN):
        raise ValueError(f"gan must be a nicelab.baselines.GAN, got {type(gan).__name__}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    source = make_generator(seed, generator)
    state = LoopState(history=GANHistory())
    fit(
        gan,
        data,
        steps=steps,
        batch_size=batch_size,
        generator=source,
        progress=progress,
        callback=callback,
        callback_every=callback_every,
        step=GANStep(gan, lr, betas, source),
        state=state,
        desc="gan",
    )
    assert isinstance(state.history, GANHistory)  # the state that fit filled
    return state.history


@dataclass
class ModeCoverage:
    """Result of :func:`mode_coverage`.

    Attributes:
        counts: samples within ``n_std`` standard deviations of each centre, one per mode.
        covered: whether each mode holds at least ``min_share`` of its fair share ``n / n_modes``.
        n_covered: how many modes are covered.
        quality: fraction of all samples that lie within ``n_std`` std of some centre.
    """

    counts: list[int]
    covered: list[bool]
    n_covered: int
    quality: float

    @property
    def n_modes(self) -> int:
        return len(self.counts)


def mode_coverage(
    samples: Tensor, centres: Tensor, std: float, n_std: float = 3.0, min_share: float = 0.25
) -> ModeCoverage:
    """Count the modes of an isotropic Gaussian mixture that ``samples`` cover.

    A sample belongs to the nearest centre if it lies within ``n_std · std`` of it. A mode counts as
    covered when it holds at least ``min_share · n / n_modes`` samples (a fraction of what a perfect
    sampler would put there), so a handful of stray samples does not count as coverage.
    """
    centres = torch.as_tensor(centres)
    if centres.dim() != 2 or centres.shape[0] == 0:
        raise ValueError(
            f"centres must have shape (n_modes, dim) with n_modes >= 1, got {tuple(centres.shape)}"
        )
    check_batch(samples, centres.shape[1], "samples", finite=True)
    for name, value in (("std", std), ("n_std", n_std)):
        if not (isinstance(value, (int, float)) and 0 < value < math.inf):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if not (isinstance(min_share, (int, float)) and 0 < min_share <= 1):
        raise ValueError(f"min_share must be in (0, 1], got {min_share!r}")
    distance = torch.cdist(samples.detach().double(), centres.double())  # (n, n_modes)
    nearest_dist, nearest = distance.min(dim=1)
    near = nearest_dist <= n_std * std
    k = centres.shape[0]
    counts = torch.bincount(nearest[near], minlength=k).tolist()
    needed = min_share * samples.shape[0] / k
    covered = [c >= needed for c in counts]
    return ModeCoverage(
        counts=counts, covered=covered, n_covered=sum(covered), quality=float(near.double().mean())
    )


__all__ = ["GAN", "GANHistory", "GANStep", "VAE", "ModeCoverage", "mode_coverage", "train_gan", "train_vae"]
