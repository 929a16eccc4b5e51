"""Inpainting: masks, projected gradient ascent on log p, scores and baselines (float64 where tight)."""

from __future__ import annotations

import math

import pytest
import torch

import nicelab
from nicelab.inpaint import (
    MASK_NAMES,
    inpaint,
    mask,
    masks,
    mean_fill,
    nearest_neighbour_fill,
    score,
)

DIM = 16  # 4 x 4 images keep the tests fast; masks are checked at 28 x 28 too


def gaussian_model(centre: torch.Tensor, log_scale: float = 1.0) -> nicelab.NICE:
    """A NICE whose couplings are the identity: log p(x) = Σ log N(exp(s)(x - centre)) + Σ s.

    Its maximiser over any subset of pixels is ``centre`` there, so inpainting must find it.
    """
    model = nicelab.NICE(centre.numel(), n_couplings=2, hidden=8, depth=1, prior="gaussian").double()
    with torch.no_grad():
        for coupling in model.couplings:
            coupling.m[-1].weight.zero_()
            coupling.m[-1].bias.zero_()
        model.shift.shift.copy_(centre)
        model.scaling.log_scale.fill_(log_scale)
    return model


def random_model(seed: int = 0) -> nicelab.NICE:
    torch.manual_seed(seed)
    model = nicelab.NICE(DIM, n_couplings=4, hidden=32, depth=2).double()
    model.init_from_data(torch.rand(64, DIM, dtype=torch.float64))
    return model


# --- masks -----------------------------------------------------------------------------------------


def test_half_masks_hide_the_named_half():
    found = masks(side=28)
    assert set(found) == set(MASK_NAMES)
    for name in ("top", "bottom", "left", "right"):
        assert found[name].dtype == torch.bool and found[name].shape == (784,)
        assert int(found[name].sum()) == 392
    image = found["top"].view(28, 28)
    assert image[:14].all() and not image[14:].any()
    assert found["left"].view(28, 28)[:, :14].all() and not found["left"].view(28, 28)[:, 14:].any()
    assert torch.equal(found["top"], ~found["bottom"]) and torch.equal(found["left"], ~found["right"])


def test_random_mask_hides_the_fraction_and_is_reproducible():
    a, b = masks(("random75",), seed=3)["random75"], masks(("random75",), seed=3)["random75"]
    c = masks(("random75",), seed=4)["random75"]
    assert int(a.sum()) == round(0.75 * 784)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert int(mask("random75", 10, fraction=0.5).sum()) == 50


def test_stripes_alternate_bands():
    rows = mask("stripes", 8, stripe=2).view(8, 8)
    assert rows.all(dim=1).tolist() == [False, False, True, True, False, False, True, True]
    assert not rows.any(dim=1)[0]  # the first band is observed


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "diagonal"}, "unknown mask"),
        ({"name": "top", "side": 1}, "side"),
        ({"name": "random75", "fraction": 1.0}, "fraction"),
        ({"name": "stripes", "stripe": 0}, "stripe"),
    ],
)
def test_mask_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mask(**kwargs)


def test_masks_rejects_an_empty_list():
    with pytest.raises(ValueError, match="empty"):
        masks(())


# --- inpainting ------------------------------------------------------------------------------------


def test_inpainting_finds_the_known_maximiser():
    centre = torch.linspace(0.1, 0.9, DIM, dtype=torch.float64)
    model = gaussian_model(centre)
    x = torch.rand(3, DIM, dtype=torch.float64)
    hidden = mask("top", 4)
    result = inpaint(model, x, hidden, steps=200, step_size=0.05)
    assert torch.allclose(result.images[:, hidden], centre[hidden].expand(3, -1), atol=1e-6)
    assert torch.equal(result.images[:, ~hidden], x[:, ~hidden])  # observed pixels never move


def test_projection_keeps_pixels_in_the_unit_interval():
    centre = torch.full((DIM,), 1.7, dtype=torch.float64)  # the unconstrained maximiser is outside [0, 1]
    model = gaussian_model(centre)
    x = torch.rand(2, DIM, dtype=torch.float64)
    result = inpaint(
        model,
        x,
        mask("random75", 4),
        steps=50,
        noise=0.5,
        adaptive=False,
        generator=torch.Generator().manual_seed(0),
    )
    assert float(result.iterates.min()) >= 0.0 and float(result.iterates.max()) <= 1.0
    hidden = result.missing
    assert torch.allclose(result.images[hidden], torch.ones_like(result.images[hidden]))


def test_inpainting_increases_log_p_and_leaves_the_model_alone():
    model = random_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    x = torch.rand(6, DIM, dtype=torch.float64)
    result = inpaint(model, x, mask("bottom", 4), steps=60, frames=7, step_size=0.02)
    assert (result.log_prob[-1] > result.log_prob[0]).all()
    assert (result.log_prob[1:] >= result.log_prob[:-1]).all()  # the adaptive ascent never goes down
    with torch.no_grad():
        assert torch.allclose(model.log_prob(result.images), result.log_prob[-1])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert model.training  # the mode is restored
    assert (
        result.iterates.shape == (7, 6, DIM) and result.frame_steps[0] == 0 and result.frame_steps[-1] == 60
    )
    assert result.log_prob.shape == (61, 6)
    assert torch.equal(result.iterates[-1], result.images)


def test_fixed_schedule_matches_the_formula_and_can_overshoot():
    centre = torch.full((DIM,), 0.5, dtype=torch.float64)
    model = gaussian_model(centre, log_scale=1.0)  # gradient -e^2 (x - 0.5): curvature e^2 ≈ 7.4
    x = torch.zeros(1, DIM, dtype=torch.float64)
    hidden = mask("top", 4)
    small = inpaint(model, x, hidden, steps=2, step_size=0.1, decay=1.0, init="zeros", adaptive=False)
    # by hand: x1 = 0 + 0.1 * e^2 * 0.5, then x2 = x1 + 0.05 * e^2 * (0.5 - x1), both inside [0, 1]
    x1 = 0.1 * math.exp(2) * 0.5
    x2 = x1 + 0.1 * 0.5 * math.exp(2) * (0.5 - x1)
    assert torch.allclose(small.iterates[1][0, hidden], torch.full((8,), x1, dtype=torch.float64))
    assert torch.allclose(small.images[0, hidden], torch.full((8,), x2, dtype=torch.float64))
    start = torch.full((DIM,), 0.3, dtype=torch.float64)
    big = inpaint(model, x, hidden, steps=1, step_size=0.4, init=start, adaptive=False)
    assert (big.log_prob[-1] < big.log_prob[0]).all()  # 0.3 -> 0.3 + 0.4·7.4·0.2 = 0.89: overshoots 0.5
    safe = inpaint(model, x, hidden, steps=1, step_size=0.4, init=start)
    assert (safe.log_prob[-1] >= safe.log_prob[0]).all()  # the adaptive rule rejects that step


def test_per_image_masks_and_tensor_init():
    model = random_model()
    x = torch.rand(2, DIM, dtype=torch.float64)
    hidden = torch.stack([mask("top", 4), mask("left", 4)])
    start = torch.full((DIM,), 0.25, dtype=torch.float64)
    result = inpaint(model, x, hidden, steps=5, init=start)
    assert torch.equal(
        result.iterates[0][hidden], torch.full((int(hidden.sum()),), 0.25, dtype=torch.float64)
    )
    assert torch.equal(result.images[~hidden], x[~hidden])


def test_noise_is_reproducible_with_a_generator():
    model = random_model()
    x = torch.rand(2, DIM, dtype=torch.float64)
    run = [
        inpaint(
            model,
            x,
            mask("right", 4),
            steps=10,
            noise=1.0,
            adaptive=False,
            generator=torch.Generator().manual_seed(1),
        ).images
        for _ in range(2)
    ]
    assert torch.equal(run[0], run[1])


@pytest.mark.parametrize(
    "change, match",
    [
        ({"x": torch.full((2, DIM), 1.5, dtype=torch.float64)}, r"\[0, 1\]"),
        ({"x": torch.full((2, DIM), math.nan, dtype=torch.float64)}, "NaN"),
        ({"x": torch.rand(2, DIM + 1, dtype=torch.float64)}, "shape"),
        ({"x": torch.rand(0, DIM, dtype=torch.float64)}, "empty"),
        ({"missing": torch.ones(DIM)}, "boolean"),
        ({"missing": torch.ones(DIM + 1, dtype=torch.bool)}, "shape"),
        ({"missing": torch.zeros(DIM, dtype=torch.bool)}, "no pixel"),
        ({"steps": 0}, "steps"),
        ({"step_size": -1.0}, "step_size"),
        ({"decay": math.inf}, "decay"),
        ({"noise": -0.1}, "noise"),
        ({"noise": 0.5}, "adaptive=False"),
        ({"init": "mean"}, "init"),
        ({"init": torch.full((DIM,), 2.0, dtype=torch.float64)}, "init"),
        ({"init": torch.zeros(3)}, "init"),
        ({"frames": 1}, "frames"),
        ({"model": torch.nn.Linear(2, 2)}, "log_prob"),
    ],
)
def test_inpaint_rejects_bad_input(change, match):
    args = {
        "model": random_model(),
        "x": torch.rand(2, DIM, dtype=torch.float64),
        "missing": mask("top", 4),
        "steps": 3,
    }
    args.update(change)
    model, x, missing = args.pop("model"), args.pop("x"), args.pop("missing")
    with pytest.raises(ValueError, match=match):
        inpaint(model, x, missing, **args)


# --- scores and baselines --------------------------------------------------------------------------


def test_score_counts_only_missing_pixels():
    truth = torch.zeros(2, 4, dtype=torch.float64)
    filled = torch.tensor([[0.5, 0.5, 9.0, 9.0], [0.1, 0.0, 9.0, 9.0]], dtype=torch.float64)
    hidden = torch.tensor([True, True, False, False])
    result = score(filled, truth, hidden)
    assert torch.allclose(result["mse"], torch.tensor([0.25, 0.005], dtype=torch.float64))
    assert torch.allclose(result["psnr"], 10 * torch.log10(1 / result["mse"]))
    with pytest.raises(ValueError, match="shape"):
        score(filled[:1], truth, hidden)
    with pytest.raises(ValueError, match="boolean"):
        score(filled, truth, hidden.double())


def test_mean_fill_uses_the_mean_only_where_missing():
    x = torch.rand(3, DIM, dtype=torch.float64)
    mean = torch.full((DIM,), 0.3, dtype=torch.float64)
    hidden = mask("left", 4)
    filled = mean_fill(x, hidden, mean)
    assert torch.equal(filled[:, hidden], mean[hidden].expand(3, -1))
    assert torch.equal(filled[:, ~hidden], x[:, ~hidden])
    with pytest.raises(ValueError, match="mean_image"):
        mean_fill(x, hidden, mean[:3])


def test_nearest_neighbour_matches_brute_force():
    references = torch.rand(50, DIM, dtype=torch.float64)
    x = torch.rand(7, DIM, dtype=torch.float64)
    hidden = torch.stack(
        [
            mask(name, 4, generator=torch.Generator().manual_seed(i))
            for i, name in enumerate(["top", "bottom", "left", "right", "random75", "stripes", "top"])
        ]
    )
    filled = nearest_neighbour_fill(x, hidden, references)
    for b in range(7):
        observed = ~hidden[b]
        distances = ((references[:, observed] - x[b, observed]) ** 2).sum(dim=1)
        best = references[int(distances.argmin())]
        assert torch.equal(filled[b, hidden[b]], best[hidden[b]])
        assert torch.equal(filled[b, observed], x[b, observed])


def test_nearest_neighbour_recovers_an_image_in_the_references():
    references = torch.rand(20, DIM, dtype=torch.float64)
    filled = nearest_neighbour_fill(references[[4, 11]].clone(), mask("bottom", 4), references)
    assert torch.equal(filled, references[[4, 11]])
    with pytest.raises(ValueError, match="references"):
        nearest_neighbour_fill(references[:2], mask("bottom", 4), references[:, :3])
