"""Lesson 04 exercises: log p(x) of a tiny NICE by hand, the best scale, a scaling model's log_prob,
NICE's log-likelihood from its parts (the ``build_log_prob`` check), and two predictions."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nicelab.exercises import Exercise, numeric, register
from nicelab.exercises.lesson01 import choice
from nicelab.nice import NICE


def _logistic(z: float) -> float:
    """Standard logistic log-density ``-softplus(z) - softplus(-z)``."""
    return -math.log1p(math.exp(-abs(z))) * 2 - abs(z)


#: q1's layer: x = (1, -1), m(a) = a**2, s = (log 2, log 4)
X_Q1 = (1.0, -1.0)
S_Q1 = (math.log(2.0), math.log(4.0))


def _tiny_nice_log_p(
    coupling: bool = True, scale: float = 1.0, log_det_sign: float = 1.0, prior: str = "logistic"
) -> float:
    """log p(x) of q1's NICE, and the same with one typical slip.

    ``coupling=False`` skips the coupling; ``scale=-1`` multiplies by exp(-s) instead of exp(s);
    ``log_det_sign`` is +1 (right), 0 (forgotten) or -1 (flipped); ``prior="gaussian"`` swaps the prior.
    """
    h = (X_Q1[0], X_Q1[1] + (X_Q1[0] ** 2 if coupling else 0.0))
    z = [math.exp(scale * s) * v for s, v in zip(S_Q1, h, strict=True)]
    if prior == "logistic":
        log_pz = sum(_logistic(v) for v in z)
    else:
        log_pz = sum(-0.5 * v * v - 0.5 * math.log(2 * math.pi) for v in z)
    return log_pz + log_det_sign * scale * sum(S_Q1)


LOG_P_Q1 = _tiny_nice_log_p()

q1 = register(
    Exercise(
        key="lesson04.q1",
        prompt=(
            "A 2-D NICE (our forward direction, data -> latent): one additive coupling keeps x1 and "
            "sets h2 = x2 + m(x1) with m(a) = a**2; then the scaling z = exp(s) * h with "
            "s = (log 2, log 4), i.e. the notes' S = diag(1/2, 1/4); a standard logistic prior "
            "(log p(z) = -z - 2 log(1 + exp(-z)) per coordinate). Compute log p(x) at x = (1, -1) "
            "with the notes' formula Σ_i [log p(f⁻¹(x)_i) − log|S_ii|] (a number, in nats)."
        ),
        checker=numeric(
            LOG_P_Q1,
            [
                (
                    _tiny_nice_log_p(log_det_sign=0.0),
                    "the scaling's term −Σ log|S_ii| = log 2 + log 4 is missing",
                ),
                (
                    _tiny_nice_log_p(log_det_sign=-1.0),
                    "wrong sign of the scaling term: −log|S_ii| = +s_i, so it adds log 2 + log 4",
                ),
                (_tiny_nice_log_p(coupling=False), "you skipped the coupling: h2 = x2 + x1**2 = 0"),
                (
                    _tiny_nice_log_p(scale=-1.0),
                    "z = exp(s) · h multiplies by (2, 4); you multiplied by the notes' S = (1/2, 1/4)",
                ),
                (_tiny_nice_log_p(prior="gaussian"), "that uses a Gaussian prior; this one is logistic"),
            ],
        ),
        hint_text=(
            "First push x through the layers: h = (1, 1 + (-1)) ... then z = exp(s) * h. "
            "Then add the prior's log-density of each z_i and subtract log S_ii = -s_i."
        ),
        solution_text=(
            "h = (1, -1 + 1**2) = (1, 0);  z = (2·1, 4·0) = (2, 0)\n"
            f"log p(z_1) = -2 - 2 log(1 + e^-2) ≈ {_logistic(2.0):.4f};  "
            f"log p(z_2) = -2 log 2 ≈ {_logistic(0.0):.4f}\n"
            f"-log|S_11| - log|S_22| = log 2 + log 4 ≈ {sum(S_Q1):.4f}\n"
            f"log p(x) ≈ {LOG_P_Q1:.4f} nats"
        ),
        reference=lambda: LOG_P_Q1,
    )
)

#: q2: data standard deviation; the best s makes exp(s)·σ = 1, the prior's spread
SIGMA_Q2 = 0.2
BEST_S_Q2 = -math.log(SIGMA_Q2)

q2 = register(
    Exercise(
        key="lesson04.q2",
        prompt=(
            "A model that is only a scaling z = exp(s) * x with a standard Gaussian prior is fitted to "
            "1-D data with mean 0 and standard deviation 0.2. Which log-scale s (our convention) "
            "maximises the mean log-likelihood? (a number; the notes' S = exp(-s))"
        ),
        checker=numeric(
            BEST_S_Q2,
            [
                (-BEST_S_Q2, "that is log S, the notes' convention; our s = -log S"),
                (SIGMA_Q2, "that is the notes' S = exp(-s); the question asks for s"),
                (1 / SIGMA_Q2, "that is exp(s); the question asks for s itself"),
                (
                    -math.log(SIGMA_Q2 * math.sqrt(3.0) / math.pi),
                    "that matches a logistic prior's spread (π/√3); this prior is a standard Gaussian",
                ),
            ],
        ),
        hint_text=(
            "Mean log-likelihood: -exp(2s)·0.2²/2 + s + const. Set its derivative with respect to s to zero."
        ),
        solution_text=(
            f"d/ds [-exp(2s)σ²/2 + s] = -exp(2s)σ² + 1 = 0  =>  s = -log σ = log 5 ≈ {BEST_S_Q2:.3f}.\n"
            f"Then S = exp(-s) = σ = {SIGMA_Q2:g}: the latent is stretched until the data has the "
            "prior's spread."
        ),
        reference=lambda: BEST_S_Q2,
    )
)


def _scaling_log_prob_reference() -> Callable[[Tensor, Tensor], Tensor]:
    def log_prob(x: Tensor, log_scale: Tensor) -> Tensor:
        z = torch.exp(log_scale) * x
        return (-F.softplus(z) - F.softplus(-z)).sum(dim=1) + log_scale.sum()

    return log_prob


def _check_scaling_log_prob(answer: Any) -> str | None:
    if not callable(answer):
        return "answer with a function `log_prob(x, log_scale)` returning a (batch,) tensor"
    from nicelab.priors import Logistic
    from nicelab.scaling import Scaling

    generator = torch.Generator().manual_seed(4)
    for dim in (1, 3):
        x = torch.randn(10, dim, generator=generator, dtype=torch.float64) * 2
        s = torch.randn(dim, generator=generator, dtype=torch.float64)
        layer = Scaling(dim).double()
        with torch.no_grad():
            layer.log_scale.copy_(s)
            z, log_det = layer(x)
            expected = Logistic(dim).double().log_prob(z) + log_det
        got = answer(x.clone(), s.clone())
        if not isinstance(got, Tensor) or got.shape != (10,):
            return f"expected a tensor of shape (10,), got {getattr(got, 'shape', got)!r}"
        if not torch.allclose(got.detach().to(torch.float64), expected, atol=1e-8):
            diff = float((got.detach().to(torch.float64) - expected).mean())
            if abs(abs(diff) - abs(float(s.sum()))) < 1e-6 or abs(abs(diff) - 2 * abs(float(s.sum()))) < 1e-6:
                return "the log-det term is missing or has the wrong sign (forward: z = exp(s)·x)"
            return f"log p(x) differs from the model's by {diff:.4g} on average (D={dim})"
    return None


q3 = register(
    Exercise(
        key="lesson04.q3",
        prompt=(
            "Write `log_prob(x, log_scale)` for the model z = exp(log_scale) * x with a standard logistic "
            "prior: x is (batch, D), log_scale is (D,); return log p(x) of shape (batch,)."
        ),
        checker=_check_scaling_log_prob,
        hint_text=(
            "log p(x) = Σ_i log p_logistic(z_i) + log|det dz/dx|, and dz/dx is diagonal with entries "
            "exp(s_i). The logistic log-density is -softplus(z) - softplus(-z)."
        ),
        solution_text=(
            "def log_prob(x, log_scale):\n"
            "    z = torch.exp(log_scale) * x\n"
            "    return (-F.softplus(z) - F.softplus(-z)).sum(dim=1) + log_scale.sum()"
        ),
        reference=_scaling_log_prob_reference,
        wrong=[
            lambda x, s: (-F.softplus(torch.exp(s) * x) - F.softplus(-torch.exp(s) * x)).sum(1),
            lambda x, s: (-F.softplus(torch.exp(s) * x) - F.softplus(-torch.exp(s) * x)).sum(1) - s.sum(),
            lambda x, s: (-F.softplus(torch.exp(-s) * x) - F.softplus(-torch.exp(-s) * x)).sum(1) - s.sum(),
            lambda x, s: (-0.5 * (torch.exp(s) * x) ** 2 - 0.5 * math.log(2 * math.pi)).sum(1) + s.sum(),
            lambda x, s: (-F.softplus(torch.exp(s) * x) - F.softplus(-torch.exp(s) * x)).mean(1) + s.sum(),
        ],
    )
)


# --- build: NICE's log-likelihood from its parts ----------------------------------------------------------

NOT_ANSWERED = "not answered yet: replace every `...` in nice_log_prob, then run the cell again"
_BATCH = 7  # not a model dimension, so a sum over the wrong axis shows in the shape


def _blocked_log_prob(x: Tensor) -> Tensor:
    raise RuntimeError(
        "build log p(x) from the model's parts (its layers, prior and scaling), not model.log_prob"
    )


def _test_model(dim: int, seed: int) -> tuple[NICE, Tensor]:
    """A small float64 NICE with a non-zero shift and random non-zero log-scales, and a batch of points."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # the MLPs' random init must not move the notebook's random stream
        torch.manual_seed(seed)
        model = NICE(dim, n_couplings=3, hidden=8, depth=1, prior="logistic").double()
    data = torch.randn(64, dim, generator=generator, dtype=torch.float64) * 0.5 + 1.0
    model.init_from_data(data)  # the shift μ becomes the data mean
    with torch.no_grad():
        model.scaling.log_scale.copy_(torch.randn(dim, generator=generator, dtype=torch.float64))
    x = torch.randn(_BATCH, dim, generator=generator, dtype=torch.float64) * 1.5 + 1.0
    return model, x


def _mistakes(model: NICE, x: Tensor) -> list[tuple[Tensor, str]]:
    """The values typical slips produce on ``(model, x)``, each with its diagnosis."""
    with torch.no_grad():
        z, _ = model(x)
        h = model.layers[-1].inverse(z)[0]  # the couplings' output, before the scaling
        s = model.scaling.log_scale.sum()
        prior = model.prior.log_prob

        def gaussian(t: Tensor) -> Tensor:
            return (-0.5 * t * t - 0.5 * math.log(2 * math.pi)).sum(dim=1)

        return [
            (prior(z) - s, "wrong sign of Σ s: the forward log-det of z = exp(s) · h is +Σ s"),
            (prior(z), "the log-det Σ s is missing: the scaling changes volume"),
            (prior(z) + 2 * s, "Σ s counted twice (the log_det a forward pass returns already holds it)"),
            (prior(x) + s, "the prior is evaluated at x; it is a density on the latent z = f(x)"),
            (
                prior(h) + s,
                "the prior is evaluated before the scaling; z = exp(s) · h is the last layer's output",
            ),
            (prior(z) / z.shape[1] + s, "the prior is averaged over dimensions; sum it"),
            (gaussian(z) + s, "that is a Gaussian prior; this model's prior is the logistic"),
        ]


def _check_nice_log_prob(answer: Any) -> str | None:
    if not callable(answer):
        return "answer with a function `nice_log_prob(model, x)` returning a (batch,) tensor"
    for dim, seed in ((4, 0), (5, 1)):
        model, x = _test_model(dim, seed)
        with torch.no_grad():
            expected = model.log_prob(x)
        model.log_prob = _blocked_log_prob  # the parts, not the answer
        try:
            got = answer(model, x.clone())
        except Exception as err:  # the learner's code may raise anything
            if "ellipsis" in str(err).lower():
                return NOT_ANSWERED
            return f"nice_log_prob raised {type(err).__name__}: {err}"
        if got is Ellipsis or got is None:
            return NOT_ANSWERED
        if not isinstance(got, Tensor):
            return f"return a tensor of shape (batch,), got {type(got).__name__}"
        got = got.detach().to(torch.float64)
        if got.shape == (_BATCH, dim):
            return "the prior is not summed over dimensions: one log p per sample, so sum over dim=1"
        if got.shape == (dim,):
            return "you summed over the batch (dim=0); sum over the dimensions (dim=1), one value per sample"
        if got.shape != (_BATCH,):
            return f"expected shape (batch,) = ({_BATCH},), got {tuple(got.shape)}"
        if torch.allclose(got, expected, atol=1e-8):
            continue
        for value, message in _mistakes(model, x):
            if torch.allclose(got, value, atol=1e-8):
                return message
        error = float((got - expected).abs().max())
        return f"log p(x) differs from NICE.log_prob by up to {error:.3g} (D={dim})"
    return None


def _nice_log_prob_reference() -> Callable[[NICE, Tensor], Tensor]:
    def nice_log_prob(model: NICE, x: Tensor) -> Tensor:
        h = x
        for layer in model.layers:  # shift, couplings, scaling: data -> latent
            h, _ = layer(h)
        log_prior = (-F.softplus(h) - F.softplus(-h)).sum(dim=1)
        return log_prior + model.scaling.log_scale.sum()

    return nice_log_prob


def _prior_at(point: str) -> Callable[[NICE, Tensor], Tensor]:
    """A wrong answer: the logistic prior at x or at z, with or without Σ s and with either sign."""

    def wrong(model: NICE, x: Tensor) -> Tensor:
        z = x if point == "x" else model(x)[0]
        return (-F.softplus(z) - F.softplus(-z)).sum(dim=1) + model.scaling.log_scale.sum()

    return wrong


def _not_summed(model: NICE, x: Tensor) -> Tensor:
    z = model(x)[0]
    return -F.softplus(z) - F.softplus(-z) + model.scaling.log_scale.sum()


def _minus_s(model: NICE, x: Tensor) -> Tensor:
    z = model(x)[0]
    return (-F.softplus(z) - F.softplus(-z)).sum(dim=1) - model.scaling.log_scale.sum()


def _no_log_det(model: NICE, x: Tensor) -> Tensor:
    z = model(x)[0]
    return (-F.softplus(z) - F.softplus(-z)).sum(dim=1)


def _twice(model: NICE, x: Tensor) -> Tensor:
    z, log_det = model(x)
    return model.prior.log_prob(z) + log_det + model.scaling.log_scale.sum()


def _cheat(model: NICE, x: Tensor) -> Tensor:
    return model.log_prob(x)


def _skeleton(model: NICE, x: Tensor) -> Any:
    log_prior = ...
    log_det = ...
    return log_prior + log_det  # type: ignore[operator]


#: each typical wrong answer and the words its diagnosis must contain (tests/test_build_exercises_01_04.py)
BUILD_MISTAKES: dict[Callable[[NICE, Tensor], Any], str] = {
    _minus_s: "wrong sign of Σ s",
    _not_summed: "not summed over dimensions",
    _no_log_det: "log-det Σ s is missing",
    _prior_at("x"): "evaluated at x",
    _twice: "counted twice",
    _cheat: "not model.log_prob",
    _skeleton: "not answered yet",
}

build_log_prob = register(
    Exercise(
        key="lesson04.build_log_prob",
        prompt=(
            "Write `nice_log_prob(model, x)` for a nicelab.NICE model from its parts: z = f(x) through "
            "model.layers (shift, couplings, scaling; each returns (output, log_det)), then "
            "log p(x) = Σ_i log p_prior(z_i) + Σ_i s_i with s = model.scaling.log_scale. Return a (batch,) "
            "tensor. The check compares it with NICE.log_prob on random non-zero log-scales."
        ),
        checker=_check_nice_log_prob,
        hint_text=(
            "z: h = x; for layer in model.layers: h, _ = layer(h). The prior is factorised: its log-density "
            "is a sum over the coordinates of z (logistic_log_density(z).sum(dim=1)). Only the scaling has a "
            "log-det, the same Σ s for every sample."
        ),
        solution_text=(
            "def nice_log_prob(model, x):\n"
            "    z = x\n"
            "    for layer in model.layers:  # shift, couplings, scaling: data -> latent\n"
            "        z, _ = layer(z)\n"
            "    log_prior = logistic_log_density(z).sum(dim=1)  # factorised prior: sum over dimensions\n"
            "    log_det = model.scaling.log_scale.sum()  # couplings and shift add 0\n"
            "    return log_prior + log_det"
        ),
        reference=_nice_log_prob_reference,
        wrong=[*BUILD_MISTAKES, "log p", lambda model, x: float(model(x)[0].detach().sum())],
    )
)


# --- predictions ---------------------------------------------------------------------------------------

p1 = register(
    Exercise(
        key="lesson04.predict_training",
        prompt=(
            "Predict before you run: two NICE models are trained on the thin banana (a perfect model scores "
            "about +0.85 nats), one with its scaling, one with the scaling frozen at s = 0. Their test mean "
            "log p(x): (a) the full NICE ends far above the -2.77 cap, the couplings-only model below it  "
            "(b) both end near +0.85: the couplings learn to squeeze  (c) both end below the cap. "
            "Answer with a letter."
        ),
        checker=choice(
            "a",
            {
                "b": "couplings have det 1: without the scaling no density can exceed the prior's peak",
                "c": "the scaling's Σ s is not capped: it can raise the peak as far as the data is narrow",
            },
        ),
        hint_text="Section 1: what bounds log p(x) for a flow of additive couplings only?",
        solution_text=(
            "(a): the couplings-only model can never beat log p_Z(0) = 2 log(1/4) ≈ -2.77 in 2-D, whatever "
            "it learns; the scaling adds Σ s, which grows as the data is narrow."
        ),
        reference=lambda: "a",
        wrong=["b", "c", "d"],
    )
)

p2 = register(
    Exercise(
        key="lesson04.predict_collapse",
        prompt=(
            "Predict before you run: a 3-D NICE is trained on the banana plus a third coordinate with std "
            "0.01. Which latent dimension ends with the smallest notes' scale S_ii = exp(-s_i)? "
            "(a) 1  (b) 2  (c) 3  (d) all about equal. Answer with a letter."
        ),
        checker=choice(
            "c",
            {
                "a": "x1 has std 0.5, the widest coordinate: it needs the least stretching",
                "b": "x2 is thin (noise std 0.05 around the curve), but x3 is five times thinner",
                "d": "the best s_i is about -log σ_i: a coordinate 50 times narrower gets a very different s",
            },
        ),
        hint_text="The best scale maps each coordinate's spread to the prior's: S_ii ∝ σ_i.",
        solution_text=(
            "(c): the best scale makes exp(s_i)·σ_i match the prior's spread, so S_ii = exp(-s_i) ∝ σ_i: "
            "the near-constant third coordinate gets by far the smallest S_ii."
        ),
        reference=lambda: "c",
        wrong=["a", "b", "d"],
    )
)

__all__ = ["BUILD_MISTAKES", "NOT_ANSWERED", "build_log_prob", "p1", "p2", "q1", "q2", "q3"]
