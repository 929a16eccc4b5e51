"""Benchmark the paper-size NICE on MNIST: training throughput and test LL against wall-clock time.

Writes one JSON file (default ``benchmarks/results/mnist.json``) with:

* ``throughput``: training img/s at batch 200 (one Adam step = forward + backward + update) in
  float32 and, where the CPU/GPU supports it, bf16 autocast; beside it the float32 matmul peak
  measured in the same process on the same shapes, turned into an img/s bound
  (peak FLOP/s / training FLOPs per image), and the ratio achieved / bound (target >= 0.85).
  Measurements alternate between the step and the peak so both see the same machine load; the best
  of several rounds is reported (the machine may be shared) and the load average is recorded.
* ``normflows``: the same step with normflows' NICE-style additive-coupling flow, if importable.
* ``run``: the test log-likelihood (nats and bits/dim) against training minutes for one run of
  :func:`nicelab.train.train_mnist` (``--minutes``), beside the paper's 1980.50 nats.

Usage::

    NICELAB_DATA=/path/to/data python benchmarks/mnist.py --minutes 5 [--bf16 on|off] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from nicelab import NICE
from nicelab.data import bits_per_dim, dequantize, load_mnist
from nicelab.train.loop import GradientStep
from nicelab.train.mnist import (
    PAPER_ARCHITECTURE,
    PAPER_TEST_LL,
    MnistBatches,
    MnistRecipe,
    bf16_supported,
    make_optimizer,
    train_mnist,
)

BATCH = 200
#: the recipe's defaults, read from the recipe dataclass (as the command line does) so they never drift
RECIPE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(MnistRecipe)}


def train_flops_per_image(dim: int = 784, hidden: int = 1000, depth: int = 5, n_couplings: int = 4) -> float:
    """Matmul FLOPs of one training step per image: 3 x forward (forward, grad-input, grad-weight)."""
    half = dim // 2
    macs = half * hidden + (depth - 1) * hidden * hidden + hidden * (dim - half)
    return 3 * 2 * macs * n_couplings


def matmul_peak(dtype: torch.dtype = torch.float32, reps: int = 30) -> float:
    """Best FLOP/s of the step's dominant GEMM, (200 x 1000) @ (1000 x 1000), in ``dtype``."""
    a, w = torch.randn(BATCH, 1000, dtype=dtype), torch.randn(1000, 1000, dtype=dtype)
    out = torch.empty(BATCH, 1000, dtype=dtype)
    for _ in range(3):
        torch.mm(a, w, out=out)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, w, out=out)
        best = min(best, (time.perf_counter() - t) / reps)
    return 2 * BATCH * 1000 * 1000 / best


def step_timer(optimizer: torch.optim.Optimizer, loss_fn, bf16: bool, images: torch.Tensor):
    """Return ``timed(k)``: img/s over ``k`` training steps (batch 200) minimising ``loss_fn(x)``.

    The step is the recipe's own: :class:`~nicelab.train.loop.GradientStep` (forward under autocast, the
    NaN check, backward, update) on :class:`~nicelab.train.mnist.MnistBatches` (shuffled, freshly
    dequantized batches), so the benchmark times what ``train_mnist`` runs, not a copy of it.
    """
    batches = MnistBatches(images, BATCH, seed=0)
    step = GradientStep(loss_fn, optimizer, autocast=torch.bfloat16 if bf16 else None)

    def timed(k: int) -> float:
        t = time.perf_counter()
        for _ in range(k):
            step(batches(BATCH))
        return k * BATCH / (time.perf_counter() - t)

    for _ in range(3):  # warm-up: allocator, oneDNN kernels, optimizer state
        step(batches(BATCH))
    return timed


def optimizer_seconds(optimizer: torch.optim.Optimizer, k: int) -> float:
    """Seconds per ``optimizer.step()`` alone (the gradients of the last training step are reused).

    The fused AdamW update reads and writes every parameter and both moment buffers: memory-bound work
    that no matmul speed can hide, so it caps the ratio to the matmul bound (see ``ceiling_per_round``).
    """
    t = time.perf_counter()
    for _ in range(k):
        optimizer.step()
    return (time.perf_counter() - t) / k


#: profiler op names by category, for :func:`profile_step` (everything else counts as "other")
OP_CATEGORIES = {
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul"),
    "optimizer": ("aten::_fused_adamw_", "aten::_fused_adam_"),
    "relu": ("aten::clamp_min", "aten::relu", "aten::threshold_backward", "aten::clamp_min_"),
    "copies": ("aten::copy_", "aten::_to_copy", "aten::clone", "aten::contiguous"),
}


def profile_step(timed, steps: int, flops_per_image: float, peak: float) -> dict[str, Any]:
    """Where one float32 training step's time goes, from ``torch.profiler`` over ``steps`` steps.

    ``share`` splits the summed self-CPU time of all ops into :data:`OP_CATEGORIES`. Since
    ``ratio to the bound = (matmul FLOP/s in the step / peak) x matmul share``, it also reports the
    step's own matmul rate against the reference ``peak`` (nominal FLOPs: the first coupling's
    input gradient, which autograd skips, is counted, so the rate reads slightly high).
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        timed(steps)
    totals = dict.fromkeys([*OP_CATEGORIES, "other"], 0.0)
    for event in prof.key_averages():
        category = next((k for k, names in OP_CATEGORIES.items() if event.key in names), "other")
        totals[category] += event.self_cpu_time_total * 1e-6
    total = sum(totals.values())
    matmul_rate = flops_per_image * BATCH * steps / totals["matmul"]
    return {
        "steps": steps,
        "seconds": {k: round(v, 6) for k, v in totals.items()},
        "share": {k: round(v / total, 4) for k, v in totals.items()},
        "matmul_gflops_in_step": matmul_rate / 1e9,
        "matmul_rate_over_peak": matmul_rate / peak,
    }


def normflows_nice() -> tuple[Any, str | None]:
    """normflows' equivalent NICE (same sizes, additive couplings, diagonal scaling), or a skip reason.

    normflows lists flows from the base distribution towards the data, so the scaling comes first.
    Its couplings split and merge the vector at every layer (checkerboard masks); its base is a
    standard Gaussian (the prior's cost is negligible next to the MLPs).
    """
    try:
        import normflows as nf
    except ImportError as err:
        return None, f"normflows is not importable ({err}); pip install normflows to compare"
    flows = [nf.flows.AffineConstFlow((784,), scale=True, shift=False)]
    for i in reversed(range(4)):
        net = nf.nets.MLP([392] + [1000] * 5 + [392])
        mode = "checkerboard" if i % 2 == 0 else "checkerboard_inv"
        flows.append(nf.flows.AffineCouplingBlock(net, scale=False, split_mode=mode))
    base = nf.distributions.DiagGaussian(784, trainable=False)
    return nf.NormalizingFlow(q0=base, flows=flows), None


def measure_throughput(
    images: torch.Tensor, rounds: int, steps: int, profile: bool = False
) -> dict[str, Any]:
    """Interleave step timing and the matmul peak; report best and median of ``rounds``.

    ``profile``: also break one float32 step down by op category (:func:`profile_step`).
    """
    torch.manual_seed(0)
    model = NICE(**PAPER_ARCHITECTURE).init_from_data(dequantize(images[:2000]))
    modes = ["fp32"] + (["bf16"] if bf16_supported(torch.device("cpu")) else [])
    # the recipe's optimizer, weight decay included (AdamW's decay is one more term in the same fused kernel)
    optimizer = make_optimizer(model, 1e-5, 1e-5, RECIPE_DEFAULTS["weight_decay"])
    timers = {
        mode: step_timer(optimizer, lambda x: -model.log_prob(x).mean(), mode == "bf16", images)
        for mode in modes
    }
    reference, skipped = normflows_nice()
    if reference is not None:
        ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-5, fused=True)
        timers["normflows_fp32"] = step_timer(ref_opt, reference.forward_kld, False, images)
        modes.append("normflows_fp32")
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    peaks: list[float] = []
    peaks_bf16: list[float] = []
    optimizer_s: list[float] = []
    for _ in range(rounds):
        peaks.append(matmul_peak())
        for mode in modes:
            samples[mode].append(timers[mode](steps))
        optimizer_s.append(optimizer_seconds(optimizer, steps))
        if "bf16" in samples:
            peaks_bf16.append(matmul_peak(torch.bfloat16))
    flops = train_flops_per_image()
    peak = max(peaks)
    result: dict[str, Any] = {
        "batch_size": BATCH,
        "threads": torch.get_num_threads(),
        "train_flops_per_image": flops,
        "fp32_matmul_peak_gflops": {"best": peak / 1e9, "median": statistics.median(peaks) / 1e9},
        "fp32_bound_img_per_s": peak / flops,
    }
    if peaks_bf16:
        result["bf16_matmul_peak_gflops"] = {"best": max(peaks_bf16) / 1e9}
    for mode in modes:
        best = max(samples[mode])
        result[mode] = {
            "img_per_s": {"best": best, "median": statistics.median(samples[mode]), "all": samples[mode]},
            "ratio_to_fp32_bound": best / (peak / flops),
        }
    # The per-round ratio, step and peak measured back to back under the same load.
    result["fp32"]["ratio_per_round"] = [s / (p / flops) for s, p in zip(samples["fp32"], peaks, strict=True)]
    # The ratio a step could reach if its matrix products ran exactly at that round's reference peak and
    # nothing else cost time but the optimizer's update: bound time / (bound time + optimizer time).
    bound_s = [BATCH * flops / p for p in peaks]
    result["fp32"]["optimizer_step_ms_per_round"] = [1e3 * t for t in optimizer_s]
    result["fp32"]["ceiling_per_round"] = [b / (b + t) for b, t in zip(bound_s, optimizer_s, strict=True)]
    if reference is None:
        result["normflows_fp32"] = {"skipped": skipped}
    else:
        result["nicelab_over_normflows_fp32"] = max(samples["fp32"]) / max(samples["normflows_fp32"])
    if "bf16" in modes:
        result["bf16_speedup_over_fp32"] = max(samples["bf16"]) / max(samples["fp32"])
    if profile:
        result["fp32_profile"] = profile_step(timers["fp32"], steps, flops, peak)
    return result


def plot_curve(report: dict[str, Any], path: Path) -> Path:
    """Save test LL (nats) against training minutes, with the paper's 1980.50 as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = report["run"]["curve"]
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    minutes = [p["minutes"] for p in curve]
    ax.plot(minutes, [p["test_ll_nats"] for p in curve], "o-", label="nicelab NICE(784, 4, 1000, 5)")
    ax.axhline(PAPER_TEST_LL, color="k", ls="--", lw=1, label=f"paper, 1500 epochs on a GPU: {PAPER_TEST_LL}")
    lls = [p["test_ll_nats"] for p in curve]
    ax.set_ylim(min(*lls, PAPER_TEST_LL) - 50, max(*lls, PAPER_TEST_LL) + 50)
    ax.set_xlabel("training minutes (evaluation excluded)")
    ax.set_ylabel("test log-likelihood (nats)")
    precision = "bf16 autocast" if report["run"]["bf16"] else "float32"
    machine = report["machine"]
    load = machine.get("load_average_start", [0.0])[0]
    threads = report["throughput"]["threads"]
    ax.set_title(
        f"MNIST test LL vs time: {machine['cpus']}-core CPU, {threads} thread(s), "
        f"load {load:.0f}, {precision}",
        fontsize=10,
    )
    ax.legend(loc="center right")
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("NICELAB_DATA"), help="folder with MNIST/raw/")
    parser.add_argument(
        "--minutes", type=float, default=5.0, help="training minutes for the LL curve (0: skip)"
    )
    parser.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="precision of the run")
    parser.add_argument("--rounds", type=int, default=5, help="throughput rounds (best is reported)")
    parser.add_argument("--steps", type=int, default=10, help="steps per throughput round")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument(
        "--profile", action="store_true", help="also split a float32 step by op category (torch.profiler)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mnist.json"))
    parser.add_argument(
        "--checkpoint", help="also keep the trained model here (e.g. runs/mnist.pt, which lesson 06 loads)"
    )
    parser.add_argument("--plot-only", action="store_true", help="only redraw the curve PNG from --out")
    args = parser.parse_args()
    if args.plot_only:
        out = Path(args.out)
        print(f"wrote {plot_curve(json.loads(out.read_text()), out.with_suffix('.png'))}")
        return
    if args.threads:
        torch.set_num_threads(args.threads)

    train_images, _ = load_mnist("train", root=args.root)
    report: dict[str, Any] = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "load_average_start": os.getloadavg(),
        },
    }
    report["throughput"] = measure_throughput(
        train_images.reshape(-1, 784), args.rounds, args.steps, profile=args.profile
    )
    print(json.dumps(report["throughput"], indent=1))

    if args.minutes > 0:
        bf16 = {"on": True, "off": False, "auto": "auto"}[args.bf16]
        start = time.perf_counter()
        model, history = train_mnist(
            minutes=args.minutes, root=args.root, bf16=bf16, progress=True, out=args.checkpoint
        )
        steps = history["step"][-1]
        report["run"] = {
            "minutes": args.minutes,
            "bf16": bf16 if bf16 != "auto" else bf16_supported(torch.device("cpu")),
            "recipe": {
                k: RECIPE_DEFAULTS[k]
                for k in ("batch_size", "lr", "scale_lr", "warmup", "zero_init", "floor", "weight_decay")
            },
            "steps": steps,
            "train_img_per_s": steps * BATCH / history["seconds"][-1],
            "wall_seconds_including_evaluation": time.perf_counter() - start,
            "curve": [
                {"minutes": s / 60, "step": k, "test_ll_nats": ll, "bits_per_dim": float(bits_per_dim(ll))}
                for s, k, ll in zip(
                    history["eval_seconds"], history["eval_step"], history["test_ll"], strict=True
                )
            ],
            "final_test_ll_nats": history["test_ll"][-1],
            "final_bits_per_dim": history["test_bpd"][-1],
            "paper_test_ll_nats": PAPER_TEST_LL,
        }
        print(json.dumps(report["run"], indent=1))
    report["machine"]["load_average_end"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    if "run" in report:
        print(f"wrote {plot_curve(report, out.with_suffix('.png'))}")


if __name__ == "__main__":
    main()
