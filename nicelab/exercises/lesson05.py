"""Lesson 05 exercises: the maximum-likelihood loop (build), predictions, toy entropies, the KL gap, NICE's
log-det, the identity start, the one peak."""

from __future__ import annotations

import copy
import functools
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

import nicelab
from nicelab import datasets
from nicelab.exercises import Exercise, _choice, numeric, register
from nicelab.exercises._choice import Choice
from nicelab.nice import NICE

#: the checkerboard: uniform on this many unit squares
SQUARES = 8
CHECKERBOARD_H = math.log(SQUARES)

q1 = register(
    Exercise(
        key="lesson05.checkerboard_entropy",
        prompt="The checkerboard is uniform on 8 unit squares. What is its entropy H(p) in nats?",
        checker=numeric(
            CHECKERBOARD_H,
            [
                (float(SQUARES), "that is the area; the entropy of a uniform density is the log of its area"),
                (-CHECKERBOARD_H, "wrong sign: H = -E[log p] = -log(1/8) is positive"),
                (math.log(2 * SQUARES), "the support is 8 unit squares (area 8), not the 16 of the board"),
                (math.log2(SQUARES), "that is in bits (log base 2); nats use the natural log"),
            ],
        ),
        hint_text="A uniform density on a region of area A equals 1/A there; H = -E[log p].",
        solution_text=(
            f"p = 1/8 on its support (total area 8), so H = -log(1/8) = log 8 ≈ {CHECKERBOARD_H:.3f} nats."
        ),
        reference=lambda: CHECKERBOARD_H,
    )
)

#: q2's givens: a model's NLL on fresh samples and the data's entropy, in nats
NLL_Q2, H_Q2 = 2.310, 2.136
KL_Q2 = NLL_Q2 - H_Q2

q2 = register(
    Exercise(
        key="lesson05.kl_from_nll",
        prompt=(
            "A model's NLL on fresh samples is 2.310 nats; the data's true entropy is 2.136 nats. "
            "What is KL(p_data || q_model) in nats?"
        ),
        checker=numeric(
            KL_Q2,
            [
                (-KL_Q2, "wrong sign: the NLL (a cross-entropy) is never below the entropy, so KL >= 0"),
                (NLL_Q2 + H_Q2, "KL is the NLL minus the entropy, not their sum"),
                (NLL_Q2, "that is the NLL (the cross-entropy); subtract the entropy"),
                (H_Q2, "that is the data's entropy; KL is what the model adds on top of it"),
                (NLL_Q2 / H_Q2, "KL is a difference of the two, not a ratio"),
            ],
        ),
        hint_text="KL(p||q) = E_p[log p - log q] = (-E_p log q) - (-E_p log p).",
        solution_text=(
            f"KL = NLL - H = {NLL_Q2:.3f} - {H_Q2:.3f} = {KL_Q2:.3f} nats (never negative: NLL >= H)."
        ),
        reference=lambda: KL_Q2,
    )
)

#: q3: a 2-D NICE's couplings and log-scales
COUPLINGS_Q3, S_Q3 = 6, (0.8, -1.9)
LOG_DET_Q3 = sum(S_Q3)

q3 = register(
    Exercise(
        key="lesson05.nice_log_det",
        prompt=(
            "A 2-D NICE has 6 additive couplings and log-scales s = (0.8, -1.9). What is "
            "log|det dz/dx| (data -> latent) at x = (1, 1)? (Answer with that number; then ask yourself "
            "what it is at any other x.)"
        ),
        checker=numeric(
            LOG_DET_Q3,
            [
                (-LOG_DET_Q3, "wrong sign: the forward scaling z = exp(s)·h adds +Σ s"),
                (0.0, "the couplings add 0 each, but the scaling adds Σ s"),
                (
                    COUPLINGS_Q3 * LOG_DET_Q3,
                    "the scaling is applied once, after the couplings, not per coupling",
                ),
                (math.exp(LOG_DET_Q3), "that is |det| itself; the question asks for its log, Σ s"),
            ],
        ),
        hint_text="Each additive coupling has log-det exactly 0; the scaling z = exp(s) * h adds its own.",
        solution_text=(
            f"0 + … + 0 + ({S_Q3[0]:g} + ({S_Q3[1]:g})) = {LOG_DET_Q3:.1f} at every x: "
            "NICE's log-det is a constant, Σ s."
        ),
        reference=lambda: LOG_DET_Q3,
    )
)

#: q4: eight_gaussians' mode std, and the closed form that ignores the overlap of the modes
STD_Q4 = 0.25
_ONE_MODE_H = math.log(2 * math.pi * math.e * STD_Q4**2)
MIXTURE_H = math.log(8) + _ONE_MODE_H

q4 = register(
    Exercise(
        key="lesson05.mixture_entropy",
        prompt=(
            "eight_gaussians is an equal mixture of 8 well-separated N(μ_k, σ² I) with σ = 0.25 in 2-D. "
            "Approximate its entropy in nats, in closed form (ignore the overlap)."
        ),
        # atol: the Monte-Carlo entropy (overlap included) is accepted too; tests/test_exercises.py checks it
        checker=numeric(
            MIXTURE_H,
            [
                (_ONE_MODE_H, "that is one component's entropy; add log 8 for not knowing which component"),
                (math.log(8), "that is the entropy of the component label alone; add one component's"),
                (8 * _ONE_MODE_H, "entropies do not add over components: log 8 + one component's entropy"),
                (
                    math.log(8) + 0.5 * _ONE_MODE_H,
                    "that is a 1-D Gaussian's entropy; a 2-D N(μ, σ² I) has log(2πeσ²)",
                ),
                (math.log(8) + math.log(2 * math.pi * math.e * STD_Q4), "use the variance σ², not σ"),
            ],
            atol=0.015,
        ),
        hint_text="Which component a sample came from is (almost) known from x; a 2-D N(μ, σ² I) has "
        "entropy log(2πeσ²).",
        solution_text=(
            f"H ≈ log 8 + log(2πe·0.25²) = {math.log(8):.4f} + {_ONE_MODE_H:.4f} = {MIXTURE_H:.4f} nats.\n"
            "The overlap lowers it slightly: D.get('eight_gaussians').entropy() estimates the exact value "
            "by Monte Carlo."
        ),
        reference=lambda: MIXTURE_H,
    )
)

#: q5: P(x_1 - μ_1 = +1) at some x_2; the gradient of the NLL with respect to m at the identity start
P_PLUS_Q5 = 0.75
GRADIENT_Q5 = P_PLUS_Q5 * math.tanh(0.5) + (1 - P_PLUS_Q5) * math.tanh(-0.5)

q5 = register(
    Exercise(
        key="lesson05.identity_gradient",
        prompt=(
            "A 2-D NICE with a logistic prior starts at the identity (every coupling's last layer is 0) "
            "and e^{s_1} = 1. At some x_2 the centred x_1 - μ_1 is +1 with probability 0.75 and -1 with "
            "probability 0.25. What is the expected gradient dNLL/dm of the coupling that adds m(x_2) to "
            "x_1 there? (Use ψ(z) = d/dz log p_Z(z) = -tanh(z/2).) Answer with that number; then think "
            "about what it would be with 0.5 / 0.5."
        ),
        checker=numeric(
            GRADIENT_Q5,
            [
                (0.0, "that is the 0.5 / 0.5 case; with 0.75 / 0.25 the two terms do not cancel"),
                (-GRADIENT_Q5, "wrong sign: dNLL/dm = -ψ(z_1) = +tanh(z_1 / 2)"),
                (math.tanh(0.5), "weight each case by its probability, and the -1 case pulls the other way"),
                (
                    P_PLUS_Q5 * math.tanh(1.0) + (1 - P_PLUS_Q5) * math.tanh(-1.0),
                    "ψ(z) = -tanh(z/2): mind the half",
                ),
                (2 * P_PLUS_Q5 - 1, "that is E[x_1 - μ_1]; the gradient averages tanh(z_1 / 2), not z_1"),
                (P_PLUS_Q5 * math.tanh(0.5), "the -1 case (probability 0.25) contributes 0.25·tanh(-1/2)"),
            ],
        ),
        hint_text="z_1 = x_1 - μ_1 + m, so per sample dNLL/dm = -ψ(z_1) = tanh(z_1 / 2) at m = 0; "
        "average it over the two cases.",
        solution_text=(
            f"0.75·tanh(1/2) + 0.25·tanh(-1/2) = 0.5·tanh(0.5) ≈ {GRADIENT_Q5:.3f}. With 0.5 / 0.5 the two "
            "terms cancel (tanh is odd): the gradient is exactly 0, which is why the identity start is stuck "
            "on the mirror-symmetric eight Gaussians."
        ),
        reference=lambda: GRADIENT_Q5,
    )
)

#: q6: a 2-D NICE's log-scales; the standard logistic density at 0 is 1/4 per coordinate
S_Q6 = (0.4, -0.7)
PEAK_Q6 = 2 * math.log(0.25) + sum(S_Q6)

q6 = register(
    Exercise(
        key="lesson05.peak_height",
        prompt=(
            "A 2-D NICE with the standard logistic prior has log-scales s = (0.4, -0.7). What is the highest "
            "value its log-density log q(x) takes anywhere, in nats? (Where does the model put its peak?)"
        ),
        checker=numeric(
            PEAK_Q6,
            [
                (2 * math.log(0.25), "that is the prior's peak; the flow adds its log-det Σ s everywhere"),
                (math.log(0.25) + sum(S_Q6), "the prior is 2-D: log(1/4) once per coordinate"),
                (2 * math.log(0.25) - sum(S_Q6), "wrong sign: log q(x) = log p_Z(f(x)) + Σ s"),
                (-math.log(2 * math.pi) + sum(S_Q6), "that is a Gaussian prior's peak; this one is logistic"),
            ],
        ),
        hint_text="log q(x) = log p_Z(f(x)) + Σ s, and f is a bijection onto the whole plane: the largest "
        "value is the prior's largest, at z = 0. The standard logistic density at 0 is 1/4.",
        solution_text=(
            f"max log q = 2·log(1/4) + ({S_Q6[0]:g} + ({S_Q6[1]:g})) = {2 * math.log(0.25):.3f} "
            f"+ ({sum(S_Q6):.1f}) ≈ {PEAK_Q6:.3f} nats, reached at exactly one point, x* = f^{{-1}}(0): "
            "a NICE density has one peak however many modes the data have."
        ),
        reference=lambda: PEAK_Q6,
    )
)


# --- multiple-choice predictions ---------------------------------------------------------------------


def multiple_choice(answer: str, options: Mapping[str, str], why_not: Mapping[str, str]) -> Choice:
    """A checker for a one-letter answer: ``None`` for ``answer``, else ``"(b) <option>: <why_not['b']>"``.

    ``options`` maps each letter to its text (the prompt lists them); ``why_not`` says, for each wrong
    letter, what happens instead (read after running the cell that shows it); every wrong letter needs one.
    A thin wrapper over :func:`nicelab.exercises._choice.choice`, which parses the letter (case, spaces and
    parentheses ignored) and words the feedback.
    """
    checker = _choice.choice(answer, options, why_not)
    missing = sorted(set(options) - {answer} - set(why_not))
    if missing:
        raise ValueError(f"every wrong option needs a why_not; missing {missing}")
    return checker


def _prompt(question: str, options: Mapping[str, str]) -> str:
    """``question`` followed by its options on the same line: ``"... (a) text (b) text"``."""
    return question + " " + _choice.render_options(options, inline=True)


ONE_PEAK_OPTIONS = {
    "a": "8 peaks, one per mode",
    "b": "between 1 and 8, depending on the training run",
    "c": "exactly 1",
}
predict_peaks = register(
    Exercise(
        key="lesson05.predict_peaks",
        prompt=_prompt(
            "Predict, then run: how many local maxima does a trained NICE density on the eight Gaussians "
            "have?",
            ONE_PEAK_OPTIONS,
        ),
        checker=multiple_choice(
            "c",
            ONE_PEAK_OPTIONS,
            {
                "a": "the data has eight, but log q(x) = log p_Z(f(x)) + Σ s only ever takes the prior's "
                "values, and the prior has one peak",
                "b": "no run can do better or worse than one: the argument below holds for every NICE with a "
                "log-concave prior",
            },
        ),
        hint_text="NICE's log-det is a constant, so log q(x) = log p_Z(f(x)) + Σ s. How many peaks has p_Z, "
        "and can a bijection f create a second one?",
        solution_text="(c) exactly 1, at x* = f^{-1}(0): every other point has an uphill path to it "
        "(x_t = f^{-1}((1 - t) f(x))).",
        reference=lambda: "c",
        wrong=["a", "b", "d", 8],
    )
)

NAN_OPTIONS = {
    "a": "trains on and returns a model whose weights are NaN",
    "b": "raises an error naming the step, before that step changes any weight",
    "c": "lowers the learning rate and carries on",
}
predict_nan_stop = register(
    Exercise(
        key="lesson05.predict_nan_stop",
        prompt=_prompt(
            "Predict, then run: nicelab.fit with a learning rate far too high (lr = 2) on the lesson's NICE.",
            NAN_OPTIONS,
        ),
        checker=multiple_choice(
            "b",
            NAN_OPTIONS,
            {
                "a": "that is what your ten-line loop does: it never looks at the loss; fit checks every "
                "loss before the update",
                "c": "fit never changes the schedule you asked for: it stops and says what to try",
            },
        ),
        hint_text="Read fit's docstring: `help(nicelab.fit)`, the Raises section.",
        solution_text="(b) FloatingPointError: 'loss became non-finite ... at step N; training stopped', "
        "raised before the update, so the model keeps its last finite weights.",
        reference=lambda: "b",
        wrong=["a", "c", ""],
    )
)

NO_SCALING_OPTIONS = {
    "a": "about the same gap as with scaling",
    "b": "a gap of at least log 16 - H ≈ 0.64 nats, however long it trains",
    "c": "a smaller gap: fewer parameters to fit",
}
predict_no_scaling = register(
    Exercise(
        key="lesson05.predict_no_scaling",
        prompt=_prompt(
            "Predict, then run: the 20-coupling NICE with its log-scales frozen at 0, trained on the eight "
            "Gaussians (entropy H ≈ 2.14 nats).",
            NO_SCALING_OPTIONS,
        ),
        checker=multiple_choice(
            "b",
            NO_SCALING_OPTIONS,
            {
                "a": "without scaling every layer has |det| = 1, so q(x) = p_Z(f(x)) <= max p_Z = 1/16: "
                "NLL >= log 16 whatever the couplings learn",
                "c": "fewer parameters cannot beat a bound: q(x) <= 1/16 everywhere, so NLL >= log 16",
            },
        ),
        hint_text="With all log-dets 0, q(x) = p_Z(f(x)). What is the largest value of the 2-D standard "
        "logistic density, (1/4)²?",
        solution_text="(b) q(x) = p_Z(f(x)) <= (1/4)² = 1/16, so NLL >= log 16 ≈ 2.77 nats and the gap "
        "NLL - H >= log 16 - H ≈ 0.64 nats.",
        reference=lambda: "b",
        wrong=["a", "c", "b c"],
    )
)

IDENTITY_OPTIONS = {
    "a": "it trains like the random start",
    "b": "its couplings never move: the gap stays near its step-0 value",
    "c": "it diverges to NaN",
}
predict_identity = register(
    Exercise(
        key="lesson05.predict_identity",
        prompt=_prompt(
            "Predict, then run: a NICE started at the identity (every coupling's last layer zeroed), trained "
            "on the mirror-symmetric eight Gaussians.",
            IDENTITY_OPTIONS,
        ),
        checker=multiple_choice(
            "b",
            IDENTITY_OPTIONS,
            {
                "a": "on mirror-symmetric data the couplings' gradient is exactly 0 at the identity "
                "(E[tanh(z_1/2) | x_2] = 0), so only the scaling layer can learn",
                "c": "nothing blows up: the gradient is 0, so nothing moves at all",
            },
        ),
        hint_text="The gradient with respect to a coupling's output is E[tanh(z_1 / 2) | x_2]. What is it "
        "when x_1 - μ_1 and -(x_1 - μ_1) are equally likely?",
        solution_text="(b) Stuck: the identity is a stationary point of the likelihood on symmetric data "
        "(only the log-scales move, and they already start where init_from_data put them).",
        reference=lambda: "b",
        wrong=["a", "c"],
    )
)


# --- build: the maximum-likelihood loop ------------------------------------------------------------

#: the check's budget: a small NICE on "moons", trained by your loop and by nicelab.fit with the same steps,
#: batch size and learning rate, from the same initial weights and the same stream of batches
LOOP_DATASET = "moons"
LOOP_MODEL: dict[str, Any] = {"n_couplings": 4, "hidden": 32, "depth": 2, "prior": "logistic"}
LOOP_STEPS, LOOP_BATCH, LOOP_LR, LOOP_SEED = 100, 256, 5e-3, 0
#: fresh samples for each KL gap (the same ones for every model: the gaps are paired)
LOOP_EVAL_N = 20_000
#: your loop passes when its KL gap is at most this many nats above fit's (different seeds of the same
#: loop differ by about 0.05 nats at this budget; a real mistake costs several tenths)
LOOP_MARGIN = 0.1
#: stored gradients this many times larger than one batch's gradient mean they accumulated over steps
ACCUMULATION_RATIO = 4.0


def reference_loop(
    model: torch.nn.Module,
    sample: Callable[[int], torch.Tensor],
    steps: int,
    lr: float,
    batch_size: int = 256,
) -> list[float]:
    """Maximum likelihood: ``steps`` Adam steps on ``-mean_i log q(x_i)``, a fresh batch each step.

    Returns the per-step losses (the batch's mean negative log-likelihood in nats, before its update).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        x = sample(batch_size)  # a fresh batch: no epochs, no overfitting
        loss = -model.log_prob(x).mean()  # mean NLL in nats per sample
        optimizer.zero_grad()  # else this step's gradient adds to the last one's
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _loop_with(
    objective: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor],
    *,
    zero_grad: bool = True,
    step: bool = True,
    optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
) -> Callable[..., list[float]]:
    """A loop like :func:`reference_loop` with one typical mistake (the tests' wrong answers)."""

    def loop(
        model: torch.nn.Module,
        sample: Callable[[int], torch.Tensor],
        steps: int,
        lr: float,
        batch_size: int = 256,
    ) -> list[float]:
        opt = optimizer(model.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            loss = objective(model, sample(batch_size))
            if zero_grad:
                opt.zero_grad()
            loss.backward()
            if step:
                opt.step()
            losses.append(loss.item())
        return losses

    return loop


def _mean_nll(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return -model.log_prob(x).mean()


def _loop_does_nothing(
    model: torch.nn.Module,
    sample: Callable[[int], torch.Tensor],
    steps: int,
    lr: float,
    batch_size: int = 256,
) -> None: ...  # the skeleton with its body not written yet


#: typical wrong loops, each with the words its diagnosis must contain (tests/test_build_exercises_05_07.py)
WRONG_LOOPS: dict[str, tuple[Callable[..., Any], str]] = {
    "no zero_grad": (_loop_with(_mean_nll, zero_grad=False), "zero_grad"),
    "maximised": (_loop_with(lambda m, x: m.log_prob(x).mean()), "maximis"),
    "sum, not mean": (_loop_with(lambda m, x: -m.log_prob(x).sum()), "sum"),
    "sum with SGD": (_loop_with(lambda m, x: -m.log_prob(x).sum(), optimizer=torch.optim.SGD), "sum"),
    "no optimizer.step": (_loop_with(_mean_nll, step=False), "optimizer.step"),
    "plain SGD": (_loop_with(_mean_nll, optimizer=torch.optim.SGD), "Adam"),
    "body not written": (_loop_does_nothing, "did nothing"),
}


@dataclass(frozen=True)
class LoopComparison:
    """Your loop against :func:`nicelab.fit` on the same budget (see :func:`compare_with_fit`).

    Gaps are ``KL(p_data || q)`` in nats on the same :data:`LOOP_EVAL_N` fresh samples; ``se`` is the
    largest standard error of the three. ``losses`` is what the loop returned, ``first_nll`` the untrained
    model's mean NLL on the first batch (your first loss should equal it), ``grad_ratio`` the size of the
    gradients left in the model after your loop over one fresh batch's gradient, ``changed`` whether any
    weight moved and ``finite`` whether every weight is still finite.
    """

    untrained: float
    mine: float
    fit: float
    se: float
    losses: Any
    first_nll: float
    grad_ratio: float
    changed: bool
    finite: bool

    def __str__(self) -> str:
        return (
            f"{LOOP_STEPS} steps, batch {LOOP_BATCH}, lr {LOOP_LR:g}, constant lr, no warm-up; "
            "KL gap (nats): "
            f"untrained {self.untrained:.3f}, your loop {self.mine:.3f}, nicelab.fit {self.fit:.3f} "
            f"(± {self.se:.3f} each)"
        )


def loop_model() -> NICE:
    """The check's untrained NICE (:data:`LOOP_MODEL`), initialised from data; the global RNG is untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(LOOP_SEED)
        model = NICE(2, **LOOP_MODEL)
    x_init = datasets.get(LOOP_DATASET).sample(4096, torch.Generator().manual_seed(LOOP_SEED + 1))
    return model.init_from_data(x_init)


def _gap(model: torch.nn.Module) -> tuple[float, float]:
    with torch.no_grad():
        gen = torch.Generator().manual_seed(LOOP_SEED + 2)
        return datasets.kl_gap(model, LOOP_DATASET, n=LOOP_EVAL_N, generator=gen)


def _sampler() -> Callable[[int], torch.Tensor]:
    """Fresh batches from the stream ``nicelab.fit(seed=LOOP_SEED)`` draws: both runs see the same data."""
    generator = torch.Generator().manual_seed(LOOP_SEED)
    dataset = datasets.get(LOOP_DATASET)
    return lambda n: dataset.sample(n, generator)


@functools.cache
def _fit_gap() -> tuple[float, float, float]:
    """(untrained gap, fit's gap, the larger standard error): computed once per process."""
    model = loop_model()
    untrained = _gap(model)
    data = datasets.get(LOOP_DATASET).sample
    nicelab.fit(
        model, data, steps=LOOP_STEPS, batch_size=LOOP_BATCH, lr=LOOP_LR, seed=LOOP_SEED, progress=False
    )
    trained = _gap(model)
    return untrained[0], trained[0], max(untrained[1], trained[1])


def _grad_norm(model: torch.nn.Module) -> float:
    return math.sqrt(
        sum(float(p.grad.double().pow(2).sum()) for p in model.parameters() if p.grad is not None)
    )


def compare_with_fit(loop: Callable[..., Any]) -> LoopComparison:
    """Train :func:`loop_model` with ``loop(model, sample, steps, lr, batch_size)`` and with ``nicelab.fit``.

    Both get :data:`LOOP_STEPS` steps of :data:`LOOP_BATCH` fresh samples at ``lr = LOOP_LR`` (constant, no
    warm-up: fit's extras off, so the two differ only in what the loop does), from the same initial weights
    and the same batches. Raises ``ValueError`` if ``loop`` is not callable.
    """
    if not callable(loop):
        raise ValueError(f"loop must be a function loop(model, sample, steps, lr, batch_size), got {loop!r}")
    untrained, fit_gap, fit_se = _fit_gap()
    model = loop_model()
    before = [p.detach().clone() for p in model.parameters()]
    first = datasets.get(LOOP_DATASET).sample(LOOP_BATCH, torch.Generator().manual_seed(LOOP_SEED))
    with torch.no_grad():
        first_nll = float(-model.log_prob(first).mean())
    losses = loop(model, _sampler(), LOOP_STEPS, LOOP_LR, LOOP_BATCH)
    params = list(model.parameters())
    changed = any(not torch.equal(p.detach(), b) for p, b in zip(params, before, strict=True))
    finite = all(bool(torch.isfinite(p).all()) for p in params)
    stored = _grad_norm(model)
    probe = copy.deepcopy(model)
    probe.zero_grad(set_to_none=True)
    if finite:
        _mean_nll(
            probe, datasets.get(LOOP_DATASET).sample(LOOP_BATCH, torch.Generator().manual_seed(7))
        ).backward()
    fresh = _grad_norm(probe)
    mine, mine_se = _gap(model) if finite else (math.nan, math.nan)
    ratio = stored / fresh if fresh > 0 else math.inf
    return LoopComparison(
        untrained, mine, fit_gap, max(fit_se, mine_se), losses, first_nll, ratio, changed, finite
    )


def _as_losses(losses: Any) -> list[float] | None:
    """The loop's returned losses as floats, or None if it did not return ``steps`` numbers."""
    if not isinstance(losses, Sequence) or isinstance(losses, str) or len(losses) != LOOP_STEPS:
        return None
    try:
        return [float(v) for v in losses]
    except (TypeError, ValueError, RuntimeError):
        return None


def _first_loss_problem(first: float, nll: float) -> str | None:
    """What the first returned loss says about the objective (it should be the batch's mean NLL)."""
    b = LOOP_BATCH
    for factor, problem in (
        (-1.0, "your loss is +mean log q: that maximises the NLL (minimise loss = -log_prob(x).mean())"),
        (float(b), f"your loss is {b}x the mean NLL: log_prob(x).sum() instead of .mean()"),
        (-float(b), "your loss is +log_prob(x).sum(): the wrong sign (maximising), and a sum, not a mean"),
    ):
        if math.isclose(first, factor * nll, rel_tol=1e-3):
            return problem + SUM_NOTE * (abs(factor) == b)
    if not math.isclose(first, nll, rel_tol=1e-3):
        return (
            f"your first loss {first:.4g} is not the first batch's mean NLL {nll:.4g}: draw x = "
            "sample(batch_size) once per step and use loss = -model.log_prob(x).mean()"
        )
    return None


SUM_NOTE = (
    ". A sum makes every gradient batch_size times larger: Adam divides that scale out, but plain SGD takes "
    "a step batch_size times too long (an lr that is effectively huge, and NaN soon after), and the loss "
    "is no longer in nats per sample"
)


def _check_loop(loop: Any) -> str | None:
    if not callable(loop):
        return "answer with your function my_fit (the function itself, not a call to it)"
    result = compare_with_fit(loop)
    losses = _as_losses(result.losses)
    if result.losses is None and not result.changed:
        return "my_fit did nothing yet (it changed no weight and returned None): write its body"
    if not result.changed:
        return (
            "no weight changed: call optimizer.step() after loss.backward(), with the optimizer built "
            "over model.parameters()"
        )
    if losses is None:
        return f"my_fit must return the list of its {LOOP_STEPS} per-step losses (loss.item() at each step)"
    problem = _first_loss_problem(losses[0], result.first_nll)
    if problem is not None:
        return problem
    if not result.finite or not all(math.isfinite(v) for v in losses):
        return "training diverged (NaN or inf): use lr as given and the mean, not the sum, of the NLL"
    if result.grad_ratio > ACCUMULATION_RATIO:
        return (
            f"the gradients left in the model are {result.grad_ratio:.0f}x one batch's gradient: they "
            "accumulated over the steps. Call optimizer.zero_grad() before every loss.backward()"
        )
    if result.mine > result.untrained:
        return (
            f"the KL gap grew ({result.untrained:.3f} -> {result.mine:.3f} nats): are you maximising the NLL?"
        )
    if result.mine > result.fit + LOOP_MARGIN:
        return (
            f"your gap {result.mine:.3f} nats is more than {LOOP_MARGIN} above fit's {result.fit:.3f} on the "
            f"same budget: use torch.optim.Adam(model.parameters(), lr=lr) and one fresh batch per step"
        )
    return None


fit_loop = register(
    Exercise(
        key="lesson05.fit_loop",
        prompt=(
            "Write my_fit(model, sample, steps, lr, batch_size=256): for each of `steps` steps draw a "
            "fresh batch x = sample(batch_size), take loss = the batch's mean negative log-likelihood, and "
            "update the model with Adam at learning rate lr; return the list of per-step losses (floats). "
            f"The check trains a small NICE on {LOOP_DATASET!r} with your loop and with nicelab.fit "
            f"({LOOP_STEPS} steps, batch {LOOP_BATCH}, lr {LOOP_LR:g}, constant lr, no warm-up, the same "
            f"batches) and wants your KL gap within {LOOP_MARGIN} nats of fit's."
        ),
        checker=_check_loop,
        hint_text=(
            "optimizer = torch.optim.Adam(model.parameters(), lr=lr) once, before the loop. In the loop: "
            "x = sample(batch_size); loss = -model.log_prob(x).mean(); optimizer.zero_grad(); "
            "loss.backward(); optimizer.step(); losses.append(loss.item())."
        ),
        solution_text=inspect.getsource(reference_loop),
        reference=lambda: reference_loop,
        wrong=[loop for loop, _ in WRONG_LOOPS.values()] + ["my_fit", 3],
    )
)
