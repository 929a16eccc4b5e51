"""benchmarks/mnist.py: the FLOP count and the per-category profile of a step."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("mnist")


def test_train_flops_count_three_products_per_layer(bench):
    # one coupling, 4 -> 3 -> 3 -> 2 (dim 4, hidden 3, depth 2): 2*3 + 3*3 + 3*2 = 21 MACs forward
    assert bench.train_flops_per_image(dim=4, hidden=3, depth=2, n_couplings=1) == 3 * 2 * 21


def test_profile_step_splits_the_time_by_category(bench):
    a, w = torch.randn(bench.BATCH, 256), torch.randn(256, 256)
    flops_per_image = 2 * 256 * 256  # one product per "image"

    def timed(k: int) -> float:
        for _ in range(k):
            torch.relu(a @ w).clone()
        return 0.0

    out = bench.profile_step(timed, steps=3, flops_per_image=flops_per_image, peak=1e9)
    assert set(out["share"]) == {"matmul", "optimizer", "relu", "copies", "other"}
    assert sum(out["share"].values()) == pytest.approx(1.0, abs=1e-3)
    assert out["share"]["matmul"] > 0 and out["share"]["relu"] > 0 and out["share"]["copies"] > 0
    assert out["share"]["optimizer"] == 0
    # the matmul rate is the nominal FLOPs over the profiled matmul time
    expected = flops_per_image * bench.BATCH * 3 / out["seconds"]["matmul"]
    assert out["matmul_gflops_in_step"] == pytest.approx(expected / 1e9, rel=1e-3)
    assert out["matmul_rate_over_peak"] == pytest.approx(expected / 1e9, rel=1e-3)


def test_optimizer_seconds_times_the_update_alone(bench):
    weight = torch.nn.Parameter(torch.ones(3))
    weight.grad = torch.full((3,), 2.0)
    optimizer = torch.optim.SGD([weight], lr=0.5)
    seconds = bench.optimizer_seconds(optimizer, 4)
    assert seconds > 0
    # four updates with the same gradient, and nothing else: 1 - 4 * 0.5 * 2
    torch.testing.assert_close(weight.detach(), torch.full((3,), -3.0))
