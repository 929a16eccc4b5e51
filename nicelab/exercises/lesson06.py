"""Lesson 06 exercises: bits per dimension, the generalisation gap, importance from the scales, the peak."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from nicelab.exercises import Exercise, numeric, register

D = 784
PAPER_NATS = 1980.50


def _bits_per_dim(nats: float, dim: int = D) -> float:
    return (dim * math.log(256.0) - nats) / (dim * math.log(2.0))


PAPER_BITS = _bits_per_dim(PAPER_NATS)
#: D·ln 256 and D·ln 2 in nats: the two constants of the bits/dim formula
_D_LN256, _D_LN2 = D * math.log(256.0), D * math.log(2.0)

q1 = register(
    Exercise(
        key="lesson06.bits_per_dim",
        prompt=(
            "NICE reports a test log-likelihood of 1980.50 nats per MNIST image, measured on data in [0, 1]. "
            "Convert it to bits per dimension of the discrete 8-bit image (D = 784)."
        ),
        checker=numeric(
            PAPER_BITS,
            [
                (-PAPER_NATS / _D_LN2, "the D·ln 256 nats of the 1/256 rescaling are missing"),
                (PAPER_NATS / _D_LN2, "the D·ln 256 of the 1/256 rescaling is missing, and bits/dim is -LL"),
                (-PAPER_BITS, "wrong sign: bits/dim is a cost, (D·ln 256 - LL) / (D·ln 2) > 0"),
                (PAPER_BITS * math.log(2.0), "that is nats per dimension: divide by ln 2 for bits"),
                (PAPER_BITS / math.log(2.0), "you divided by ln 2 twice"),
                (PAPER_BITS * D, "that is bits per image: divide by D = 784"),
                (
                    (_D_LN256 + PAPER_NATS) / _D_LN2,
                    "wrong sign of LL: a higher log-likelihood costs fewer bits",
                ),
            ],
        ),
        hint_text=(
            "Two steps: undo the 1/256 rescaling of every pixel (it adds D·ln 256 nats of -log p), "
            "then turn nats into bits (divide by ln 2) and average over the D pixels. Mind the sign: "
            "bits/dim is a cost, so lower is better."
        ),
        solution_text=(
            f"bits/dim = (D·ln 256 - LL) / (D·ln 2) = ({_D_LN256:.1f} - {PAPER_NATS:.2f}) / {_D_LN2:.1f} "
            f"≈ {PAPER_BITS:.3f}\n"
            "In code: (784 * math.log(256) - 1980.50) / (784 * math.log(2))"
        ),
        reference=lambda: PAPER_BITS,
    )
)

UNIFORM_BITS = _bits_per_dim(0.0)

q2 = register(
    Exercise(
        key="lesson06.uniform_bits",
        prompt=(
            "A 'model' that spreads its density uniformly over [0, 1]^784 gives log p(x) = 0 nats to every "
            "dequantized image. How many bits per dimension is that?"
        ),
        checker=numeric(
            UNIFORM_BITS,
            [
                (0.0, "log p = 0 on [0, 1] is not free: undoing the 1/256 rescaling costs D·ln 256 nats"),
                (math.log(256.0), "that is nats per dimension, ln 256: divide by ln 2 for bits"),
                (UNIFORM_BITS * D, "that is bits per image: divide by D = 784"),
                (-UNIFORM_BITS, "wrong sign: bits/dim is a cost, (D·ln 256 - LL) / (D·ln 2)"),
            ],
        ),
        hint_text="Put LL = 0 into the bits/dim formula. What does a byte per pixel cost without any model?",
        solution_text=(
            f"(784·ln 256 - 0) / (784·ln 2) = log2(256) = {UNIFORM_BITS:g} bits/dim: exactly the cost of "
            "storing each pixel as a raw byte. Every useful MNIST model must beat it; NICE's 1980.50 nats "
            f"is about {PAPER_BITS:.2f}."
        ),
        reference=lambda: UNIFORM_BITS,
        wrong=[1.0, 784.0],
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

#: the 30-minute run without weight decay (benchmarks/README.md, "MNIST"): per-image LL at its end
OVERFIT_TRAIN_NATS, OVERFIT_TEST_NATS = 2211.0, 1786.7


def _gap_bits_per_dim(train_nats: float, test_nats: float, dim: int = D) -> float:
    return (train_nats - test_nats) / (dim * math.log(2.0))


GAP_BITS = _gap_bits_per_dim(OVERFIT_TRAIN_NATS, OVERFIT_TEST_NATS)
_GAP_NATS = OVERFIT_TRAIN_NATS - OVERFIT_TEST_NATS

q4 = register(
    Exercise(
        key="lesson06.gap_bits",
        prompt=(
            "Without weight decay, a 30-minute run ended with a log-likelihood of 2211.0 nats per TRAINING "
            "image but 1786.7 nats per TEST image. How large is that generalisation gap in bits/dim "
            "(test bits/dim minus training bits/dim, D = 784)?"
        ),
        checker=numeric(
            GAP_BITS,
            [
                (_GAP_NATS, "that is the gap in nats per image: divide by D·ln 2"),
                (-GAP_BITS, "wrong sign: the test bits/dim is the larger one (unseen digits cost more)"),
                (_GAP_NATS / D, "that is nats per dimension: divide by ln 2 for bits"),
                (_GAP_NATS / math.log(2.0), "that is bits per image: divide by D = 784"),
                (
                    _bits_per_dim(OVERFIT_TEST_NATS),
                    "that is the test bits/dim alone; subtract the training one",
                ),
                (
                    _bits_per_dim(OVERFIT_TRAIN_NATS),
                    "that is the training bits/dim alone; the gap is a difference",
                ),
            ],
        ),
        hint_text=(
            "Write bits/dim = (D·ln 256 - LL) / (D·ln 2) for both sets and subtract: the D·ln 256 term is "
            "the same for both and cancels. Test bits/dim is the larger one (a worse model of unseen digits)."
        ),
        solution_text=(
            f"({OVERFIT_TRAIN_NATS:.1f} - {OVERFIT_TEST_NATS:.1f}) / (784 · ln 2) ≈ {GAP_BITS:.2f} bits/dim: "
            f"the model spends {GAP_BITS:.2f} more bits per pixel on a digit it has not seen. With weight "
            "decay the recipe's gap is far smaller (benchmarks/README.md, 'MNIST')."
        ),
        reference=lambda: GAP_BITS,
    )
)

#: entropy of the standard logistic distribution, in nats (exactly 2)
LOGISTIC_ENTROPY = 2.0
#: log-density of the standard logistic at 0, per coordinate: log(1/4)
LOGISTIC_LOG_PEAK = math.log(0.25)
PEAK_OVER_TYPICAL = D * (LOGISTIC_LOG_PEAK + LOGISTIC_ENTROPY)

q5 = register(
    Exercise(
        key="lesson06.peak_vs_typical",
        prompt=(
            "NICE's prior on MNIST is the standard logistic in D = 784 dimensions; its density at 0 is "
            "1/4 per coordinate and its entropy is exactly 2 nats per coordinate. By how many nats does "
            "log p_Z(0), the prior's peak, exceed E[log p_Z(Z)], the log-density of a typical latent?"
        ),
        checker=numeric(
            PEAK_OVER_TYPICAL,
            [
                (
                    LOGISTIC_LOG_PEAK + LOGISTIC_ENTROPY,
                    "that is per coordinate: sum over the 784 coordinates",
                ),
                (
                    D * (LOGISTIC_ENTROPY - LOGISTIC_LOG_PEAK),
                    f"log p_Z(0) = log(1/4) is negative: the peak is {LOGISTIC_LOG_PEAK:.3f} per coordinate",
                ),
                (-PEAK_OVER_TYPICAL, "wrong sign: the peak is the higher of the two"),
                (
                    -D * LOGISTIC_LOG_PEAK,
                    "that is -log p_Z(0) alone; the typical latent's -2 nats matter too",
                ),
                (
                    D * LOGISTIC_ENTROPY,
                    "that is D·H, the entropy alone; add log p_Z(0) = 784·log(1/4)",
                ),
                (PEAK_OVER_TYPICAL / math.log(2.0), "that is in bits; the question asks for nats"),
            ],
        ),
        hint_text="E[log p_Z(Z)] = -H = -2 nats per coordinate; log p_Z(0) = log(1/4) per coordinate. "
        "Both sum over the 784 coordinates.",
        solution_text=(
            f"784 · (log(1/4) + 2) = 784 · {LOGISTIC_LOG_PEAK + LOGISTIC_ENTROPY:.4f} "
            f"≈ {PEAK_OVER_TYPICAL:.1f} nats. The flow adds the same Σ s to both, so the model's single "
            "most probable image out-scores a typical sample by the same amount: in high dimensions the "
            "mode is nothing like a typical draw."
        ),
        reference=lambda: PEAK_OVER_TYPICAL,
    )
)

__all__ = ["q1", "q2", "q3", "q4", "q5"]
