"""AffineCoupling and CouplingFlow beyond the shared property suite (tests/test_transforms.py)."""

from __future__ import annotations

import pytest
import torch

from nicelab import (
    NICE,
    AffineCoupling,
    Compose,
    CouplingFlow,
    Flow,
    Gaussian,
    Logistic,
    Scaling,
    Shift,
    fit,
)
from nicelab.checkpoint import load_checkpoint, save_checkpoint
from nicelab.coupling import split
from tests.transforms_registry import TRANSFORMS


@pytest.mark.parametrize("dim", [2, 5, 784])
@pytest.mark.parametrize("parity", [0, 1])
def test_affine_coupling_is_the_formula_and_keeps_half(dim, parity):
    layer = TRANSFORMS["affine-even" if parity == 0 else "affine-odd"](dim).double()
    x = torch.randn(7, dim, dtype=torch.float64)
    z, log_det = layer(x)
    kept, changed = split(x, parity)
    raw, t = layer.net(kept).chunk(2, dim=1)
    s = layer.bound * torch.tanh(raw / layer.bound)
    torch.testing.assert_close(split(z, parity)[1], changed * s.exp() + t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(log_det, s.sum(dim=1), rtol=1e-12, atol=1e-12)
    assert torch.equal(split(z, parity)[0], kept)


def test_affine_log_det_depends_on_x_unlike_additive():
    affine = TRANSFORMS["affine-even"](6).double()
    additive = TRANSFORMS["additive-even"](6).double()
    x = torch.randn(50, 6, dtype=torch.float64)
    assert affine(x)[1].std() > 1e-3
    assert torch.equal(additive(x)[1], torch.zeros(50, dtype=torch.float64))


def test_affine_log_scale_is_bounded():
    layer = AffineCoupling(4, parity=0, hidden=8, depth=1, bound=0.5).double()
    with torch.no_grad():
        layer.net[-1].bias.fill_(1e3)  # push the raw log-scale far past the bound
    s, _ = layer.scale_and_shift(torch.randn(10, 2, dtype=torch.float64))
    assert (s.abs() <= 0.5).all() and (s.abs() > 0.49).all()
    _, log_det = layer(torch.randn(10, 4, dtype=torch.float64))
    assert (log_det.abs() <= 0.5 * 2 + 1e-12).all()


@pytest.mark.parametrize("bound", [0, -1.0, float("inf"), float("nan"), "2", True])
def test_affine_rejects_bad_bound(bound):
    with pytest.raises(ValueError, match="bound"):
        AffineCoupling(4, parity=0, hidden=8, depth=1, bound=bound)


def test_additive_flow_is_exactly_nice():
    nice = TRANSFORMS["nice"](6).double()
    flow = CouplingFlow(6, coupling="additive", n_couplings=4, hidden=16, depth=2).double()
    flow.load_state_dict(nice.state_dict())
    x = torch.randn(9, 6, dtype=torch.float64)
    torch.testing.assert_close(flow.log_prob(x), nice.log_prob(x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(flow.inverse(x)[0], nice.inverse(x)[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(flow.coupling_log_det(x), torch.zeros(9, dtype=torch.float64))
    assert len(flow.intermediates(x)) == len(flow.layer_names()) == len(nice.layer_names())


def test_affine_flow_coupling_log_det_is_the_x_dependent_part():
    flow = TRANSFORMS["flow-affine"](4).double()
    x = torch.randn(20, 4, dtype=torch.float64)
    _, total = flow(x)
    part = flow.coupling_log_det(x)
    torch.testing.assert_close(total - part, flow.scaling.log_scale.sum().expand(20))
    assert part.std() > 1e-3


def test_affine_flow_density_integrates_to_one_in_2d():
    flow = CouplingFlow(2, coupling="affine", n_couplings=4, hidden=16, depth=2, prior="gaussian").double()
    with torch.no_grad():
        flow.scaling.log_scale.fill_(0.5)
    xs = torch.linspace(-12, 12, 601, dtype=torch.float64)
    grid = torch.cartesian_prod(xs, xs)
    cell = float(xs[1] - xs[0]) ** 2
    with torch.no_grad():
        mass = float(flow.log_prob(grid).exp().sum()) * cell
    assert abs(mass - 1.0) < 5e-3


def test_config_rebuilds_and_sample_shapes():
    flow = CouplingFlow(3, coupling="affine", n_couplings=2, hidden=8, depth=1, prior="gaussian")
    again = CouplingFlow(**flow.config())
    assert again.config() == flow.config()
    again.load_state_dict(flow.state_dict())
    g = torch.Generator().manual_seed(0)
    assert flow.sample(11, generator=g).shape == (11, 3)
    assert torch.equal(flow.sample(4, temperature=0.0), flow.inverse(torch.zeros(4, 3))[0])


def test_init_from_data_puts_latents_at_prior_scale():
    x = 5.0 + 0.1 * torch.randn(500, 4, dtype=torch.float64)
    flow = CouplingFlow(4, coupling="affine", n_couplings=2, hidden=16, depth=1, prior="gaussian").double()
    flow.init_from_data(x)
    z, _ = flow(x)
    torch.testing.assert_close(z.std(dim=0), torch.ones(4, dtype=torch.float64), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(flow.shift.shift, x.mean(dim=0))
    with pytest.raises(ValueError, match="at least 2"):
        flow.init_from_data(x[:1])
    with pytest.raises(ValueError, match="floor"):
        flow.init_from_data(x, floor=0)


def test_affine_flow_trains_and_beats_its_start():
    torch.manual_seed(0)
    data = torch.randn(512, 2) * torch.tensor([2.0, 0.3]) + torch.tensor([1.0, -1.0])
    flow = CouplingFlow(2, coupling="affine", n_couplings=4, hidden=32, depth=2).init_from_data(data)
    before = flow.log_prob(data).mean().item()
    history = fit(flow, data, steps=150, batch_size=128, lr=3e-3, seed=0, progress=False)
    after = flow.log_prob(data).mean().item()
    assert len(history["loss"]) == 150 and after > before + 0.05


def test_constructor_validation():
    with pytest.raises(ValueError, match="coupling"):
        CouplingFlow(4, coupling="spline")
    with pytest.raises(ValueError, match="dim"):
        CouplingFlow(1)
    with pytest.raises(ValueError, match="n_couplings"):
        CouplingFlow(4, n_couplings=0)
    with pytest.raises(ValueError, match="prior"):
        CouplingFlow(4, prior="cauchy")
    with pytest.raises(ValueError, match="parity"):
        AffineCoupling(4, parity=3)


# --- Flow: any transform plus a prior ----------------------------------------------------------------


def _generic_flow(dim: int = 4) -> Flow:
    layers = Compose({"shift": Shift(dim), "c": AffineCoupling(dim, 0, 8, 1), "scaling": Scaling(dim)})
    return Flow(layers, Gaussian(dim)).double()


def test_flow_log_prob_is_prior_plus_log_det_and_state_is_the_transforms():
    flow = _generic_flow()
    x = torch.randn(5, 4, dtype=torch.float64)
    z, log_det = flow(x)
    torch.testing.assert_close(flow.log_prob(x), flow.prior.log_prob(z) + log_det)
    assert (
        list(flow.state_dict())
        == list(flow.transform.state_dict())
        == [
            "shift.shift",
            *[f"c.net.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")],
            "scaling.log_scale",
        ]
    )
    assert flow.shift is flow.transform.steps[0] and flow.layers == flow.transform.layers
    assert flow.layer_names() == ["input", "centre", "affine coupling 1 (updates even)", "scaling (latent)"]
    assert len(flow.intermediates(x)) == 4 and torch.equal(flow.stages(x)[-1][0], z)


def test_flow_wraps_a_bare_transform_and_follows_train_eval_and_dtype():
    flow = Flow(AffineCoupling(4, 1, 8, 1), Logistic(4))
    assert list(flow.state_dict())[0] == "0.net.0.weight" and isinstance(flow.transform, Compose)
    flow.eval()
    assert not flow.training and not flow.transform.training and not flow.transform[0].training
    flow.train()
    assert flow.transform.training
    flow.double()
    assert flow.sample(3, generator=torch.Generator().manual_seed(0)).dtype == torch.float64


def test_flow_init_from_data_walks_shift_and_scaling():
    flow = _generic_flow()
    x = 3.0 + 0.5 * torch.randn(400, 4, dtype=torch.float64)
    flow.init_from_data(x)
    torch.testing.assert_close(flow.shift.shift, x.mean(0))
    torch.testing.assert_close(flow(x)[0].std(0), torch.ones(4, dtype=torch.float64))


def test_flow_rejects_bad_arguments():
    with pytest.raises(ValueError, match="transform must be"):
        Flow(torch.nn.Linear(2, 2), Gaussian(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prior must be"):
        Flow(Shift(2), "gaussian")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dim 3 but the transform has dim 2"):
        Flow(Shift(2), Gaussian(3))
    with pytest.raises(ValueError, match="'prior'"):
        Flow(Compose({"prior": Shift(2)}), Gaussian(2))
    with pytest.raises(ValueError, match="NaN"):
        _generic_flow().log_prob(torch.full((2, 4), float("nan"), dtype=torch.float64))


def test_nice_and_coupling_flows_are_flows_of_one_chain():
    nice = NICE(6, n_couplings=3, hidden=8, depth=1)
    assert isinstance(nice, Flow) and not isinstance(nice, CouplingFlow)
    assert [type(t).__name__ for t in nice.transform.steps] == ["Shift", "CouplingChain", "Scaling"]
    assert nice.layers == [nice.shift, *nice.couplings, nice.scaling]
    assert nice.coupling == "additive" and CouplingFlow(6, "affine", 2, 8, 1).coupling == "affine"
    assert nice.config() == {"dim": 6, "n_couplings": 3, "hidden": 8, "depth": 1, "prior": "logistic"}


def test_coupling_flow_affine_bound_is_part_of_its_config():
    flow = CouplingFlow(2, coupling="affine", n_couplings=2, hidden=8, depth=1)
    assert flow.config()["bound"] == 1.0 and all(c.bound == 1.0 for c in flow.couplings)
    wide = CouplingFlow(**(flow.config() | {"bound": 2.0}))
    assert all(c.bound == 2.0 for c in wide.couplings)
    assert "bound" not in CouplingFlow(2, n_couplings=2, hidden=8, depth=1).config()
    with pytest.raises(ValueError, match="bounded log-scale"):
        CouplingFlow(2, coupling="additive", n_couplings=2, bound=1.0)


def test_affine_checkpoints_without_a_bound_load_with_the_old_default(tmp_path):
    # files written before the default bound went from 2 to 1 have no "bound" in their config
    old = CouplingFlow(2, coupling="affine", n_couplings=2, hidden=8, depth=1, bound=2.0)
    path = save_checkpoint(tmp_path / "affine.pt", old)
    payload = torch.load(path, weights_only=True)
    del payload["config"]["bound"]
    torch.save(payload, path)
    loaded = load_checkpoint(path)
    assert loaded.config()["bound"] == 2.0
    x = torch.randn(16, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.log_prob(x), old.log_prob(x))
