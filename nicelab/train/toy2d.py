"""The 2-D recipes: one call trains a NICE, an affine or a spline coupling flow on any 2-D density.

``fit_toy2d(dataset, coupling)`` builds the recipe's flow, initialises it from samples (shift = data mean,
scales matched to the prior), and trains it by maximum likelihood with :func:`nicelab.fit` on fresh samples
``dataset.sample(batch)`` every step, for a number of steps or a budget of CPU seconds. The three recipes
(:data:`RECIPES`) are measured by ``benchmarks/toy2d.py`` (KL gaps on the six built-in datasets).

All three are coupling flows ``x -> Shift -> c_1 … c_K -> Scaling -> z`` with
``log q(x) = log p_prior(z) + Σ_k log|det ∂c_k| + Σ_i s_i``; only the couplings' log-det differs:
0 for ``"additive"`` (NICE: q has a single peak), ``Σ s(x_keep)`` for ``"affine"`` and
``Σ log g'(x_change)`` for ``"spline"``.

Lesson 05 builds the "additive" recipe by hand, from :data:`NICE_2D` and :data:`FIT_2D` (the recipe's own
dicts; ``nicelab.datasets.NICE_2D`` etc. are the same objects)::

    model = nice_for(dataset)                                    # NICE(2, **NICE_2D), init from data
    nicelab.fit(model, dataset.sample, steps=..., **FIT_2D)      # fresh samples every step
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Protocol

import torch
from torch import Tensor

from nicelab._checks import check_batch, check_positive_int
from nicelab.datasets import Toy2D
from nicelab.datasets import get as get_dataset
from nicelab.flows import CouplingFlow
from nicelab.nice import NICE
from nicelab.spline import SplineFlow
from nicelab.train import fit  # nicelab.train imports this module after defining fit

#: samples drawn once to initialise the shift and the scaling
N_INIT = 4096
#: Adam steps run on a throw-away copy to time a step when a budget is given in seconds
CALIBRATION_STEPS = 40

#: lesson 05's default NICE for 2-D data (constructor arguments of :class:`nicelab.NICE`), the "additive"
#: recipe's flow. The number of couplings matters more than the depth of each MLP: on eight_gaussians with
#: ~50 CPU seconds, 6 couplings x 3 hidden layers reached a KL gap of 0.28 nats, 12 x 2 reached 0.11-0.27
#: (seeds 0-2), and 20 x 2 (this recipe, with FIT_2D) 0.07-0.09 (benchmarks/toy2d.py).
NICE_2D: dict[str, Any] = {"n_couplings": 20, "hidden": 64, "depth": 2, "prior": "logistic"}
#: lesson 05's default optimiser settings for :func:`nicelab.fit`, the "additive" recipe's (pass ``steps``
#: yourself; the lesson and the benchmark use 5000). The warm-up keeps ReLU units alive through Adam's first
#: steps (eight_gaussians: 0.349 -> 0.280 nats alone, with the earlier 6-coupling recipe).
FIT_2D: dict[str, Any] = {"batch_size": 256, "lr": 5e-3, "schedule": "cosine", "warmup": 300}

#: per coupling type: the flow (``flow`` arguments besides ``dim``), :func:`nicelab.fit` settings and the
#: default number of steps. "additive" is lesson 05's recipe: its entries *are* :data:`NICE_2D` and
#: :data:`FIT_2D` (the same dicts, one source of truth).
RECIPES: dict[str, dict[str, Any]] = {
    "additive": {"flow": NICE_2D, "fit": FIT_2D, "steps": 5000},
    "affine": {
        "flow": {"n_couplings": 12, "hidden": 64, "depth": 2, "prior": "gaussian"},
        "fit": {"batch_size": 512, "lr": 3e-3, "schedule": "cosine", "warmup": 300},
        "steps": 8000,
    },
    "spline": {
        "flow": {"n_couplings": 8, "hidden": 64, "depth": 2, "prior": "gaussian", "bins": 32, "bound": 5.0},
        "fit": {"batch_size": 512, "lr": 3e-3, "schedule": "cosine", "warmup": 300},
        "steps": 4000,
    },
}


class Density2D(Protocol):
    """What :func:`fit_toy2d` needs of a dataset: ``sample(n) -> (n, 2)`` and ``log_prob(x) -> (n,)``."""

    def sample(self, n: int) -> Tensor: ...

    def log_prob(self, x: Tensor) -> Tensor: ...


def build_toy2d_flow(coupling: str, x_init: Tensor) -> CouplingFlow:
    """The recipe's untrained flow for ``coupling``, initialised from the samples ``x_init`` (``(n, 2)``)."""
    recipe = _recipe(coupling)
    check_batch(x_init, 2, "x_init", finite=True)
    options = recipe["flow"]
    if coupling == "additive":
        flow: CouplingFlow = NICE(2, **options)
    elif coupling == "spline":
        flow = SplineFlow(2, **options)
    else:
        flow = CouplingFlow(2, coupling=coupling, **options)
    return flow.init_from_data(x_init)


def nice_for(
    dataset: Toy2D | str, n_init: int = N_INIT, generator: torch.Generator | None = None, **overrides: Any
) -> NICE:
    """Lesson 05's untrained NICE: ``NICE(2, **NICE_2D)`` (``overrides`` replace entries of :data:`NICE_2D`),
    initialised from ``n_init`` samples of ``dataset`` (shift = data mean, scales match the prior).

    Train it with ``nicelab.fit(model, dataset.sample, steps=..., **FIT_2D)``; :func:`fit_toy2d` does both.

    Raises:
        ValueError: an unknown dataset name or NICE option.
    """
    dataset = get_dataset(dataset) if isinstance(dataset, str) else dataset
    unknown = set(overrides) - set(NICE_2D)
    if unknown:
        raise ValueError(f"unknown NICE options {sorted(unknown)}; expected some of {sorted(NICE_2D)}")
    model = NICE(2, **{**NICE_2D, **overrides})
    return model.init_from_data(dataset.sample(n_init, generator))


def _recipe(coupling: object) -> dict[str, Any]:
    if not isinstance(coupling, str) or coupling not in RECIPES:
        raise ValueError(f"coupling must be one of {sorted(RECIPES)}, got {coupling!r}")
    return RECIPES[coupling]


def _check_dataset(dataset: object) -> None:
    for method in ("sample", "log_prob"):
        if not callable(getattr(dataset, method, None)):
            raise ValueError(
                f"dataset must have sample(n) and log_prob(x); {type(dataset).__name__} has no {method}"
            )


def _check_budget(steps: object, seconds: object) -> None:
    if steps is not None and seconds is not None:
        raise ValueError("give steps or seconds, not both")
    if steps is not None:
        check_positive_int(steps, "steps")
    if seconds is not None and not (
        isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 < seconds < math.inf
    ):
        raise ValueError(f"seconds must be a positive finite number of CPU seconds, got {seconds!r}")


def steps_within(
    seconds: float, model: CouplingFlow, data: Any, fit_options: dict[str, Any], seed: int
) -> int:
    """How many steps fit in ``seconds`` of this process's CPU time, after timing a few on a copy.

    The step time is read off the second half of :data:`CALIBRATION_STEPS` probe steps on a copy (the first
    ones carry one-off costs: allocation, the optimizer's state). The whole probe is spent from the budget,
    so the call stays within it up to the per-step noise; 10% is kept in reserve for that (a loaded
    machine's step time drifts).
    """
    start = time.process_time()
    marks: list[float] = []  # CPU time after each probe step; the first steps carry one-off costs
    fit(
        copy.deepcopy(model),
        data,
        steps=CALIBRATION_STEPS,
        seed=seed,
        progress=False,
        callback=lambda step, _: marks.append(time.process_time()),
        callback_every=1,
        **fit_options,
    )
    spent = time.process_time() - start
    settled = marks[CALIBRATION_STEPS // 2 :]
    per_step = max((settled[-1] - settled[0]) / (len(settled) - 1), 1e-6)
    return max(1, int(0.9 * (seconds - spent) / per_step))


def fit_toy2d(
    dataset: Density2D,
    coupling: str = "additive",
    steps: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    *,
    progress: bool = False,
) -> CouplingFlow:
    """Train the 2-D recipe for ``coupling`` on ``dataset`` and return the trained flow (in eval mode).

    Args:
        dataset: any object with ``sample(n) -> (n, 2)`` float tensor and ``log_prob(x) -> (n,)`` (the six
            built-in ``nicelab.datasets`` or your own density). Only ``sample`` is used for training.
        coupling: ``"additive"`` (NICE), ``"affine"`` (Real NVP-style) or ``"spline"`` (rational-quadratic).
        steps: Adam steps; ``seconds``: instead, a budget of this process's CPU seconds for the whole call
            (the step count is set from a timed probe, and training stops at the budget if the machine slows
            down; use one torch thread for a core's worth). Give at most one; with neither, the recipe's
            default steps.
        seed: seeds torch's global generator (initial weights, the samples of datasets that draw from it).

    Returns:
        The trained flow; ``flow.history`` holds :func:`nicelab.fit`'s history (``"step"``, ``"loss"`` …).

    Raises:
        ValueError: unknown coupling, a dataset without ``sample``/``log_prob`` or whose samples are not
            ``(n, 2)`` finite floats, bad or conflicting budgets, a negative seed.
    """
    recipe = _recipe(coupling)
    _check_dataset(dataset)
    _check_budget(steps, seconds)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    start = time.process_time()
    # The initial weights and the init batch depend on ``seed`` alone; the caller's global RNG is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        flow = build_toy2d_flow(coupling, dataset.sample(N_INIT))
    options: dict[str, Any] = {"seed": seed, "progress": progress, **recipe["fit"]}
    if seconds is None:
        flow.history = fit(flow, dataset.sample, steps=steps or recipe["steps"], **options)
        return flow.eval()
    planned = steps_within(seconds - (time.process_time() - start), flow, dataset.sample, recipe["fit"], seed)
    flow.history = fit_within(flow, dataset.sample, planned, start + seconds, options)
    return flow.eval()


class _OutOfTime(Exception):
    """Raised by :func:`fit_within`'s callback to stop :func:`nicelab.fit` at the CPU deadline."""


def fit_within(
    model: torch.nn.Module, data: Any, steps: int, deadline: float, fit_options: dict[str, Any]
) -> dict[str, list[float]]:
    """:func:`nicelab.fit` for ``steps`` steps, stopped early if ``time.process_time()`` passes ``deadline``.

    The planned ``steps`` (from :func:`steps_within`) normally end first; the deadline is a safety net for
    a machine whose speed changes under load. A run stopped early keeps the weights of its last step; its
    history then holds ``"step"`` only (``fit`` returns the rest at the end) and ``"stopped_early"``.
    """
    done: list[float] = []

    def watch(step: int, _: torch.nn.Module) -> None:
        done.append(step)
        if time.process_time() > deadline and step < steps:
            raise _OutOfTime

    try:
        return fit(model, data, steps=steps, callback=watch, callback_every=1, **fit_options)
    except _OutOfTime:
        return {"step": done, "stopped_early": [float(len(done))]}


__all__ = [
    "CALIBRATION_STEPS",
    "FIT_2D",
    "NICE_2D",
    "N_INIT",
    "RECIPES",
    "Density2D",
    "build_toy2d_flow",
    "fit_toy2d",
    "nice_for",
    "steps_within",
]
