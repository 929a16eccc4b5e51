"""Lesson 00 exercise: predict, then run: does an untrained NICE's density integrate to 1?"""

from __future__ import annotations

from nicelab.exercises import Exercise, register
from nicelab.exercises._choice import choice

q1 = register(
    Exercise(
        key="lesson00.untrained_mass",
        prompt=(
            "Predict before you run: a NICE with random, untrained weights on 2-D data. Sum its density "
            "p(x) over a fine grid that covers almost all of its mass. The sum is ...\n"
            "  (a) about 1\n"
            "  (b) some random number: nothing has been fitted yet\n"
            "  (c) about 0: an untrained model has learned no density\n"
            "  (d) more than 1: every layer adds its log-determinant\n"
            "Answer with a letter."
        ),
        checker=choice(
            "a",
            {"a": "about 1", "b": "random", "c": "about 0", "d": "more than 1"},
            {
                "b": "training changes which density, not whether it is one: any invertible map pushes the "
                "prior's total mass of 1 forward unchanged",
                "c": "p(x) = p_Z(f(x))·|det ∂f/∂x| is a density for any weights, so its mass is 1",
                "d": "the log-determinant corrects for the volume the map stretches or squeezes, so the mass "
                "stays exactly that of the prior, 1",
            },
        ),
        hint_text=(
            "log p(x) = log p_Z(f(x)) + log|det ∂f/∂x| holds for any invertible f, trained or not. "
            "What is the total mass of p_Z?"
        ),
        solution_text=(
            "(a) about 1. Change of variables makes p(x) a density for every invertible f: the probability "
            "of a region of x-space is the prior's probability of its image in z-space, so the total is the "
            "prior's, 1. Training only moves the mass around. (The grid sum is a little under 1 when the "
            "grid misses some of the tails.)"
        ),
        reference=lambda: "a",
        wrong=["b", "c", "d", "e", 1.0],
    )
)

__all__ = ["q1"]
