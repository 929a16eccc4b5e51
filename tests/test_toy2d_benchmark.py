"""benchmarks/toy2d.py: one run per (dataset, seed), a per-dataset summary, and the target rule."""

from __future__ import annotations

import json

import pytest


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
