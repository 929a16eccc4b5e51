"""Lesson 05 benchmark: the default 2-D NICE recipe on every toy dataset, scored by the exact KL gap.

For each dataset: build ``nice_for(dataset)`` (``NICE_2D``), train with ``nicelab.fit`` on fresh samples
(``FIT_2D``, cosine schedule) for a fixed number of steps on one CPU thread, then estimate on ``n_eval``
fresh samples, all from the same draw::

    NLL = -mean log q(x),   H = -mean log p(x),   KL gap = NLL - H  (paired, with its standard error)

CPU seconds are this process's CPU time (robust to other jobs sharing the machine); wall seconds are
reported beside them so contention is visible. Writes JSON (default ``benchmarks/results/toy2d.json``)
and prints a Markdown table.

    python benchmarks/toy2d.py                      # all datasets, 6000 steps each
    python benchmarks/toy2d.py --datasets moons --steps 2000 --out /tmp/moons.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch

import nicelab
from nicelab import datasets as D

TARGET_NATS = 0.05
TARGET_CPU_SECONDS = 60.0
MIXTURES = ("eight_gaussians", "two_gaussians")


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: D.Toy2D, n: int, seed: int) -> dict[str, float]:
    """NLL, entropy and KL gap (with standard error) on one fresh draw of ``n`` samples."""
    x = dataset.sample(n, torch.Generator().manual_seed(seed))
    log_p = dataset.log_prob(x.double())
    model.eval()
    log_q = torch.cat([model.log_prob(x[i : i + 8192]) for i in range(0, n, 8192)]).double()
    diff = log_p - log_q
    return {
        "nll": float(-log_q.mean()),
        "entropy": float(-log_p.mean()),
        "kl_gap": float(diff.mean()),
        "kl_stderr": float(diff.std() / math.sqrt(n)),
    }


def run_one(name: str, steps: int, seed: int, n_eval: int) -> dict[str, object]:
    dataset = D.get(name)
    torch.manual_seed(seed)
    model = D.nice_for(dataset, generator=torch.Generator().manual_seed(seed))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    nicelab.fit(model, dataset.sample, steps=steps, seed=seed, progress=False, **D.FIT_2D)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    scores = evaluate(model, dataset, n_eval, seed + 1)
    return {"dataset": name, "steps": steps, "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2)} | {
        k: round(v, 5) for k, v in scores.items()
    }


def markdown(results: list[dict[str, object]]) -> str:
    """The results as a Markdown table (the README and the lesson show this)."""
    rows = [
        "| dataset | steps | CPU s | wall s | NLL (nats) | true entropy H | KL gap = NLL - H |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r['dataset']} | {r['steps']} | {r['cpu_seconds']:.1f} | {r['wall_seconds']:.1f} | "
            f"{r['nll']:.3f} | {r['entropy']:.3f} | {r['kl_gap']:.3f} ± {r['kl_stderr']:.3f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="*", default=list(D.DATASETS), help="names (default: all)")
    parser.add_argument("--steps", type=int, default=6000, help="Adam steps per dataset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-eval", type=int, default=100_000, help="fresh samples for NLL, H and the gap")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time = one core)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "toy2d.json")
    args = parser.parse_args(argv)
    for name in args.datasets:
        D.get(name)  # fail early on a typo
    if args.steps < 1 or args.n_eval < 2 or args.threads < 1:
        parser.error("--steps and --threads must be >= 1 and --n-eval >= 2")
    torch.set_num_threads(args.threads)

    results = []
    for name in args.datasets:
        results.append(run_one(name, args.steps, args.seed, args.n_eval))
        r = results[-1]
        print(f"{name:16s} gap {r['kl_gap']:.4f} ± {r['kl_stderr']:.4f} nats  ({r['cpu_seconds']:.1f} s CPU)")
    report = {
        "recipe": {"nice": D.NICE_2D, "fit": D.FIT_2D, "steps": args.steps, "seed": args.seed},
        "n_eval": args.n_eval,
        "threads": args.threads,
        "target": {"kl_gap_nats": TARGET_NATS, "cpu_seconds": TARGET_CPU_SECONDS, "datasets": list(MIXTURES)},
        "machine": {
            "platform": platform.platform(),
            "cpus": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(results))
    for r in results:
        if r["dataset"] in MIXTURES:
            met = r["kl_gap"] <= TARGET_NATS and r["cpu_seconds"] <= TARGET_CPU_SECONDS
            print(
                f"target (gap <= {TARGET_NATS} in <= {TARGET_CPU_SECONDS:.0f} s CPU) on {r['dataset']}: {met}"
            )
    return report


if __name__ == "__main__":
    main()
