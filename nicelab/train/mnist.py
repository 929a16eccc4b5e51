"""The MNIST recipe: train the paper's NICE(784, 4, 1000, 5) to a given wall-clock or step budget.

What the recipe does, and why (each choice was measured; see README "MNIST"):

* **Data in [0, 1]**: every batch is freshly dequantized, ``x = (k + u) / 256``, so log-likelihoods
  are in the paper's units (nats of data in [0, 1]).
* **Data-dependent init** (:meth:`NICE.init_from_data`, std floor 0.05): the latent starts at the
  prior's scale, so the test LL is above 1000 nats at step 0 instead of about -1150.
* **Zero-initialised coupling outputs**: each coupling starts as the identity, so the init sees the
  data itself. It adds about 90 nats at step 0 and, more importantly, lets Adam use twice the
  learning rate: at 150 steps, lr 2e-3 gave 1229 nats with it and 1013 without (lr 1e-3: 1024/1017).
* **Adam** with standard betas (the paper's beta2 = 0.01 diverges), fused when available, lr 2e-3;
  the scaling's log-scales get their own, larger learning rate ``scale_lr`` = 2e-2.
* **Warm-up** of the couplings' learning rate, linear over the first ``warmup`` = 3000 steps. Without
  it Adam's first steps (each weight moves by about ``lr`` in the sign of its gradient) switch most
  ReLU units of the deeper layers off for good: after 300 steps 50-100% of the units of layers 2-5
  were dead without warm-up, 5-25% with it. Measured side by side over 5 minutes (bf16, 2 threads,
  benchmarks/results/mnist_recipes.json): no warm-up 1737.9 nats, 300 steps 1899.4, 1000 steps
  1952.7, 2000 steps 1984.9, 3000 steps 2001.9. The log-scales are not warmed up: they carry
  most of the early gain.
* **Cosine decay** of both learning rates over the budget. With a ``minutes`` budget the schedule
  follows *training* seconds (evaluation and checkpointing excluded), so a run always ends annealed.
* **Decoupled weight decay** ``weight_decay`` = 1.0 on the couplings' weight matrices (AdamW; not on
  biases or log-scales). Without it long budgets overfit: a 30-minute run peaked at 1920.9 test nats
  after 18 minutes and ended at 1786.7 (training loss -2211), below the 5-minute run's 1990.2.
  Side by side over ~24,000 steps (a GPU running this recipe, benchmarks/results/mnist_gpu_sweep.json):
  decay 0: 1610.0 nats at the end (best 1891.0), 0.1: 1648.7, 0.3: 1968.1, 0.5: 2152.7, 1: 2151.0,
  2: 2051.8, 3: 1924.2, 10: 1590.9. Over 3,150 steps (5 CPU minutes) it changes nothing
  (0: 1989.4, 0.3: 1995.2, 1: 1991.6). ``validation`` adds early stopping on held-out training images.
* **bf16 autocast** (optional): matmuls in bfloat16 where the hardware supports it; the loss, the
  scaling, the prior and every evaluation stay in float32, so reported likelihoods are exact fp32
  likelihoods of the trained flow.

The recipe is data: :class:`MnistRecipe` (validated on construction). :func:`train_mnist` builds one from
its keyword arguments and trains it with :func:`nicelab.fit`: the optimizer's parameter groups
(:func:`make_optimizer`), the cosine schedule over the budget, :class:`MnistBatches` (the data order and
the dequantization noise, each from its own generator), a bf16 :class:`~nicelab.train.loop.GradientStep`
and one hook, :class:`Evaluation` (test LL, early stopping on the validation LL, checkpoints).

Checkpoints (``out``) are written atomically at every evaluation and at the end: model config and
state_dict (loadable with :func:`nicelab.load_checkpoint`), and the :class:`MnistState`'s
``state_dict()`` (optimizer state, the generators and the rest of the epoch's batches, the history as
an :class:`MnistHistory` dict, early stopping), and the recipe, so ``resume=True`` continues the same
run, bit for bit under a step budget.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from nicelab.checkpoint import (
    check_state_dict,
    check_writable,
    read_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from nicelab.data import DIM, bits_per_dim, dequantize, evaluate, load_mnist
from nicelab.nice import NICE, zero_output_layers
from nicelab.train import fit
from nicelab.train.loop import GradientStep, HistoryBase, LoopState
from nicelab.train.optim import fused_adam
from nicelab.train.seeding import reset_linear_layers

#: the NICE paper's MNIST architecture
PAPER_ARCHITECTURE = {"dim": DIM, "n_couplings": 4, "hidden": 1000, "depth": 5, "prior": "logistic"}
#: the paper's reported test log-likelihood on MNIST (nats, data in [0, 1])
PAPER_TEST_LL = 1980.50

#: history keys: per training step, and per evaluation
STEP_KEYS = ("step", "loss", "lr", "seconds")
EVAL_KEYS = ("eval_step", "eval_seconds", "test_ll", "test_bpd", "val_ll")


def bf16_supported(device: torch.device) -> bool:
    """True if bfloat16 matmuls are fast here: a CUDA GPU with bf16, or a CPU with AMX/AVX512-BF16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: be conservative
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _positive(value: object, name: str, *, zero: bool = False) -> float:
    """``value`` as a float if it is a finite number > 0 (``zero``: >= 0), else ``ValueError``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and (value > 0 or (zero and value == 0)))
    ):
        wanted = "a finite number >= 0" if zero else "a positive finite number"
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return float(value)


def _count(value: object, name: str, what: str, minimum: int = 1) -> int:
    """``value`` if it is an integer >= ``minimum``, else ``ValueError`` saying it must be ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def _as_images(images: Tensor, name: str) -> Tensor:
    """uint8 pixels ``(N, 28, 28)`` or ``(N, 784)`` -> uint8 ``(N, 784)``."""
    if not isinstance(images, Tensor) or images.dtype != torch.uint8:
        raise ValueError(f"{name} must be a uint8 tensor of MNIST pixels (N, 28, 28), got {images!r:.80}")
    if images.dim() < 2 or images.shape[0] == 0 or images[0].numel() != DIM:
        raise ValueError(
            f"{name} must have shape (N, 28, 28) or (N, 784) with N >= 1, got {tuple(images.shape)}"
        )
    return images.reshape(images.shape[0], DIM)


@dataclass(frozen=True)
class MnistRecipe:
    """What to train and how: every choice of the recipe, checked on construction (``ValueError``).

    Attributes:
        minutes: budget in minutes of training time (evaluation excluded); the cosine schedule spans it.
            On resume this is the *total* budget, time already spent included.
        steps: a budget in Adam steps instead (or as well: the run stops at whichever ends first, and
            the schedule follows whichever is further along). At least one of the two.
        batch_size, lr, scale_lr: Adam batch size and learning rates (``scale_lr`` for the log-scales).
        bf16: autocast matmuls to bfloat16; ``"auto"`` turns it on only where the hardware has fast bf16
            (AMX/AVX512-BF16 CPUs, recent GPUs). Evaluation is always float32.
        seed: seeds the generators of the initial weights, the data order and the dequantization noise.
        eval_every / eval_seconds: evaluate the test LL every so many steps / training seconds. Default:
            ten evaluations over the budget. The final model is always evaluated.
        floor: std floor of the data-dependent init.
        zero_init: zero each coupling MLP's output layer first (every coupling starts as the identity).
        warmup: the couplings' learning rate ramps up linearly over this many steps (the log-scales'
            does not); see the module docstring for the dead ReLU units it prevents.
        weight_decay: decoupled (AdamW) decay of the couplings' weight matrices (:func:`make_optimizer`).
        validation: hold out the last ``validation`` training images (never the test set); the run then
            returns the weights of the evaluation with the best LL on them (early stopping).
        architecture: NICE constructor arguments; default the paper's ``NICE(784, 4, 1000, 5)``.
    """

    minutes: float | None = None
    steps: int | None = None
    batch_size: int = 200
    lr: float = 2e-3
    scale_lr: float = 2e-2
    bf16: bool | str = "auto"
    seed: int = 0
    eval_every: int | None = None
    eval_seconds: float | None = None
    floor: float = 0.05
    zero_init: bool = True
    warmup: int = 3000
    weight_decay: float = 1.0
    validation: int = 0
    architecture: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.minutes is None and self.steps is None:
            raise ValueError("give a budget: minutes=... and/or steps=...")
        if self.minutes is not None:
            _positive(self.minutes, "minutes")
        if self.steps is not None:
            _count(self.steps, "steps", "a positive integer")
        _count(self.batch_size, "batch_size", "a positive integer")
        _positive(self.lr, "lr"), _positive(self.scale_lr, "scale_lr"), _positive(self.floor, "floor")
        if self.bf16 not in (True, False, "auto"):
            raise ValueError(f"bf16 must be True, False or 'auto', got {self.bf16!r}")
        _count(self.seed, "seed", "a non-negative integer", minimum=0)
        if self.eval_every is not None:
            _count(self.eval_every, "eval_every", "a positive integer")
        if self.eval_seconds is not None:
            _positive(self.eval_seconds, "eval_seconds")
        _count(self.warmup, "warmup", "a positive integer number of steps")
        _positive(self.weight_decay, "weight_decay", zero=True)
        _count(self.validation, "validation", "a number of held-out images >= 0", minimum=0)
        if self.architecture is not None and not isinstance(self.architecture, dict):
            raise ValueError(f"architecture must be a dict of NICE arguments, got {self.architecture!r}")

    @property
    def budget_seconds(self) -> float | None:
        return None if self.minutes is None else 60.0 * self.minutes

    def config(self) -> dict[str, Any]:
        """The NICE constructor arguments."""
        return dict(PAPER_ARCHITECTURE if self.architecture is None else self.architecture)

    def evaluation_every(self) -> tuple[int | None, float | None]:
        """``(eval_every, eval_seconds)``; by default ten evaluations over the budget (at least 5 s apart)."""
        if self.eval_every is not None or self.eval_seconds is not None:
            return self.eval_every, self.eval_seconds
        if self.steps is not None:
            return max(1, self.steps // 10), None
        return None, max(60.0 * float(self.minutes or 0.0) / 10, 5.0)


@dataclass
class MnistHistory(HistoryBase):
    """The recipe's history: per step ``step, loss, lr, seconds`` (loss: batch NLL in nats; seconds:
    training time), per evaluation ``eval_step, eval_seconds, test_ll, test_bpd`` (nats, bits/dim) and
    ``val_ll`` (only with ``validation``), and ``best_step``: the step whose weights the run returns."""

    STEP_COLUMNS: ClassVar[tuple[str, ...]] = STEP_KEYS

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    test_ll: list[float] = field(default_factory=list)
    test_bpd: list[float] = field(default_factory=list)
    val_ll: list[float] = field(default_factory=list)
    best_step: int = 0

    @classmethod
    def from_dict(cls, data: object) -> MnistHistory:
        """:meth:`HistoryBase.from_dict`, also reading the one-element ``best_step`` list of older runs."""
        if isinstance(data, dict) and isinstance(data.get("best_step"), list):
            data = {**data, "best_step": int(data["best_step"][0]) if data["best_step"] else 0}
        if isinstance(data, dict) and not isinstance(data.get("best_step", 0), (int, float)):
            raise ValueError("history is malformed (best_step is not a number)")
        return super().from_dict(data)

    def record_evaluation(self, step: int, seconds: float, test_ll: float, val_ll: float | None) -> None:
        self.eval_step.append(step)
        self.eval_seconds.append(seconds)
        self.test_ll.append(test_ll)
        self.test_bpd.append(float(bits_per_dim(test_ll)))
        if val_ll is not None:
            self.val_ll.append(val_ll)


def selected_evaluation(history: MnistHistory | dict[str, Any]) -> int:
    """Index into the per-evaluation history lists of the returned weights' evaluation.

    That is the last evaluation of ``history["best_step"]``: the final one, or with ``validation`` the one
    with the best validation LL. Takes an :class:`MnistHistory` or the dict a checkpoint holds.
    """
    best = history["best_step"]
    best = best[0] if isinstance(best, list) else best  # checkpoints of older runs: a one-element list
    return max(k for k, s in enumerate(history["eval_step"]) if s == best)


def make_optimizer(model: NICE, lr: float, scale_lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """Adam (standard betas): the couplings at ``lr``, the log-scales at ``scale_lr``.

    ``weight_decay`` is decoupled (AdamW: every step ``w <- w - lr_t * weight_decay * w``, scaled by
    the same schedule as the gradient step) and applies to the couplings' weight matrices only, not
    to biases or the log-scales: it limits how sharply the couplings can fit the training images,
    while the scales stay free to match each pixel's spread. The log-scales' group is not warmed up
    (``"warmup": False``, read by :class:`~nicelab.train.loop.Schedule`). Uses the fused implementation
    where this torch build has it (one kernel for all parameters).
    """
    scale = model.scaling.log_scale
    matrices = [p for p in model.couplings.parameters() if p.dim() >= 2]
    grouped = {id(p) for p in matrices} | {id(scale)}
    others = [p for p in model.parameters() if id(p) not in grouped]
    groups = [
        {"params": matrices, "lr": lr, "base_lr": lr, "warmup": True, "weight_decay": weight_decay},
        {"params": others, "lr": lr, "base_lr": lr, "warmup": True, "weight_decay": 0.0},
        {"params": [scale], "lr": scale_lr, "base_lr": scale_lr, "warmup": False, "weight_decay": 0.0},
    ]
    # AdamW: Adam with decoupled decay (exactly Adam where a group's weight_decay is 0)
    return fused_adam(groups, lr=lr, decoupled=True)


def _copy_state(model: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _generator_state(generator: torch.Generator, state: object, source: Path) -> None:
    try:
        generator.set_state(state)  # type: ignore[arg-type]  # checked by torch
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{source}: cannot resume (a random generator state is corrupt: {err})") from err


class MnistBatches:
    """Training batches: one shuffle per epoch (``order`` generator; the last partial batch is dropped) and
    fresh dequantization noise ``x = (k + u) / 256`` for every batch (``noise`` generator).

    ``state_dict()`` holds both generators and the rest of this epoch's batches, so a resumed run draws
    exactly the batches the interrupted one would have.
    """

    def __init__(self, images: Tensor, batch_size: int, seed: int) -> None:
        self.images, self.batch_size = images, batch_size
        self.order = torch.Generator(device="cpu").manual_seed(seed)
        self.noise = torch.Generator(device=images.device).manual_seed(seed + 1)
        self.queue: list[Tensor] = []  # the rest of this epoch's shuffled batches (index tensors)

    def __call__(self, n: int) -> Tensor:
        if n != self.batch_size:
            raise ValueError(f"MnistBatches draws batches of {self.batch_size}, not {n}")
        if not self.queue:
            count = self.images.shape[0]
            perm = torch.randperm(count, generator=self.order).to(self.images.device)
            self.queue = list(perm[: count - count % n].split(n))
        return dequantize(self.images[self.queue.pop(0)], self.noise)

    def state_dict(self) -> dict[str, Tensor]:
        rest = torch.cat(self.queue).cpu() if self.queue else torch.empty(0, dtype=torch.long)
        return {
            "order_generator": self.order.get_state(),
            "noise_generator": self.noise.get_state().cpu(),
            "epoch_rest": rest,
        }

    def load_state_dict(self, state: dict[str, Any], source: Path) -> None:
        """Restore :meth:`state_dict`'s output; ``ValueError`` naming ``source`` if it does not fit."""
        rest = state.get("epoch_rest", torch.empty(0, dtype=torch.long))
        if not isinstance(rest, Tensor) or rest.dtype != torch.long or rest.dim() != 1:
            raise ValueError(f"{source}: cannot resume (field 'epoch_rest' is not a 1-D index tensor)")
        if rest.numel() and not (0 <= int(rest.min()) and int(rest.max()) < self.images.shape[0]):
            raise ValueError(
                f"{source}: cannot resume: it was saved for a training set larger than this run's "
                f"{self.images.shape[0]} images (other data or another --validation)"
            )
        _generator_state(self.order, state["order_generator"], source)
        _generator_state(self.noise, state["noise_generator"], source)
        # an empty rest (a checkpoint at the end of an epoch) means: shuffle anew at the next step
        self.queue = list(rest.to(self.images.device).split(self.batch_size)) if rest.numel() else []


@dataclass
class EarlyStopping:
    """The best validated weights so far: their validation LL, step and a copy of the state_dict."""

    val_ll: float = -math.inf
    step: int = 0
    weights: dict[str, Tensor] | None = None

    def offer(self, val_ll: float, step: int, model: torch.nn.Module) -> None:
        if val_ll > self.val_ll:
            self.val_ll, self.step, self.weights = val_ll, step, _copy_state(model)

    def state_dict(self) -> dict[str, Any]:
        if self.weights is None:
            return {}
        return {"best_state_dict": self.weights, "best_val_ll": self.val_ll, "best_step": self.step}

    def load_state_dict(self, state: dict[str, Any], source: Path, model: NICE) -> None:
        if "best_state_dict" not in state:
            return
        check_state_dict(source, state["best_state_dict"], model)
        device = model.scaling.log_scale.device
        self.val_ll, self.step = float(state["best_val_ll"]), int(state["best_step"])
        self.weights = {k: v.to(device) for k, v in state["best_state_dict"].items()}


#: checkpoint fields a resumable (training) checkpoint must have, and their types
RESUME_FIELDS: dict[str, type | tuple[type, ...]] = {
    "optimizer": dict,
    "order_generator": Tensor,
    "noise_generator": Tensor,
    "history": dict,
    "step": int,
    "train_seconds": (int, float),
}


@dataclass(kw_only=True)
class MnistState(LoopState):
    """A run in progress: the loop's step, training seconds and history, plus the model, its optimizer,
    the batches (generators and epoch) and early stopping. ``state_dict()`` is what a checkpoint saves
    besides the model's weights; ``load_state_dict()`` restores all of it (the model's weights included)."""

    model: NICE
    optimizer: torch.optim.Optimizer
    batches: MnistBatches
    history: MnistHistory = field(default_factory=MnistHistory)
    best: EarlyStopping = field(default_factory=EarlyStopping)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self.best.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            **self.batches.state_dict(),
            "history": self.history.to_dict(),
            "step": self.step,
            "train_seconds": self.seconds,
        }

    def load_state_dict(self, payload: dict[str, Any], source: Path) -> None:
        """Restore a checkpoint's run; every field is checked first, so a broken or foreign checkpoint
        gives one ``ValueError`` rather than a traceback mid-run."""
        if "optimizer" not in payload or "train_seconds" not in payload:
            raise ValueError(f"{source} is a model-only checkpoint; it cannot resume training")
        for key, kind in RESUME_FIELDS.items():
            if not isinstance(payload.get(key), kind) or isinstance(payload.get(key), bool):
                raise ValueError(f"{source}: cannot resume (field {key!r} is missing or malformed)")
        history = MnistHistory.from_dict(payload["history"])
        # a finished early-stopped run keeps its best weights as "state_dict", its last as "last_state_dict"
        weights = payload.get("last_state_dict", payload["state_dict"])
        check_state_dict(source, weights, self.model)
        self.best.load_state_dict(payload, source, self.model)
        self.batches.load_state_dict(payload, source)  # checks the indices before anything is loaded
        self.model.load_state_dict(weights)
        _load_optimizer(self.optimizer, payload["optimizer"], source)
        self.history, self.step, self.seconds = history, payload["step"], float(payload["train_seconds"])


def _load_optimizer(optimizer: torch.optim.Optimizer, state: dict[str, Any], source: Path) -> None:
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, TypeError) as err:  # e.g. an older recipe with other parameter groups
        raise ValueError(
            f"{source}: its optimizer state does not fit this recipe's optimizer ({err}); it was "
            "saved by another version of the recipe. Load the model with nicelab.load_checkpoint, "
            "or train into a new --out"
        ) from err
    for group in optimizer.param_groups:  # load_state_dict checks group sizes, not the moments' shapes
        for p in group["params"]:
            moments = [v for v in optimizer.state.get(p, {}).values() if isinstance(v, Tensor) and v.dim()]
            if any(v.shape != p.shape for v in moments):
                raise ValueError(f"{source}: cannot resume (optimizer moments do not fit the weights)")


class Evaluation:
    """The recipe's hook for :func:`nicelab.fit`: when due, and at the last step, measure the test LL (and the
    validation LL, for early stopping), then save the checkpoint. Not counted as training time."""

    def __init__(
        self,
        test: Tensor,
        validation: Tensor | None,
        every: tuple[int | None, float | None],
        save: Callable[[MnistState], None],
    ) -> None:
        self.test, self.validation, self.save = test, validation, save
        self.every_steps, self.every_seconds = every
        self.last_seconds = 0.0

    def evaluate(self, state: MnistState) -> None:
        """Record one evaluation of ``state.model`` at its current step."""
        ll = evaluate(state.model, self.test, batch_size=1000)
        val = None
        if self.validation is not None:
            # the selection sees held-out *training* images only; the test LL is just recorded
            val = evaluate(state.model, self.validation, batch_size=1000)
            state.best.offer(val, state.step, state.model)
        state.history.record_evaluation(state.step, state.seconds, ll, val)
        state.notes["test_ll"] = f"{ll:.1f}"
        self.last_seconds = state.seconds

    def __call__(self, state: LoopState) -> None:
        assert isinstance(state, MnistState)  # the recipe's fit runs on its own state
        due = (self.every_steps is not None and state.step % self.every_steps == 0) or (
            self.every_seconds is not None and state.seconds - self.last_seconds >= self.every_seconds
        )
        if due or state.done:
            self.evaluate(state)
            self.save(state)
            state.model.train()


def _recipe_record(recipe: MnistRecipe, batch_size: int, bf16: bool) -> dict[str, Any]:
    """The recipe as saved in a checkpoint (the batch size and bf16 as this run used them)."""
    record = asdict(recipe)
    for key in ("eval_every", "eval_seconds", "architecture"):
        record.pop(key)
    return record | {"batch_size": batch_size, "bf16": bf16}


def _device(device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _images(
    recipe: MnistRecipe, train: Tensor | None, test: Tensor | None, root: Any, dev: torch.device
) -> tuple[Tensor, Tensor | None, Tensor]:
    """``(train, validation or None, test)`` uint8 ``(N, 784)`` on ``dev``; default the full MNIST."""
    train_u8 = _as_images(train, "train_images") if train is not None else None
    test_u8 = _as_images(test, "test_images") if test is not None else None
    if train_u8 is None:
        train_u8 = _as_images(load_mnist("train", root=root)[0], "train_images")
    if test_u8 is None:
        test_u8 = _as_images(load_mnist("test", root=root)[0], "test_images")
    if recipe.validation >= train_u8.shape[0]:
        raise ValueError(
            f"validation={recipe.validation} would hold out all {train_u8.shape[0]} training images; "
            "keep some to train on"
        )
    n = train_u8.shape[0] - recipe.validation
    val_u8 = train_u8[n:].to(dev) if recipe.validation else None
    return train_u8[:n].to(dev), val_u8, test_u8.to(dev)


def _model(recipe: MnistRecipe, dev: torch.device) -> NICE:
    """The untrained NICE, its weights drawn from a generator seeded by the recipe (global RNG untouched)."""
    config = recipe.config()
    try:
        with torch.random.fork_rng(devices=[]):  # the constructor's own draws are undone
            model = NICE(**config)
    except TypeError as err:
        raise ValueError(f"architecture {config} is not a set of NICE arguments: {err}") from err
    if model.dim != DIM:
        raise ValueError(f"MNIST needs dim={DIM}, got architecture {config}")
    reset_linear_layers(model, torch.Generator().manual_seed(recipe.seed + 2))
    return model.to(dev)


def _start(recipe: MnistRecipe, state: MnistState, checkpoint: Path | None, resume: bool) -> None:
    """Resume ``state`` from ``checkpoint``, or initialise a new run (zeroed outputs, data-dependent init)."""
    if resume and checkpoint is not None and checkpoint.is_file():
        payload = read_checkpoint(checkpoint)
        if payload["config"] != state.model.config():
            raise ValueError(
                f"{checkpoint} holds architecture {payload['config']}, but this run trains "
                f"{state.model.config()}; use another --out or the same architecture"
            )
        state.load_state_dict(payload, checkpoint)
        return
    if recipe.zero_init:
        zero_output_layers(state.model)
    images = state.batches.images
    init = dequantize(images[: min(images.shape[0], 10_000)], state.batches.noise)
    state.model.init_from_data(init, floor=recipe.floor)


def _saver(checkpoint: Path | None, record: dict[str, Any]) -> Callable[..., None]:
    """``save(state, last=None)``: write the run's checkpoint (no-op without ``out``).

    With early stopping the file's model is the selected one and ``last`` (the last weights) stays for resume.
    """

    def save(state: MnistState, last: dict[str, Tensor] | None = None) -> None:
        if checkpoint is None:
            return
        extra = state.state_dict() | ({"last_state_dict": last} if last is not None else {})
        save_checkpoint(checkpoint, state.model, **extra, recipe=record)

    return save


def run_recipe(
    recipe: MnistRecipe,
    out: str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    train_images: Tensor | None = None,
    test_images: Tensor | None = None,
    root: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    threads: int | None = None,
) -> tuple[NICE, MnistHistory]:
    """Train ``recipe`` with :func:`nicelab.fit`; return the model (eval mode) and its history.

    The arguments besides ``recipe`` say where the run happens, not what it learns: see :func:`train_mnist`.
    """
    if not isinstance(recipe, MnistRecipe):
        raise ValueError(f"recipe must be an MnistRecipe, got {type(recipe).__name__}")
    if resume and out is None:
        raise ValueError("resume=True needs out=PATH (the checkpoint to continue)")
    checkpoint = Path(out) if out is not None else None
    if checkpoint is not None:
        check_writable(checkpoint)  # fail now, not at the first save after minutes of training
        remove_stale_temporaries(checkpoint)  # left by a run killed while it was saving
    if threads is not None:
        torch.set_num_threads(threads)
    dev = _device(device)
    use_bf16 = bf16_supported(dev) if recipe.bf16 == "auto" else bool(recipe.bf16)
    train_u8, val_u8, test_u8 = _images(recipe, train_images, test_images, root, dev)
    batch_size = min(recipe.batch_size, train_u8.shape[0])
    model = _model(recipe, dev)
    optimizer = make_optimizer(model, recipe.lr, recipe.scale_lr, float(recipe.weight_decay))
    state = MnistState(
        model=model, optimizer=optimizer, batches=MnistBatches(train_u8, batch_size, recipe.seed)
    )
    _start(recipe, state, checkpoint, resume)
    save = _saver(checkpoint, _recipe_record(recipe, batch_size, use_bf16))
    evaluation = Evaluation(test_u8, val_u8, recipe.evaluation_every(), save)
    if not state.history.eval_step:
        evaluation.evaluate(state)  # the step-0 starting point of the curve
    evaluation.last_seconds = state.history.eval_seconds[-1]
    autocast = torch.bfloat16 if use_bf16 else None
    fit(
        model,
        state.batches,
        steps=recipe.steps,
        seconds=recipe.budget_seconds,
        batch_size=batch_size,
        seed=recipe.seed,  # MnistBatches has its own generators; this only keeps fit off the global RNG
        progress=progress,
        schedule="cosine",
        warmup=recipe.warmup,
        step=GradientStep(lambda x: -model.log_prob(x).mean(), optimizer, autocast=autocast),
        hooks=[evaluation],
        state=state,
        desc="NICE on MNIST",
    )
    return _finish(state, save), state.history


def _finish(state: MnistState, save: Callable[..., None]) -> NICE:
    """Select the returned weights (early stopping: the best validated ones), save, return the model."""
    state.history.best_step = state.step
    last = None
    if state.best.weights is not None:
        state.history.best_step = state.best.step
        last = _copy_state(state.model)
        state.model.load_state_dict(state.best.weights)
    save(state, last)
    return state.model.eval()


def train_mnist(
    minutes: float | None = None,
    steps: int | None = None,
    out: str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    batch_size: int = 200,
    lr: float = 2e-3,
    scale_lr: float = 2e-2,
    bf16: bool | str = "auto",
    seed: int = 0,
    progress: bool = True,
    eval_every: int | None = None,
    eval_seconds: float | None = None,
    train_images: Tensor | None = None,
    test_images: Tensor | None = None,
    root: str | os.PathLike[str] | None = None,
    floor: float = 0.05,
    zero_init: bool = True,
    warmup: int = 3000,
    weight_decay: float = 1.0,
    validation: int = 0,
    architecture: dict[str, Any] | None = None,
    device: str | torch.device | None = None,
    threads: int | None = None,
) -> tuple[NICE, MnistHistory]:
    """Train NICE on MNIST by maximum likelihood; return ``(model, history)``.

    The recipe's arguments (``minutes``, ``steps``, ``batch_size`` … ``architecture``) are the fields of
    :class:`MnistRecipe`, documented there; this builds one and runs it (:func:`run_recipe`). The others:

    Args:
        out: checkpoint path, written atomically at each evaluation and at the end.
        resume: continue from ``out`` if it exists (same architecture, optimizer state, data order).
        progress: show a progress bar.
        train_images, test_images: uint8 pixels; default the full MNIST from :func:`load_mnist`
            (``root``). For a quick run pass the bundled sample: ``load_sample("train")[0]``.
        device: default CUDA when available, else CPU. threads: ``torch.set_num_threads``.

    Returns:
        The trained model (float32, eval mode) and its :class:`MnistHistory` (``history["test_ll"]`` reads
        a column); with ``validation`` the model has the weights of the best validated evaluation.

    Example (seconds, bundled sample)::

        from nicelab.data import load_sample
        model, history = train_mnist(steps=50, train_images=load_sample("train")[0],
                                     test_images=load_sample("test")[0],
                                     architecture=dict(PAPER_ARCHITECTURE, hidden=200, depth=2))
    """
    recipe = MnistRecipe(
        minutes=minutes,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        scale_lr=scale_lr,
        bf16=bf16,
        seed=seed,
        eval_every=eval_every,
        eval_seconds=eval_seconds,
        floor=floor,
        zero_init=zero_init,
        warmup=warmup,
        weight_decay=weight_decay,
        validation=validation,
        architecture=architecture,
    )
    where = {"train_images": train_images, "test_images": test_images, "root": root, "device": device}
    return run_recipe(recipe, out, resume=resume, progress=progress, threads=threads, **where)


__all__ = [
    "PAPER_ARCHITECTURE",
    "PAPER_TEST_LL",
    "EarlyStopping",
    "Evaluation",
    "MnistBatches",
    "MnistHistory",
    "MnistRecipe",
    "MnistState",
    "bf16_supported",
    "make_optimizer",
    "run_recipe",
    "selected_evaluation",
    "train_mnist",
    "zero_output_layers",
]
