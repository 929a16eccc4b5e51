"""Lessons 02-04: the notebooks' key evidence must fail on a deliberately broken model or transform.

The evidence functions are defined inline in the notebooks. These tests read each function's source out
of the notebook (by name, with ``ast``), so they test the very code a learner runs, and feed it:

* a correct layer, where the lesson's assert must hold, and
* a broken one, a coupling that changes volume while reporting ``log|det| = 0``, or a layer whose
  log-det depends on ``x`` while the scaling's is constant, where the same assert must fail.
"""

from __future__ import annotations

import ast
import json
import math
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nicelab import NICE, AdditiveCoupling, AffineCoupling, Compose, Gaussian, Logistic
from nicelab.jacobian import jacobian, log_abs_det

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
D64 = torch.float64


def notebook_functions(notebook: str, *names: str) -> dict:
    """The top-level ``def``s called ``names`` from ``notebook``'s code cells, executed in one namespace.

    The namespace holds the imports the lessons' functions use (``math``, ``time``, ``torch``, ``F``,
    ``jacobian``, ``log_abs_det``, ``f64``), so a function may call another one loaded with it.
    """
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    namespace = {"math": math, "time": time, "torch": torch, "F": F, "jacobian": jacobian}
    namespace.update(log_abs_det=log_abs_det, f64=D64)  # lessons 03-04 write `f64 = torch.float64`
    found = set()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                exec(compile(ast.Module(body=[node], type_ignores=[]), notebook, "exec"), namespace)
                found.add(node.name)
    missing = set(names) - found
    assert not missing, f"{notebook} no longer defines {sorted(missing)}"
    return {name: namespace[name] for name in names}


class VolumeChangingCoupling(AdditiveCoupling):
    """Broken on purpose: ``z_change = factor * x_change + m(x_keep)``, but it reports log-det 0.

    It is still an exact bijection (the inverse below is right), so only a log-det check can catch it.
    """

    def __init__(self, dim: int, parity: int, factor: float = 2.0, **kwargs) -> None:
        super().__init__(dim, parity, **kwargs)
        self.factor = factor

    def couple(self, kept, changed):
        return self.factor * changed + self.m(kept), kept.new_zeros(kept.shape[0])

    def uncouple(self, kept, changed):
        return (changed - self.m(kept)) / self.factor, kept.new_zeros(kept.shape[0])


class ZeroReportingAffine(AffineCoupling):
    """Broken on purpose: an affine coupling (log-det ``Σ s(x_keep)``) that reports only 0."""

    def couple(self, kept, changed):
        return super().couple(kept, changed)[0], kept.new_zeros(kept.shape[0])


# ---------------------------------------------------------------- lesson 02: log-det by two routes


@pytest.fixture(scope="module")
def lesson02():
    return notebook_functions("02_jacobian_determinants.ipynb", "log_det_two_routes")


def test_lesson02_two_routes_agree_on_a_correct_coupling(lesson02):
    torch.manual_seed(0)
    layer = AffineCoupling(12, parity=0, hidden=16, depth=2).double()
    routes = lesson02["log_det_two_routes"](layer, torch.rand(3, 12, dtype=D64), repeats=2)
    assert routes["cheap"].abs().min() > 1e-6  # x-dependent and non-zero: the agreement means something
    assert torch.allclose(routes["cheap"], routes["dense"], atol=1e-9)  # the lesson's assert
    assert all(math.isfinite(routes[k]) for k in ("forward_s", "jacobian_s", "slogdet_s"))


def test_lesson02_two_routes_disagree_on_a_coupling_that_misreports_its_log_det(lesson02):
    torch.manual_seed(0)
    layer = ZeroReportingAffine(12, parity=0, hidden=16, depth=2).double()
    routes = lesson02["log_det_two_routes"](layer, torch.rand(3, 12, dtype=D64))
    assert not torch.allclose(routes["cheap"], routes["dense"], atol=1e-9)


# ---------------------------------------------------------------- lesson 03: volume preservation


@pytest.fixture(scope="module")
def lesson03():
    return notebook_functions("03_coupling_layers.ipynb", "gaussian_log_prob", "pushed_log_density")


def _grid(lo: float = -6.0, hi: float = 6.0, n: int = 241) -> tuple[torch.Tensor, float]:
    axis = torch.linspace(lo, hi, n, dtype=D64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1), float(axis[1] - axis[0]) ** 2


def _couplings(layer_type, **kwargs) -> Compose:
    torch.manual_seed(1)
    layers = [layer_type(2, parity=i % 2, hidden=32, depth=2, **kwargs).double() for i in range(4)]
    with torch.no_grad():
        for layer in layers:
            layer.m[-1].weight.mul_(3.0)
    return Compose(layers)


def _level_set_area_errors(log_p: torch.Tensor, cell: float) -> list[float]:
    """Relative error of the area of {p > t} against the Gaussian's pi * (-2 log(2 pi t)), as lesson 03."""
    errors = []
    for t in (0.02, 0.05, 0.1):
        exact = math.pi * (-2 * math.log(2 * math.pi * t))
        errors.append(abs(float((log_p.exp() > t).sum()) * cell - exact) / exact)
    return errors


def test_lesson03_volume_evidence_holds_for_additive_couplings(lesson03):
    grid, cell = _grid()
    log_p = lesson03["pushed_log_density"](_couplings(AdditiveCoupling), grid)
    assert float(log_p.exp().max()) <= (1 + 1e-9) / (2 * math.pi)  # the lesson's peak assert
    assert max(_level_set_area_errors(log_p, cell)) < 0.03  # and its level-set asserts


def test_lesson03_volume_evidence_fails_for_a_coupling_that_hides_a_volume_change(lesson03):
    flow = _couplings(VolumeChangingCoupling, factor=2.0)
    grid, cell = _grid()
    with torch.no_grad():
        assert torch.count_nonzero(flow(grid)[1]) == 0  # the broken flow claims to preserve volume
    log_p = lesson03["pushed_log_density"](flow, grid)
    # The old check used the flow's own log-det: peak <= 1/(2 pi) held, whatever the layers did.
    with torch.no_grad():
        reported = (lesson03["gaussian_log_prob"](flow(grid)[0]) + flow(grid)[1]).exp()
    assert float(reported.max()) <= (1 + 1e-9) / (2 * math.pi)
    # The evidence with autograd's log-det catches it: a higher peak and smaller level sets.
    assert float(log_p.exp().max()) > (1 + 1e-9) / (2 * math.pi)
    assert max(_level_set_area_errors(log_p, cell)) > 0.03


# ---------------------------------------------------------------- lesson 04: the cap, and one peak


@pytest.fixture(scope="module")
def lesson04():
    names = ("log_p_by_autograd", "count_pieces", "level_set_pieces", "squeeze_middle")
    return notebook_functions("04_scaling_and_objective.ipynb", *names)


CAP = 2 * math.log(0.25)  # lesson 04: the logistic prior's peak log-density in 2-D


def test_lesson04_cap_holds_for_additive_couplings(lesson04):
    flow = _couplings(AdditiveCoupling)
    with torch.no_grad():
        x_star = flow.inverse(torch.zeros(1, 2, dtype=D64))[0]
    points = torch.cat([torch.randn(300, 2, dtype=D64) * 3, x_star])
    log_p = lesson04["log_p_by_autograd"](flow, Logistic(2).double(), points)
    assert float(log_p.max()) <= CAP + 1e-12  # the lesson's assert
    assert float(log_p[-1]) == pytest.approx(CAP, abs=1e-12)  # and it is tight at x* = f^-1(0)


def test_lesson04_cap_fails_for_couplings_that_hide_a_volume_change(lesson04):
    flow = _couplings(VolumeChangingCoupling, factor=2.0)
    prior = Logistic(2).double()
    with torch.no_grad():
        x_star = flow.inverse(torch.zeros(1, 2, dtype=D64))[0]
        from_report = prior.log_prob(flow(x_star)[0]) + flow(x_star)[1]
    assert float(from_report.max()) <= CAP + 1e-12  # the old check, from the layers' report, passes ...
    log_p = lesson04["log_p_by_autograd"](flow, prior, x_star)
    assert float(log_p.max()) > CAP + 1.0  # ... the evidence does not: 4 layers x log 2 above the cap


def test_count_pieces_counts_connected_regions(lesson04):
    count = lesson04["count_pieces"]
    axis = torch.linspace(-3, 3, 121)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    one_disk = xx**2 + yy**2 < 1
    two_disks = ((xx - 1.5) ** 2 + yy**2 < 0.8) | ((xx + 1.5) ** 2 + yy**2 < 0.8)
    ring = (xx**2 + yy**2 < 4) & (xx**2 + yy**2 > 1)
    assert [count(one_disk), count(two_disks), count(ring)] == [1, 2, 1]
    diagonal_touch = torch.zeros(5, 5, dtype=torch.bool)
    diagonal_touch[1, 1] = diagonal_touch[2, 2] = True  # corners only: two pieces with 4-neighbours
    assert count(diagonal_touch) == 2


def test_lesson04_one_peak_evidence_holds_for_a_nice(lesson04):
    torch.manual_seed(2)
    model = NICE(2, n_couplings=4, hidden=32, depth=2, prior="gaussian").double()
    with torch.no_grad():
        for c in model.couplings:
            c.m[-1].weight.mul_(3.0)
        model.scaling.log_scale.copy_(torch.tensor([0.5, -1.0], dtype=D64))
        peak = model.inverse(torch.zeros(1, 2, dtype=D64))[0][0]
    log_p, pieces = lesson04["level_set_pieces"](model, model.prior, peak, n=121)
    assert pieces == [1, 1, 1]
    height = float(model.prior.log_prob(torch.zeros(1, 2, dtype=D64))[0]) - 0.5
    assert float(log_p.max()) == pytest.approx(height, abs=1e-9)


def test_lesson04_one_peak_evidence_fails_when_the_log_det_secretly_depends_on_x(lesson04):
    squeeze = lesson04["squeeze_middle"]

    def constant_report(x):  # broken: the squeeze's true log-det varies with x, but it reports 0
        return squeeze(x)[0], x.new_zeros(x.shape[0])

    prior, origin = Gaussian(2).double(), torch.zeros(2, dtype=D64)
    with torch.no_grad():
        axis = torch.linspace(-5, 5, 121, dtype=D64)
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
        from_report = (prior.log_prob(constant_report(grid)[0]) + constant_report(grid)[1]).reshape(121, 121)
    # from the report, every level set is one piece: that check could not see the second peak ...
    assert lesson04["count_pieces"](from_report > from_report.max() - 0.5) == 1
    # ... the lesson's evidence, with autograd's log-det, sees two: "exactly one peak" fails
    _, pieces = lesson04["level_set_pieces"](constant_report, prior, origin, n=121)
    assert pieces[0] == 2
