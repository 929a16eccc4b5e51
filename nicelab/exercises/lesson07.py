"""Lesson 07 exercises: the importance-sampled log-likelihood (build and numeric), the ELBO / IS / exact
ordering (prediction), which bound a KL estimate is, and modes."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from nicelab import datasets
from nicelab.baselines import VAE, mode_coverage
from nicelab.exercises import Exercise, numeric, register, sig_tolerance
from nicelab.exercises._choice import render_options
from nicelab.exercises.lesson05 import multiple_choice

#: log importance weights of one data point under a VAE (K = 6). They are so negative that
#: exp() underflows to 0 in float64, so the estimate must be computed in log space.
LOG_W = torch.tensor([-801.2, -799.7, -803.4, -800.1, -805.0, -799.9], dtype=torch.float64)


def _logmeanexp(log_w: torch.Tensor) -> float:
    return float(torch.logsumexp(log_w, dim=0) - math.log(log_w.numel()))


LOG_P_HAT = _logmeanexp(LOG_W)

q1 = register(
    Exercise(
        key="lesson07.logmeanexp",
        prompt=(
            "LOG_W holds K = 6 log importance weights log p(x|z_k) + log p(z_k) - log q(z_k|x) for one x. "
            "Compute the importance-sampled estimate log p̂(x) = log( (1/K) Σ_k exp(LOG_W[k]) ) as a number."
        ),
        # Three significant figures of -800.48 is -800: the tolerance is 0.5 nats. A relative "close" band
        # (1 % = 8 nats) would call a slip of several nats close, so the band is the tolerance itself, and
        # every listed mistake lies more than 0.5 nats away.
        checker=numeric(
            LOG_P_HAT,
            [
                (
                    float(LOG_W.mean()),
                    "that is the mean of the log-weights (the ELBO-style average); "
                    "the estimate is the log of the mean of the weights",
                ),
                (float(torch.logsumexp(LOG_W, 0)), "the 1/K is missing: subtract log 6"),
                (float(LOG_W.max()), "that is the largest weight alone; the other five add to the mean"),
                (LOG_P_HAT - float(LOG_W.max()), "you subtracted the largest weight but did not add it back"),
                (
                    -math.inf,
                    "exp(-800) underflows to 0; subtract the largest weight first, or use torch.logsumexp",
                ),
            ],
            close=sig_tolerance(LOG_P_HAT),
        ),
        hint_text=(
            "exp(-800) is 0 in floating point, so torch.log(torch.exp(LOG_W).mean()) gives -inf. "
            "Subtract the largest weight first (or use torch.logsumexp), then remember the 1/K."
        ),
        solution_text=(
            f"torch.logsumexp(LOG_W, dim=0) - math.log(len(LOG_W))   # ≈ {LOG_P_HAT:.2f}\n"
            f"It is above LOG_W.mean() (≈ {float(LOG_W.mean()):.2f}, the ELBO-style average): "
            "log of a mean >= mean of logs."
        ),
        reference=lambda: LOG_P_HAT,
    )
)


def _check_bound(answer: Any) -> str | None:
    if not isinstance(answer, str):
        return "answer with one of the strings 'upper', 'lower' or 'exact'"
    word = answer.strip().lower()
    if word not in ("upper", "lower", "exact"):
        return "answer with one of the strings 'upper', 'lower' or 'exact'"
    if word != "upper":
        return (
            "think about the sign: KL = E_p[log p_data(x)] - E_p[log q(x)], and the VAE's log q is "
            "under-estimated by importance sampling"
        )
    return None


q2 = register(
    Exercise(
        key="lesson07.kl_bound",
        prompt=(
            "We estimate the VAE's KL gap KL(p_data || q) = E[log p_data(x) - log q(x)] with the "
            "importance-sampled log q̂_K(x) in place of log q(x). Is the result (in expectation) an "
            "'upper' bound, a 'lower' bound, or 'exact'?"
        ),
        checker=_check_bound,
        hint_text=(
            "E[log q̂_K(x)] <= log q(x) for every K. Where does log q enter the KL, and with which sign?"
        ),
        solution_text=(
            "'upper'. log q̂_K is a lower bound on log q in expectation, and it enters the KL with a minus "
            "sign, so the estimated gap is too large, by E[log q - log q̂_K] (which shrinks as K grows). "
            "The flow's KL gap has no such bias: its log q is exact."
        ),
        reference=lambda: "upper",
        wrong=["lower", "exact", 1.0],
    )
)

#: samples per mode of a generator on eight_gaussians (4,000 samples drawn; the rest landed off-mode)
COUNTS = [1210, 890, 0, 7, 1102, 233, 36, 401]
#: the eight centres and the mode std of nicelab.datasets' "eight_gaussians"
CENTRES = torch.stack(
    [2.0 * torch.tensor([math.cos(a), math.sin(a)]) for a in (2 * math.pi * k / 8 for k in range(8))]
)
STD = 0.25


def covered_from_counts(counts: list[int], n: int = 4000, min_share: float = 0.25) -> int:
    """Modes holding at least ``min_share · n / 8`` samples (the rule of ``mode_coverage``)."""
    return sum(c >= min_share * n / len(counts) for c in counts)


def _reference_modes() -> int:
    # rebuild a sample with exactly COUNTS near each centre and ask mode_coverage
    parts = [CENTRES[k].expand(c, 2) for k, c in enumerate(COUNTS) if c]
    off = torch.zeros(4000 - sum(COUNTS), 2)  # the origin is > 3 std from every centre
    return mode_coverage(torch.cat([*parts, off]), CENTRES, STD).n_covered


_FAIR_SHARE = 4000 / len(COUNTS)
_THRESHOLD = 0.25 * _FAIR_SHARE

#: typical miscounts: what each gives, and what to tell the learner
_MODE_MISTAKES = {
    sum(c > 0 for c in COUNTS): "a mode with a handful of samples is not covered: compare each count with "
    "0.25 · 4000 / 8",
    covered_from_counts(COUNTS, min_share=1.0): "that compares each count with the whole fair share "
    "4000 / 8; the rule asks for a quarter of it",
    covered_from_counts(COUNTS, min_share=8 * 0.25): "that compares each count with a quarter of all 4000 "
    "samples; the rule uses a quarter of the fair share 4000 / 8",
}


def _check_modes(answer: Any) -> str | None:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer != int(answer):
        return "answer with a whole number of modes"
    if int(answer) == _reference_modes():
        return None
    if int(answer) in _MODE_MISTAKES:
        return f"{int(answer)} is not right: {_MODE_MISTAKES[int(answer)]}"
    return f"{int(answer)} is not right; a mode needs at least 0.25 · 4000 / 8 = 125 samples"


q3 = register(
    Exercise(
        key="lesson07.modes",
        prompt=(
            "A GAN drew 4,000 samples on eight_gaussians; COUNTS gives how many landed within 3 std of each "
            "centre. With mode_coverage's rule (covered = at least 0.25 of the fair share 4000 / 8), how "
            "many of the 8 modes are covered?"
        ),
        checker=_check_modes,
        hint_text="The fair share is 4000 / 8 = 500 samples per mode; a quarter of it is the threshold.",
        solution_text=(
            f"Threshold 0.25 · {_FAIR_SHARE:g} = {_THRESHOLD:g}: the counts "
            f"{', '.join(str(c) for c in COUNTS if c >= _THRESHOLD)} pass, "
            f"{', '.join(str(c) for c in COUNTS if c < _THRESHOLD)} do not, "
            f"so {covered_from_counts(COUNTS)} modes are covered.\n"
            f"In code: sum(c >= {_THRESHOLD:g} for c in COUNTS)"
        ),
        reference=lambda: covered_from_counts(COUNTS),
        wrong=[*_MODE_MISTAKES, 8, 4, 6, 2.5],
    )
)


# --- prediction: the ladder ELBO, IS estimate, exact ------------------------------------------------

LADDER_OPTIONS = {
    "a": "ELBO < IS estimate (K = 256) < exact log p",
    "b": "IS estimate (K = 256) < ELBO < exact log p",
    "c": "ELBO < exact log p < IS estimate (K = 256)",
    "d": "all three equal: they estimate the same log p(x)",
}
predict_ladder = register(
    Exercise(
        key="lesson07.predict_ladder",
        prompt=(
            "Predict, then run: averaged over test points, how do the VAE's ELBO, its importance-sampled "
            "estimate log p̂_K and its exact log p(x) (by quadrature) compare? "
            + render_options(LADDER_OPTIONS, inline=True)
        ),
        checker=multiple_choice(
            "a",
            LADDER_OPTIONS,
            {
                "b": "the IS estimate with K = 1 is the ELBO, and E[log p̂_K] only grows with K",
                "c": "E[log p̂_K] <= log p(x) for every K (Jensen: the log of an unbiased estimate of p(x))",
                "d": "the ELBO is below log p(x) by KL(q(z|x) || p(z|x)), which is > 0 unless q is the exact "
                "posterior",
            },
        ),
        hint_text="Jensen: E[log w] <= log E[w] = log p(x). The ELBO is the K = 1 case of log p̂_K.",
        solution_text="(a) ELBO = E[log p̂_1] <= E[log p̂_K] <= log p(x): a bound, a tighter estimate "
        "(biased low), the exact value.",
        reference=lambda: "a",
        wrong=["b", "c", "d", 1],
    )
)


# --- build: the importance-weighted estimate from the log-weights ----------------------------------

#: the check's VAE (2-D data, 2-D latent) and its inputs: typical points, and points so far from the data
#: that every weight exp(log w) underflows to 0 in float32 (log w is about -10^4 there)
IW_K, IW_SEED, IW_N = 32, 0, 64
IW_FAR = torch.tensor([[40.0, 40.0], [-35.0, 20.0], [25.0, -45.0]])
#: an estimate whose mean over the typical points is this close to nicelab's used other draws of z_k
DRAWS_MEAN_TOL = 0.25


def reference_log_likelihood(vae: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """``log p̂_K(x) = log (1/K) Σ_k exp(log w_k)``, one value per row of ``x``, computed in log space.

    ``vae.log_weights`` gives ``log w`` of shape ``(K, batch)``; ``logsumexp`` subtracts the largest weight
    before exponentiating, so weights far below ``exp(-100)`` do not underflow to ``log 0 = -inf``.
    """
    log_w = vae.log_weights(x, k, generator=generator)  # (K, batch)
    return torch.logsumexp(log_w, dim=0) - math.log(k)


def _iw_vae() -> VAE:
    with torch.random.fork_rng():
        torch.manual_seed(IW_SEED)
        return VAE(2, latent_dim=2, hidden=16, depth=2, decoder_std=0.3).eval()


def _iw_inputs() -> Tensor:
    typical = datasets.get("eight_gaussians").sample(IW_N, torch.Generator().manual_seed(IW_SEED + 1))
    return torch.cat([typical, IW_FAR])


def _estimates(answer: Callable[..., Any]) -> tuple[Tensor, Tensor, Tensor, Any]:
    """(log_w, nicelab's estimate, the ELBO-style mean of logs, the answer's output), same draws."""
    vae, x = _iw_vae(), _iw_inputs()
    with torch.no_grad():
        log_w = vae.log_weights(x, IW_K, generator=torch.Generator().manual_seed(IW_SEED + 2))
        expected = vae.log_likelihood(x, IW_K, generator=torch.Generator().manual_seed(IW_SEED + 2))
        mine = answer(vae, x, IW_K, torch.Generator().manual_seed(IW_SEED + 2))
    return log_w, expected, log_w.mean(0), mine


def _check_log_likelihood(answer: Any) -> str | None:
    if not callable(answer):
        return "answer with your function my_log_likelihood (the function itself)"
    log_w, expected, mean_of_logs, mine = _estimates(answer)
    if mine is None or mine is Ellipsis:
        return "my_log_likelihood returned nothing yet: write its body"
    if not isinstance(mine, Tensor):
        return f"return a tensor of shape (batch,), got {type(mine).__name__}"
    n = len(expected)
    if mine.shape != expected.shape:
        if tuple(mine.shape) == (IW_K,):
            return "you reduced over the batch (dim 1); log_w has shape (K, batch): reduce over dim 0"
        return f"return one value per data point, shape ({n},): log_w is (K, batch), reduce over dim 0"
    mine = mine.detach().double()
    typical, far = slice(0, IW_N), slice(IW_N, n)
    if torch.allclose(mine, expected.double(), atol=1e-4, rtol=0):
        return None
    if torch.allclose(mine[typical], mean_of_logs.double()[typical], atol=1e-4, rtol=0):
        return "that is the mean of the log-weights: the ELBO (a lower bound). Take the log of the mean of w"
    if torch.allclose(mine[typical], expected.double()[typical] + math.log(IW_K), atol=1e-4, rtol=0):
        return f"every value is log K = log {IW_K} too high: the 1/K is missing (subtract math.log(k))"
    if torch.allclose(mine[typical], expected.double()[typical], atol=1e-4, rtol=0):
        return (
            "right on typical points, but far from the data you get "
            f"{mine[far].min().item():.4g}: exp(log w) underflows to 0 there. Work in log space: "
            "torch.logsumexp(log_w, dim=0) subtracts the largest log-weight before exponentiating"
        )
    # other draws of z_k: each point's estimate moves by its Monte-Carlo noise, their mean barely does
    if abs((mine[typical] - expected.double()[typical]).mean()) < DRAWS_MEAN_TOL:
        return (
            "close, but not the same draws: pass generator=generator to vae.log_weights so your z_k are the "
            "check's"
        )
    off = (mine[typical] - expected.double()[typical]).abs().mean().item()
    return f"your values differ from VAE.log_likelihood by {off:.3g} nats on average"


def _mean_of_logs(vae: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    return vae.log_weights(x, k, generator=generator).mean(0)


def _no_one_over_k(vae: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    return torch.logsumexp(vae.log_weights(x, k, generator=generator), dim=0)


def _underflows(vae: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    return vae.log_weights(x, k, generator=generator).exp().mean(0).log()


def _other_draws(vae: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    return reference_log_likelihood(vae, x, k, torch.Generator().manual_seed(12345))


def _over_batch(vae: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    return torch.logsumexp(vae.log_weights(x, k, generator=generator), dim=1) - math.log(x.shape[0])


#: typical wrong estimates, each with words its diagnosis must contain (tests/test_build_exercises_05_07.py)
WRONG_ESTIMATES: dict[str, tuple[Callable[..., Any], str]] = {
    "mean of logs (the ELBO)": (_mean_of_logs, "ELBO"),
    "1/K missing": (_no_one_over_k, "1/K"),
    "no logsumexp (underflow)": (_underflows, "underflow"),
    "other draws": (_other_draws, "generator"),
    "over the batch axis": (_over_batch, "dim 0"),
    "body not written": (lambda vae, x, k, generator: None, "nothing yet"),
}

iw_estimate = register(
    Exercise(
        key="lesson07.iw_estimate",
        prompt=(
            "Write my_log_likelihood(vae, x, k, generator): draw log_w = vae.log_weights(x, k, "
            "generator=generator), shape (K, batch), and return log p̂_K(x) = log((1/K) Σ_k exp(log_w[k])) "
            "for each data point, shape (batch,). The check compares it with VAE.log_likelihood on the same "
            "draws, on typical points and on points far from the data (where exp(log_w) is 0 in floating "
            "point)."
        ),
        checker=_check_log_likelihood,
        hint_text="Work in log space: torch.logsumexp(log_w, dim=0) is log Σ_k exp(log_w[k]) without "
        "underflow. Then the 1/K.",
        solution_text=inspect.getsource(reference_log_likelihood),
        reference=lambda: reference_log_likelihood,
        wrong=[f for f, _ in WRONG_ESTIMATES.values()] + ["logsumexp"],
    )
)
