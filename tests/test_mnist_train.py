"""The MNIST recipe and its CLI: budgets, evaluation, checkpoints, exact resume, clear errors."""

from __future__ import annotations

import dataclasses
import inspect
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nicelab import NICE, load_checkpoint
from nicelab.checkpoint import read_checkpoint
from nicelab.data import bits_per_dim, evaluate, load_sample
from nicelab.train import mnist as recipe
from nicelab.train import train_mnist
from nicelab.train.__main__ import main

TINY = {"dim": 784, "n_couplings": 2, "hidden": 16, "depth": 1, "prior": "logistic"}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample():
    return load_sample("train")[0][:400], load_sample("test")[0][:100]


def run(sample, **kwargs):
    train, test = sample
    options = {
        "architecture": TINY,
        "progress": False,
        "batch_size": 50,
        "lr": 3e-3,
        "warmup": 1,
        "threads": 1,
    }
    return train_mnist(**{"train_images": train, "test_images": test, **options, **kwargs})


def test_training_raises_the_test_likelihood_and_records_history(sample):
    model, history = run(sample, steps=30, eval_every=10, warmup=1)
    assert history["step"] == list(range(1, 31))
    assert history["eval_step"] == [0, 10, 20, 30]
    assert history["test_ll"][-1] > history["test_ll"][0] + 5.0
    assert history["test_bpd"] == pytest.approx([bits_per_dim(v) for v in history["test_ll"]])
    assert history["lr"][0] == pytest.approx(3e-3) and history["lr"][-1] < 1e-4  # cosine decay
    assert all(math.isfinite(v) for v in history["loss"]) and history["seconds"] == sorted(history["seconds"])
    assert not model.training and model.scaling.log_scale.dtype == torch.float32
    assert evaluate(model, sample[1]) == pytest.approx(history["test_ll"][-1], rel=1e-6)


def test_warmup_ramps_the_coupling_lr_but_not_the_scale_lr(sample):
    model, history = run(sample, steps=20, warmup=10, scale_lr=5e-2)
    lr, factor = 3e-3, [0.5 * (1 + math.cos(math.pi * k / 20)) for k in range(20)]
    assert history["lr"][:10] == pytest.approx([lr * factor[k] * (k + 1) / 10 for k in range(10)])
    assert history["lr"][10:] == pytest.approx([lr * factor[k] for k in range(10, 20)])
    assert history["test_ll"][-1] > history["test_ll"][0]


def test_scale_lr_is_not_warmed_up():
    model = NICE(**TINY)
    optimizer = recipe.make_optimizer(model, 1e-3, 1e-2)
    warmed = {id(p): group["warmup"] for group in optimizer.param_groups for p in group["params"]}
    assert warmed.pop(id(model.scaling.log_scale)) is False
    assert all(warmed.values())


def test_weight_decay_shrinks_only_the_coupling_matrices():
    torch.manual_seed(0)
    model = NICE(**TINY)
    optimizer = recipe.make_optimizer(model, lr=1e-2, scale_lr=1e-2, weight_decay=0.5)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # Adam's step is then exactly 0: only the decay acts
    optimizer.step()
    for name, p in model.named_parameters():
        decays = name.startswith("couplings.") and p.dim() == 2
        expected = before[name] * (1 - 1e-2 * 0.5) if decays else before[name]
        assert torch.allclose(p, expected, rtol=0, atol=1e-7), name


def test_validation_returns_the_best_validated_weights(sample, tmp_path, monkeypatch):
    real_evaluate, val_lls = recipe.evaluate, iter([1.0, 5.0, 3.0, 2.0])  # best at the 2nd evaluation

    def scripted(model, images, batch_size=1000):
        # the 60 held-out training images get a scripted LL; the test set is really evaluated
        return next(val_lls) if images.shape[0] == 60 else real_evaluate(model, images, batch_size)

    monkeypatch.setattr(recipe, "evaluate", scripted)
    out = tmp_path / "best.pt"
    model, history = run(sample, steps=30, eval_every=10, validation=60, out=out)
    assert history["val_ll"] == [1.0, 5.0, 3.0, 2.0] and history["best_step"] == 10
    assert recipe.selected_evaluation(history) == 1
    assert evaluate(model, sample[1]) == pytest.approx(history["test_ll"][1], rel=1e-6)
    assert evaluate(model, sample[1]) != pytest.approx(history["test_ll"][-1], rel=1e-6)
    # the checkpoint holds the selected weights; the last ones are kept for resume
    assert evaluate(load_checkpoint(out), sample[1]) == pytest.approx(history["test_ll"][1], rel=1e-6)
    payload = read_checkpoint(out)
    assert payload["best_step"] == 10 and payload["recipe"]["validation"] == 60
    last = NICE(**TINY)
    last.load_state_dict(payload["last_state_dict"])
    assert evaluate(last, sample[1]) == pytest.approx(history["test_ll"][-1], rel=1e-6)


def test_validation_images_are_held_out_of_training(sample, monkeypatch):
    seen = []
    real_dequantize = recipe.dequantize
    monkeypatch.setattr(recipe, "dequantize", lambda x, g: seen.append(x.clone()) or real_dequantize(x, g))
    run(sample, steps=16, validation=100)  # 300 training images = 6 batches of 50: every one is drawn
    drawn = torch.cat(seen[1:]).cpu()  # seen[0]: the data-dependent init
    held_out = sample[0].reshape(-1, 784)[300:]
    assert drawn.shape[0] == 16 * 50
    assert not (drawn[:, None, :] == held_out[None]).all(-1).any()


def test_import_flushes_subnormals_in_every_thread():
    # subnormal arithmetic is ~15x slower on x86; import nicelab must turn flushing on before torch
    # creates its worker threads (a parallel op over 4M elements uses them all)
    code = "import nicelab, torch; x = torch.full((1 << 22,), 1e-39); print(int((x * 1.0).ne(0).sum()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0", out.stdout + out.stderr


def test_minutes_budget_stops_on_training_time(sample):
    _, history = run(sample, minutes=0.01)  # 0.6 training seconds
    assert history["seconds"][-1] >= 0.6 and history["seconds"][-2] < 0.6
    assert history["eval_seconds"][-1] == history["seconds"][-1]


def test_bf16_training_runs_and_evaluates_in_float32(sample):
    model, history = run(sample, steps=8, bf16=True)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert history["test_ll"][-1] > history["test_ll"][0]


def test_checkpoint_loads_with_weights_only_and_resume_is_exact(sample, tmp_path, monkeypatch):
    straight_path, resumed_path = tmp_path / "straight.pt", tmp_path / "resumed.pt"
    _, straight = run(sample, steps=12, eval_every=6, out=straight_path)
    loaded = load_checkpoint(straight_path)  # torch.load(weights_only=True) inside
    assert loaded.config() == TINY
    assert evaluate(loaded, sample[1]) == pytest.approx(straight["test_ll"][-1], rel=1e-6)

    # Kill a second, identical run right after its step-6 checkpoint, then resume it.
    real_save, saves = recipe.save_checkpoint, []

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        saves.append(kwargs["step"])
        raise KeyboardInterrupt

    monkeypatch.setattr(recipe, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(sample, steps=12, eval_every=6, out=resumed_path)
    monkeypatch.setattr(recipe, "save_checkpoint", real_save)
    assert saves == [6] and read_checkpoint(resumed_path)["step"] == 6
    _, resumed = run(sample, steps=12, eval_every=6, out=resumed_path, resume=True)
    assert resumed["step"] == straight["step"] and resumed["loss"] == straight["loss"]
    assert resumed["test_ll"] == straight["test_ll"]


def test_resume_from_an_epoch_boundary_checkpoint_is_exact(sample, tmp_path, monkeypatch):
    # 400 images in batches of 50: the step-8 checkpoint ends an epoch, so nothing of it is left to draw
    _, straight = run(sample, steps=12, eval_every=8, out=tmp_path / "straight.pt")
    real_save = recipe.save_checkpoint

    def save_then_die(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(recipe, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(sample, steps=12, eval_every=8, out=tmp_path / "resumed.pt")
    monkeypatch.setattr(recipe, "save_checkpoint", real_save)
    payload = read_checkpoint(tmp_path / "resumed.pt")
    assert payload["step"] == 8 and payload["epoch_rest"].numel() == 0
    _, resumed = run(sample, steps=12, eval_every=8, out=tmp_path / "resumed.pt", resume=True)
    assert resumed["loss"] == straight["loss"] and resumed["test_ll"] == straight["test_ll"]


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda q: q.pop("order_generator"), "field 'order_generator' is missing"),
        (lambda q: q.update(step="7"), "field 'step' is missing or malformed"),
        (lambda q: q.update(epoch_rest=torch.tensor([0.5])), "epoch_rest"),
        (lambda q: q.update(epoch_rest=torch.tensor([399, 10_000])), "training set larger"),
        (lambda q: q.update(noise_generator=torch.zeros(3, dtype=torch.uint8)), "generator state is corrupt"),
        (lambda q: q["state_dict"].pop("scaling.log_scale"), "do not fit"),
        (lambda q: q["history"].update(loss=3.0), "history is malformed"),
        (lambda q: q["optimizer"]["state"][0].update(exp_avg=torch.zeros(3)), "moments do not fit"),
    ],
)
def test_resume_refuses_a_broken_training_state(sample, tmp_path, edit, match):
    path = tmp_path / "m.pt"
    run(sample, steps=3, out=path)
    payload = read_checkpoint(path)
    edit(payload)
    torch.save(payload, path)
    with pytest.raises(ValueError, match=match):
        run(sample, steps=6, out=path, resume=True)


def test_out_is_checked_before_training_and_stale_temporaries_go(sample, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        run(sample, steps=1, out=tmp_path / "file" / "m.pt")
    stale = tmp_path / ".m.pt.k1ll3d.tmp"  # what a run killed mid-save leaves
    stale.write_bytes(b"half a checkpoint")
    run(sample, steps=1, out=tmp_path / "m.pt")
    assert not stale.exists() and load_checkpoint(tmp_path / "m.pt").config() == TINY


def test_resume_refuses_another_architecture(sample, tmp_path):
    run(sample, steps=2, out=tmp_path / "m.pt")
    with pytest.raises(ValueError, match="architecture"):
        run(sample, steps=4, out=tmp_path / "m.pt", resume=True, architecture={**TINY, "hidden": 8})


def test_resume_refuses_an_optimizer_state_of_another_recipe(sample, tmp_path):
    path = tmp_path / "old.pt"
    run(sample, steps=2, out=path)
    payload = read_checkpoint(path)
    payload["optimizer"]["param_groups"] = payload["optimizer"]["param_groups"][:2]  # an older, 2-group Adam
    torch.save(payload, path)
    with pytest.raises(ValueError, match="optimizer state does not fit"):
        run(sample, steps=4, out=path, resume=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "budget"),
        ({"steps": 0}, "steps"),
        ({"minutes": -1.0}, "minutes"),
        ({"steps": 1, "lr": math.nan}, "lr"),
        ({"steps": 1, "bf16": "yes"}, "bf16"),
        ({"steps": 1, "batch_size": 0}, "batch_size"),
        ({"steps": 1, "eval_every": 0}, "eval_every"),
        ({"steps": 1, "warmup": 0}, "warmup"),
        ({"steps": 1, "warmup": 2.5}, "warmup"),
        ({"steps": 1, "resume": True}, "out="),
        ({"steps": 1, "weight_decay": -0.1}, "weight_decay"),
        ({"steps": 1, "weight_decay": math.inf}, "weight_decay"),
        ({"steps": 1, "validation": -1}, "validation"),
        ({"steps": 1, "validation": 400}, "hold out all 400"),
        ({"steps": 1, "architecture": {**TINY, "dim": 10}}, "dim=784"),
        ({"steps": 1, "architecture": {"width": 3}}, "NICE arguments"),
        ({"steps": 1, "train_images": torch.rand(10, 784)}, "uint8"),
        ({"steps": 1, "test_images": torch.zeros(10, 27, 27, dtype=torch.uint8)}, r"\(N, 28, 28\)"),
    ],
)
def test_train_mnist_rejects_bad_arguments(sample, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run(sample, **kwargs)


def test_cli_trains_and_resumes(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    args = [
        "mnist",
        "--sample",
        "--hidden",
        "16",
        "--depth",
        "1",
        "--out",
        str(out),
        "--quiet",
        "--threads",
        "1",
        "--warmup",
        "2",
    ]
    assert main([*args, "--steps", "3"]) == 0
    assert "test LL" in capsys.readouterr().out and read_checkpoint(out)["step"] == 3
    assert read_checkpoint(out)["recipe"]["warmup"] == 2
    assert main([*args, "--steps", "4", "--out", str(tmp_path / "v.pt"), "--validation", "100"]) == 0
    assert "(best validation LL)" in capsys.readouterr().out
    assert main([*args, "--steps", "5", "--resume"]) == 0
    payload = read_checkpoint(out)
    assert payload["step"] == 5 and payload["history"]["step"] == [1, 2, 3, 4, 5]
    assert main([*args, "--steps", "5", "--resume", "--hidden", "8"]) == 2
    assert "architecture" in capsys.readouterr().err


def test_cli_runs_as_a_module(tmp_path):
    out = tmp_path / "m.pt"
    command = [sys.executable, "-m", "nicelab.train", "mnist", "--sample", "--steps", "2", "--hidden", "8"]
    command += ["--depth", "1", "--out", str(out), "--quiet", "--threads", "1"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "nats" in result.stdout and result.stderr == ""
    assert load_checkpoint(out).config()["hidden"] == 8


def test_zero_output_layers_makes_every_coupling_the_identity():
    torch.manual_seed(0)
    model = recipe.zero_output_layers(NICE(784, n_couplings=2, hidden=8, depth=2))
    x = torch.rand(5, 784)
    h, log_det = model.couplings(x)  # the chain of couplings alone (no shift, no scaling)
    assert torch.equal(log_det, torch.zeros(5))
    assert torch.equal(h, x)
    # ... but the couplings still learn: the output layer gets a gradient at once.
    model.log_prob(torch.rand(5, 784)).sum().backward()
    assert model.couplings[0].m[-1].weight.grad.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_and_evaluation_run_on_the_gpu(sample):
    model, history = run(sample, steps=20, eval_every=10, device="cuda", validation=100)
    assert next(model.parameters()).device.type == "cuda"
    assert history["test_ll"][-1] > history["test_ll"][0] and len(history["val_ll"]) == 3
    # the same CPU-seeded evaluation noise on either device: the numbers agree
    assert evaluate(model.cpu(), sample[1]) == pytest.approx(evaluate(model.cuda(), sample[1]), abs=1e-2)


def test_the_recipe_is_validated_data_and_train_mnist_builds_it():
    plan = recipe.MnistRecipe(steps=10, lr=1e-3)
    assert plan.evaluation_every() == (1, None) and plan.config() == recipe.PAPER_ARCHITECTURE
    assert recipe.MnistRecipe(minutes=2.0).evaluation_every() == (None, 12.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.lr = 1.0  # type: ignore[misc]
    for bad, match in [
        ({}, "budget"),
        ({"steps": 1, "seed": -1}, "seed"),
        ({"steps": 1, "architecture": 3}, "dict"),
    ]:
        with pytest.raises(ValueError, match=match):
            recipe.MnistRecipe(**bad)
    # train_mnist's keyword defaults are the recipe's field defaults: one source of truth for the CLI
    signature = inspect.signature(train_mnist).parameters
    for f in dataclasses.fields(recipe.MnistRecipe):
        assert signature[f.name].default == f.default, f.name


def test_a_run_depends_on_its_seed_only_and_leaves_the_global_rng_alone(sample):
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        model, history = run(sample, steps=4, seed=3)
        assert torch.equal(torch.get_rng_state(), before)
        runs.append((model.state_dict(), history.loss))
    assert runs[0][1] == runs[1][1]
    assert all(torch.equal(v, runs[1][0][k]) for k, v in runs[0][0].items())


def test_history_is_a_dataclass_saved_as_a_plain_dict(sample, tmp_path):
    _, history = run(sample, steps=4, eval_every=2, out=tmp_path / "m.pt")
    assert isinstance(history, recipe.MnistHistory) and history.best_step == 4
    saved = read_checkpoint(tmp_path / "m.pt")["history"]
    assert saved == history.to_dict() and saved["best_step"] == 4 and saved["eval_step"] == [0, 2, 4]
    assert recipe.MnistHistory.from_dict(saved) == history
    older = {**saved, "best_step": [4.0]}  # what runs before the dataclass saved
    assert recipe.MnistHistory.from_dict(older).best_step == 4
    assert recipe.selected_evaluation(older) == recipe.selected_evaluation(history) == 2


def test_training_state_round_trips_through_its_state_dict(sample, tmp_path):
    run(sample, steps=3, out=tmp_path / "m.pt")
    payload = read_checkpoint(tmp_path / "m.pt")
    model = NICE(**TINY)
    images = sample[0].reshape(-1, 784)
    state = recipe.MnistState(
        model=model,
        optimizer=recipe.make_optimizer(model, 1e-3, 1e-2),
        batches=recipe.MnistBatches(images, 50, seed=9),
    )
    state.load_state_dict(payload, tmp_path / "m.pt")
    again = state.state_dict()
    assert again["step"] == 3 and again["history"] == payload["history"]
    assert torch.equal(again["epoch_rest"], payload["epoch_rest"])
    assert torch.equal(again["order_generator"], payload["order_generator"])
    assert all(torch.equal(v, payload["state_dict"][k]) for k, v in model.state_dict().items())
