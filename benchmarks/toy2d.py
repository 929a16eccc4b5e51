"""Lesson 05 benchmark: the default 2-D NICE recipe on every toy dataset, scored by the exact KL gap.

For each dataset and seed: build ``nice_for(dataset)`` (``NICE_2D``), train with ``nicelab.fit`` on fresh
samples (``FIT_2D``, cosine schedule) for a fixed number of steps on one CPU thread, then estimate on
``n_eval`` fresh samples, all from the same draw::

    NLL = -mean log q(x),   H = -mean log p(x),   KL gap = NLL - H  (paired, with its standard error)

Why several seeds: the gap a run reaches depends on its seed far more than on the evaluation noise (on
eight_gaussians one recipe gave 0.12, 0.27 and 0.13 nats for seeds 0-2, each with a standard error of
0.002), so one seed cannot rank recipes. The summary gives each dataset's mean, best and worst gap over
the seeds; a target is met when the mean gap is within it and every run is within the CPU budget.

CPU seconds are this process's CPU time (robust to other jobs sharing the machine); wall seconds are
reported beside them so contention is visible. Writes JSON (default ``benchmarks/results/toy2d.json``)
and prints a Markdown table.

    python benchmarks/toy2d.py                      # all datasets, 5000 steps, seeds 0 1 2
    python benchmarks/toy2d.py --datasets moons --steps 2000 --seeds 0 --out /tmp/moons.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Any

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
    timing = {"cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2)}
    rounded = {k: round(v, 5) for k, v in scores.items()}
    return {"dataset": name, "seed": seed, "steps": steps} | timing | rounded


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per dataset: mean, best and worst KL gap over its seeds, mean and worst CPU seconds."""
    rows = []
    for name in dict.fromkeys(r["dataset"] for r in results):
        runs = [r for r in results if r["dataset"] == name]
        gaps = [r["kl_gap"] for r in runs]
        cpu = [r["cpu_seconds"] for r in runs]
        rows.append(
            {
                "dataset": name,
                "steps": runs[0]["steps"],
                "seeds": [r["seed"] for r in runs],
                "cpu_seconds_mean": round(statistics.fmean(cpu), 2),
                "cpu_seconds_max": max(cpu),
                "nll_mean": round(statistics.fmean(r["nll"] for r in runs), 5),
                "entropy": round(statistics.fmean(r["entropy"] for r in runs), 5),
                "kl_gap_mean": round(statistics.fmean(gaps), 5),
                "kl_gap_min": min(gaps),
                "kl_gap_max": max(gaps),
            }
        )
    return rows


def target_met(row: dict[str, Any]) -> bool:
    """The issue's target for one summary row: mean gap within it, every run within the CPU budget."""
    return row["kl_gap_mean"] <= TARGET_NATS and row["cpu_seconds_max"] <= TARGET_CPU_SECONDS


def markdown(summary: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table (the README shows this)."""
    rows = [
        "| dataset | steps | seeds | CPU s (mean / max) | NLL | entropy H | KL gap: mean | best | worst |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary:
        rows.append(
            f"| {r['dataset']} | {r['steps']} | {len(r['seeds'])} | "
            f"{r['cpu_seconds_mean']:.1f} / {r['cpu_seconds_max']:.1f} | {r['nll_mean']:.3f} | "
            f"{r['entropy']:.3f} | **{r['kl_gap_mean']:.3f}** | "
            f"{r['kl_gap_min']:.3f} | {r['kl_gap_max']:.3f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="*", default=list(D.DATASETS), help="names (default: all)")
    parser.add_argument("--steps", type=int, default=5000, help="Adam steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed")
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
        for seed in args.seeds:
            results.append(run_one(name, args.steps, seed, args.n_eval))
            r = results[-1]
            print(
                f"{name:16s} seed {seed}: gap {r['kl_gap']:.4f} ± {r['kl_stderr']:.4f} nats"
                f"  ({r['cpu_seconds']:.1f} s CPU)"
            )
    summary = summarise(results)
    report = {
        "recipe": {"nice": D.NICE_2D, "fit": D.FIT_2D, "steps": args.steps, "seeds": args.seeds},
        "n_eval": args.n_eval,
        "threads": args.threads,
        "target": {"kl_gap_nats": TARGET_NATS, "cpu_seconds": TARGET_CPU_SECONDS, "datasets": list(MIXTURES)},
        "machine": {
            "platform": platform.platform(),
            "cpus": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "summary": summary,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(summary))
    for row in summary:
        if row["dataset"] in MIXTURES:
            print(
                f"target (mean gap <= {TARGET_NATS}, every run <= {TARGET_CPU_SECONDS:.0f} s CPU) "
                f"on {row['dataset']}: {target_met(row)}"
            )
    return report


if __name__ == "__main__":
    main()
