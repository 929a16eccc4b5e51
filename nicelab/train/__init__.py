"""Maximum-likelihood training: minimise the mean negative log-likelihood ``-E[log p(x)]``.

:func:`fit` is the one training loop. The 2-D lessons call it directly; the MNIST recipe
(:func:`train_mnist`, in ``nicelab.train.mnist``) and the VAE/GAN trainers (``nicelab.baselines``)
call it with their own optimizer (parameter groups), budget, batches, step and hooks (evaluation,
checkpoints, early stopping). The recipe is also a command::

    python -m nicelab.train mnist --minutes 5 --out checkpoints/nice_mnist.pt [--resume] [--bf16]

The loop's pieces (budget, schedule, history, the NaN stop, the progress bar) are in
``nicelab.train.loop``.

**Randomness.** nicelab never reseeds a global random number generator (torch's, numpy's or Python's).
Everything random that training draws comes from a ``torch.Generator`` passed explicitly:

* ``fit(seed=s)`` makes a local ``torch.Generator().manual_seed(s)`` (or takes ``generator=``), draws the
  batch order from it, and passes it to ``data(batch_size, generator=...)`` when the data callable takes
  one (every ``nicelab.datasets`` distribution does). Without either, the local generator's seed is one
  draw from torch's global generator (used, not reseeded).
* ``train_vae``/``train_gan`` also draw the ELBO's and the generator network's noise from that generator.
* The MNIST recipe draws its initial weights, data order and dequantization noise from generators seeded
  by its ``seed``: a run depends on that seed only, never on the global state.
* Model constructors draw their initial weights from the global generator, as in torch. To reproduce a
  whole run, seed it once at the top of the script or notebook (as every lesson does), then pass ``seed=``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from nicelab._checks import check_batch, check_positive_int
from nicelab.train.loop import (
    Budget,
    GradientStep,
    History,
    HistoryBase,
    LoopState,
    ProgressBar,
    Schedule,
    Step,
    every,
    run_steps,
)
from nicelab.train.optim import fused_adam
from nicelab.train.seeding import make_generator

#: history keys written by :func:`fit`
HISTORY_KEYS = History.STEP_COLUMNS
#: what a diverged run's error suggests
ADVICE = "Try a lower lr, data-dependent init (model.init_from_data), or check the data."


def batches(
    data: Tensor | Callable[..., Tensor], batch_size: int, dim: int, generator: torch.Generator
) -> Callable[[], Tensor]:
    """Return a function producing the next training batch.

    A tensor is shuffled once per epoch (order drawn from ``generator``) and cut into batches (the last
    partial batch is dropped when the data holds at least one full batch); a callable is asked for
    ``data(batch_size)``, with ``generator=generator`` if it takes a ``generator`` argument.
    """
    if callable(data) and not isinstance(data, Tensor):
        try:
            takes_generator = "generator" in inspect.signature(data).parameters
        except (TypeError, ValueError):  # a builtin without a signature
            takes_generator = False
        kwargs = {"generator": generator} if takes_generator else {}

        def fresh() -> Tensor:
            return check_batch(data(batch_size, **kwargs), dim, "data(batch_size)", finite=True)

        return fresh
    x = check_batch(data, dim, "data", finite=True)
    n = x.shape[0]
    size = min(batch_size, n)
    order: list[Tensor] = []

    def next_batch() -> Tensor:
        if not order:
            perm = torch.randperm(n, generator=generator).to(x.device)
            order.extend(perm[i : i + size] for i in range(0, n - size + 1, size))
        return x[order.pop(0)]

    return next_batch


def _check_model(model: nn.Module, needs_log_prob: bool) -> int:
    dim = getattr(model, "dim", None)
    if not isinstance(dim, int) or (needs_log_prob and not hasattr(model, "log_prob")):
        raise ValueError("model must have an integer `dim` and a `log_prob(x)` method")
    return dim


def _gradient_step(
    model: nn.Module,
    loss: Callable[[Tensor], Tensor] | None,
    optimizer: torch.optim.Optimizer | None,
    lr: float,
    weight_decay: float,
) -> GradientStep:
    """The default step: minimise ``loss`` (default ``-mean log p(x)``) with ``optimizer`` (default Adam)."""
    if optimizer is None:
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no trainable parameters")
        optimizer = fused_adam(params, lr=lr, weight_decay=weight_decay)
    return GradientStep(loss or (lambda x: -model.log_prob(x).mean()), optimizer)


def fit(
    model: nn.Module,
    data: Tensor | Callable[..., Tensor],
    *,
    steps: int | None = None,
    seconds: float | None = None,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
    schedule: str = "constant",
    warmup: int = 0,
    weight_decay: float = 0.0,
    callback: Callable[[int, nn.Module], None] | None = None,
    callback_every: int = 100,
    loss: Callable[[Tensor], Tensor] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    step: Step | None = None,
    hooks: Sequence[Callable[[LoopState], None]] = (),
    state: LoopState | None = None,
    desc: str = "fit",
) -> HistoryBase:
    """Train ``model`` by maximum likelihood with Adam (standard betas, fused where available).

    Each step minimises ``loss(batch)``, by default the batch's mean negative log-likelihood
    ``-mean_i log p(x_i)`` in nats, with the learning rate ``lr · decay(progress) · warm-up``
    (``nicelab.train.loop``). Training stops at the budget, or with ``FloatingPointError`` at the first
    non-finite loss, before that step updates any weight.

    Args:
        model: has ``dim`` and ``log_prob(x) -> (batch,)`` (e.g. :class:`nicelab.NICE`); with ``loss`` or
            ``step``, only ``dim``.
        data: a ``(N, dim)`` tensor of samples, or a callable ``data(batch_size)`` returning a fresh
            ``(batch_size, dim)`` batch (e.g. ``dataset.sample``; given ``generator=`` if it takes one).
        steps, seconds: the budget, in steps and/or training seconds (whichever ends first; hooks and
            callbacks are not counted). At least one.
        seed, generator: the source of the batch order and of fresh samples (see the package docstring):
            a local generator seeded with ``seed``, or ``generator`` itself; the global RNG is then not
            touched. With neither, the local generator's seed is one draw from the global RNG.
        schedule: ``"constant"`` or ``"cosine"`` (decay to 0 over the budget).
        warmup: ramp the learning rate up linearly over this many first steps (0: none). Adam's first
            steps move every weight by about ``lr`` at once, which can switch ReLU units off for good.
            Groups of ``optimizer`` with ``"warmup": False`` are not ramped.
        callback: called as ``callback(step, model)`` every ``callback_every`` steps and at the end.
        loss: ``loss(batch) -> scalar`` to minimise instead of the NLL (e.g. a VAE's negative ELBO).
        optimizer: use this optimizer (its parameter groups and their ``lr`` as ``base_lr``) instead of
            Adam over every trainable parameter at ``lr`` (``lr`` and ``weight_decay`` are then unused).
        step: the whole step instead (a :class:`nicelab.train.loop.Step`, e.g. a GAN's two updates); it
            owns its optimizers and reports its own named losses, which become the history's columns.
        hooks: called with the :class:`~nicelab.train.loop.LoopState` after every step (evaluation,
            checkpoints, early stopping).
        state: continue this state (step, training seconds, history), e.g. a resumed run's.

    Returns:
        The :class:`~nicelab.train.loop.History`: one row per step of ``step``, ``loss`` (batch loss in
        nats), ``lr`` (first group's) and ``seconds`` (training time); ``history["loss"]`` reads a column.

    Raises:
        ValueError: bad arguments, data of the wrong shape, or NaN/inf in the data.
        FloatingPointError: a loss became NaN or infinite (training stops; never updates on NaN).
    """
    check_positive_int(batch_size, "batch_size")
    check_positive_int(callback_every, "callback_every")
    budget, plan = Budget(steps, seconds), Schedule(schedule, warmup)
    dim = _check_model(model, needs_log_prob=loss is None and step is None)
    step_fn = step if step is not None else _gradient_step(model, loss, optimizer, lr, weight_decay)
    next_batch = batches(data, batch_size, dim, make_generator(seed, generator))
    state = state if state is not None else LoopState()
    if callback is not None:
        hooks = [*hooks, every(callback_every, lambda s: callback(s.step, model))]
    model.train()
    bar = ProgressBar(budget, state, desc, progress)
    try:
        run_steps(step_fn, next_batch, budget, plan, state, hooks, bar=bar, advice=ADVICE)
    finally:
        bar.close()
    return state.history


# The recipes live in their own modules; re-exported here (after fit, which they use).
from nicelab.train.mnist import train_mnist  # noqa: E402
from nicelab.train.toy2d import fit_toy2d  # noqa: E402

__all__ = ["HISTORY_KEYS", "History", "LoopState", "batches", "fit", "fit_toy2d", "train_mnist"]
