"""The 2-D benchmark: NICE (additive), affine and spline coupling flows on every toy dataset, scored by the
exact KL gap, with zuko's NSF and RealNVP side by side when zuko is installed (``pip install -e .[bench]``).

For each dataset, model and seed: build the model, train it on fresh samples with the same budget
(``--seconds`` of this process's CPU time, or ``--steps``) on one CPU thread, then estimate on ``n_eval``
fresh samples, the same draw for every model of that seed::

    NLL = -mean log q(x),   H = -mean log p(x),   KL gap = NLL - H  (paired, with its standard error)

nicelab's models are ``nicelab.train.fit_toy2d(dataset, coupling)`` (recipes in
``nicelab.train.toy2d.RECIPES``). The peers are zuko flows with the settings measured for the issue,
``NSF(features=2, transforms=6, hidden_features=(64, 64), bins=16)`` and
``RealNVP(features=2, transforms=8)``, trained by the same loop (``nicelab.fit``: Adam 3e-3 with cosine
decay, batch 512), budget, data and KL estimator.

Why several seeds: the gap a run reaches depends on its seed far more than on the evaluation noise, so one
seed cannot rank recipes. The summary gives each (dataset, model) mean, best and worst gap over the seeds.
CPU seconds are this process's CPU time (robust to other jobs sharing the machine); wall seconds are reported
beside them so contention is visible. Writes JSON and prints Markdown tables.

    python benchmarks/toy2d.py                                   # NICE, 5000 steps, all datasets, seeds 0-2
    python benchmarks/toy2d.py --coupling additive,affine,spline --seconds 60 --seeds 0 \\
        --out benchmarks/results/toy2d_couplings_a.json         # + zuko NSF / RealNVP when installed
    python benchmarks/toy2d.py --merge a.json b.json --out all.json \\
        --readme benchmarks/README.md                            # one table from separate processes
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nicelab import datasets as D
from nicelab.train import fit
from nicelab.train.toy2d import RECIPES, fit_toy2d, fit_within, steps_within

TARGET_NATS = 0.05
TARGET_CPU_SECONDS = 60.0
#: a run stopped by its deadline still finishes the step in flight (10-30 ms here): runs up to this much
#: over the budget count as within it (the JSON keeps each run's exact CPU seconds)
BUDGET_SLACK_SECONDS = 0.1
MIXTURES = ("eight_gaussians", "two_gaussians")
#: the issue's absolute targets for the spline flow (mean KL gap over seeds 0-2, nats)
SPLINE_TARGETS = {
    "eight_gaussians": 0.005,
    "two_gaussians": 0.005,
    "moons": 0.005,
    "pinwheel": 0.015,
    "rings": 0.02,
    "checkerboard": 0.04,
}
#: which peer each nicelab coupling must match or beat (KL gap ratio <= 1)
RIVALS = {"spline": "zuko_nsf", "affine": "zuko_realnvp"}
PEERS = ("zuko_nsf", "zuko_realnvp")
#: the peers' optimiser: Adam 3e-3 with cosine decay, batch 512 (the settings they were measured with)
PEER_FIT: dict[str, Any] = {"batch_size": 512, "lr": 3e-3, "schedule": "cosine"}
PEER_STEPS = 5000  # the peers' steps when neither --seconds nor --steps is given


class ZukoModel(nn.Module):
    """A zuko flow seen through nicelab's model interface (``dim``, ``log_prob(x) -> (batch,)``)."""

    def __init__(self, flow: nn.Module) -> None:
        super().__init__()
        self.flow, self.dim = flow, 2

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow().log_prob(x)


def zuko_available() -> bool:
    return importlib.util.find_spec("zuko") is not None


def build_peer(name: str) -> ZukoModel:
    """The peer flow ``name`` (``zuko_nsf`` or ``zuko_realnvp``), initialised from torch's generator."""
    import zuko

    if name == "zuko_nsf":
        return ZukoModel(zuko.flows.NSF(features=2, transforms=6, hidden_features=(64, 64), bins=16))
    if name == "zuko_realnvp":
        return ZukoModel(zuko.flows.RealNVP(features=2, transforms=8, hidden_features=(64, 64)))
    raise ValueError(f"unknown peer {name!r}; expected one of {PEERS}")


def evaluate(model: nn.Module, dataset: D.Toy2D, n: int, seed: int) -> dict[str, float]:
    """NLL, entropy and KL gap (with standard error) on one fresh draw of ``n`` samples: ``nicelab``'s
    :func:`~nicelab.datasets.kl_gap` with a generator seeded ``seed`` (the same draw for every model)."""
    scores = D.kl_gap(model, dataset, n, torch.Generator().manual_seed(seed))
    return {"nll": scores.nll, "entropy": scores.entropy, "kl_gap": scores.gap, "kl_stderr": scores.stderr}


def train(
    name: str, model_name: str, seed: int, steps: int | None, seconds: float | None
) -> tuple[nn.Module, dict[str, list[float]]]:
    """Train one model; return it and its training history (``"stopped_early"``: cut at the CPU budget)."""
    dataset = D.get(name)
    if model_name in RECIPES:
        model = fit_toy2d(dataset, model_name, steps=steps, seconds=seconds, seed=seed)
        return model, model.history
    start = time.process_time()
    torch.manual_seed(seed)
    model = build_peer(model_name)
    options = {"seed": seed, "progress": False, **PEER_FIT}
    if seconds is None:
        return model, fit(model, dataset.sample, steps=steps or PEER_STEPS, **options)
    steps = steps_within(seconds - (time.process_time() - start), model, dataset.sample, PEER_FIT, seed)
    return model, fit_within(model, dataset.sample, steps, start + seconds, options)


def run_one(
    name: str,
    steps: int | None,
    seed: int,
    n_eval: int,
    model: str = "additive",
    seconds: float | None = None,
) -> dict[str, object]:
    """One trained and scored run: dataset, model, seed, steps taken, CPU/wall seconds and the scores."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    trained, history = train(name, model, seed, steps, seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    scores = evaluate(trained, D.get(name), n_eval, seed + 1)
    timing = {"cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2)}
    rounded = {k: round(v, 5) for k, v in scores.items()}
    run = {"dataset": name, "model": model, "seed": seed, "steps": len(history["step"])}
    return run | {"stopped_early": "stopped_early" in history} | timing | rounded


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, model): mean, best and worst KL gap over its seeds, mean and max CPU seconds."""
    rows = []
    keys = dict.fromkeys((r["dataset"], r.get("model", "additive")) for r in results)
    for name, model in keys:
        runs = [r for r in results if r["dataset"] == name and r.get("model", "additive") == model]
        gaps = [r["kl_gap"] for r in runs]
        cpu = [r["cpu_seconds"] for r in runs]
        steps = sorted({r["steps"] for r in runs})
        rows.append(
            {
                "dataset": name,
                "model": model,
                "steps": steps[0] if len(steps) == 1 else steps,
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
    """Lesson 05's NICE target for one summary row: mean gap within it, every run within the CPU budget."""
    return row["kl_gap_mean"] <= TARGET_NATS and row["cpu_seconds_max"] <= TARGET_CPU_SECONDS


def comparisons(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dataset and nicelab coupling with a rival: KL-gap ratio to the rival (same seeds), the targets.

    ``ratio_met``: mean gap / rival's mean gap <= 1. ``absolute_met`` (spline only): mean gap within
    :data:`SPLINE_TARGETS`. Both also need every run within :data:`TARGET_CPU_SECONDS` (plus
    :data:`BUDGET_SLACK_SECONDS`, the step in flight at the deadline).
    """
    index = {(r["dataset"], r["model"]): r for r in summary}
    out = []
    for (name, model), row in index.items():
        rival = index.get((name, RIVALS.get(model, "")))
        if rival is None:
            continue
        in_budget = max(row["cpu_seconds_max"], rival["cpu_seconds_max"]) <= (
            TARGET_CPU_SECONDS + BUDGET_SLACK_SECONDS
        )
        same_seeds = row["seeds"] == rival["seeds"]
        ratio = row["kl_gap_mean"] / rival["kl_gap_mean"] if rival["kl_gap_mean"] > 0 else math.inf
        entry = {
            "dataset": name,
            "model": model,
            "rival": rival["model"],
            "seeds": row["seeds"],
            "same_seeds": same_seeds,
            "ratio": round(ratio, 3),
            "ratio_met": same_seeds and in_budget and ratio <= 1.0,
        }
        if model == "spline" and name in SPLINE_TARGETS:
            entry["absolute_target"] = SPLINE_TARGETS[name]
            entry["absolute_met"] = in_budget and row["kl_gap_mean"] <= SPLINE_TARGETS[name]
        out.append(entry)
    return out


def markdown(summary: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table, one row per (dataset, model)."""
    many = len({r.get("model", "additive") for r in summary}) > 1
    head = "| dataset | model " if many else "| dataset "
    rows = [
        head + "| steps | seeds | CPU s (mean / max) | NLL | entropy H | KL gap: mean | best | worst |",
        "|---" * (10 if many else 9) + "|",
    ]
    for r in summary:
        steps = r["steps"] if isinstance(r["steps"], int) else f"{min(r['steps'])}-{max(r['steps'])}"
        lead = f"| {r['dataset']} | {r['model']} " if many else f"| {r['dataset']} "
        rows.append(
            lead + f"| {steps} | {len(r['seeds'])} | "
            f"{r['cpu_seconds_mean']:.1f} / {r['cpu_seconds_max']:.1f} | {r['nll_mean']:.3f} | "
            f"{r['entropy']:.3f} | **{r['kl_gap_mean']:.4f}** | "
            f"{r['kl_gap_min']:.4f} | {r['kl_gap_max']:.4f} |"
        )
    return "\n".join(rows)


def markdown_grid(summary: list[dict[str, Any]]) -> str:
    """Dataset x model: mean KL gap (best-worst) over the seeds, the number of seeds in brackets."""
    models = list(dict.fromkeys(r["model"] for r in summary))
    index = {(r["dataset"], r["model"]): r for r in summary}
    rows = ["| dataset | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for name in dict.fromkeys(r["dataset"] for r in summary):
        cells = []
        for m in models:
            r = index.get((name, m))
            cells.append(
                "–"
                if r is None
                else f"**{r['kl_gap_mean']:.4f}** ({r['kl_gap_min']:.4f}-{r['kl_gap_max']:.4f}) "
                f"[{len(r['seeds'])}]"
            )
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def parse_models(coupling: str, peers: str | None) -> list[str]:
    """The models to run: nicelab couplings (a comma list), then peers (``auto``: zuko's if installed)."""
    models = [c.strip() for c in coupling.split(",") if c.strip()]
    unknown = [c for c in models if c not in RECIPES]
    if unknown or not models:
        raise ValueError(f"--coupling must list some of {sorted(RECIPES)}, got {coupling!r}")
    if peers is None or peers == "none":
        return models
    if peers == "auto":
        return models + (list(PEERS) if zuko_available() and len(models) > 1 else [])
    chosen = [p.strip() for p in peers.split(",") if p.strip()]
    if any(p not in PEERS for p in chosen):
        raise ValueError(f"--peers must be auto, none or a comma list of {PEERS}, got {peers!r}")
    if not zuko_available():
        raise ValueError("--peers needs zuko (pip install -e .[bench])")
    return models + chosen


def report_for(results: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    summary = summarise(results)
    return meta | {"summary": summary, "comparisons": comparisons(summary), "results": results}


def print_report(report: dict[str, Any]) -> None:
    print(markdown(report["summary"]))
    if len({r.get("model", "additive") for r in report["summary"]}) > 1:
        print(markdown_grid(report["summary"]))
    for c in report["comparisons"]:
        extra = f", absolute <= {c['absolute_target']}: {c['absolute_met']}" if "absolute_met" in c else ""
        print(
            f"{c['dataset']:16s} {c['model']} / {c['rival']}: ratio {c['ratio']:.3f} "
            f"(<= 1: {c['ratio_met']}){extra}"
        )


README_BEGIN, README_END = (
    "<!-- toy2d:begin (written by benchmarks/toy2d.py --readme) -->",
    "<!-- toy2d:end -->",
)


def readme_block(report: dict[str, Any]) -> str:
    """The generated part of the README's toy2d section: the dataset x model grid, the rows, the verdicts."""
    lines = [README_BEGIN, "", markdown_grid(report["summary"]), "", markdown(report["summary"]), ""]
    for c in report["comparisons"]:
        verdict = f"ratio {c['ratio']:.2f} to {c['rival']} ({'met' if c['ratio_met'] else 'missed'})"
        if "absolute_met" in c:
            verdict += f"; mean <= {c['absolute_target']}: {'met' if c['absolute_met'] else 'missed'}"
        lines.append(f"- {c['dataset']}, {c['model']}: {verdict}, seeds {c['seeds']}")
    return "\n".join([*lines, "", README_END])


def update_readme(path: Path, report: dict[str, Any]) -> str:
    """Replace the generated block of ``path``'s toy2d section (or append a new section); return the text.

    Only the text between :data:`README_BEGIN` and :data:`README_END` changes, so other sections of the file
    (edited by hand or by other benchmarks) are left exactly as they are.
    """
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = readme_block(report)
    if README_BEGIN in text and README_END in text:
        before, rest = text.split(README_BEGIN, 1)
        text = before + block + rest.split(README_END, 1)[1]
    else:
        text = (
            text.rstrip("\n") + "\n\n## 2-D densities: coupling types side by side (toy2d)\n\n" + block + "\n"
        )
    path.write_text(text)
    return text


def merge(paths: list[Path], out: Path) -> dict[str, Any]:
    """One report from the runs of several reports (later files win for a repeated dataset/model/seed)."""
    runs: dict[tuple, dict[str, Any]] = {}
    metas = []
    for path in paths:
        report = json.loads(Path(path).read_text())
        metas.append({k: v for k, v in report.items() if k not in ("summary", "comparisons", "results")})
        for r in report["results"]:
            runs[(r["dataset"], r.get("model", "additive"), r["seed"])] = r
    results = sorted(runs.values(), key=lambda r: (list(D.DATASETS).index(r["dataset"]), r["seed"]))
    report = report_for(results, {"merged_from": [str(p) for p in paths], "runs_meta": metas})
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _done_runs(path: Path) -> list[dict[str, Any]]:
    """The runs already in the report at ``path`` (none if it does not exist)."""
    return list(json.loads(path.read_text())["results"]) if path.exists() else []


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="*", default=list(D.DATASETS), help="names (default: all)")
    parser.add_argument("--coupling", default="additive", help="comma list of additive, affine, spline")
    parser.add_argument(
        "--peers",
        default="auto",
        help="auto (zuko flows when installed and >1 coupling), none, "
        "or a comma list of zuko_nsf, zuko_realnvp",
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="Adam steps per run (default: recipe's)")
    budget.add_argument("--seconds", type=float, default=None, help="CPU seconds per run, training included")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed")
    parser.add_argument("--n-eval", type=int, default=100_000, help="fresh samples for NLL, H and the gap")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time = one core)")
    parser.add_argument("--merge", type=Path, nargs="+", help="combine these reports' runs into --out")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "toy2d.json")
    parser.add_argument(
        "--resume", action="store_true", help="keep --out's runs and run only the missing ones"
    )
    parser.add_argument("--readme", type=Path, help="also write the tables into this README's toy2d section")
    args = parser.parse_args(argv)
    if args.merge:
        report = merge(args.merge, args.out)
        print_report(report)
        if args.readme:
            update_readme(args.readme, report)
        return report
    for name in args.datasets:
        D.get(name)  # fail early on a typo
    models = parse_models(args.coupling, args.peers)
    if (args.steps is not None and args.steps < 1) or args.n_eval < 2 or args.threads < 1:
        parser.error("--steps and --threads must be >= 1 and --n-eval >= 2")
    if args.seconds is not None and not 0 < args.seconds < math.inf:
        parser.error("--seconds must be a positive number")
    torch.set_num_threads(args.threads)

    meta = {
        "recipe": {
            "models": models,
            "nicelab": {m: RECIPES[m] for m in models if m in RECIPES},
            "peers": {"fit": PEER_FIT} if any(m in PEERS for m in models) else {},
            "steps": args.steps,
            "seconds": args.seconds,
            "seeds": args.seeds,
        },
        "n_eval": args.n_eval,
        "threads": args.threads,
        "target": {
            "nice": {
                "kl_gap_nats": TARGET_NATS,
                "cpu_seconds": TARGET_CPU_SECONDS,
                "datasets": list(MIXTURES),
            },
            "spline_absolute": SPLINE_TARGETS,
            "rivals": RIVALS,
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": torch.get_num_threads(),
            "torch": torch.__version__,
        },
    }
    if zuko_available():
        import zuko

        meta["machine"]["zuko"] = zuko.__version__
    results = _done_runs(args.out) if args.resume else []
    done = {(r["dataset"], r.get("model", "additive"), r["seed"]) for r in results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        for seed in args.seeds:
            for model in models:
                if (name, model, seed) in done:
                    continue
                results.append(run_one(name, args.steps, seed, args.n_eval, model, args.seconds))
                r = results[-1]
                print(
                    f"{name:16s} {model:12s} seed {seed}: gap {r['kl_gap']:.4f} ± {r['kl_stderr']:.4f} nats"
                    f"  ({r['steps']} steps, {r['cpu_seconds']:.1f} s CPU, {r['wall_seconds']:.1f} s wall)",
                    flush=True,
                )
                # Written after every run, so a long benchmark stopped early keeps what it measured.
                args.out.write_text(json.dumps(report_for(results, meta), indent=2) + "\n")
    report = report_for(results, meta)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    if args.readme:
        update_readme(args.readme, report)
    if models == ["additive"]:
        for row in report["summary"]:
            if row["dataset"] in MIXTURES:
                print(
                    f"target (mean gap <= {TARGET_NATS}, every run <= {TARGET_CPU_SECONDS:.0f} s CPU) "
                    f"on {row['dataset']}: {target_met(row)}"
                )
    return report


if __name__ == "__main__":
    main()
