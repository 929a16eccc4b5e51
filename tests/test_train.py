"""fit(): learns, is reproducible, validates its data, and stops on a non-finite loss."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
import torch
from torch import nn

from nicelab import NICE, fit
from nicelab.train.loop import History, HistoryBase, LoopState


def correlated(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    a = torch.randn(n, 1, generator=generator)
    return torch.cat([a, 0.5 * a + 0.1 * torch.randn(n, 1, generator=generator)], dim=1)


def test_fit_lowers_the_loss_on_a_tensor():
    data = correlated(2000)
    model = NICE(2, n_couplings=4, hidden=32, depth=2)
    with torch.no_grad():
        before = float(-model.log_prob(data).mean())
    history = fit(model, data, steps=300, batch_size=128, lr=3e-3, seed=0, progress=False)
    with torch.no_grad():
        after = float(-model.log_prob(data).mean())
    assert set(history) == {"step", "loss", "lr", "seconds"} and len(history["loss"]) == 300
    assert after < before - 1.0
    assert all(math.isfinite(v) for v in history["loss"])


def test_fit_accepts_a_callable_and_cosine_schedule():
    model = NICE(2, n_couplings=2, hidden=16, depth=1)
    calls: list[int] = []
    seen: list[int] = []

    def sampler(n: int) -> torch.Tensor:
        calls.append(n)
        return correlated(n)

    history = fit(
        model,
        sampler,
        steps=20,
        batch_size=64,
        schedule="cosine",
        progress=False,
        callback=lambda step, m: seen.append(step),
        callback_every=10,
    )
    assert calls == [64] * 20 and seen == [10, 20]
    assert history["lr"][0] == pytest.approx(1e-3) and history["lr"][-1] < 1e-4


def test_fit_warmup_ramps_the_lr_linearly_then_follows_the_schedule():
    model = NICE(2, n_couplings=2, hidden=16, depth=1)
    history = fit(model, correlated(256), steps=10, lr=2e-3, warmup=4, schedule="constant", progress=False)
    assert history["lr"] == pytest.approx([5e-4, 1e-3, 1.5e-3] + [2e-3] * 7)


def test_fit_is_reproducible_with_a_seed():
    data = correlated(500, torch.Generator().manual_seed(0))
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = NICE(2, n_couplings=2, hidden=16, depth=1)
        runs.append(fit(model, data, steps=15, batch_size=50, seed=7, progress=False)["loss"])
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "data, match",
    [
        (torch.tensor([[0.0, math.nan], [1.0, 1.0]]), "NaN"),
        (torch.tensor([[0.0, math.inf], [1.0, 1.0]]), "NaN or inf"),
        (torch.zeros(10, 3), r"\(batch, 2\)"),
        (torch.zeros(10), r"\(batch, 2\)"),
        (torch.zeros(0, 2), "empty"),
    ],
)
def test_fit_rejects_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        fit(NICE(2, 2, 8, 1), data, steps=1, progress=False)


def test_fit_rejects_bad_arguments():
    model, data = NICE(2, 2, 8, 1), torch.randn(10, 2)
    for kwargs, match in [
        ({"steps": 0}, "steps"),
        ({"steps": 1, "lr": -1.0}, "lr"),
        ({"steps": 1, "batch_size": 0}, "batch_size"),
        ({"steps": 1, "schedule": "linear"}, "schedule"),
        ({"steps": 1, "warmup": -1}, "warmup"),
        ({"steps": 1, "warmup": 1.5}, "warmup"),
    ]:
        with pytest.raises(ValueError, match=match):
            fit(model, data, progress=False, **kwargs)
    with pytest.raises(ValueError, match="log_prob"):
        fit(nn.Linear(2, 2), data, steps=1, progress=False)


def test_fit_rejects_a_callable_returning_nan():
    with pytest.raises(ValueError, match="NaN"):
        fit(NICE(2, 2, 8, 1), lambda n: torch.full((n, 2), math.nan), steps=1, progress=False)


class Exploding(nn.Module):
    """A 'density' whose log-likelihood overflows after a few steps."""

    dim = 2

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.0))
        self.calls = 0

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        blow_up = math.inf if self.calls >= 3 else 0.0
        return -(self.w * x).pow(2).sum(1) + blow_up * self.w


def test_fit_stops_with_a_clear_error_on_non_finite_loss():
    model = Exploding()
    with pytest.raises(FloatingPointError, match="step 3"):
        fit(model, torch.randn(100, 2), steps=10, batch_size=10, progress=False)
    assert model.calls == 3


def test_fit_never_touches_the_global_rng_and_its_seed_alone_fixes_the_run():
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(0)
        model = NICE(2, n_couplings=2, hidden=16, depth=1)  # same weights; then another global state
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        # correlated takes a generator: fit passes its own, so the global state neither moves nor matters
        runs.append(fit(model, correlated, steps=5, batch_size=32, seed=4, progress=False)["loss"])
        assert torch.equal(torch.get_rng_state(), before)
    assert runs[0] == runs[1]
    with pytest.raises(ValueError, match="seed or generator"):
        fit(model, correlated, steps=1, seed=1, generator=torch.Generator(), progress=False)


def test_fit_without_a_seed_is_reproducible_from_a_seeded_global_generator():
    runs = []
    for _ in range(2):
        torch.manual_seed(11)  # what a notebook's first cell does
        model = NICE(2, n_couplings=2, hidden=16, depth=1)
        runs.append(fit(model, correlated, steps=5, batch_size=32, progress=False)["loss"])
    assert runs[0] == runs[1]


def test_fit_seconds_budget_counts_training_time_only_and_hooks_see_the_state():
    model, seen = NICE(2, n_couplings=2, hidden=8, depth=1), []

    def slow_hook(state: LoopState) -> None:
        seen.append((state.step, state.done))
        time.sleep(0.02)  # hook time is not training time

    start = time.perf_counter()
    history = fit(model, correlated(256), seconds=0.2, batch_size=32, hooks=[slow_hook], progress=False)
    assert history["seconds"][-1] >= 0.2 > history["seconds"][-2]
    assert time.perf_counter() - start > 0.2 + 0.02 * len(seen) * 0.9  # the hooks ran, uncounted
    assert seen == [(k, k == len(seen)) for k in range(1, len(seen) + 1)]


def test_fit_continues_a_state_and_follows_the_optimizers_groups():
    model = NICE(2, n_couplings=2, hidden=8, depth=1)
    scale = model.scaling.log_scale
    others = [p for p in model.parameters() if p is not scale]
    optimizer = torch.optim.Adam(
        [{"params": others}, {"params": [scale], "lr": 1e-2, "warmup": False}], lr=1e-3
    )
    state = LoopState()
    fit(model, correlated(256), steps=4, optimizer=optimizer, warmup=4, state=state, progress=False)
    assert state.step == 4 and state.done
    history = fit(model, correlated(256), steps=8, optimizer=optimizer, warmup=4, state=state, progress=False)
    assert history is state.history and history["step"] == list(range(1, 9))
    assert history["lr"] == pytest.approx([2.5e-4, 5e-4, 7.5e-4] + [1e-3] * 5)  # the first group's
    assert optimizer.param_groups[1]["lr"] == pytest.approx(1e-2)  # never ramped
    assert isinstance(history, History) and history.to_dict()["step"] == history.step
    assert History.from_dict(history.to_dict()) == history
    with pytest.raises(ValueError, match="history is malformed"):
        History.from_dict({"loss": 3.0})


class TwoLosses:
    """A custom step: two named losses, one of them NaN at the third call."""

    def __init__(self, model: nn.Module) -> None:
        self.optimizers = [torch.optim.SGD(model.parameters(), lr=0.1)]
        self.calls = 0

    def __call__(self, batch: torch.Tensor) -> dict[str, float]:
        self.calls += 1
        return {"a": float(batch.mean()), "b": math.nan if self.calls == 3 else 1.0}


@dataclass
class TwoLossHistory(HistoryBase):
    STEP_COLUMNS: ClassVar[tuple[str, ...]] = ("step", "a", "b", "lr", "seconds")

    step: list[int] = field(default_factory=list)
    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def test_fit_with_a_custom_step_records_its_losses_and_stops_on_a_non_finite_one():
    model = NICE(2, 2, 8, 1)
    state = LoopState(history=TwoLossHistory())
    with pytest.raises(FloatingPointError, match=r"b = nan\) at step 3"):
        fit(
            model,
            correlated(100),
            steps=10,
            batch_size=10,
            step=TwoLosses(model),
            state=state,
            progress=False,
        )
    assert state.history["b"] == [1.0, 1.0] and len(state.history["a"]) == 2 and state.step == 2
    with pytest.raises(ValueError, match="columns"):  # a step whose losses the history does not hold
        fit(model, correlated(100), steps=1, batch_size=10, step=TwoLosses(model), progress=False)


@pytest.mark.parametrize(("decoupled", "cls"), [(False, torch.optim.Adam), (True, torch.optim.AdamW)])
def test_fused_adam_takes_the_same_steps_as_the_default_implementation(decoupled, cls):
    from nicelab.train.optim import fused_adam

    torch.manual_seed(0)
    fast, slow = nn.Linear(3, 2), nn.Linear(3, 2)
    slow.load_state_dict(fast.state_dict())
    start = fast.weight.detach().clone()
    opt_fast = fused_adam(fast.parameters(), lr=1e-2, weight_decay=0.1, decoupled=decoupled)
    opt_slow = cls(slow.parameters(), lr=1e-2, weight_decay=0.1)
    assert type(opt_fast) is cls and opt_fast.defaults["fused"] is True  # CPU kernel: torch >= 2.4
    x = torch.randn(16, 3)
    for _ in range(5):
        for net, opt in ((fast, opt_fast), (slow, opt_slow)):
            opt.zero_grad()
            net(x).square().sum().backward()
            opt.step()
    for a, b in zip(fast.parameters(), slow.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert (fast.weight.detach() - start).abs().max() > 1e-3  # guard: the steps really moved the weights


def test_fused_adam_falls_back_where_the_fused_kernel_is_missing(monkeypatch):
    from nicelab.train import optim

    real = torch.optim.Adam

    def no_fused(params, **kwargs):
        if kwargs.get("fused"):
            raise RuntimeError("`fused=True` requires floating point params of supported devices")
        return real(params, **kwargs)

    monkeypatch.setattr(optim.torch.optim, "Adam", no_fused)
    opt = optim.fused_adam([nn.Parameter(torch.zeros(2))], lr=1e-3)
    assert isinstance(opt, real) and not opt.defaults.get("fused")
