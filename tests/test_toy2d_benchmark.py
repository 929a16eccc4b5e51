"""benchmarks/toy2d.py: one run per (dataset, seed), a per-dataset summary, and the target rule."""

from __future__ import annotations

import json
import math

import pytest
import torch

from nicelab import datasets as D
from nicelab.train.toy2d import build_toy2d_flow


@pytest.fixture(scope="module")
def toy2d(load_benchmark):
    return load_benchmark("toy2d")


def test_a_tiny_run_writes_every_seed_and_a_summary(toy2d, tmp_path):
    out = tmp_path / "toy2d.json"
    argv = ["--datasets", "two_gaussians", "moons", "--steps", "3", "--seeds", "0", "1", "--n-eval", "200"]
    report = toy2d.main([*argv, "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    runs = report["results"]
    assert [(r["dataset"], r["seed"]) for r in runs] == [
        ("two_gaussians", 0),
        ("two_gaussians", 1),
        ("moons", 0),
        ("moons", 1),
    ]
    assert runs[0]["kl_gap"] != runs[1]["kl_gap"]  # different seeds, different models
    for row in report["summary"]:
        mine = [r for r in runs if r["dataset"] == row["dataset"]]
        gaps = [r["kl_gap"] for r in mine]
        assert row["seeds"] == [0, 1] and row["steps"] == 3
        assert row["kl_gap_min"] == min(gaps) and row["kl_gap_max"] == max(gaps)
        assert row["kl_gap_mean"] == pytest.approx(sum(gaps) / 2, abs=1e-5)
        assert row["cpu_seconds_max"] == max(r["cpu_seconds"] for r in mine)
    assert report["recipe"]["seeds"] == [0, 1]
    table = toy2d.markdown(report["summary"])
    assert table.count("\n") == 3 and "| two_gaussians | 3 | 2 |" in table


def scores_as_the_benchmark_computed_them(model, dataset, n: int, seed: int) -> dict[str, float]:
    """benchmarks/toy2d.py's own estimator before it called nicelab.datasets.kl_gap (the reference)."""
    x = dataset.sample(n, torch.Generator().manual_seed(seed))
    log_p = dataset.log_prob(x.double())
    model.eval()
    with torch.no_grad():
        log_q = torch.cat([model.log_prob(x[i : i + 8192]) for i in range(0, n, 8192)]).double()
    diff = log_p - log_q
    return {
        "nll": float(-log_q.mean()),
        "entropy": float(-log_p.mean()),
        "kl_gap": float(diff.mean()),
        "kl_stderr": float(diff.std() / math.sqrt(n)),
    }


@pytest.mark.parametrize("kind", ["additive", "spline", "zuko_realnvp"])
def test_evaluate_is_nicelab_kl_gap_and_gives_the_numbers_of_the_old_copy(toy2d, kind):
    if kind.startswith("zuko"):
        pytest.importorskip("zuko")
        torch.manual_seed(0)
        model = toy2d.build_peer(kind)
    else:
        model = build_toy2d_flow(kind, D.get("pinwheel").sample(512, torch.Generator().manual_seed(0)))
    dataset = D.get("pinwheel")
    n = 9000  # more than one 8192-sample chunk
    got = toy2d.evaluate(model, dataset, n, seed=4)
    assert got == scores_as_the_benchmark_computed_them(model, dataset, n, seed=4)  # bit for bit
    assert got["kl_gap"] > 0 and got["kl_gap"] == pytest.approx(got["nll"] - got["entropy"], abs=1e-9)
    assert toy2d.evaluate(model, dataset, n, seed=5)["kl_gap"] != got["kl_gap"]  # the seed picks the draw


def test_the_target_needs_the_mean_gap_and_every_run_within_budget(toy2d):
    row = {"kl_gap_mean": 0.04, "cpu_seconds_max": 59.0}
    assert toy2d.target_met(row)
    assert not toy2d.target_met(row | {"kl_gap_mean": 0.06})
    assert not toy2d.target_met(row | {"cpu_seconds_max": 61.0})


def test_bad_arguments_are_refused(toy2d, tmp_path):
    with pytest.raises(SystemExit):
        toy2d.main(["--steps", "0", "--out", str(tmp_path / "x.json")])
    with pytest.raises(ValueError, match="unknown"):
        toy2d.main(["--datasets", "spirals", "--out", str(tmp_path / "x.json")])


def test_couplings_side_by_side_give_one_row_per_dataset_and_model(toy2d, tmp_path):
    argv = ["--datasets", "moons", "--coupling", "additive,affine,spline", "--peers", "none"]
    report = toy2d.main(
        [*argv, "--steps", "2", "--seeds", "0", "--n-eval", "200", "--out", str(tmp_path / "c.json")]
    )
    assert [(r["model"], r["steps"]) for r in report["results"]] == [
        ("additive", 2),
        ("affine", 2),
        ("spline", 2),
    ]
    assert [r["model"] for r in report["summary"]] == ["additive", "affine", "spline"]
    assert report["comparisons"] == []  # no peers ran, so nothing to compare
    assert len({r["kl_gap"] for r in report["results"]}) == 3
    grid = toy2d.markdown_grid(report["summary"])
    assert grid.splitlines()[0] == "| dataset | additive | affine | spline |" and grid.count("\n") == 2
    assert "| moons | additive | 2 | 1 |" in toy2d.markdown(report["summary"])


def test_a_seconds_budget_is_recorded_and_respected(toy2d, tmp_path):
    argv = ["--datasets", "two_gaussians", "--coupling", "spline", "--seconds", "1.5", "--seeds", "3"]
    report = toy2d.main([*argv, "--n-eval", "100", "--out", str(tmp_path / "s.json")])
    run = report["results"][0]
    assert report["recipe"]["seconds"] == 1.5 and run["seed"] == 3 and run["steps"] >= 1
    assert run["cpu_seconds"] < 1.5 + 2.0  # the deadline stops a slowed run within a step or two


def summary_row(dataset, model, gap, seeds=(0, 1, 2), cpu=50.0):
    return {
        "dataset": dataset,
        "model": model,
        "kl_gap_mean": gap,
        "seeds": list(seeds),
        "cpu_seconds_max": cpu,
    }


def test_comparisons_need_same_seeds_budget_and_a_ratio_of_at_most_one(toy2d):
    summary = [
        summary_row("moons", "spline", 0.004),
        summary_row("moons", "zuko_nsf", 0.005),
        summary_row("rings", "spline", 0.03),
        summary_row("rings", "zuko_nsf", 0.02),
        summary_row("pinwheel", "spline", 0.01, seeds=(0,)),
        summary_row("pinwheel", "zuko_nsf", 0.02),
        summary_row("checkerboard", "affine", 0.05, cpu=61.0),
        summary_row("checkerboard", "zuko_realnvp", 0.06),
        summary_row("checkerboard", "additive", 0.4),
    ]
    got = {(c["dataset"], c["model"]): c for c in toy2d.comparisons(summary)}
    assert set(got) == {
        ("moons", "spline"),
        ("rings", "spline"),
        ("pinwheel", "spline"),
        ("checkerboard", "affine"),
    }
    assert got["moons", "spline"]["ratio"] == 0.8 and got["moons", "spline"]["ratio_met"]
    assert got["moons", "spline"]["absolute_met"] and got["moons", "spline"]["absolute_target"] == 0.005
    assert not got["rings", "spline"]["ratio_met"] and not got["rings", "spline"]["absolute_met"]
    assert not got["pinwheel", "spline"]["ratio_met"]  # better, but not on the same seeds
    assert not got["checkerboard", "affine"]["ratio_met"]  # over the CPU budget
    assert "absolute_met" not in got["checkerboard", "affine"]


def test_merge_combines_separate_processes_into_one_table(toy2d, tmp_path):
    common = ["--datasets", "moons", "--coupling", "affine", "--steps", "2", "--n-eval", "100"]
    toy2d.main([*common, "--seeds", "0", "--out", str(tmp_path / "a.json")])
    toy2d.main([*common, "--seeds", "1", "--out", str(tmp_path / "b.json")])
    merged = toy2d.main(
        ["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "m.json")]
    )
    assert [r["seed"] for r in merged["results"]] == [0, 1]
    assert merged["summary"][0]["seeds"] == [0, 1] and len(merged["runs_meta"]) == 2


def test_bad_model_lists_are_refused(toy2d, tmp_path):
    out = ["--out", str(tmp_path / "x.json")]
    with pytest.raises(ValueError, match="--coupling"):
        toy2d.main(["--coupling", "additive,cubic", *out])
    with pytest.raises(ValueError, match="--peers"):
        toy2d.main(["--coupling", "spline", "--peers", "nflows_nsf", *out])
    with pytest.raises(SystemExit):
        toy2d.main(["--steps", "5", "--seconds", "5", *out])
    with pytest.raises(SystemExit):
        toy2d.main(["--seconds", "0", *out])


def test_zuko_peers_run_side_by_side(toy2d, tmp_path):
    pytest.importorskip("zuko")
    argv = ["--datasets", "eight_gaussians", "--coupling", "spline,affine", "--peers", "auto", "--steps", "2"]
    report = toy2d.main([*argv, "--seeds", "0", "--n-eval", "200", "--out", str(tmp_path / "z.json")])
    assert [r["model"] for r in report["results"]] == ["spline", "affine", "zuko_nsf", "zuko_realnvp"]
    pairs = {(c["model"], c["rival"]) for c in report["comparisons"]}
    assert pairs == {("spline", "zuko_nsf"), ("affine", "zuko_realnvp")}
    assert report["machine"]["zuko"]
    for r in report["results"]:
        assert math.isfinite(r["kl_gap"]) and r["steps"] == 2


def test_the_readme_section_is_replaced_in_place_and_other_sections_kept(toy2d, tmp_path):
    argv = ["--datasets", "moons", "--coupling", "additive,spline", "--peers", "none", "--steps", "2"]
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\n## Widgets\nkept as is\n")
    report = toy2d.main(
        [*argv, "--seeds", "0", "--n-eval", "100", "--out", str(tmp_path / "r.json"), "--readme", str(readme)]
    )
    first = readme.read_text()
    assert (
        first.startswith("# Benchmarks\n\n## Widgets\nkept as is\n") and first.count(toy2d.README_BEGIN) == 1
    )
    assert toy2d.markdown_grid(report["summary"]) in first
    readme.write_text(first + "\n## Later section\nalso kept\n")
    toy2d.update_readme(readme, report | {"summary": report["summary"][:1]})
    second = readme.read_text()
    assert second.count(toy2d.README_BEGIN) == 1 and "| dataset | additive |" in second
    assert "spline" not in second.split(toy2d.README_BEGIN)[1].split(toy2d.README_END)[0]
    assert second.endswith("## Later section\nalso kept\n") and "## Widgets\nkept as is" in second


def test_resume_keeps_the_runs_already_written_and_adds_the_missing_ones(toy2d, tmp_path):
    out = tmp_path / "r.json"
    common = [
        "--datasets",
        "moons",
        "--coupling",
        "affine",
        "--steps",
        "2",
        "--n-eval",
        "100",
        "--out",
        str(out),
    ]
    first = toy2d.main([*common, "--seeds", "0"])
    marked = json.loads(out.read_text())
    marked["results"][0]["kl_gap"] = 123.0  # a run that resume must keep, not recompute
    out.write_text(json.dumps(marked))
    second = toy2d.main([*common, "--seeds", "0", "1", "--resume"])
    assert [(r["seed"], r["kl_gap"]) for r in second["results"]][0] == (0, 123.0)
    assert [r["seed"] for r in second["results"]] == [0, 1] and first["results"][0]["steps"] == 2
    assert json.loads(out.read_text())["summary"][0]["seeds"] == [0, 1]
