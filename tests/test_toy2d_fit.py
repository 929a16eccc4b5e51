"""nicelab.train.fit_toy2d: the three 2-D recipes on any density with sample(n) and log_prob(x)."""

from __future__ import annotations

import math

import pytest
import torch

from nicelab import NICE, CouplingFlow
from nicelab import datasets as D
from nicelab.spline import SplineFlow
from nicelab.train import fit_toy2d
from nicelab.train.toy2d import RECIPES, build_toy2d_flow, steps_within


class TiltedGaussian:
    """A teacher's own density: a correlated Gaussian, with no generator argument and no name."""

    cov = torch.tensor([[1.0, 0.8], [0.8, 1.0]], dtype=torch.float64)

    def sample(self, n: int) -> torch.Tensor:
        return (torch.randn(n, 2, dtype=torch.float64) @ torch.linalg.cholesky(self.cov).T).float()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        dist = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64), self.cov)
        return dist.log_prob(x.double()).to(x.dtype)


@pytest.mark.parametrize(
    "coupling, kind", [("additive", NICE), ("affine", CouplingFlow), ("spline", SplineFlow)]
)
def test_each_recipe_trains_on_a_custom_density(coupling, kind):
    data = TiltedGaussian()
    torch.manual_seed(123)
    x = data.sample(2000)
    before = build_toy2d_flow(coupling, data.sample(4096)).log_prob(x).mean().item()
    flow = fit_toy2d(data, coupling, steps=40, seed=0)
    assert isinstance(flow, kind) and flow.coupling == coupling and not flow.training
    assert flow.history["step"] == list(range(1, 41))
    with torch.no_grad():
        after = flow.log_prob(x)
    assert after.shape == (2000,) and torch.isfinite(after).all()
    assert after.mean().item() > before  # 40 steps of maximum likelihood raise the likelihood


def test_the_same_seed_gives_the_same_flow_and_another_seed_another():
    data = D.get("moons")
    x = data.sample(64, torch.Generator().manual_seed(5))
    a, b, c = (fit_toy2d(data, "spline", steps=3, seed=s) for s in (0, 0, 1))
    with torch.no_grad():
        assert torch.equal(a.log_prob(x), b.log_prob(x))
        assert not torch.equal(a.log_prob(x), c.log_prob(x))


def test_a_seconds_budget_sets_the_steps_from_a_timed_probe():
    data = TiltedGaussian()
    flow = fit_toy2d(data, "affine", seconds=0.5, seed=0)
    assert len(flow.history["step"]) >= 1
    model = build_toy2d_flow("affine", data.sample(256))
    many = steps_within(1e6, model, data.sample, RECIPES["affine"]["fit"], seed=0)
    few = steps_within(1e-6, model, data.sample, RECIPES["affine"]["fit"], seed=0)
    assert few == 1 and many > 1000


def test_without_a_budget_the_recipe_default_is_used(monkeypatch):
    monkeypatch.setitem(RECIPES["additive"], "steps", 7)
    assert len(fit_toy2d(TiltedGaussian(), "additive").history["step"]) == 7


class NoLogProb:
    def sample(self, n: int) -> torch.Tensor:
        return torch.zeros(n, 2)


class ThreeD(TiltedGaussian):
    def sample(self, n: int) -> torch.Tensor:
        return torch.randn(n, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"coupling": "cubic"}, "coupling must be one of"),
        ({"coupling": None}, "coupling must be one of"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"seconds": -1.0}, "seconds"),
        ({"seconds": math.inf}, "seconds"),
        ({"seconds": True}, "seconds"),
        ({"steps": 10, "seconds": 1.0}, "not both"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_toy2d(TiltedGaussian(), **kwargs)


def test_bad_datasets_are_refused():
    with pytest.raises(ValueError, match="has no log_prob"):
        fit_toy2d(NoLogProb(), steps=1)
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        fit_toy2d(ThreeD(), steps=1)
    with pytest.raises(ValueError, match="has no sample"):
        fit_toy2d(object(), steps=1)


def test_fit_toy2d_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit_toy2d(D.get("moons"), coupling="additive", steps=2, seed=5)
    assert torch.equal(torch.rand(3), expected)
