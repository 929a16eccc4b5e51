"""nicelab.jacobian: per-sample Jacobians, log|det|, measured area change, and the log-det timer."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

import nicelab.jacobian as jacobian_module
from nicelab import AdditiveCoupling, Scaling
from nicelab.jacobian import (
    area_change,
    jacobian,
    log_abs_det,
    polygon_area,
    random_triangular,
    time_log_det,
    triangular_log_abs_det,
)

D64 = torch.float64


def swirl(x: torch.Tensor) -> torch.Tensor:
    """A smooth nonlinear bijection-ish map of R^2 with an analytic Jacobian (see swirl_jacobian)."""
    u, v = x[:, 0], x[:, 1]
    return torch.stack([u + 0.5 * torch.sin(v), v + 0.3 * u**3 + 0.2 * u * v], dim=1)


def swirl_jacobian(x: torch.Tensor) -> torch.Tensor:
    u, v = x[:, 0], x[:, 1]
    J = torch.empty(x.shape[0], 2, 2, dtype=x.dtype)
    J[:, 0, 0] = 1.0
    J[:, 0, 1] = 0.5 * torch.cos(v)
    J[:, 1, 0] = 0.9 * u**2 + 0.2 * v
    J[:, 1, 1] = 1.0 + 0.2 * u
    return J


def test_jacobian_of_linear_map_is_the_matrix_for_every_sample():
    A = torch.tensor([[2.0, 1.0, 0.0], [0.5, -1.0, 3.0], [0.0, 0.0, 1.5]], dtype=D64)
    x = torch.randn(7, 3, dtype=D64)
    J = jacobian(lambda p: p @ A.T, x)
    assert J.shape == (7, 3, 3)
    torch.testing.assert_close(J, A.expand(7, 3, 3))


def test_jacobian_of_nonlinear_map_matches_analytic():
    x = torch.randn(11, 2, dtype=D64)
    torch.testing.assert_close(jacobian(swirl, x), swirl_jacobian(x))


def test_jacobian_handles_maps_returning_tuple_and_no_grad_context():
    layer = AdditiveCoupling(4, parity=0, hidden=8, depth=2).double()
    x = torch.randn(5, 4, dtype=D64)
    with torch.no_grad():
        J = jacobian(layer, x)
    # additive coupling: unit diagonal, the kept half's rows are identity rows
    torch.testing.assert_close(torch.diagonal(J, dim1=1, dim2=2), torch.ones(5, 4, dtype=D64))
    torch.testing.assert_close(J[:, 1::2, :], torch.eye(4, dtype=D64)[1::2].expand(5, 2, 4))


def test_jacobian_allows_non_square_maps():
    x = torch.randn(3, 2, dtype=D64)
    J = jacobian(lambda p: torch.cat([p, p.prod(dim=1, keepdim=True)], dim=1), x)
    assert J.shape == (3, 3, 2)
    torch.testing.assert_close(J[:, 2], x.flip(1))


def test_log_abs_det_matches_transform_log_det():
    layer = Scaling(3).double()
    with torch.no_grad():
        layer.log_scale.copy_(torch.tensor([0.3, -1.2, 0.5]))
    x = torch.randn(6, 3, dtype=D64)
    _, expected = layer(x)
    torch.testing.assert_close(log_abs_det(layer, x), expected)
    torch.testing.assert_close(
        log_abs_det(swirl, x[:, :2]), torch.linalg.det(swirl_jacobian(x[:, :2])).abs().log()
    )


def test_log_abs_det_ignores_orientation():
    flip = torch.tensor([[2.0, 0.0], [0.0, -2.0]], dtype=D64)
    x = torch.randn(4, 2, dtype=D64)
    torch.testing.assert_close(
        log_abs_det(lambda p: p @ flip.T, x), torch.full((4,), math.log(4.0), dtype=D64)
    )


def test_log_abs_det_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        log_abs_det(lambda p: p[:, :1], torch.randn(3, 2))


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[1.0, 2.0]], "torch.Tensor"),
        (torch.randn(3), r"shape \(batch, D\)"),
        (torch.empty(0, 2), "empty"),
        (torch.ones(2, 2, dtype=torch.int64), "floating"),
        (torch.tensor([[0.0, float("nan")]]), "NaN"),
    ],
)
def test_bad_points_raise(bad, match):
    for fn in (jacobian, log_abs_det, area_change):
        with pytest.raises(ValueError, match=match):
            fn(lambda p: p, bad)


def test_map_with_wrong_output_raises():
    with pytest.raises(ValueError, match="row by row"):
        jacobian(lambda p: p.sum(), torch.randn(3, 2))
    with pytest.raises(ValueError, match="row by row"):
        area_change(lambda p: p[:1], torch.randn(3, 2))


def test_polygon_area_of_unit_square_and_orientation():
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=D64)
    assert float(polygon_area(square)) == pytest.approx(1.0)
    assert float(polygon_area(square.flip(0))) == pytest.approx(-1.0)
    assert float(polygon_area(2 * square)) == pytest.approx(4.0)  # the notes' J = diag(2, 2) example
    with pytest.raises(ValueError, match="at least 3"):
        polygon_area(square[:2])


def test_area_change_of_the_notes_example_is_four():
    x = torch.randn(5, 2, dtype=D64)
    torch.testing.assert_close(area_change(lambda p: 2 * p, x), torch.full((5,), 4.0, dtype=D64))


@pytest.mark.parametrize("signed", [False, True])
def test_area_change_orientation(signed):
    x = torch.randn(3, 2, dtype=D64)
    mirrored = area_change(lambda p: p * torch.tensor([2.0, -2.0], dtype=D64), x, signed=signed)
    expected = -4.0 if signed else 4.0
    torch.testing.assert_close(mirrored, torch.full((3,), expected, dtype=D64))


def test_area_change_converges_to_abs_det_for_nonlinear_map():
    x = torch.randn(20, 2, dtype=D64)
    exact = torch.linalg.det(swirl_jacobian(x)).abs()
    coarse = (area_change(swirl, x, eps=1e-1) - exact).abs().max()
    fine = (area_change(swirl, x, eps=1e-3) - exact).abs().max()
    assert fine < 1e-5
    assert fine < coarse / 100  # error shrinks like eps^2


def test_area_change_in_higher_dimensions_matches_autograd():
    layer = torch.nn.Sequential(torch.nn.Linear(5, 5), torch.nn.Tanh(), torch.nn.Linear(5, 5)).double()
    x = torch.randn(4, 5, dtype=D64)
    measured = area_change(layer, x, eps=1e-4, signed=True)
    exact = torch.linalg.det(jacobian(layer, x))
    torch.testing.assert_close(measured, exact, rtol=1e-6, atol=1e-8)


def test_area_change_in_one_dimension_is_abs_derivative():
    x = torch.linspace(-2, 2, 9, dtype=D64)[:, None]
    torch.testing.assert_close(area_change(torch.sinh, x, eps=1e-4), torch.cosh(x[:, 0]), rtol=1e-7, atol=0)


@pytest.mark.parametrize("eps", [0.0, -1e-3, float("nan"), "small", True])
def test_area_change_rejects_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        area_change(lambda p: p, torch.randn(2, 2), eps=eps)


def test_triangular_log_det_equals_dense_for_triangular_matrix():
    A = random_triangular(50, torch.Generator().manual_seed(1))
    assert torch.equal(A, A.tril())
    torch.testing.assert_close(triangular_log_abs_det(A), torch.linalg.slogdet(A).logabsdet)
    with pytest.raises(ValueError, match="square"):
        triangular_log_abs_det(torch.ones(2, 3))


def test_time_log_det_reports_agreeing_answers():
    rows = time_log_det([4, 64], repeats=2)
    assert [r["dim"] for r in rows] == [4.0, 64.0]
    for row in rows:
        assert row["abs_difference"] < 1e-9


def test_time_log_det_reports_a_disagreement(monkeypatch):
    # abs_difference is measured, not assumed: a triangular route that is off by 0.5 shows as 0.5
    exact = jacobian_module.triangular_log_abs_det
    monkeypatch.setattr(jacobian_module, "triangular_log_abs_det", lambda m: exact(m) + 0.5)
    for row in time_log_det([4, 64], repeats=1):
        assert row["abs_difference"] == pytest.approx(0.5, abs=1e-9)


def test_time_log_det_keeps_the_fastest_repeat_of_each_route(monkeypatch):
    # A fake clock that moves only when a route runs, by scripted durations: the reported seconds must
    # be each route's own minimum. Machine load cannot change this test's outcome.
    clock = {"now": 0.0}
    durations = {"dense": iter([100.0, 7.0, 5.0, 6.0]), "triangular": iter([100.0, 3.0, 2.0, 4.0])}
    real_slogdet, real_triangular = torch.linalg.slogdet, jacobian_module.triangular_log_abs_det

    def timed(route, fn):
        def run(matrix):
            clock["now"] += next(durations[route])
            return fn(matrix)

        return run

    monkeypatch.setattr(jacobian_module, "time", SimpleNamespace(perf_counter=lambda: clock["now"]))
    monkeypatch.setattr(torch.linalg, "slogdet", timed("dense", real_slogdet))
    monkeypatch.setattr(jacobian_module, "triangular_log_abs_det", timed("triangular", real_triangular))
    (row,) = time_log_det([8], repeats=3)
    assert row["dense_seconds"] == 5.0
    assert row["triangular_seconds"] == 2.0


def test_triangular_log_det_reads_only_the_diagonal():
    # why it is O(D): the answer depends on the D diagonal entries alone, and it is exact for any
    # lower-triangular matrix with that diagonal
    A = random_triangular(30, torch.Generator().manual_seed(2))
    B = A + torch.randn(30, 30, dtype=D64, generator=torch.Generator().manual_seed(3)).tril(-1)
    assert torch.equal(triangular_log_abs_det(B), triangular_log_abs_det(A))
    torch.testing.assert_close(triangular_log_abs_det(B), torch.linalg.slogdet(B).logabsdet)


@pytest.mark.parametrize("dims", [[], "10", [0], [3.5]])
def test_time_log_det_rejects_bad_dims(dims):
    with pytest.raises(ValueError):
        time_log_det(dims)
