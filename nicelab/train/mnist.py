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

Checkpoints (``out``) are written atomically at every evaluation and at the end: model config and
state_dict (loadable with :func:`nicelab.load_checkpoint`), optimizer state, the data-order
generator, the recipe and the history, so ``resume=True`` continues the same run.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

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
from nicelab.train.optim import fused_adam
from nicelab.train.schedule import cosine, warmup_factor

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


def _positive(value: object, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _as_images(images: Tensor, name: str) -> Tensor:
    """uint8 pixels ``(N, 28, 28)`` or ``(N, 784)`` -> uint8 ``(N, 784)``."""
    if not isinstance(images, Tensor) or images.dtype != torch.uint8:
        raise ValueError(f"{name} must be a uint8 tensor of MNIST pixels (N, 28, 28), got {images!r:.80}")
    if images.dim() < 2 or images.shape[0] == 0 or images[0].numel() != DIM:
        raise ValueError(
            f"{name} must have shape (N, 28, 28) or (N, 784) with N >= 1, got {tuple(images.shape)}"
        )
    return images.reshape(images.shape[0], DIM)


def make_optimizer(model: NICE, lr: float, scale_lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """Adam (standard betas): the couplings at ``lr``, the log-scales at ``scale_lr``.

    ``weight_decay`` is decoupled (AdamW: every step ``w <- w - lr_t * weight_decay * w``, scaled by
    the same schedule as the gradient step) and applies to the couplings' weight matrices only, not
    to biases or the log-scales: it limits how sharply the couplings can fit the training images,
    while the scales stay free to match each pixel's spread. Uses the fused implementation where this
    torch build has it (one kernel for all parameters).
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


def selected_evaluation(history: dict[str, list[float]]) -> int:
    """Index into the per-evaluation history lists of the returned weights' evaluation.

    That is the last evaluation of ``history["best_step"]``: the final one, or with ``validation`` the one
    with the best validation LL.
    """
    return max(k for k, s in enumerate(history["eval_step"]) if s == history["best_step"][0])


def _copy_state(model: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


#: checkpoint fields a resumable (training) checkpoint must have, and their types
RESUME_FIELDS: dict[str, type | tuple[type, ...]] = {
    "optimizer": dict,
    "order_generator": Tensor,
    "noise_generator": Tensor,
    "history": dict,
    "step": int,
    "train_seconds": (int, float),
}


def _resume(
    checkpoint: Path,
    model: NICE,
    optimizer: torch.optim.Optimizer,
    order_gen: torch.Generator,
    noise_gen: torch.Generator,
    n: int,
) -> dict[str, Any]:
    """Restore a run from ``checkpoint`` into ``model``, ``optimizer`` and the generators.

    Returns ``step``, ``train_seconds``, ``history``, ``best`` (early stopping) and ``epoch_rest`` (the
    indices of this epoch's batches not yet drawn; empty at an epoch boundary). Every field is checked
    first, so a broken or foreign checkpoint gives one ``ValueError`` rather than a traceback mid-run.
    """
    payload = read_checkpoint(checkpoint)
    if payload["config"] != model.config():
        raise ValueError(
            f"{checkpoint} holds architecture {payload['config']}, but this run trains {model.config()}; "
            "use another --out or the same architecture"
        )
    if "optimizer" not in payload or "train_seconds" not in payload:
        raise ValueError(f"{checkpoint} is a model-only checkpoint; it cannot resume training")
    for key, kind in RESUME_FIELDS.items():
        if not isinstance(payload.get(key), kind) or isinstance(payload.get(key), bool):
            raise ValueError(f"{checkpoint}: cannot resume (field {key!r} is missing or malformed)")
    rest = payload.get("epoch_rest", torch.empty(0, dtype=torch.long))
    if not isinstance(rest, Tensor) or rest.dtype != torch.long or rest.dim() != 1:
        raise ValueError(f"{checkpoint}: cannot resume (field 'epoch_rest' is not a 1-D index tensor)")
    if rest.numel() and not (0 <= int(rest.min()) and int(rest.max()) < n):
        raise ValueError(
            f"{checkpoint}: cannot resume: it was saved for a training set larger than this run's {n} "
            "images (other data or another --validation)"
        )
    # a finished early-stopped run keeps its best weights as "state_dict", its last as "last_state_dict"
    weights = payload.get("last_state_dict", payload["state_dict"])
    check_state_dict(checkpoint, weights, model)
    best: dict[str, Any] = {"val_ll": -math.inf, "step": 0, "state_dict": None}
    if "best_state_dict" in payload:
        check_state_dict(checkpoint, payload["best_state_dict"], model)
        device = model.scaling.log_scale.device
        best = {
            "val_ll": float(payload["best_val_ll"]),
            "step": int(payload["best_step"]),
            "state_dict": {k: v.to(device) for k, v in payload["best_state_dict"].items()},
        }
    model.load_state_dict(weights)
    try:
        optimizer.load_state_dict(payload["optimizer"])
    except (ValueError, KeyError, TypeError) as err:  # e.g. an older recipe with other parameter groups
        raise ValueError(
            f"{checkpoint}: its optimizer state does not fit this recipe's optimizer ({err}); it was "
            "saved by another version of the recipe. Load the model with nicelab.load_checkpoint, "
            "or train into a new --out"
        ) from err
    for group in optimizer.param_groups:  # load_state_dict checks group sizes, not the moments' shapes
        for p in group["params"]:
            moments = [v for v in optimizer.state.get(p, {}).values() if isinstance(v, Tensor) and v.dim()]
            if any(v.shape != p.shape for v in moments):
                raise ValueError(f"{checkpoint}: cannot resume (optimizer moments do not fit the weights)")
    try:
        order_gen.set_state(payload["order_generator"])
        noise_gen.set_state(payload["noise_generator"])
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{checkpoint}: cannot resume (a random generator state is corrupt: {err})") from err
    history = payload["history"]
    if not all(isinstance(history.get(k, []), list) for k in STEP_KEYS + EVAL_KEYS):
        raise ValueError(f"{checkpoint}: cannot resume (its history is malformed)")
    return {
        "step": payload["step"],
        "train_seconds": float(payload["train_seconds"]),
        "history": {k: list(history.get(k, [])) for k in STEP_KEYS + EVAL_KEYS},
        "best": best,
        "epoch_rest": rest,
    }


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
) -> tuple[NICE, dict[str, list[float]]]:
    """Train NICE on MNIST by maximum likelihood; return ``(model, history)``.

    Args:
        minutes: training budget in minutes of training time (evaluation excluded); the cosine
            schedule spans it. On ``resume`` this is the *total* budget, time already spent included.
        steps: a budget in Adam steps instead (or as well: the run stops at whichever ends first,
            and the schedule follows whichever is further along).
        out: checkpoint path, written atomically at each evaluation and at the end.
        resume: continue from ``out`` if it exists (same architecture, optimizer state, data order).
        batch_size, lr, scale_lr: Adam batch size and learning rates (``scale_lr`` for the log-scales).
        bf16: autocast matmuls to bfloat16; ``"auto"`` (default) turns it on only where the hardware
            has fast bf16 (AMX/AVX512-BF16 CPUs, recent GPUs). Evaluation is always float32, so the
            reported LL is the exact fp32 likelihood of the trained flow.
        eval_every / eval_seconds: evaluate the test LL every so many steps / training seconds.
            Default: ten evaluations over the budget. The final model is always evaluated.
        train_images, test_images: uint8 pixels; default the full MNIST from :func:`load_mnist`
            (``root``). For a quick run pass the bundled sample: ``load_sample("train")[0]``.
        floor: std floor of the data-dependent init.
        zero_init: zero each coupling MLP's output layer first, so every coupling starts as the
            identity and the data-dependent scales see the data itself, not random coupling noise.
        warmup: the couplings' learning rate ramps up linearly over this many steps (the
            log-scales' does not). Adam's first steps move every weight by about ``lr`` in the
            sign of its gradient, which shifts a 1000-input unit's pre-activation by ~1 at once and
            switches many ReLU units off for good; see README "MNIST" for the measured dead units.
        weight_decay: decoupled (AdamW) decay of the couplings' weight matrices, see
            :func:`make_optimizer`; 0 is plain Adam. The default 1.0 keeps long runs from overfitting.
        validation: hold out the last ``validation`` training images (never the test set); each
            evaluation then also measures their LL, and the run returns (and finally checkpoints)
            the weights of the evaluation with the best validation LL: early stopping for budgets
            long enough to overfit. 0 (default): train on all images and return the last weights.
        architecture: NICE constructor arguments; default the paper's ``NICE(784, 4, 1000, 5)``.
        device: default CUDA when available, else CPU. threads: ``torch.set_num_threads``.

    Returns:
        The trained model (float32, eval mode) and a history with per-step ``step, loss, lr,
        seconds`` (loss: batch NLL in nats; seconds: training time), per-evaluation
        ``eval_step, eval_seconds, test_ll, test_bpd`` (test LL in nats, bits/dim) and ``val_ll``
        (only with ``validation``), and ``best_step``: ``[the step whose weights are returned]``.

    Example (seconds, bundled sample)::

        from nicelab.data import load_sample
        model, history = train_mnist(steps=50, train_images=load_sample("train")[0],
                                     test_images=load_sample("test")[0],
                                     architecture=dict(PAPER_ARCHITECTURE, hidden=200, depth=2))
    """
    if minutes is None and steps is None:
        raise ValueError("give a budget: minutes=... and/or steps=...")
    budget_s = _positive(minutes, "minutes") * 60.0 if minutes is not None else math.inf
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    lr, scale_lr = _positive(lr, "lr"), _positive(scale_lr, "scale_lr")
    _positive(floor, "floor")
    if bf16 not in (True, False, "auto"):
        raise ValueError(f"bf16 must be True, False or 'auto', got {bf16!r}")
    if eval_every is not None and (
        isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1
    ):
        raise ValueError(f"eval_every must be a positive integer, got {eval_every!r}")
    if eval_seconds is not None:
        _positive(eval_seconds, "eval_seconds")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
        raise ValueError(f"warmup must be a positive integer number of steps, got {warmup!r}")
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, (int, float))
        or not (math.isfinite(weight_decay) and weight_decay >= 0)
    ):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    if isinstance(validation, bool) or not isinstance(validation, int) or validation < 0:
        raise ValueError(f"validation must be a number of held-out images >= 0, got {validation!r}")
    if resume and out is None:
        raise ValueError("resume=True needs out=PATH (the checkpoint to continue)")
    checkpoint = Path(out) if out is not None else None
    if checkpoint is not None:
        check_writable(checkpoint)  # fail now, not at the first save after minutes of training
        remove_stale_temporaries(checkpoint)  # left by a run killed while it was saving
    if threads is not None:
        torch.set_num_threads(threads)
    dev = (
        torch.device(device)
        if device is not None
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    use_bf16 = bf16_supported(dev) if bf16 == "auto" else bool(bf16)

    train_u8 = _as_images(train_images, "train_images") if train_images is not None else None
    test_u8 = _as_images(test_images, "test_images") if test_images is not None else None
    if train_u8 is None:
        train_u8 = _as_images(load_mnist("train", root=root)[0], "train_images")
    if test_u8 is None:
        test_u8 = _as_images(load_mnist("test", root=root)[0], "test_images")
    if validation >= train_u8.shape[0]:
        raise ValueError(
            f"validation={validation} would hold out all {train_u8.shape[0]} training images; "
            "keep some to train on"
        )
    n = train_u8.shape[0] - validation
    val_u8 = train_u8[n:].to(dev) if validation else None
    train_u8, test_u8 = train_u8[:n].to(dev), test_u8.to(dev)
    batch_size = min(batch_size, n)

    config = dict(PAPER_ARCHITECTURE if architecture is None else architecture)
    try:
        with torch.random.fork_rng(devices=[]):  # weights depend on seed only; global RNG untouched
            torch.manual_seed(seed)
            model = NICE(**config).to(dev)
    except TypeError as err:
        raise ValueError(f"architecture {config} is not a set of NICE arguments: {err}") from err
    if model.dim != DIM:
        raise ValueError(f"MNIST needs dim={DIM}, got architecture {config}")
    optimizer = make_optimizer(model, lr, scale_lr, float(weight_decay))
    order_gen = torch.Generator(device="cpu").manual_seed(seed)
    noise_gen = torch.Generator(device=dev).manual_seed(seed + 1)
    history: dict[str, list[float]] = {k: [] for k in STEP_KEYS + EVAL_KEYS}
    step, trained_s = 0, 0.0
    best: dict[str, Any] = {"val_ll": -math.inf, "step": 0, "state_dict": None}  # early stopping
    queue: list[Tensor] = []  # the rest of this epoch's shuffled batches

    if resume and checkpoint is not None and checkpoint.is_file():
        state = _resume(checkpoint, model, optimizer, order_gen, noise_gen, n)
        step, trained_s = state["step"], state["train_seconds"]
        history, best = state["history"], state["best"]
        # an empty rest (a checkpoint at the end of an epoch) means: shuffle anew at the next step
        rest = state["epoch_rest"].to(dev)
        queue = list(rest.split(batch_size)) if rest.numel() else []
    else:
        if zero_init:
            zero_output_layers(model)
        init = dequantize(train_u8[: min(n, 10_000)], noise_gen).to(dev)
        model.init_from_data(init, floor=floor)

    def progress_of(s: int, secs: float) -> float:
        return max(s / steps if steps is not None else 0.0, secs / budget_s)

    if eval_every is None and eval_seconds is None:
        if steps is not None:
            eval_every = max(1, steps // 10)
        else:
            eval_seconds = max(budget_s / 10, 5.0)

    def evaluate_now() -> None:
        ll = evaluate(model, test_u8, batch_size=1000)
        history["eval_step"].append(step)
        history["eval_seconds"].append(trained_s)
        history["test_ll"].append(ll)
        history["test_bpd"].append(float(bits_per_dim(ll)))
        if val_u8 is not None:
            # the selection sees held-out *training* images only; the test LL is just recorded
            val = evaluate(model, val_u8, batch_size=1000)
            history["val_ll"].append(val)
            if val > best["val_ll"]:
                best.update(val_ll=val, step=step, state_dict=_copy_state(model))

    def save(last: dict[str, Tensor] | None = None) -> None:
        if checkpoint is None:
            return
        extra: dict[str, Any] = {}
        if best["state_dict"] is not None:
            extra = {
                "best_state_dict": best["state_dict"],
                "best_val_ll": best["val_ll"],
                "best_step": best["step"],
            }
        if last is not None:  # the file's model is the selected one; the last weights stay for resume
            extra["last_state_dict"] = last
        save_checkpoint(
            checkpoint,
            model,
            **extra,
            optimizer=optimizer.state_dict(),
            order_generator=order_gen.get_state(),
            epoch_rest=torch.cat(queue).cpu() if queue else torch.empty(0, dtype=torch.long),
            noise_generator=noise_gen.get_state().cpu(),
            history=history,
            step=step,
            train_seconds=trained_s,
            recipe={
                "minutes": minutes,
                "steps": steps,
                "batch_size": batch_size,
                "lr": lr,
                "scale_lr": scale_lr,
                "bf16": use_bf16,
                "seed": seed,
                "floor": floor,
                "zero_init": zero_init,
                "warmup": warmup,
                "weight_decay": weight_decay,
                "validation": validation,
            },
        )

    from tqdm.auto import tqdm

    if not history["eval_step"]:
        evaluate_now()  # the step-0 (or resumed) starting point of the curve
    total = steps if steps is not None and budget_s == math.inf else 1000
    bar = tqdm(
        total=total, disable=not progress, desc="NICE on MNIST", unit="step" if total == steps else "‰"
    )
    bar.update(min(total, round(progress_of(step, trained_s) * total)))
    last_eval_s = history["eval_seconds"][-1]
    model.train()
    while progress_of(step, trained_s) < 1.0:
        t0 = time.perf_counter()
        factor = cosine(progress_of(step, trained_s))
        ramp = warmup_factor(step, warmup)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor * (ramp if group.get("warmup") else 1.0)
        if not queue:  # one shuffle per epoch; the last partial batch is dropped
            perm = torch.randperm(n, generator=order_gen).to(dev)
            queue = list(perm[: n - n % batch_size].split(batch_size))
        x = dequantize(train_u8[queue.pop(0)], noise_gen)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss = -model.log_prob(x).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if not math.isfinite(value):
            bar.close()
            raise FloatingPointError(f"loss became {value} at step {step + 1}; lower lr or check the data")
        step += 1
        trained_s += time.perf_counter() - t0
        history["step"].append(step)
        history["loss"].append(value)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["seconds"].append(trained_s)
        bar.update(min(total, round(progress_of(step, trained_s) * total)) - bar.n)
        done = progress_of(step, trained_s) >= 1.0
        due = (eval_every is not None and step % eval_every == 0) or (
            eval_seconds is not None and trained_s - last_eval_s >= eval_seconds
        )
        if due or done:
            evaluate_now()
            last_eval_s = trained_s
            save()
            model.train()
            bar.set_postfix(loss=f"{value:.1f}", test_ll=f"{history['test_ll'][-1]:.1f}")
    bar.close()
    history["best_step"] = [float(step)]
    last = None
    if best["state_dict"] is not None:  # early stopping: return the best validated weights
        history["best_step"] = [float(best["step"])]
        last = _copy_state(model)
        model.load_state_dict(best["state_dict"])
    save(last)
    return model.eval(), history


__all__ = [
    "PAPER_ARCHITECTURE",
    "PAPER_TEST_LL",
    "bf16_supported",
    "make_optimizer",
    "selected_evaluation",
    "train_mnist",
    "zero_output_layers",
]
