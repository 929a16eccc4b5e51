"""Compare MNIST training recipes side by side: same budget, same data, same seed, one after another.

Each arm is one :func:`nicelab.train.train_mnist` run with some recipe arguments changed; the JSON
(default ``benchmarks/results/mnist_recipes.json``) records, per arm, the arguments, the steps and
img/s reached, the test LL curve (nats and bits/dim against training minutes) and the load average
before and after, so an arm that overlapped other work can be spotted. Arms run sequentially in one
process because two runs sharing the 2 cores slow each other down 5-10x.

Usage::

    python benchmarks/mnist_recipes.py --root /work/shared/data --minutes 5 \\
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
from nicelab.train.mnist import PAPER_TEST_LL, train_mnist


def run_arm(name: str, kwargs: dict[str, Any], minutes: float, train, test) -> dict[str, Any]:
    """One training run; returns its summary and test-LL curve."""
    load_before = os.getloadavg()
    start = time.perf_counter()
    _, history = train_mnist(
        minutes=minutes,
        train_images=train,
        test_images=test,
        eval_seconds=minutes * 60 / 5,
        progress=False,
        **kwargs,
    )
    steps = history["step"][-1]
    evals = zip(history["eval_seconds"], history["eval_step"], history["test_ll"], strict=True)
    batch = kwargs.get("batch_size", 200)
    return {
        "arm": name,
        "kwargs": kwargs,
        "minutes": minutes,
        "steps": steps,
        "train_img_per_s": steps * batch / history["seconds"][-1],
        "wall_seconds_including_evaluation": time.perf_counter() - start,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "curve": [
            {"minutes": s / 60, "step": k, "test_ll_nats": ll, "bits_per_dim": float(bits_per_dim(ll))}
            for s, k, ll in evals
        ],
        "final_test_ll_nats": history["test_ll"][-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("NICELAB_DATA"), help="folder with MNIST/raw/")
    parser.add_argument("--minutes", type=float, default=5.0, help="training minutes per arm")
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
        "what": f"train_mnist arms, {args.minutes} training minutes each, run one after another",
        "paper_test_ll_nats": PAPER_TEST_LL,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "arms": [],
    }
    for name, kwargs in arms:
        result = run_arm(name, kwargs, args.minutes, train, test)
        report["arms"].append(result)
        print(
            f"{name}: {result['steps']} steps, {result['train_img_per_s']:.0f} img/s, "
            f"test LL {result['final_test_ll_nats']:.1f} nats, load {result['load_average_after'][0]:.2f}",
            flush=True,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=1) + "\n")
        tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
