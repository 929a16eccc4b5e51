"""Compare MNIST training recipes side by side: same budget, same data, same seed, one after another.

Each arm is one :func:`nicelab.train.train_mnist` run with some recipe arguments changed; the JSON
(default ``benchmarks/results/mnist_recipes.json``) records, per arm, the arguments, the steps and
img/s reached, the test LL curve (nats and bits/dim against training minutes) and the load average
before and after, so an arm that overlapped other work can be spotted. Arms run sequentially in one
process because two runs sharing the 2 cores slow each other down 5-10x.

Usage::

    python benchmarks/mnist_recipes.py --root "$NICELAB_DATA" --minutes 5 \\
        --arm defaults '{}' --arm lr1e-3 '{"lr": 1e-3, "scale_lr": 1e-2}'

Results are appended arm by arm, so an interrupted sweep keeps its finished arms.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from nicelab.data import bits_per_dim, load_mnist
from nicelab.train.mnist import PAPER_TEST_LL, selected_evaluation, train_mnist


def run_arm(
    name: str, kwargs: dict[str, Any], minutes: float | None, train, test, steps: int | None = None
) -> dict[str, Any]:
    """One training run; returns its summary and test-LL curve (and validation LL, if any)."""
    load_before = os.getloadavg()
    start = time.perf_counter()
    when = {"eval_every": max(1, steps // 12)} if steps else {"eval_seconds": minutes * 60 / 5}
    _, history = train_mnist(
        minutes=minutes,
        steps=steps,
        train_images=train,
        test_images=test,
        progress=False,
        **when,
        **kwargs,
    )
    evals = zip(history["eval_seconds"], history["eval_step"], history["test_ll"], strict=True)
    val = history["val_ll"] or [None] * len(history["test_ll"])
    best = selected_evaluation(history)
    batch = kwargs.get("batch_size", 200)
    return {
        "arm": name,
        "kwargs": kwargs,
        "minutes": minutes,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "steps": history["step"][-1],
        "train_img_per_s": history["step"][-1] * batch / history["seconds"][-1],
        "wall_seconds_including_evaluation": time.perf_counter() - start,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "curve": [
            {
                "minutes": s / 60,
                "step": k,
                "test_ll_nats": ll,
                "bits_per_dim": float(bits_per_dim(ll)),
                "validation_ll_nats": v,
            }
            for (s, k, ll), v in zip(evals, val, strict=True)
        ],
        "final_test_ll_nats": history["test_ll"][-1],
        "max_test_ll_nats": max(history["test_ll"]),
        # the run's own choice: the best validation LL (held-out training images), else the last
        "selected_step": history["eval_step"][best],
        "selected_test_ll_nats": history["test_ll"][best],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("NICELAB_DATA"), help="folder with MNIST/raw/")
    parser.add_argument("--minutes", type=float, help="training minutes per arm (default 5 without --steps)")
    parser.add_argument("--steps", type=int, help="Adam steps per arm (with --minutes: whichever ends first)")
    parser.add_argument(
        "--arm",
        nargs=2,
        action="append",
        metavar=("NAME", "JSON"),
        required=True,
        help="an arm: its name and train_mnist keyword arguments as JSON",
    )
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mnist_recipes.json"))
    args = parser.parse_args()
    if args.minutes is None and args.steps is None:
        args.minutes = 5.0
    if args.threads:
        torch.set_num_threads(args.threads)
    arms = [(name, json.loads(spec)) for name, spec in args.arm]
    for name, kwargs in arms:
        if not isinstance(kwargs, dict):
            raise ValueError(f"arm {name!r}: expected a JSON object of train_mnist arguments, got {kwargs!r}")
    train, _ = load_mnist("train", root=args.root)
    test, _ = load_mnist("test", root=args.root)
    out = Path(args.out)
    report: dict[str, Any] = {
        "what": f"train_mnist arms, {args.minutes} training minutes and/or {args.steps} steps each, "
        "run one after another",
        "paper_test_ll_nats": PAPER_TEST_LL,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "arms": [],
    }
    for name, kwargs in arms:
        result = run_arm(name, kwargs, args.minutes, train, test, steps=args.steps)
        report["arms"].append(result)
        print(
            f"{name}: {result['steps']} steps, {result['train_img_per_s']:.0f} img/s, "
            f"test LL {result['final_test_ll_nats']:.1f} nats "
            f"(selected: {result['selected_test_ll_nats']:.1f} at step {result['selected_step']}), "
            f"load {result['load_average_after'][0]:.2f}",
            flush=True,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=1) + "\n")
        tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
