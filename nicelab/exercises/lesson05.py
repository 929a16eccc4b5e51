"""Lesson 05 exercises: toy entropies, the KL gap, NICE's log-det, the identity start, the one peak."""

from __future__ import annotations

import math

from nicelab.exercises import Exercise, numeric, register

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
