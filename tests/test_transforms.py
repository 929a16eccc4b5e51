"""Property tests run over every transform in the registry, in float64 (tight) and float32 (loose)."""

from __future__ import annotations

import io

import pytest
import torch
from torch.autograd.functional import jacobian

from nicelab import (
    NICE,
    AdditiveCoupling,
    AffineCoupling,
    Compose,
    CouplingFlow,
    Flow,
    Gaussian,
    Inverse,
    Scaling,
    Shift,
)
from nicelab.coupling import CouplingChain, split
from nicelab.transforms import Identity
from tests.transforms_registry import TRANSFORMS

DIMS = [2, 6, 784]
DTYPES = {torch.float64: dict(rtol=1e-9, atol=1e-9), torch.float32: dict(rtol=1e-4, atol=1e-4)}
NAMES = sorted(TRANSFORMS)


def build(name: str, dim: int, dtype: torch.dtype):
    return TRANSFORMS[name](dim).to(dtype)


def batch(dim: int, dtype: torch.dtype, n: int = 5) -> torch.Tensor:
    return torch.randn(n, dim, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("name", NAMES)
class TestEveryTransform:
    def test_round_trip_both_ways(self, name, dim, dtype):
        t, x = build(name, dim, dtype), batch(dim, dtype)
        z, _ = t(x)
        torch.testing.assert_close(t.inverse(z)[0], x, **DTYPES[dtype])
        x2, _ = t.inverse(x)
        torch.testing.assert_close(t(x2)[0], x, **DTYPES[dtype])

    def test_log_dets_have_batch_shape_and_cancel(self, name, dim, dtype):
        t, x = build(name, dim, dtype), batch(dim, dtype)
        z, fwd = t(x)
        _, inv = t.inverse(z)
        assert fwd.shape == inv.shape == (x.shape[0],)
        torch.testing.assert_close(fwd, -inv, **DTYPES[dtype])

    def test_log_det_matches_autograd_jacobian(self, name, dim, dtype):
        if dtype == torch.float32 and dim == 784:
            pytest.skip("784x784 slogdet in float32 is too loose to be informative; float64 covers it")
        t = build(name, dim, dtype)
        x = batch(dim, dtype, n=2 if dim == 784 else 4)
        _, log_det = t(x)
        _, inv_log_det = t.inverse(x)
        for i in range(x.shape[0]):
            J = jacobian(lambda v: t(v.unsqueeze(0))[0].squeeze(0), x[i], vectorize=True)
            sign, expected = torch.linalg.slogdet(J)
            assert sign != 0
            torch.testing.assert_close(log_det[i], expected, **DTYPES[dtype])
            J_inv = jacobian(lambda v: t.inverse(v.unsqueeze(0))[0].squeeze(0), x[i], vectorize=True)
            torch.testing.assert_close(inv_log_det[i], torch.linalg.slogdet(J_inv)[1], **DTYPES[dtype])

    def test_outputs_finite_for_large_inputs(self, name, dim, dtype):
        t = build(name, dim, dtype)
        x = 50.0 * batch(dim, dtype)
        for out in (*t(x), *t.inverse(x)):
            assert torch.isfinite(out).all()

    def test_gradients_reach_every_parameter(self, name, dim, dtype):
        t = build(name, dim, dtype)
        params = list(t.parameters())
        if not params:
            pytest.skip("this transform has no parameters")
        z, log_det = t(batch(dim, dtype, n=16))
        (z.pow(2).sum() - log_det.sum()).backward()
        for p in params:
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0

    def test_eval_equals_train(self, name, dim, dtype):
        t, x = build(name, dim, dtype), batch(dim, dtype)
        t.train()
        z_train, ld_train = t(x)
        t.eval()
        z_eval, ld_eval = t(x)
        assert torch.equal(z_train, z_eval) and torch.equal(ld_train, ld_eval)

    def test_state_dict_round_trip_weights_only(self, name, dim, dtype):
        t, x = build(name, dim, dtype), batch(dim, dtype)
        buffer = io.BytesIO()
        torch.save(t.state_dict(), buffer)
        buffer.seek(0)
        fresh = build(name, dim, dtype)
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
        for a, b in zip(t(x), fresh(x), strict=True):
            assert torch.equal(a, b)
        if hasattr(t, "log_prob"):
            assert torch.equal(t.log_prob(x), fresh.log_prob(x))

    @pytest.mark.parametrize("kind", ["1-D", "wrong-dim", "3-D", "empty"])
    def test_bad_shapes_raise_value_error(self, name, dim, dtype, kind):
        t = build(name, dim, dtype)
        shape = {"1-D": (dim,), "wrong-dim": (4, dim + 1), "3-D": (2, 3, dim), "empty": (0, dim)}[kind]
        bad = torch.zeros(shape, dtype=dtype)
        for method in (t.forward, t.inverse):
            with pytest.raises(ValueError, match=rf"\(batch, {dim}\)"):
                method(bad)


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("parity", [0, 1])
def test_additive_coupling_log_det_exactly_zero_and_kept_half_bit_identical(dim, parity):
    layer = TRANSFORMS["additive-even" if parity == 0 else "additive-odd"](dim).double()
    x = torch.randn(7, dim, dtype=torch.float64)
    z, log_det = layer(x)
    assert torch.equal(log_det, torch.zeros(7, dtype=torch.float64))
    assert torch.equal(split(z, parity)[0], split(x, parity)[0])
    assert not torch.equal(split(z, parity)[1], split(x, parity)[1])
    x_back, inv_log_det = layer.inverse(z)
    assert torch.equal(inv_log_det, torch.zeros(7, dtype=torch.float64))
    assert torch.equal(split(x_back, parity)[0], split(x, parity)[0])


@pytest.mark.parametrize("dim", DIMS)
def test_scaling_log_det_is_sum_of_log_scales(dim):
    layer = TRANSFORMS["scaling"](dim).double()
    x = torch.randn(3, dim, dtype=torch.float64)
    z, log_det = layer(x)
    torch.testing.assert_close(z, x * layer.log_scale.exp())
    torch.testing.assert_close(log_det, layer.log_scale.sum().expand(3))


@pytest.mark.parametrize("dim", [2, 5, 784])
def test_alternating_couplings_update_every_coordinate(dim):
    model = NICE(dim, n_couplings=2, hidden=8, depth=1).double()
    x = torch.randn(4, dim, dtype=torch.float64)
    states = model.intermediates(x)
    changed = (states[-2] != states[1]).all(dim=0)  # after both couplings vs after centring
    assert changed.all()


@pytest.mark.parametrize("dim", [2, 5, 784])
def test_nice_fast_path_equals_layer_by_layer(dim):
    model = TRANSFORMS["nice"](dim).double()
    x = torch.randn(6, dim, dtype=torch.float64)
    states = model.intermediates(x)
    z, log_det = model(x)
    torch.testing.assert_close(z, states[-1], rtol=1e-12, atol=1e-12)
    assert len(states) == len(model.layer_names()) == model.n_couplings + 3
    torch.testing.assert_close(log_det, model.scaling.log_scale.sum().expand(6))


def test_constructor_arguments_validated():
    with pytest.raises(ValueError, match="parity"):
        AdditiveCoupling(4, parity=2)
    with pytest.raises(ValueError, match="dim"):
        AdditiveCoupling(1, parity=0)
    with pytest.raises(ValueError, match="dim"):
        Scaling(0)
    with pytest.raises(ValueError, match="prior"):
        NICE(4, prior="cauchy")
    with pytest.raises(ValueError, match="n_couplings"):
        NICE(4, n_couplings=0)


# --- Compose walks every chain; the fused coupling chain; properties instead of names ---------------

CHAINS = {
    "chain-affine": lambda d: _randomised(
        CouplingChain([AffineCoupling(d, i % 2, hidden=8, depth=1) for i in range(3)])
    ),
    "chain-mixed": lambda d: _randomised(
        CouplingChain(
            [AdditiveCoupling(d, 0, 8, 1), AffineCoupling(d, 1, 8, 1), AdditiveCoupling(d, 1, 8, 1)]
        )
    ),
    "flow-generic": lambda d: Flow(
        Compose([Shift(d), AffineCoupling(d, 0, 8, 1), Scaling(d), AdditiveCoupling(d, 1, 8, 1)]), Gaussian(d)
    ),
}


def _randomised(t):
    with torch.no_grad():
        for p in t.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return t


@pytest.mark.parametrize("dim", [2, 7])
@pytest.mark.parametrize("name", sorted(CHAINS))
def test_chains_round_trip_and_match_autograd(name, dim):
    t = CHAINS[name](dim).double()
    x = torch.randn(3, dim, dtype=torch.float64)
    z, log_det = t(x)
    back, inv_log_det = t.inverse(z)
    torch.testing.assert_close(back, x, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(inv_log_det, -log_det, rtol=1e-10, atol=1e-10)
    for i in range(3):
        J = jacobian(lambda v: t(v.unsqueeze(0))[0].squeeze(0), x[i])
        torch.testing.assert_close(log_det[i], torch.linalg.slogdet(J)[1], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dim", [2, 5, 784])
@pytest.mark.parametrize("name", ["chain-affine", "chain-mixed"])
def test_fused_coupling_chain_equals_the_layer_by_layer_walk(name, dim):
    chain = CHAINS[name](dim).double()
    x = torch.randn(6, dim, dtype=torch.float64)
    stages = chain.stages(x)
    z, log_det = chain(x)
    torch.testing.assert_close(z, stages[-1][0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(log_det, sum(ld for _, ld in stages), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        chain.inverse(z)[0], Compose(chain.layers).inverse(z)[0], rtol=1e-12, atol=1e-12
    )


def test_compose_stages_chain_and_flattening():
    d = 5
    inner = Compose([AdditiveCoupling(d, 0, 8, 1), AffineCoupling(d, 1, 8, 1)])
    outer = _randomised(Compose({"shift": Shift(d), "inner": inner, "scaling": Scaling(d)})).double()
    assert [type(t).__name__ for t in outer.layers] == [
        "Shift",
        "AdditiveCoupling",
        "AffineCoupling",
        "Scaling",
    ]
    assert outer.steps[1] is inner and outer[1] is inner and len(outer) == 3
    x = torch.randn(4, d, dtype=torch.float64)
    stages = outer.stages(x)
    z, log_det = outer(x)
    assert len(stages) == 4 and torch.equal(stages[-1][0], z)
    torch.testing.assert_close(sum(ld for _, ld in stages), log_det)
    states = outer.intermediates(x)
    for k in range(5):  # the tail from stage k maps that stage's state to z, and back
        tail = outer.chain(k)
        torch.testing.assert_close(tail(states[k])[0], z)
        torch.testing.assert_close(tail.inverse(z)[0], states[k])
    assert isinstance(outer.chain(4), Identity) and torch.equal(outer.chain(4)(x)[1], torch.zeros(4).double())
    assert set(outer.state_dict()) >= {"shift.shift", "inner.0.m.0.weight", "scaling.log_scale"}


def test_volume_and_constant_log_det_properties():
    d = 4
    add, aff, scale = AdditiveCoupling(d, 0, 8, 1), AffineCoupling(d, 1, 8, 1), Scaling(d)
    assert add.volume_preserving and add.constant_log_det and Shift(d).volume_preserving
    assert not aff.volume_preserving and not aff.constant_log_det
    assert not scale.volume_preserving and scale.constant_log_det
    assert Compose([Shift(d), add]).volume_preserving and not Compose([add, scale]).volume_preserving
    assert Compose([add, scale]).constant_log_det and not Compose([add, aff]).constant_log_det
    assert Inverse(aff).constant_log_det is False and Inverse(add).volume_preserving
    assert NICE(d, 2, 8, 1).constant_log_det and not CouplingFlow(d, "affine", 2, 8, 1).constant_log_det
    assert not NICE(d, 2, 8, 1).volume_preserving  # the scaling changes volume


def test_compose_rejects_bad_steps():
    with pytest.raises(ValueError, match="at least one"):
        Compose([])
    with pytest.raises(ValueError, match="Transforms"):
        Compose([torch.nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="one dim"):
        Compose([Shift(2), Shift(3)])
    with pytest.raises(ValueError, match="Coupling layers"):
        CouplingChain([Shift(4)])


class Doubler(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.width, self.calls = width, 0

    def forward(self, kept):
        self.calls += 1
        return 2.0 * kept.repeat(1, 2)[:, : self.width]


def test_conditioner_is_a_constructor_argument():
    net = Doubler(2)
    layer = AdditiveCoupling(4, parity=1, conditioner=net).double()
    assert layer.m is net and list(layer.parameters()) == []
    x = torch.randn(3, 4, dtype=torch.float64)
    z, log_det = layer(x)
    torch.testing.assert_close(z[:, 1::2], x[:, 1::2] + 2.0 * x[:, 0::2])
    assert net.calls == 1 and torch.equal(log_det, torch.zeros(3, dtype=torch.float64))
    affine = AffineCoupling(4, parity=0, conditioner=Doubler(4))
    s, t = affine.scale_and_shift(torch.ones(2, 2))
    torch.testing.assert_close(s, torch.tanh(2.0 * torch.ones(2, 2)))  # bound 1: tanh(raw), raw = 2
    for bad in ("mlp", lambda v: v):
        with pytest.raises(ValueError, match="conditioner must be a torch.nn.Module"):
            AdditiveCoupling(4, 0, conditioner=bad)
        with pytest.raises(ValueError, match="conditioner must be a torch.nn.Module"):
            AffineCoupling(4, 0, conditioner=bad)
