"""Lesson 07 exercises: the importance-sampled log-likelihood, which bound a KL estimate is, and modes."""

from __future__ import annotations

import math
from typing import Any

import torch

from nicelab.baselines import mode_coverage
from nicelab.exercises import Exercise, numeric, register, sig_tolerance

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
