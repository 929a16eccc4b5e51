"""Lesson 06 exercises: bits per dimension, the generalisation gap, importance from the scales, the peak."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from nicelab.exercises import Exercise, close_to, register

D = 784
PAPER_NATS = 1980.50


def _bits_per_dim(nats: float, dim: int = D) -> float:
    return (dim * math.log(256.0) - nats) / (dim * math.log(2.0))


q1 = register(
    Exercise(
        key="lesson06.bits_per_dim",
        prompt=(
            "NICE reports a test log-likelihood of 1980.50 nats per MNIST image, measured on data in [0, 1]. "
            "Convert it to bits per dimension of the discrete 8-bit image (D = 784)."
        ),
        checker=close_to(_bits_per_dim(PAPER_NATS), rtol=1e-3),
        hint_text=(
            "Two steps: undo the 1/256 rescaling of every pixel (it adds D·ln 256 nats of -log p), "
            "then turn nats into bits (divide by ln 2) and average over the D pixels. Mind the sign: "
            "bits/dim is a cost, so lower is better."
        ),
        solution_text=(
            "bits/dim = (D·ln 256 - LL) / (D·ln 2) = (784·5.5452 - 1980.50) / (784·0.6931) ≈ 4.36\n"
            "In code: (784 * math.log(256) - 1980.50) / (784 * math.log(2))"
        ),
        reference=lambda: _bits_per_dim(PAPER_NATS),
        # forgot the 256 rescaling; forgot the sign; stayed in nats per dim
        wrong=[
            PAPER_NATS / (D * math.log(2.0)),
            -_bits_per_dim(PAPER_NATS),
            _bits_per_dim(PAPER_NATS) * math.log(2),
        ],
    )
)

q2 = register(
    Exercise(
        key="lesson06.uniform_bits",
        prompt=(
            "A 'model' that spreads its density uniformly over [0, 1]^784 gives log p(x) = 0 nats to every "
            "dequantized image. How many bits per dimension is that?"
        ),
        checker=close_to(8.0, rtol=1e-6),
        hint_text="Put LL = 0 into the bits/dim formula. What does a byte per pixel cost without any model?",
        solution_text=(
            "(784·ln 256 - 0) / (784·ln 2) = log2(256) = 8 bits/dim: exactly the cost of storing each pixel "
            "as a raw byte. Every useful MNIST model must beat 8; NICE's 1980.50 nats is about 4.36."
        ),
        reference=lambda: 8.0,
        wrong=[0.0, 1.0, 784.0, math.log(256.0)],
    )
)


def _check_top_dims(answer: Any) -> str | None:
    if not callable(answer):
        return "answer with a function top_dims(log_scale, k) that returns k indices"
    generator = torch.Generator().manual_seed(6)
    for dim, k in ((10, 3), (784, 20), (50, 1)):
        s = torch.randn(dim, generator=generator) * 2.0
        expected = set(torch.argsort(s)[:k].tolist())  # smallest s_i = largest S_ii = exp(-s_i)
        got = answer(s.clone(), k)
        got = torch.as_tensor(got).reshape(-1).tolist()
        if len(got) != k:
            return f"for k={k} your function returned {len(got)} indices"
        if set(got) != expected:
            return (
                "those are not the most important dimensions; remember the notes' S_ii = exp(-s_i) "
                "and that a small S_ii marks an unimportant dimension"
            )
    return None


def _reference_top_dims() -> Callable[[torch.Tensor, int], torch.Tensor]:
    def top_dims(log_scale: torch.Tensor, k: int) -> torch.Tensor:
        return torch.argsort(torch.exp(-log_scale), descending=True)[:k]

    return top_dims


q3 = register(
    Exercise(
        key="lesson06.top_dims",
        prompt=(
            "Write top_dims(log_scale, k) returning the indices of the k MOST important latent dimensions of "
            "a NICE, given its learned log-scales s (model.scaling.log_scale; forward z = exp(s)·h)."
        ),
        checker=_check_top_dims,
        hint_text=(
            "The notes' decoder multiplies latent i by S_ii before the couplings, and our S_ii = exp(-s_i). "
            "A large S_ii lets z_i move the image a lot; S_ii -> 0 removes the dimension."
        ),
        solution_text=(
            "def top_dims(log_scale, k):\n"
            "    return torch.argsort(torch.exp(-log_scale), descending=True)[:k]\n"
            "(equivalently torch.argsort(log_scale)[:k]: the most negative s_i first)"
        ),
        reference=_reference_top_dims,
        wrong=[
            lambda s, k: torch.argsort(s, descending=True)[:k],  # largest s = least important
            lambda s, k: torch.arange(k),  # ignores the scales
            lambda s, k: torch.argsort(s)[: k + 1],  # off by one
            "0, 1, 2",
        ],
    )
)

#: the 30-minute run without weight decay (README, "MNIST"): per-image LL at its end
OVERFIT_TRAIN_NATS, OVERFIT_TEST_NATS = 2211.0, 1786.7


def _gap_bits_per_dim(train_nats: float, test_nats: float, dim: int = D) -> float:
    return (train_nats - test_nats) / (dim * math.log(2.0))


q4 = register(
    Exercise(
        key="lesson06.gap_bits",
        prompt=(
            "Without weight decay, a 30-minute run ended with a log-likelihood of 2211.0 nats per TRAINING "
            "image but 1786.7 nats per TEST image. How large is that generalisation gap in bits/dim "
            "(test bits/dim minus training bits/dim, D = 784)?"
        ),
        checker=close_to(_gap_bits_per_dim(OVERFIT_TRAIN_NATS, OVERFIT_TEST_NATS), rtol=1e-3),
        hint_text=(
            "Write bits/dim = (D·ln 256 - LL) / (D·ln 2) for both sets and subtract: the D·ln 256 term is "
            "the same for both and cancels. Test bits/dim is the larger one (a worse model of unseen digits)."
        ),
        solution_text=(
            "(2211.0 - 1786.7) / (784 · ln 2) ≈ 0.78 bits/dim: the model spends 0.78 more bits per pixel on "
            "a digit it has not seen. The 60-minute run with weight decay: (2178.4 - 2138.9) / 543.4 ≈ 0.07."
        ),
        reference=lambda: _gap_bits_per_dim(OVERFIT_TRAIN_NATS, OVERFIT_TEST_NATS),
        # the gap in nats; the wrong sign; nats per dimension (forgot ln 2)
        wrong=[
            OVERFIT_TRAIN_NATS - OVERFIT_TEST_NATS,
            -_gap_bits_per_dim(OVERFIT_TRAIN_NATS, OVERFIT_TEST_NATS),
            (OVERFIT_TRAIN_NATS - OVERFIT_TEST_NATS) / D,
        ],
    )
)

#: entropy of the standard logistic distribution, in nats (exactly 2)
LOGISTIC_ENTROPY = 2.0

q5 = register(
    Exercise(
        key="lesson06.peak_vs_typical",
        prompt=(
            "NICE's prior on MNIST is the standard logistic in D = 784 dimensions; its density at 0 is "
            "1/4 per coordinate and its entropy is exactly 2 nats per coordinate. By how many nats does "
            "log p_Z(0), the prior's peak, exceed E[log p_Z(Z)], the log-density of a typical latent?"
        ),
        checker=close_to(D * (LOGISTIC_ENTROPY - math.log(4.0)), rtol=1e-3),
        hint_text="E[log p_Z(Z)] = -H = -2 nats per coordinate; log p_Z(0) = log(1/4) per coordinate. "
        "Both sum over the 784 coordinates.",
        solution_text="784 · (2 - log 4) = 784 · 0.614 ≈ 481.3 nats. The flow adds the same Σ s to both, "
        "so the model's single most probable image out-scores a typical sample by the same amount: in "
        "high dimensions the mode is nothing like a typical draw.",
        reference=lambda: D * (LOGISTIC_ENTROPY - math.log(4.0)),
        wrong=[
            LOGISTIC_ENTROPY - math.log(4.0),
            D * (LOGISTIC_ENTROPY + math.log(4.0)),
            -D * (LOGISTIC_ENTROPY - math.log(4.0)),
            D * math.log(4.0),
        ],
    )
)

__all__ = ["q1", "q2", "q3", "q4", "q5"]
