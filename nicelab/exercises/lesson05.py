"""Lesson 05 exercises: toy entropies, the KL gap, NICE's log-det, the identity start, the one peak."""

from __future__ import annotations

import math

from nicelab.exercises import Exercise, close_to, register

q1 = register(
    Exercise(
        key="lesson05.checkerboard_entropy",
        prompt="The checkerboard is uniform on 8 unit squares. What is its entropy H(p) in nats?",
        checker=close_to(math.log(8.0), rtol=1e-3),
        hint_text="A uniform density on a region of area A equals 1/A there; H = -E[log p].",
        solution_text="p = 1/8 on its support (total area 8), so H = -log(1/8) = log 8 ≈ 2.079 nats.",
        reference=lambda: math.log(8.0),
        wrong=[8.0, -math.log(8.0), math.log(16.0), 3.0],
    )
)

q2 = register(
    Exercise(
        key="lesson05.kl_from_nll",
        prompt=(
            "A model's NLL on fresh samples is 2.310 nats; the data's true entropy is 2.136 nats. "
            "What is KL(p_data || q_model) in nats?"
        ),
        checker=close_to(2.310 - 2.136, rtol=1e-3, atol=1e-4),
        hint_text="KL(p||q) = E_p[log p - log q] = (-E_p log q) - (-E_p log p).",
        solution_text="KL = NLL - H = 2.310 - 2.136 = 0.174 nats (never negative: NLL >= H).",
        reference=lambda: 2.310 - 2.136,
        wrong=[2.136 - 2.310, 2.310 + 2.136, 2.310, 2.310 / 2.136],
    )
)

q3 = register(
    Exercise(
        key="lesson05.nice_log_det",
        prompt=(
            "A 2-D NICE has 6 additive couplings and log-scales s = (0.8, -1.9). What is "
            "log|det dz/dx| (data -> latent) at x = (1, 1)? And at any other x?"
        ),
        checker=close_to(0.8 - 1.9, rtol=1e-3, atol=1e-6),
        hint_text="Each additive coupling has log-det exactly 0; the scaling z = exp(s) * h adds its own.",
        solution_text="0 + … + 0 + (0.8 + (-1.9)) = -1.1 at every x: NICE's log-det is a constant, Σ s.",
        reference=lambda: 0.8 - 1.9,
        wrong=[1.1, 0.0, 6 * (0.8 - 1.9), math.exp(0.8) * math.exp(-1.9)],
    )
)

q4 = register(
    Exercise(
        key="lesson05.mixture_entropy",
        prompt=(
            "eight_gaussians is an equal mixture of 8 well-separated N(μ_k, σ² I) with σ = 0.25 in 2-D. "
            "Approximate its entropy in nats, in closed form (ignore the overlap)."
        ),
        # the exact value (Monte-Carlo, overlap included) is 2.136 ± 0.002: within atol of the formula
        checker=close_to(math.log(8) + math.log(2 * math.pi * math.e * 0.25**2), rtol=0.0, atol=0.015),
        hint_text="Which component a sample came from is (almost) known from x; a 2-D N(μ, σ² I) has "
        "entropy log(2πeσ²).",
        solution_text="H ≈ log 8 + log(2πe·0.25²) = 2.079 + 0.066 = 2.145 nats "
        "(the overlap lowers it slightly: the Monte-Carlo value is 2.136).",
        reference=lambda: math.log(8) + math.log(2 * math.pi * math.e * 0.25**2),
        wrong=[
            math.log(2 * math.pi * math.e * 0.25**2),
            math.log(8),
            8 * math.log(2 * math.pi * math.e * 0.0625),
        ],
    )
)

q5 = register(
    Exercise(
        key="lesson05.identity_gradient",
        prompt=(
            "A 2-D NICE with a logistic prior starts at the identity (every coupling's last layer is 0) "
            "and e^{s_1} = 1. At some x_2 the centred x_1 - μ_1 is +1 with probability 0.75 and -1 with "
            "probability 0.25. What is the expected gradient dNLL/dm of the coupling that adds m(x_2) to "
            "x_1 there? (Use ψ(z) = d/dz log p_Z(z) = -tanh(z/2).) What would it be with 0.5 / 0.5?"
        ),
        checker=close_to(0.5 * math.tanh(0.5), rtol=1e-3, atol=1e-6),
        hint_text="z_1 = x_1 - μ_1 + m, so per sample dNLL/dm = -ψ(z_1) = tanh(z_1 / 2) at m = 0; "
        "average it over the two cases.",
        solution_text="0.75·tanh(1/2) + 0.25·tanh(-1/2) = 0.5·tanh(0.5) ≈ 0.231. With 0.5 / 0.5 the two "
        "terms cancel (tanh is odd): the gradient is exactly 0, which is why the identity start is stuck "
        "on the mirror-symmetric eight Gaussians.",
        reference=lambda: 0.5 * math.tanh(0.5),
        wrong=[0.0, -0.5 * math.tanh(0.5), math.tanh(0.5), 0.5 * math.tanh(1.0), 0.5],
    )
)

q6 = register(
    Exercise(
        key="lesson05.peak_height",
        prompt=(
            "A 2-D NICE with the standard logistic prior has log-scales s = (0.4, -0.7). What is the highest "
            "value its log-density log q(x) takes anywhere, in nats? (Where does the model put its peak?)"
        ),
        checker=close_to(2 * math.log(0.25) + 0.4 - 0.7, rtol=1e-3, atol=1e-6),
        hint_text="log q(x) = log p_Z(f(x)) + Σ s, and f is a bijection onto the whole plane: the largest "
        "value is the prior's largest, at z = 0. The standard logistic density at 0 is 1/4.",
        solution_text="max log q = 2·log(1/4) + (0.4 - 0.7) = -2.773 - 0.3 ≈ -3.073 nats, reached at exactly "
        "one point, x* = f^{-1}(0): a NICE density has one peak however many modes the data have.",
        reference=lambda: 2 * math.log(0.25) + 0.4 - 0.7,
        wrong=[
            2 * math.log(0.25),
            math.log(0.25) + 0.4 - 0.7,
            2 * math.log(0.25) - 0.4 + 0.7,
            -math.log(2 * math.pi) + 0.4 - 0.7,
        ],
    )
)
