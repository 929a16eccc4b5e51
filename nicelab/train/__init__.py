"""Maximum-likelihood training: minimise the mean negative log-likelihood ``-E[log p(x)]``.

:func:`fit` is the general loop used by the 2D lessons. :func:`train_mnist` (in
``nicelab.train.mnist``) is the MNIST recipe, also available from the command line::

    python -m nicelab.train mnist --minutes 5 --out checkpoints/nice_mnist.pt [--resume] [--bf16]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from nicelab._checks import check_batch, check_positive_int
from nicelab.train.optim import fused_adam
from nicelab.train.schedule import cosine, warmup_factor

#: history keys written by :func:`fit`
HISTORY_KEYS = ("step", "loss", "lr", "seconds")


def batches(
    data: Tensor | Callable[[int], Tensor], batch_size: int, dim: int, generator: torch.Generator
) -> Callable[[], Tensor]:
    """Return a function producing the next training batch.

    A tensor is shuffled once per epoch and cut into batches (the last partial batch is dropped
    when the data holds at least one full batch); a callable is asked for ``data(batch_size)``.
    """
    if callable(data) and not isinstance(data, Tensor):

        def fresh() -> Tensor:
            return check_batch(data(batch_size), dim, "data(batch_size)", finite=True)

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


def fit(
    model: nn.Module,
    data: Tensor | Callable[[int], Tensor],
    *,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int | None = None,
    progress: bool = True,
    schedule: str = "constant",
    warmup: int = 0,
    weight_decay: float = 0.0,
    callback: Callable[[int, nn.Module], None] | None = None,
    callback_every: int = 100,
) -> dict[str, list[float]]:
    """Train ``model`` by maximum likelihood with Adam (standard betas, fused where available) and return
    its history.

    Args:
        model: has ``dim`` and ``log_prob(x) -> (batch,)`` (e.g. :class:`nicelab.NICE`).
        data: a ``(N, dim)`` tensor of samples, or a callable ``data(batch_size)`` returning a fresh
            ``(batch_size, dim)`` batch (e.g. ``dataset.sample``).
        steps: number of Adam steps.
        schedule: ``"constant"`` or ``"cosine"`` (decay to 0 over ``steps``).
        warmup: ramp the learning rate up linearly over this many first steps (0: none). Adam's
            first steps move every weight by about ``lr`` at once, which can switch ReLU units off
            for good; a short warm-up keeps them alive.
        callback: called as ``callback(step, model)`` every ``callback_every`` steps and at the end.

    Returns:
        ``{"step", "loss", "lr", "seconds"}`` lists, one entry per step; loss is the batch NLL in nats.

    Raises:
        ValueError: bad arguments, data of the wrong shape, or NaN/inf in the data.
        FloatingPointError: the loss became NaN or infinite (training stops; never runs on NaN).
    """
    check_positive_int(steps, "steps")
    check_positive_int(batch_size, "batch_size")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer number of steps, got {warmup!r}")
    dim = getattr(model, "dim", None)
    if not isinstance(dim, int) or not hasattr(model, "log_prob"):
        raise ValueError("model must have an integer `dim` and a `log_prob(x)` method")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")

    generator = torch.Generator()
    if seed is not None:
        torch.manual_seed(seed)
        generator.manual_seed(seed)
    else:
        generator.seed()
    next_batch = batches(data, batch_size, dim, generator)

    optimizer = fused_adam(params, lr=lr, weight_decay=weight_decay)

    def lr_at(s: int) -> float:  # s = steps already taken
        decay = cosine(s / steps) if schedule == "cosine" else 1.0
        return lr * decay * warmup_factor(s, warmup)

    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    model.train()
    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), disable=not progress, desc="fit", unit="step")
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step - 1)
        loss = -model.log_prob(next_batch()).mean()
        value = loss.detach().item()
        if not math.isfinite(value):
            bar.close()
            raise FloatingPointError(
                f"loss became {value} at step {step}; training stopped. "
                "Try a lower lr, data-dependent init (model.init_from_data), or check the data."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history["step"].append(step)
        history["loss"].append(value)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["seconds"].append(time.perf_counter() - start)
        if progress and (step % 10 == 0 or step == steps):
            bar.set_postfix(loss=f"{value:.3f}")
        if callback is not None and (step % callback_every == 0 or step == steps):
            callback(step, model)
    bar.close()
    return history


# The MNIST recipe lives in its own module; re-exported here (after fit, which it does not need).
from nicelab.train.mnist import train_mnist  # noqa: E402
from nicelab.train.toy2d import fit_toy2d  # noqa: E402

__all__ = ["HISTORY_KEYS", "batches", "fit", "fit_toy2d", "train_mnist"]
