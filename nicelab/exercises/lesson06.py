"""Lesson 06 exercises: bits per dimension (by hand and built on a batch), temperature, strange inputs, the
generalisation gap, importance from the scales, the peak."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from nicelab import data as mnist
from nicelab.exercises import Exercise, numeric, register
from nicelab.exercises._choice import choice
from nicelab.nice import NICE

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

#: a hypothetical overfitting run (round numbers, not a measurement): per-image LL on training and test images
EXAMPLE_TRAIN_NATS, EXAMPLE_TEST_NATS = 2200.0, 1800.0


def _gap_bits_per_dim(train_nats: float, test_nats: float, dim: int = D) -> float:
    return (train_nats - test_nats) / (dim * math.log(2.0))


GAP_BITS = _gap_bits_per_dim(EXAMPLE_TRAIN_NATS, EXAMPLE_TEST_NATS)
_GAP_NATS = EXAMPLE_TRAIN_NATS - EXAMPLE_TEST_NATS

q4 = register(
    Exercise(
        key="lesson06.gap_bits",
        prompt=(
            "Suppose a run that overfits ends with a log-likelihood of 2200 nats per TRAINING image but 1800 "
            "nats per TEST image. How large is that generalisation gap in bits/dim "
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
                    _bits_per_dim(EXAMPLE_TEST_NATS),
                    "that is the test bits/dim alone; subtract the training one",
                ),
                (
                    _bits_per_dim(EXAMPLE_TRAIN_NATS),
                    "that is the training bits/dim alone; the gap is a difference",
                ),
            ],
        ),
        hint_text=(
            "Write bits/dim = (D·ln 256 - LL) / (D·ln 2) for both sets and subtract: the D·ln 256 term is "
            "the same for both and cancels. Test bits/dim is the larger one (a worse model of unseen digits)."
        ),
        solution_text=(
            f"({EXAMPLE_TRAIN_NATS:.0f} - {EXAMPLE_TEST_NATS:.0f}) / (784 · ln 2) ≈ {GAP_BITS:.2f} bits/dim: "
            f"the model spends {GAP_BITS:.2f} more bits per pixel on a digit it has not seen. Weight decay "
            "on the couplings is what keeps the recipe's gap small (benchmarks/README.md, 'MNIST')."
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


# ---------------------------------------------------------------------------------------------------------
# q6 (build): dequantize a batch, evaluate it, report bits/dim


class _Recorder(torch.nn.Module):
    """A flow that keeps every batch its ``log_prob`` sees and returns: the checker reads what went in."""

    def __init__(self, flow: NICE) -> None:
        super().__init__()
        self.flow = flow
        self.dim, self.prior, self.scaling = (
            flow.dim,
            flow.prior,
            flow.scaling,
        )  # what a learner may reach for
        self.seen: list[Tensor] = []
        self.scores: list[Tensor] = []

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.seen.append(x.detach().reshape(x.shape[0], -1).double())  # a learner may build log p from f(x)
        return self.flow(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow.inverse(z)

    def log_prob(self, x: Tensor) -> Tensor:
        self.seen.append(x.detach().reshape(x.shape[0], -1).double())
        out = self.flow.log_prob(x)
        self.scores.append(out.detach().double())
        return out


def _probe_flow(seed: int) -> NICE:
    """A small untrained NICE on 784 pixels, seeded weights and scales (the global RNG is left alone)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        flow = NICE(D, n_couplings=4, hidden=32, depth=1)
        with torch.no_grad():
            # scales well above 1, as after training: log p then feels a 1/256 move of a pixel
            flow.scaling.log_scale.copy_(2.0 + 0.5 * torch.randn(D))
    return flow.eval()


#: (first image, batch size, noise seed, model seed) of the checker's batches; 7 is odd on purpose
_BITS_CASES = ((0, 16, 61, 0), (100, 7, 62, 1))
#: bits/dim agree to this (float32 log_prob summed two ways differs by about 1e-7 bits/dim)
_BITS_TOL = 1e-4


def _nicelab_bits(flow: torch.nn.Module, images_u8: Tensor, seed: int) -> float:
    """What nicelab reports for the batch: dequantize with the seeded generator, evaluate, convert."""
    x = mnist.dequantize(images_u8, torch.Generator().manual_seed(seed))
    return float(mnist.bits_per_dim(mnist.evaluate(flow, x)))


def _one_number(value: Any) -> float | str:
    """The learner's return value as a float, or a message saying why it is not one number."""
    if isinstance(value, bool) or value is None:
        return f"return one number (the batch's mean bits/dim), not {value!r}"
    if isinstance(value, Tensor):
        if value.numel() != 1:
            return (
                f"return one number, the mean bits/dim over the batch, not a tensor of shape "
                f"{tuple(value.shape)}"
            )
        return float(value.detach())
    return float(value)


def _diagnose_inputs(probe: _Recorder, images_u8: Tensor, seed: int) -> str | None:
    """What is wrong with the batch the learner gave ``log_prob`` (None: nicelab's dequantized batch)."""
    if not probe.seen:
        return "the model never saw a batch: evaluate model.log_prob on the dequantized images"
    n = images_u8.shape[0]
    k = images_u8.reshape(n, -1).double()
    x = torch.cat(probe.seen)
    if x.shape[0] >= n:
        x = x[:n]
    if x.shape != k.shape:
        return f"log_prob saw {tuple(x.shape)} in all; give it the N images once, flattened to (N, 784)"
    u = mnist.dequantize(images_u8, torch.Generator().manual_seed(seed)).double() * 256 - k

    def near(target: Tensor) -> bool:
        return bool(torch.allclose(x, target, rtol=0.0, atol=1e-5))

    if near((k + u) / 256):
        return None
    if near(k / 256) or near(k / 255):
        return (
            "no dequantization noise: x = k/256 sits on a grid of 256 values, where a density can cheat; "
            "add u ~ U[0, 1) drawn with the generator: x = (k + u)/256"
        )
    if near((k + u) / 255):
        return "divided by 255 instead of 256: the 256 bins [k/256, (k+1)/256) tile [0, 1); x = (k + u)/256"
    if float(x.max()) > 1.5:
        return "the pixels were not rescaled: log_prob takes x = (k + u)/256 in [0, 1)"
    if torch.equal(torch.floor(256 * x), k):
        return (
            "the noise is not the generator's: draw u with torch.rand(shape, generator=generator), once for "
            "the whole (N, 784) batch, as nicelab.data.dequantize does"
        )
    return "log_prob did not see x = (k + u)/256 with u drawn from the generator"


def _diagnose_formula(got: float, probe: _Recorder, n: int) -> str | None:
    """Which slip in the nats -> bits/dim conversion turns the learner's LL into ``got`` (None: unknown)."""
    if not probe.scores:
        return None
    ll = float(torch.cat(probe.scores)[:n].mean())
    right = (_D_LN256 - ll) / _D_LN2
    slips = (
        (-ll / _D_LN2, "the D·ln 256 term is missing: it puts back the 1/256 rescaling of every pixel"),
        ((_D_LN256 - ll) / D, "that is nats per dimension: divide by ln 2 as well, for bits"),
        ((_D_LN256 - ll) / math.log(2.0), "that is bits per image: divide by D = 784 as well, per dimension"),
        (right * n, "that is the sum over the batch: average over the images"),
        ((_D_LN256 + ll) / _D_LN2, "wrong sign of log p: a higher log-likelihood costs fewer bits"),
    )
    for value, message in slips:
        if abs(got - value) <= _BITS_TOL * max(1.0, abs(value)):
            return message
    return None


def _check_bits_fn(answer: Any) -> str | None:
    if not callable(answer):
        return "answer with a function my_bits_per_dim(model, images_u8, generator) that returns one number"
    images = mnist.load_sample("test")[0]
    for first, n, seed, model_seed in _BITS_CASES:
        batch = images[first : first + n].clone()
        flow = _probe_flow(model_seed)
        expected = _nicelab_bits(flow, batch, seed)
        probe = _Recorder(flow)
        got = _one_number(answer(probe, batch.clone(), torch.Generator().manual_seed(seed)))
        if isinstance(got, str):
            return got
        # the batch first: a wrong dequantization can move the bits/dim by less than the tolerance
        problem = _diagnose_inputs(probe, batch, seed)
        if problem is not None:
            return problem
        if abs(got - expected) <= _BITS_TOL:
            continue
        return _diagnose_formula(got, probe, n) or (
            f"{got:.6g} is not right: on the same {n} images and noise nicelab gets {expected:.4f} bits/dim"
        )
    return None


def _reference_bits_fn() -> Callable[[torch.nn.Module, Tensor, torch.Generator], float]:
    def my_bits_per_dim(model: torch.nn.Module, images_u8: Tensor, generator: torch.Generator) -> float:
        k = images_u8.reshape(images_u8.shape[0], -1).float()  # (N, 784) integers 0..255
        x = (k + torch.rand(k.shape, generator=generator)) / 256  # each pixel fills its bin [k, k+1)/256
        with torch.no_grad():
            ll = model.log_prob(x).double().mean().item()  # nats per image, data in [0, 1)
        dim = x.shape[1]
        return (dim * math.log(256) - ll) / (dim * math.log(2))

    return my_bits_per_dim


def _slip(dequant: str = "right", formula: str = "right") -> Callable[[Any, Tensor, torch.Generator], Any]:
    """The reference with one typical slip: in the dequantization or in the conversion (for the tests)."""

    def wrong(model: Any, images_u8: Tensor, generator: torch.Generator) -> Any:
        k = images_u8.reshape(images_u8.shape[0], -1).float()
        u = torch.rand(k.shape, generator=None if dequant == "own noise" else generator)
        divisor = 255 if dequant == "255" else 256
        x = k / 256 if dequant == "none" else (k + u) / divisor
        with torch.no_grad():
            per_image = model.log_prob(x).double()
        ll, dim = per_image.mean().item(), x.shape[1]
        return {
            "right": (dim * math.log(256) - ll) / (dim * math.log(2)),
            "no ln 256": -ll / (dim * math.log(2)),
            "nats": (dim * math.log(256) - ll) / dim,
            "per image": (dim * math.log(256) - ll) / math.log(2),
            "per-image tensor": (dim * math.log(256) - per_image) / (dim * math.log(2)),
        }[formula]

    return wrong


q6 = register(
    Exercise(
        key="lesson06.build_bits_per_dim",
        prompt=(
            "Write my_bits_per_dim(model, images_u8, generator): dequantize the uint8 batch as "
            "x = (k + u)/256 with u ~ U[0, 1) drawn from `generator` "
            "(torch.rand(shape, generator=generator), shape (N, 784)), "
            "evaluate model.log_prob(x), and return the batch's mean bits/dim, (D ln 256 - LL)/(D ln 2), "
            "as one number. The check compares it with nicelab.data.dequantize / evaluate / bits_per_dim "
            "on the same images and generator seed."
        ),
        checker=_check_bits_fn,
        hint_text=(
            "Three lines do the work: k = images_u8.reshape(N, -1).float(); x = (k + torch.rand(k.shape, "
            "generator=generator)) / 256; ll = model.log_prob(x).mean(). Then put back D·ln 256, change to "
            "bits (ln 2) and divide by D. Evaluate under torch.no_grad()."
        ),
        solution_text=(
            "def my_bits_per_dim(model, images_u8, generator):\n"
            "    k = images_u8.reshape(images_u8.shape[0], -1).float()     # (N, 784) integers 0..255\n"
            "    x = (k + torch.rand(k.shape, generator=generator)) / 256  # dequantize into [0, 1)\n"
            "    with torch.no_grad():\n"
            "        ll = model.log_prob(x).double().mean().item()         # nats per image\n"
            "    D = x.shape[1]\n"
            "    return (D * math.log(256) - ll) / (D * math.log(2))"
        ),
        reference=_reference_bits_fn,
        wrong=[
            _slip(formula="no ln 256"),
            _slip(formula="nats"),
            _slip(dequant="255"),
            _slip(formula="per image"),
            _slip(dequant="none"),
            _slip(dequant="own noise"),
            _slip(formula="per-image tensor"),
            "4.36",
        ],
    )
)

# ---------------------------------------------------------------------------------------------------------
# q7 (predict): what temperature does to log p of the samples

q7 = register(
    Exercise(
        key="lesson06.temperature",
        prompt=(
            "Predict before you run: one ε is drawn from the logistic prior and reused for samples "
            "x = f^{-1}(T·ε) at T = 1, 0.7 and 0.4. As T goes down, the mean log p(x) of the samples ...\n"
            "  (a) rises\n"
            "  (b) falls\n"
            "  (c) stays the same: f^{-1} is the same map at every T\n"
            "  (d) can go either way, depending on the trained weights\n"
            "Answer with a letter."
        ),
        checker=choice(
            "a",
            {"a": "rises", "b": "falls", "c": "stays the same", "d": "depends on the weights"},
            {
                "b": "log p(x) = log p_Z(T·ε) + Σ s, and the logistic log-density falls with |z|: "
                "a smaller T moves every latent coordinate towards the peak at 0",
                "c": "the map is the same, but its input T·ε is not: log p(x) = log p_Z(T·ε) + Σ s",
                "d": "the weights enter only through Σ s, the same for every x; log p_Z(T·ε) alone decides",
            },
        ),
        hint_text=(
            "Write log p(x) at x = f^{-1}(T·ε) with the change of variables: log p_Z(f(x)) + Σ s. "
            "What is f(x)? Which part depends on T?"
        ),
        solution_text=(
            "(a) rises. log p(x) = log p_Z(T·ε) + Σ_i s_i: NICE's log-det Σ s is one constant for every x, "
            "and each logistic coordinate's log-density -softplus(z) - softplus(-z) falls with |z|, so "
            "shrinking every coordinate of ε towards 0 raises log p, whatever the weights. At T = 0 all "
            "samples are f^{-1}(0), the single most probable image."
        ),
        reference=lambda: "a",
        wrong=["b", "c", "d", "e", 1],
    )
)

# ---------------------------------------------------------------------------------------------------------
# strange inputs (predict): which input scores highest, checked against the learner's own run

#: the inputs of the strange-inputs table, in the order of their letters a, b, c, …
STRANGE_INPUTS = (
    "test digits",
    "uniform noise",
    "shifted 3 px right",
    "inverted (255 - k)",
    "all black",
    "square outline",
)
_LETTERS = "abcdef"
HIGHEST_INPUT_PROMPT = (
    "Predict before you run: which input gets the HIGHEST mean log p(x) from the trained NICE?\n"
    + "\n".join(f"  ({letter}) {name}" for letter, name in zip(_LETTERS, STRANGE_INPUTS, strict=True))
    + "\nAnswer with a letter."
)
_WHY_NOT = {
    "test digits": "the model was trained on digits, yet log p also rewards simple images",
    "uniform noise": "noise spreads ink over every pixel, where digits have a black background",
    "shifted 3 px right": "NICE has no notion of translation: the stroke lands where the model expects black",
    "inverted (255 - k)": "a white background is the opposite of what almost every training pixel shows",
    "all black": "an all-black image has no stroke at all, which costs it where digits have ink",
    "square outline": "its ink sits where digits rarely have it",
}


def highest_input(mean_log_p: Mapping[str, float]) -> Exercise:
    """The strange-inputs prediction, checked against this run's mean log p of each input (nats).

    ``mean_log_p`` maps each name of :data:`STRANGE_INPUTS` to its mean ``log p(x)``; the right letter is
    that of the largest. Built after the run, so the answer is the learner's own result (not registered:
    its answer depends on the model).
    """
    if set(mean_log_p) != set(STRANGE_INPUTS):
        raise ValueError(f"mean_log_p must have exactly the keys {STRANGE_INPUTS}, got {sorted(mean_log_p)}")
    values = {name: float(mean_log_p[name]) for name in STRANGE_INPUTS}
    if not all(math.isfinite(v) for v in values.values()):
        raise ValueError(f"every mean log p must be finite, got {values}")
    letters = dict(zip(_LETTERS, STRANGE_INPUTS, strict=True))
    top = max(letters, key=lambda letter: values[letters[letter]])
    top_name = letters[top]

    def why(letter: str) -> str:
        gap = values[top_name] - values[letters[letter]]
        return f"{_WHY_NOT[letters[letter]]}. In your run it scored {gap:.0f} nats below ({top}) {top_name}"

    return Exercise(
        key="lesson06.highest_input",
        prompt=HIGHEST_INPUT_PROMPT,
        checker=choice(top, letters, {letter: why(letter) for letter in letters if letter != top}),
        hint_text="Most MNIST pixels are black. Which input is closest to 'mostly black, little ink'?",
        solution_text=(
            f"({top}) {top_name}, at {values[top_name]:.1f} nats on average in your run. A likelihood is "
            "not a 'looks like a digit' score: simple, mostly constant inputs can score as well as real "
            "digits."
        ),
        reference=lambda: top,
        wrong=[letter for letter in letters if letter != top],
    )


__all__ = [
    "HIGHEST_INPUT_PROMPT",
    "STRANGE_INPUTS",
    "highest_input",
    "q1",
    "q2",
    "q3",
    "q4",
    "q5",
    "q6",
    "q7",
]
