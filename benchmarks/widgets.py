"""Widgets benchmark: the time from a control change to the view's new picture, for every lesson's widgets.

Each case builds one lesson widget at the size its lesson uses, renders it once, then moves one control
through a sweep of values (a slider dragged step by step, as a learner would). For every change it
records the wall time from setting ``control.value`` until ``view.image.value`` holds the new PNG, and
splits that time into ``update`` (the view's own maths and ``set_data`` calls), ``draw`` (matplotlib's
Agg rasteriser) and ``encode`` (pixels to PNG bytes).

Before and after, side by side in one run: ``--baseline REF`` extracts ``nicelab/widgets`` as it was at
git commit ``REF`` (default: the commit before the widgets were made fast) into a temporary package and
builds the same case from both versions, alternating which one goes first at each change, so both see
the same load on a shared machine. The old views' phases are timed by wrapping ``update`` and
matplotlib's PNG writer; the new views report their own (``FigureView.timings``).

A burst test mimics a dragged slider in the browser: ``--burst`` changes arrive as front-end messages
(``Widget.set_state``) as fast as Python can send them; the report gives how many pictures each version
rendered and how long until the picture shows the last value.

The models are untrained but have the lessons' architectures (drawing cost does not depend on training;
the MNIST sample grid's update cost does depend on the architecture, so it uses the paper's). Synthetic
28x28 digits stand in for MNIST, so the benchmark needs no data.

    python benchmarks/widgets.py                          # every case, before and after
    python benchmarks/widgets.py --cases 01 04 --changes 12 --out /tmp/w.json
    python benchmarks/widgets.py --baseline none          # the current widgets only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import nicelab.widgets  # noqa: E402
from nicelab import datasets as D  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: the last commit with the widgets as they were before issue 19 (full-figure savefig on every change)
BASELINE_REF = "5f80d58"
TARGET_MEDIAN_MS = 50.0
TARGET_MAX_MS = 100.0


@dataclass
class Case:
    """One widget and the control a learner drags: ``build(widgets_module)`` returns a fresh view."""

    key: str  # "01", "06b", ... (lesson number, then a letter for a lesson's second widget)
    view: str
    control: str
    values: list[Any]
    build: Callable[[ModuleType], Any]


def sweep(lo: float, hi: float, n: int, step: float) -> list[float]:
    """``n`` values from ``lo`` towards ``hi`` on the slider's grid, then back: a drag and its return."""
    k = n // 2 + 1
    forward = [round(float(v), 6) for v in np.round(np.linspace(lo, hi, k + 1)[1:] / step) * step]
    return (forward + forward[::-1][1:])[:n]


def synthetic_digits(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` smooth 28x28 ring strokes in [0, 1] (digit-like: mostly dark, a bright curve)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = 14 + 3 * (torch.rand(n, 2, generator=g) - 0.5)
    radius = 5 + 4 * torch.rand(n, 1, 1, generator=g)
    r = ((xx - centre[:, 0, None, None]) ** 2 + (yy - centre[:, 1, None, None]) ** 2).sqrt()
    return torch.exp(-(((r - radius) / 1.3) ** 2)).reshape(n, 784)


@cache
def fixtures() -> dict[str, Any]:
    """Models and data shared by every build (built once, at the lessons' sizes)."""
    from nicelab import NICE, CouplingFlow
    from nicelab.baselines import VAE
    from nicelab.train.mnist import PAPER_ARCHITECTURE

    gen = torch.Generator().manual_seed(0)
    mnist = NICE(**PAPER_ARCHITECTURE).eval()
    small = NICE(**dict(PAPER_ARCHITECTURE, hidden=200, depth=2)).eval()  # for inpainting's precompute
    for model in (mnist, small):
        model.requires_grad_(False)
    digits = synthetic_digits(8)
    flows = {}
    for name in ("moons", "rings", "checkerboard"):
        for kind in ("additive", "affine"):
            flow = CouplingFlow(2, coupling=kind, **D.NICE_2D)
            flows[f"{name} · {kind}"] = flow.init_from_data(D.get(name).sample(4096, gen)).eval()
    return {
        "flows2d": {
            name: D.nice_for(name, generator=torch.Generator().manual_seed(0)) for name in D.DATASETS
        },
        "mnist": mnist,
        "mnist_small": small,
        "digits": digits,
        "moons_nice": D.nice_for("moons", generator=gen).eval(),
        "moons_vae": VAE(2, latent_dim=2, hidden=64, depth=2, decoder_std=0.1).eval(),
        "moons_x": D.get("moons").sample(1500, gen),
        "flows": flows,
    }


def cases(changes: int) -> list[Case]:
    """Every lesson widget, built as its lesson builds it, with the control a learner drags."""
    fx = fixtures
    n = changes + 2  # two warm-up changes
    return [
        Case(
            "01", "ChangeOfVariablesView", "a", sweep(0.2, 1.5, n, 0.05), lambda w: w.ChangeOfVariablesView()
        ),
        Case(
            "01b", "ChangeOfVariablesView", "b", sweep(-2.0, 2.0, n, 0.1), lambda w: w.ChangeOfVariablesView()
        ),
        Case("02", "LinearMapView", "a", sweep(-2.5, 2.5, n, 0.1), lambda w: w.LinearMapView()),
        Case("02b", "LinearMapView", "b", sweep(-2.5, 2.5, n, 0.1), lambda w: w.LinearMapView()),
        Case("03", "CouplingExplorer", "amplitude", sweep(-2.0, 2.0, n, 0.1), lambda w: w.CouplingExplorer()),
        Case("03b", "CouplingExplorer", "frequency", sweep(0.2, 3.0, n, 0.1), lambda w: w.CouplingExplorer()),
        Case("04", "ScalingExplorer", "s1", sweep(-3.0, 10.0, n, 0.05), lambda w: w.ScalingExplorer()),
        Case("04b", "ScalingExplorer", "spread", sweep(0.001, 1.0, n, 0.001), lambda w: w.ScalingExplorer()),
        Case(
            "05",
            "FlowLayersView",
            "layer",
            None,  # type: ignore[arg-type]  # filled in from the model's stage count
            lambda w: w.FlowLayersView(fx()["flows2d"], n_points=1500, resolution=80),
        ),
        Case(
            "06",
            "SampleGridView",
            "temperature",
            sweep(0.0, 1.5, n, 0.05),
            lambda w: w.SampleGridView(fx()["mnist"], n=36, ncols=6),
        ),
        Case(
            "06b",
            "InpaintingView",
            "step",
            None,  # type: ignore[arg-type]  # the view's frame steps
            lambda w: w.InpaintingView(
                fx()["mnist_small"], fx()["digits"][:6], steps=150, frames=21, step_size=0.01
            ),
        ),
        Case("06c", "TopKView", "k", None, lambda w: w.TopKView(fx()["mnist"], n=16, ncols=8)),  # type: ignore[arg-type]
        Case(
            "06d",
            "InterpolationView",
            "t",
            None,  # type: ignore[arg-type]
            lambda w: w.InterpolationView(fx()["mnist"], fx()["digits"][0], fx()["digits"][1], points=21),
        ),
        Case(
            "07",
            "LatentComparison",
            "x1",
            sweep(-1.0, 2.0, n, 0.02),
            lambda w: w.LatentComparison(
                fx()["moons_nice"], fx()["moons_vae"], fx()["moons_x"], D.get("moons").bounds, k=200
            ),
        ),
        Case(
            "08",
            "LogDetMap",
            "layers",
            None,  # type: ignore[arg-type]
            lambda w: w.LogDetMap(fx()["flows"], (-2.6, 2.6, -2.6, 2.6), n=120),
        ),
    ]


def values_for(case: Case, view: Any, n: int) -> list[Any]:
    """The case's sweep, or for option sliders a walk over the options (there and back)."""
    if case.values is not None:
        return case.values
    control = view.controls[case.control]
    options = (
        list(control.options) if hasattr(control, "options") else list(range(control.min, control.max + 1))
    )
    walk = options + options[::-1][1:-1]
    start = walk.index(control.value) if control.value in walk else 0
    walk = walk[start + 1 :] + walk[: start + 1]  # begin by moving away from the current value
    return [walk[i % len(walk)] for i in range(n)]


def load_widgets(ref: str) -> ModuleType:
    """``nicelab/widgets`` as it was at git commit ``ref``, importable as a separate package."""
    files = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{ref}:nicelab/widgets"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    folder = Path(tempfile.mkdtemp(prefix="widgets_baseline_"))
    name = f"_widgets_{re.sub(r'[^0-9a-zA-Z]', '_', ref)}"
    package = folder / name
    package.mkdir()
    for file in files:
        if file.endswith(".py"):
            text = subprocess.run(
                ["git", "show", f"{ref}:nicelab/widgets/{file}"],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            (package / file).write_text(text.replace("nicelab.widgets", name))
    sys.path.insert(0, str(folder))
    return __import__(name)


class _Timer:
    """Accumulates seconds spent inside wrapped callables (for views that do not time themselves)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.lock = threading.Lock()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds += time.perf_counter() - start

        return timed


_ENCODE = _Timer()  # matplotlib's PNG writer, as the old views' savefig calls it
matplotlib.image.imsave = _ENCODE.wrap(matplotlib.image.imsave)


def instrument(view: Any) -> Callable[[], dict[str, float]]:
    """A function returning the last change's phases in ms: the view's own timings, or wrappers."""
    if hasattr(view, "timings"):
        return lambda: {k: 1e3 * view.timings[k] for k in ("update", "draw", "encode")}
    update = _Timer()
    view.update = update.wrap(view.update)
    state = {"update": 0.0, "encode": 0.0}

    def phases() -> dict[str, float]:
        u, e = update.seconds - state["update"], _ENCODE.seconds - state["encode"]
        state["update"], state["encode"] = update.seconds, _ENCODE.seconds
        return {"update": 1e3 * u, "encode": 1e3 * e}

    return phases


def time_change(
    view: Any, control: str, value: Any, phases: Callable[[], dict[str, float]]
) -> dict[str, float]:
    """Set one control (as code does: the view renders before the assignment returns) and time it.

    ``total`` is wall time; ``cpu`` is this process's CPU time over the same span (what the change
    costs without other jobs' contention for the two cores).
    """
    phases()  # reset the wrappers' counters
    renders = view.renders
    start, cpu = time.perf_counter(), time.process_time()
    view.controls[control].value = value
    total, cpu = 1e3 * (time.perf_counter() - start), 1e3 * (time.process_time() - cpu)
    if view.renders != renders + 1:
        raise RuntimeError(
            f"{type(view).__name__}: {control} = {value!r} gave {view.renders - renders} renders"
        )
    out = {"total": total, "cpu": cpu, **phases()}
    out.setdefault("draw", total - out["update"] - out["encode"])
    return out


def summarise(samples: list[dict[str, float]]) -> dict[str, float]:
    """Median and worst wall time, median CPU time and the median of each phase, in ms."""
    totals = [s["total"] for s in samples]
    out = {"changes": len(samples), "median_ms": statistics.median(totals), "max_ms": max(totals)}
    out["cpu_median_ms"] = statistics.median(s["cpu"] for s in samples)
    for phase in ("update", "draw", "encode"):
        out[f"{phase}_ms"] = statistics.median(s[phase] for s in samples)
    return out


def browser_set(widget: Any, value: Any) -> None:
    """Apply ``value`` as a comm message from the browser does (selection widgets send an index)."""
    if hasattr(widget, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        widget.set_state({"index": values.index(value)})
    else:
        widget.set_state({"value": value})


def burst(view: Any, control: str, values: Sequence[Any]) -> dict[str, float]:
    """Send ``values`` as browser messages back to back; time until the picture shows the last one."""
    widget = view.controls[control]
    renders = view.renders
    start = time.perf_counter()
    for value in values:
        browser_set(widget, value)
    if hasattr(view, "wait"):
        view.wait()
    elapsed = 1e3 * (time.perf_counter() - start)
    return {"events": len(values), "renders": view.renders - renders, "ms_to_last_picture": elapsed}


def run_case(case: Case, changes: int, old: ModuleType | None, bursts: int) -> dict[str, Any]:
    """Build the case from the current (and the old) widgets and time the same changes on both."""
    versions = {"after": nicelab.widgets} | ({"before": old} if old is not None else {})
    views, phases, samples = {}, {}, {}
    for label, module in versions.items():
        views[label] = case.build(module)
        views[label].refresh()
        phases[label] = instrument(views[label])
        samples[label] = []
    values = values_for(case, views["after"], changes + 2)
    for i, value in enumerate(values):
        order = list(views) if i % 2 == 0 else list(views)[::-1]
        for label in order:
            result = time_change(views[label], case.control, value, phases[label])
            if i >= 2:  # the first two changes warm caches up
                samples[label].append(result)
    out: dict[str, Any] = {"case": case.key, "view": case.view, "control": case.control}
    for label in views:
        out[label] = summarise(samples[label])
    if bursts:
        drag = [values[i % len(values)] for i in range(bursts)]
        for label, view in views.items():
            out[label]["burst"] = burst(view, case.control, drag)
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table (the README shows this): wall ms, CPU ms and the phases."""
    rows = [
        "| widget (control) | before: median / max ms | after: median / max ms | CPU ms: before / after |"
        " after: update / draw / encode ms | speed-up | burst: renders, ms to last (before → after) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a, b = r["after"], r.get("before")
        name = f"{r['case']} {r['view']} ({r['control']})"
        phases = f"{a['update_ms']:.1f} / {a['draw_ms']:.1f} / {a['encode_ms']:.1f}"
        old = f"{b['median_ms']:.0f} / {b['max_ms']:.0f}" if b else "-"
        cpu = f"{b['cpu_median_ms']:.0f} / {a['cpu_median_ms']:.0f}" if b else f"- / {a['cpu_median_ms']:.0f}"
        gain = f"{b['median_ms'] / a['median_ms']:.1f}x" if b else "-"
        bursts = [x["burst"] for x in (b, a) if x and "burst" in x]
        burst = " → ".join(f"{x['renders']}, {x['ms_to_last_picture']:.0f}" for x in bursts) or "-"
        new = f"**{a['median_ms']:.0f}** / {a['max_ms']:.0f}"
        rows.append(f"| {name} | {old} | {new} | {cpu} | {phases} | {gain} | {burst} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="*", default=None, help="case keys or lesson numbers (default: all)")
    parser.add_argument("--changes", type=int, default=14, help="timed changes per case (after 2 warm-up)")
    parser.add_argument("--baseline", default=BASELINE_REF, help="git commit of the old widgets, or 'none'")
    parser.add_argument("--burst", type=int, default=24, help="front-end events per burst test (0: skip)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "widgets.json")
    args = parser.parse_args(argv)
    if args.changes < 12 or args.burst < 0:
        parser.error("--changes must be >= 12 (the target is stated over 12 changes) and --burst >= 0")
    chosen = cases(args.changes)
    if args.cases:
        chosen = [c for c in chosen if c.key in args.cases or c.key[:2] in args.cases]
        if not chosen:
            parser.error(f"no case matches {args.cases}")
    old = None if args.baseline == "none" else load_widgets(args.baseline)
    load_before = os.getloadavg()  # other jobs on the machine inflate wall times; CPU times less so

    results = []
    for case in chosen:
        results.append(run_case(case, args.changes, old, args.burst))
        b, a = results[-1].get("before"), results[-1]["after"]
        before = f"before {b['median_ms']:.0f} / {b['max_ms']:.0f} ms, " if b else ""
        after = f"after {a['median_ms']:.0f} / {a['max_ms']:.0f} ms (median / max)"
        print(f"{case.key:4s} {case.view:22s} {case.control:12s} {before}{after}", flush=True)
    met = {
        r["case"]: r["after"]["median_ms"] <= TARGET_MEDIAN_MS and r["after"]["max_ms"] <= TARGET_MAX_MS
        for r in results
    }
    report = {
        "what": "ms from setting a control's value to the view's new PNG (headless, Agg), per change",
        "baseline_ref": None if old is None else args.baseline,
        "changes": args.changes,
        "target": {"median_ms": TARGET_MEDIAN_MS, "max_ms": TARGET_MAX_MS},
        "target_met": met,
        "machine": {
            "platform": platform.platform(),
            "cpus": torch.get_num_threads(),
            "torch": torch.__version__,
            "matplotlib": matplotlib.__version__,
            "load_average_1min": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(results))
    print(
        f"target (median <= {TARGET_MEDIAN_MS:.0f} ms, max <= {TARGET_MAX_MS:.0f} ms) met by "
        f"{sum(met.values())} of {len(met)}: missed {[k for k, v in met.items() if not v]}"
    )
    return report


if __name__ == "__main__":
    main()
