"""SplineCoupling and its rational-quadratic spline: the transform properties, in float64, tight."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd.functional import jacobian

from nicelab import SplineCoupling
from nicelab.coupling import CouplingChain
from nicelab.flows import CouplingFlowBase
from nicelab.spline import SplineFlow, _derivatives, _knots, rational_quadratic_spline

F64 = dict(rtol=0, atol=1e-10)


def coupling(dim: int, parity: int, bins: int = 8, bound: float = 3.0) -> SplineCoupling:
    """A small spline coupling whose splines are visibly non-identity (default init), in float64."""
    torch.manual_seed(dim * 10 + parity)
    return SplineCoupling(dim, parity, hidden=16, depth=2, bins=bins, bound=bound).double()


def points(dim: int, bound: float = 3.0, n: int = 64) -> torch.Tensor:
    """Points inside, in the tails beyond ±bound, and exactly on the edges ±bound."""
    x = 1.5 * bound * (2 * torch.rand(n, dim, dtype=torch.float64) - 1)
    x[:4, :] = torch.tensor([bound, -bound, 4 * bound, -4 * bound], dtype=torch.float64)[:, None]
    return x


def raw_params(n: int, bins: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return tuple(torch.randn(n, k, generator=g, dtype=torch.float64) for k in (bins, bins, bins - 1))


@pytest.mark.parametrize("parity", [0, 1])
@pytest.mark.parametrize("dim", [2, 5])
class TestSplineCoupling:
    def test_round_trip_both_ways(self, dim, parity):
        c, x = coupling(dim, parity), points(dim)
        z, fwd = c(x)
        back, inv = c.inverse(z)
        torch.testing.assert_close(back, x, **F64)
        torch.testing.assert_close(fwd, -inv, **F64)
        x2, _ = c.inverse(x)
        torch.testing.assert_close(c(x2)[0], x, **F64)
        assert fwd.shape == inv.shape == (x.shape[0],)

    def test_log_det_matches_autograd_jacobian_both_directions(self, dim, parity):
        c, x = coupling(dim, parity), points(dim, n=8)
        _, log_det = c(x)
        _, inv_log_det = c.inverse(x)
        for i in range(x.shape[0]):
            J = jacobian(lambda v: c(v.unsqueeze(0))[0].squeeze(0), x[i])
            torch.testing.assert_close(log_det[i], torch.linalg.slogdet(J)[1], **F64)
            J_inv = jacobian(lambda v: c.inverse(v.unsqueeze(0))[0].squeeze(0), x[i])
            torch.testing.assert_close(inv_log_det[i], torch.linalg.slogdet(J_inv)[1], **F64)

    def test_kept_half_is_untouched_and_tails_are_the_identity(self, dim, parity):
        c = coupling(dim, parity)
        x = points(dim)
        z, _ = c(x)
        kept = [i for i in range(dim) if i % 2 != parity]
        assert torch.equal(z[:, kept], x[:, kept])
        far = torch.full((3, dim), 10.0, dtype=torch.float64) * torch.tensor([[1.0], [-1.0], [2.0]]).double()
        z_far, ld_far = c(far)
        assert torch.equal(z_far, far) and torch.equal(ld_far, torch.zeros(3, dtype=torch.float64))

    def test_gradients_reach_every_parameter(self, dim, parity):
        c = coupling(dim, parity)
        z, log_det = c(points(dim, n=128))
        (z.pow(2).sum() - log_det.sum()).backward()
        for p in c.parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_knots_map_to_knots_with_the_knot_derivatives():
    w, h, d = raw_params(5)
    bound = 2.0
    xs = _knots(w, bound, 1e-3)[0]
    ys = _knots(h, bound, 1e-3)[0]
    ds = _derivatives(d, 1e-3)
    for k in range(xs.shape[-1]):
        y, log_deriv = rational_quadratic_spline(xs[:, k], w, h, d, bound=bound)
        torch.testing.assert_close(y, ys[:, k], **F64)
        torch.testing.assert_close(log_deriv, ds[:, k].log(), **F64)
        x, inv_log_deriv = rational_quadratic_spline(ys[:, k], w, h, d, bound=bound, inverse=True)
        torch.testing.assert_close(x, xs[:, k], **F64)
        torch.testing.assert_close(inv_log_deriv, -ds[:, k].log(), **F64)


def test_spline_is_strictly_increasing_and_round_trips_on_a_fine_grid():
    n = 4001
    x = torch.linspace(-4.0, 4.0, n, dtype=torch.float64)
    w, h, d = (p[:1].expand(n, -1) for p in raw_params(1))
    y, log_deriv = rational_quadratic_spline(x, w, h, d, bound=3.0)
    assert (y[1:] > y[:-1]).all()
    back, inv = rational_quadratic_spline(y, w, h, d, bound=3.0, inverse=True)
    torch.testing.assert_close(back, x, **F64)
    torch.testing.assert_close(inv, -log_deriv, **F64)
    inside = x.abs() < 3.0
    assert not torch.allclose(y[inside], x[inside])  # a real spline, not the identity
    # the derivative is continuous at ±B: numerically the slope just inside the edge is ~1
    slope = (y[1:] - y[:-1]) / (x[1:] - x[:-1])
    edge = (x[:-1] - 3.0).abs().argmin()
    assert abs(slope[edge] - 1.0) < 0.05 and abs(slope[edge - 1] - 1.0) < 0.05


def test_zero_conditioner_output_is_the_identity():
    c = coupling(4, 0)
    with torch.no_grad():
        c.net[-1].weight.zero_()
        c.net[-1].bias.zero_()
    x = points(4)
    z, log_det = c(x)
    torch.testing.assert_close(z, x, **F64)
    torch.testing.assert_close(log_det, torch.zeros(x.shape[0], dtype=torch.float64), **F64)


def test_a_custom_conditioner_is_used():
    net = nn.Linear(1, 3 * 4 - 1).double()
    c = SplineCoupling(2, 1, bins=4, conditioner=net)
    assert c.net is net
    x = points(2)
    torch.testing.assert_close(c.inverse(c(x)[0])[0], x, **F64)


def test_a_spline_coupling_flow_round_trips_and_has_x_dependent_log_det():
    torch.manual_seed(0)
    flow = SplineFlow(2, n_couplings=4, hidden=16, depth=2, prior="gaussian", bins=6, bound=4.0).double()
    x = 2 * torch.randn(32, 2, dtype=torch.float64)
    z, log_det = flow(x)
    back, inv = flow.inverse(z)
    torch.testing.assert_close(back, x, **F64)
    torch.testing.assert_close(log_det, -inv, **F64)
    assert flow.coupling_log_det(x).std() > 1e-3
    rebuilt = SplineFlow(**flow.config())
    assert (
        rebuilt.config() == flow.config()
        and rebuilt.couplings[1].bins == 6
        and rebuilt.couplings[1].parity == 1
    )
    assert flow.layer_names()[2].startswith("spline coupling 1")


def test_spline_flow_is_built_by_the_shared_coupling_flow_constructor():
    torch.manual_seed(0)
    flow = SplineFlow(3, n_couplings=3, hidden=8, depth=1, prior="gaussian", bins=4, bound=3.0)
    # The weights are drawn as before the flow used the shared constructor (couplings in order; Shift and
    # Scaling start at 0), so a seed gives the same flow and old checkpoints load unchanged.
    torch.manual_seed(0)
    alone = [SplineCoupling(3, i % 2, hidden=8, depth=1, bins=4, bound=3.0) for i in range(3)]
    for built, expected in zip(flow.couplings, alone, strict=True):
        for (name, got), want in zip(built.state_dict().items(), expected.state_dict().values(), strict=True):
            assert torch.equal(got, want), name
    keys = [f"couplings.{i}.{k}" for i, c in enumerate(alone) for k in c.state_dict()]
    assert list(flow.state_dict()) == ["shift.shift", *keys, "scaling.log_scale"]
    assert isinstance(flow.couplings, CouplingChain) and flow.coupling == "spline"
    assert flow.layers == [flow.shift, *flow.couplings, flow.scaling]
    assert "transform" not in vars(CouplingFlowBase) and not hasattr(flow, "_run_couplings")
    assert (flow.bins, flow.bound, flow.prior_name) == (4, 3.0, "gaussian")
    with pytest.raises(ValueError, match="needs dim >= 2"):
        SplineFlow(1)
    with pytest.raises(ValueError, match="bins"):
        SplineFlow(2, bins=1)


def test_bad_input_is_rejected():
    c = coupling(2, 0)
    with pytest.raises(ValueError, match="shape"):
        c(torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="torch.Tensor"):
        c([[0.0, 1.0]])
    with pytest.raises(ValueError, match="bins"):
        SplineCoupling(2, 0, bins=1)
    with pytest.raises(ValueError, match="bins"):
        SplineCoupling(2, 0, bins=True)
    with pytest.raises(ValueError, match="bound"):
        SplineCoupling(2, 0, bound=0.0)
    with pytest.raises(ValueError, match="bound"):
        SplineCoupling(2, 0, bound=float("inf"))
    with pytest.raises(ValueError, match="min_bin"):
        SplineCoupling(2, 0, bins=10, min_bin=0.1)
    with pytest.raises(ValueError, match="min_derivative"):
        SplineCoupling(2, 0, min_derivative=1.0)
    with pytest.raises(ValueError, match="conditioner"):
        SplineCoupling(2, 0, conditioner="mlp")
    with pytest.raises(ValueError, match="parity"):
        SplineCoupling(2, 2)
    with pytest.raises(ValueError, match="n_couplings"):
        SplineFlow(2, n_couplings=0)
    with pytest.raises(ValueError, match="prior"):
        SplineFlow(2, prior="cauchy")
    wrong_net = SplineCoupling(2, 0, bins=4, conditioner=nn.Linear(1, 5).double())
    with pytest.raises(ValueError, match="conditioner must return shape"):
        wrong_net(torch.zeros(2, 2, dtype=torch.float64))
    w, h, d = raw_params(3)
    with pytest.raises(ValueError, match="derivatives must have shape"):
        rational_quadratic_spline(torch.zeros(3, dtype=torch.float64), w, h, d[:, :-1])
    with pytest.raises(ValueError, match="at least 2 bins"):
        rational_quadratic_spline(torch.zeros(3, dtype=torch.float64), w[:, :1], h[:, :1], d[:, :0])
    with pytest.raises(ValueError, match="bound"):
        rational_quadratic_spline(torch.zeros(3, dtype=torch.float64), w, h, d, bound=-1.0)
