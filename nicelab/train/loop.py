"""The pieces of the one training loop (:func:`nicelab.fit`): budget, state, history, step, progress bar.

A run is a sequence of *steps*. Each step draws a batch, lets a :class:`Step` update the weights and
report named losses, checks that every loss is finite (a NaN or inf stops the run with
``FloatingPointError``), records one :class:`History` row and calls the hooks. Time spent in hooks
(evaluation, checkpoints) is not training time: the budget and ``history.seconds`` count only steps.

The learning rate of every parameter group follows one rule (the :class:`Schedule`)::

    lr_t = base_lr · decay(progress_t) · (warmup_factor(t, warmup) if the group warms up else 1)

with ``progress_t`` = the fraction of the budget spent before step ``t + 1`` (steps or training
seconds, whichever is further along) and ``decay`` 1 (constant) or the cosine from 1 to 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor

from nicelab.train.schedule import cosine, warmup_factor

SCHEDULES = ("constant", "cosine")


class HistoryBase:
    """Column behaviour shared by every history dataclass; a subclass declares its columns as list fields.

    Rows are appended by the loop; ``history["loss"]`` reads a column like the dict older code returned.
    ``to_dict()``/``from_dict()`` convert to and from the plain dict a checkpoint stores.
    """

    #: the columns the loop appends to at every step (in this order)
    STEP_COLUMNS: ClassVar[tuple[str, ...]] = ()

    def append(self, row: dict[str, float]) -> None:
        """Append one step's row; it must hold exactly :attr:`STEP_COLUMNS`."""
        if set(row) != set(self.STEP_COLUMNS):
            raise ValueError(f"a history row needs the columns {self.STEP_COLUMNS}, got {sorted(row)}")
        for name in self.STEP_COLUMNS:
            getattr(self, name).append(row[name])

    def keys(self) -> list[str]:
        return [f.name for f in fields(self)]  # type: ignore[arg-type]  # subclasses are dataclasses

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def to_dict(self) -> dict[str, Any]:
        """The columns as a plain dict (lists copied): what a ``weights_only`` checkpoint can hold."""
        out = {k: getattr(self, k) for k in self.keys()}
        return {k: list(v) if isinstance(v, list) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: object) -> Any:
        """Rebuild from :meth:`to_dict`'s output; ``ValueError`` if a column is not a list of numbers.

        Keys this class does not know (columns an older recipe kept) are dropped.
        """
        if not isinstance(data, dict):
            raise ValueError("history is malformed (not a dict)")
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name not in known:
                continue
            is_column = str(known[name].type).startswith("list")
            if is_column and not (
                isinstance(value, list)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            ):
                raise ValueError(f"history is malformed (column {name!r} is not a list of numbers)")
            values[name] = list(value) if is_column else value
        return cls(**values)


@dataclass
class History(HistoryBase):
    """Per-step columns of :func:`nicelab.fit`: ``step``, ``loss`` (batch loss in nats), ``lr`` (the first
    parameter group's) and ``seconds`` (training time, hooks excluded)."""

    STEP_COLUMNS: ClassVar[tuple[str, ...]] = ("step", "loss", "lr", "seconds")

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


@dataclass
class LoopState:
    """Where a run stands: steps taken, training seconds spent, its history; ``done`` at the last step.

    Hooks receive it after every step. ``notes`` are shown beside the loss in the progress bar.
    """

    step: int = 0
    seconds: float = 0.0
    history: HistoryBase = field(default_factory=History)
    done: bool = False
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Budget:
    """Stop after ``steps`` steps or ``seconds`` training seconds, whichever is first (``None``: no limit)."""

    steps: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.steps is None and self.seconds is None:
            raise ValueError("give a budget: steps=... and/or seconds=...")
        if self.steps is not None and (
            isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1
        ):
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if self.seconds is not None and (
            isinstance(self.seconds, bool)
            or not isinstance(self.seconds, (int, float))
            or not (math.isfinite(self.seconds) and self.seconds > 0)
        ):
            raise ValueError(f"seconds must be a positive finite number, got {self.seconds!r}")

    def progress(self, step: int, seconds: float) -> float:
        """Fraction of the budget spent, in [0, ∞): the further along of steps and seconds."""
        by_steps = step / self.steps if self.steps is not None else 0.0
        by_time = seconds / self.seconds if self.seconds is not None else 0.0
        return max(by_steps, by_time)


@dataclass(frozen=True)
class Schedule:
    """``lr = base_lr · decay(progress) · warm-up``; see the module docstring."""

    kind: str = "constant"
    warmup: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule must be 'constant' or 'cosine', got {self.kind!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"warmup must be a non-negative integer number of steps, got {self.warmup!r}")

    def apply(self, optimizers: Sequence[torch.optim.Optimizer], step: int, progress: float) -> float:
        """Set every group's lr for the step after ``step`` steps taken; return the first group's lr.

        A group's ``base_lr`` defaults to its lr when first seen; ``"warmup": False`` exempts it from ramps.
        """
        decay = cosine(progress) if self.kind == "cosine" else 1.0
        ramp = warmup_factor(step, self.warmup)
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                base = group.setdefault("base_lr", group["lr"])
                group["lr"] = base * decay * (ramp if group.get("warmup", True) else 1.0)
        return optimizers[0].param_groups[0]["lr"]


class Step(Protocol):
    """One optimisation step on a batch: updates the weights, returns its named losses (floats).

    ``optimizers`` are the ones the schedule sets the learning rate of. A step whose loss is not finite
    should return it without updating, so a diverged run stops before its weights become NaN.
    """

    optimizers: Sequence[torch.optim.Optimizer]

    def __call__(self, batch: Tensor) -> dict[str, float]: ...


class GradientStep:
    """Minimise ``loss_fn(batch)`` (a scalar tensor) with one optimizer: zero grads, backward, update.

    ``autocast``: run ``loss_fn`` under ``torch.autocast`` with this dtype (e.g. ``torch.bfloat16``).
    On CUDA the step waits for the device at its end, so the loop's timing is the step's true time.
    """

    def __init__(
        self,
        loss_fn: Callable[[Tensor], Tensor],
        optimizer: torch.optim.Optimizer,
        autocast: torch.dtype | None = None,
    ) -> None:
        self.loss_fn, self.optimizers, self.autocast = loss_fn, [optimizer], autocast
        first = optimizer.param_groups[0]["params"][0]
        self.device = first.device

    def __call__(self, batch: Tensor) -> dict[str, float]:
        optimizer = self.optimizers[0]
        with torch.autocast(
            self.device.type, dtype=self.autocast or torch.bfloat16, enabled=self.autocast is not None
        ):
            loss = self.loss_fn(batch)
        value = float(loss.detach())
        if not math.isfinite(value):  # never update on NaN: the loop stops the run
            return {"loss": value}
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return {"loss": value}


def check_losses(losses: dict[str, float], step: int, advice: str) -> None:
    """``FloatingPointError`` naming the step if any loss is NaN or infinite (the run stops there)."""
    bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
    if bad:
        shown = ", ".join(f"{k} = {v}" for k, v in bad.items())
        raise FloatingPointError(
            f"loss became non-finite ({shown}) at step {step}; training stopped. {advice}"
        )


class ProgressBar:
    """tqdm over a budget: in steps when the budget is steps only, else in per mille of the budget."""

    def __init__(self, budget: Budget, state: LoopState, desc: str, enabled: bool) -> None:
        from tqdm.auto import tqdm  # work layer: imported where a bar is drawn

        self.budget = budget
        self.in_steps = budget.seconds is None
        self.total = budget.steps if self.in_steps else 1000
        self.bar = tqdm(
            total=self.total, disable=not enabled, desc=desc, unit="step" if self.in_steps else "‰"
        )
        self.enabled = enabled
        self.update(state, {})

    def update(self, state: LoopState, losses: dict[str, float]) -> None:
        if not self.enabled:
            return
        done = min(self.total, round(self.budget.progress(state.step, state.seconds) * self.total))
        self.bar.update(done - self.bar.n)
        if losses and (state.step % 10 == 0 or state.done):
            self.bar.set_postfix({**{k: f"{v:.3f}" for k, v in losses.items()}, **state.notes})

    def close(self) -> None:
        self.bar.close()


def every(n: int, hook: Callable[[LoopState], None]) -> Callable[[LoopState], None]:
    """A hook that runs ``hook`` every ``n`` steps and at the last step."""

    def maybe(state: LoopState) -> None:
        if state.step % n == 0 or state.done:
            hook(state)

    return maybe


def run_steps(
    step_fn: Step,
    next_batch: Callable[[], Tensor],
    budget: Budget,
    schedule: Schedule,
    state: LoopState,
    hooks: Sequence[Callable[[LoopState], None]] = (),
    *,
    bar: ProgressBar | None = None,
    advice: str = "",
) -> LoopState:
    """Step until the budget is spent (at once if it already is); see the module docstring."""
    while budget.progress(state.step, state.seconds) < 1.0:
        t0 = time.perf_counter()
        lr = schedule.apply(step_fn.optimizers, state.step, budget.progress(state.step, state.seconds))
        losses = step_fn(next_batch())
        check_losses(losses, state.step + 1, advice)
        state.step += 1
        state.seconds += time.perf_counter() - t0
        state.done = budget.progress(state.step, state.seconds) >= 1.0
        state.history.append({"step": state.step, **losses, "lr": lr, "seconds": state.seconds})
        for hook in hooks:
            hook(state)
        if bar is not None:
            bar.update(state, losses)
    return state


__all__ = [
    "SCHEDULES",
    "Budget",
    "GradientStep",
    "History",
    "HistoryBase",
    "LoopState",
    "ProgressBar",
    "Schedule",
    "Step",
    "check_losses",
    "every",
    "run_steps",
]
