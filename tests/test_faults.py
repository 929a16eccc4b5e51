"""Faults and bad input: SIGKILL at any point of an MNIST run, broken checkpoints and --out paths, NaN/inf.

The fault-injection test trains on the bundled sample in real processes and kills them with SIGKILL
at chosen points: during a step before the first checkpoint, right after a mid-epoch checkpoint, right
after an epoch-boundary checkpoint, half-way through writing a checkpoint, after the temporary file is
written but before the rename, and from outside at an arbitrary moment. Each killed run is resumed
with the same command plus ``--resume``; the test checks that every interruption leaves a checkpoint
that loads (or none, before the first) and that every resumed run ends bit for bit equal to an
uninterrupted run: the recipe's promise for a ``--steps`` budget (see README "Checkpoints").

To pay for one torch import rather than thirteen, one helper process imports nicelab and forks
every run; the kill points are hooks the forked child installs on itself before it trains.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nicelab import NICE, load_checkpoint, save_checkpoint
from nicelab.priors import Gaussian, Logistic
from nicelab.train.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
#: the run every scenario repeats: 10 batches of 200 per epoch of the 2,000-image sample, so the
#: checkpoints (every 5 steps, and at the end) fall mid-epoch (5, 15) and at epoch ends (10, 20)
RUN = "--sample --steps 24 --eval-every 5 --batch-size 200 --hidden 16 --depth 1 --threads 1 --quiet".split()

#: scenario -> (kill point, step of the checkpoint the kill must leave; None: no checkpoint yet)
SCENARIOS = {
    "before the first checkpoint": ("step:3", None),
    "right after a mid-epoch checkpoint": ("after-save:1", 5),
    "right after an epoch-boundary checkpoint": ("after-save:2", 10),
    "half-way through writing a checkpoint": ("mid-save:3", 10),
    "after writing, before the rename": ("before-replace:4", 15),
    "from outside, after the first checkpoint": ("external", "any"),
}

# The helper: imports once, then forks one child per run. A child installs its kill hook (SIGKILL to
# itself at the chosen point) and runs the CLI; the parent waits, or kills it from outside.
HELPER = r"""
import json, os, shutil, signal, sys, time
import torch
import nicelab.checkpoint, nicelab.data, tqdm.auto
torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo: once
import nicelab.train.mnist as recipe
from nicelab.train.__main__ import main

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def install(hook):
    kind, _, n = hook.partition(":")
    n = int(n or 0)
    count = [0]
    def nth():
        count[0] += 1
        return count[0] == n
    if kind == "step":  # inside the n-th optimizer step, before its update
        make = recipe.make_optimizer
        def make_then_hook(*args, **kwargs):
            optimizer = make(*args, **kwargs)
            step = optimizer.step
            optimizer.step = lambda *a, **k: die() if nth() else step(*a, **k)
            return optimizer
        recipe.make_optimizer = make_then_hook
    elif kind == "after-save":  # right after the n-th checkpoint is in place
        save = recipe.save_checkpoint
        recipe.save_checkpoint = lambda *a, **k: (save(*a, **k), nth() and die())[0]
    elif kind == "mid-save":  # the n-th save has written half its bytes to the temporary file
        save = torch.save
        def half(obj, fh, *a, **k):
            if not nth():
                return save(obj, fh, *a, **k)
            import io
            buffer = io.BytesIO()
            save(obj, buffer)
            fh.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            fh.flush()
            die()
        torch.save = half
    elif kind == "before-replace":  # the n-th temporary file is complete, the rename not yet done
        replace = os.replace
        os.replace = lambda *a, **k: die() if nth() else replace(*a, **k)

def run(args, hook, log, watch=None):
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1); os.dup2(fd, 2)
        if hook and hook != "external":
            install(hook)
        os._exit(main(args))
    status = None
    if hook == "external":  # kill as soon as the first checkpoint exists, wherever the run is then
        while status is None and not os.path.exists(watch):
            time.sleep(0.002)
            done, code = os.waitpid(pid, os.WNOHANG)
            status = code if done else None
        if status is None:
            os.kill(pid, signal.SIGKILL)
    if status is None:
        status = os.waitpid(pid, 0)[1]
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return "SIGKILL" if killed else os.waitstatus_to_exitcode(status)

spec = json.loads(sys.argv[1])
report = {"reference": run([*spec["run"], "--out", spec["reference"]], None, spec["reference"] + ".log")}
for name, (folder, hook) in spec["scenarios"].items():
    out = os.path.join(folder, "m.pt")
    killed = run([*spec["run"], "--out", out], hook, out + ".killed.log", watch=out)
    left = sorted(os.listdir(folder))
    if os.path.exists(out):
        shutil.copy(out, os.path.join(folder, "after_kill.pt"))
    resumed = run([*spec["run"], "--out", out, "--resume"], None, out + ".resumed.log")
    report[name] = {"killed": killed, "left": left, "resumed": resumed, "final": sorted(os.listdir(folder))}
print(json.dumps(report))
"""


def _same(a: object, b: object, where: str = "") -> list[str]:
    """Where two loaded checkpoints differ (tensors bit for bit); training seconds are wall-clock, skipped."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return [] if a.dtype == b.dtype and torch.equal(a, b) else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where} keys {sorted(set(a) ^ set(b))}"]
        skip = {"train_seconds", "seconds", "eval_seconds"}
        return [d for k in a if k not in skip for d in _same(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where} length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _same(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def test_sigkill_at_any_point_then_resume_equals_an_uninterrupted_run(tmp_path):
    folders = {name: tmp_path / f"s{i}" for i, name in enumerate(SCENARIOS)}
    for folder in folders.values():
        folder.mkdir()
    spec = {
        "run": ["mnist", *RUN],
        "reference": str(tmp_path / "reference.pt"),
        "scenarios": {name: (str(folders[name]), hook) for name, (hook, _) in SCENARIOS.items()},
    }
    done = subprocess.run(
        [sys.executable, "-c", HELPER, json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["reference"] == 0, (tmp_path / "reference.pt.log").read_text()
    reference = torch.load(tmp_path / "reference.pt", weights_only=True)
    assert reference["step"] == 24 and reference["history"]["eval_step"] == [0, 5, 10, 15, 20, 24]

    for name, (hook, expected_step) in SCENARIOS.items():
        folder, result = folders[name], report[name]
        if hook != "external":
            assert result["killed"] == "SIGKILL", f"{name}: {(folder / 'm.pt.killed.log').read_text()}"
        # what the kill left: no checkpoint before the first one, else one that loads at the expected step
        kept = folder / "after_kill.pt"
        if expected_step is None:
            assert not kept.exists(), name
        else:
            assert load_checkpoint(kept).config()["hidden"] == 16, name
            step = torch.load(kept, weights_only=True)["step"]
            assert step == expected_step if expected_step != "any" else step in (5, 10, 15, 20, 24), name
        if hook.startswith(("mid-save", "before-replace")):  # the interrupted write is only a temporary
            assert any(p.startswith(".m.pt.") and p.endswith(".tmp") for p in result["left"]), name
        # the resumed run finishes, clears the temporaries, and equals the uninterrupted run
        assert result["resumed"] == 0, f"{name}: {(folder / 'm.pt.resumed.log').read_text()}"
        assert not [p for p in result["final"] if p.endswith(".tmp")], name
        resumed = torch.load(folder / "m.pt", weights_only=True)
        assert _same(resumed, reference) == [], name


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r"not a nicelab checkpoint \(the file is empty\)"),
        (bytes(range(256)) * 8, r"not a nicelab checkpoint \(corrupt, truncated"),
        (b"PK\x03\x04" + b"\x00" * 100, r"not a nicelab checkpoint \(corrupt, truncated"),
    ],
)
def test_cli_resume_from_a_broken_file_prints_one_line(tmp_path, capsys, content, match):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    assert main(["mnist", *RUN, "--out", str(bad), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(match, err), err


def test_cli_resume_from_a_model_only_or_foreign_checkpoint(tmp_path, capsys):
    model_only = save_checkpoint(tmp_path / "m.pt", NICE(784, n_couplings=4, hidden=16, depth=1))
    assert main(["mnist", *RUN, "--out", str(model_only), "--resume"]) == 2
    assert "model-only checkpoint" in capsys.readouterr().err
    torch.save({"format": "nicelab-checkpoint-v9"}, tmp_path / "v9.pt")
    assert main(["mnist", *RUN, "--out", str(tmp_path / "v9.pt"), "--resume"]) == 2
    assert "another nicelab version" in capsys.readouterr().err


def test_cli_checks_out_before_training(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    trained = []
    monkeypatch.setattr("nicelab.train.mnist.make_optimizer", lambda *a, **k: trained.append(1))
    assert main(["mnist", *RUN, "--out", str(tmp_path / "file" / "m.pt")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["mnist", *RUN, "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert trained == []  # refused before the model and optimizer were even built


def test_cli_reports_a_failed_save_without_a_traceback(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError("could not save checkpoint m.pt (No space left on device)")

    monkeypatch.setattr("nicelab.train.mnist.save_checkpoint", full)
    assert main(["mnist", *RUN, "--steps", "2", "--out", str(tmp_path / "m.pt")]) == 1
    assert "No space left on device" in capsys.readouterr().err


# -- NaN and ±inf where finite values are required --------------------------------------------------


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_flows_reject_non_finite_inputs(bad):
    model = NICE(4, n_couplings=2, hidden=8, depth=1)
    x = torch.zeros(3, 4)
    x[1, 2] = bad
    for call in (model.log_prob, model.forward, model.inverse, model.intermediates, model.coupling_log_det):
        with pytest.raises(ValueError, match="contains NaN or infinity"):
            call(x)


def test_log_prob_names_what_is_not_finite():
    x = torch.tensor([[math.inf, 0.0], [math.nan, -math.inf]])
    with pytest.raises(ValueError, match=r"x contains NaN or infinity \(1 NaN, 1 \+inf, 1 -inf\)"):
        NICE(2, n_couplings=2, hidden=4, depth=1).log_prob(x)


def test_priors_reject_nan_and_give_minus_inf_at_infinity():
    for prior in (Logistic(2), Gaussian(2)):
        assert prior.log_prob(torch.tensor([[math.inf, 0.0], [-math.inf, 1.0]])).tolist() == [-math.inf] * 2
        with pytest.raises(ValueError, match="z contains 1 NaN"):
            prior.log_prob(torch.tensor([[math.nan, 0.0]]))


def test_a_diverged_model_still_reports_a_non_finite_likelihood():
    model = NICE(2, n_couplings=2, hidden=4, depth=1)
    with torch.no_grad():
        model.scaling.log_scale.fill_(1e4)  # exp(s) overflows: z is infinite for finite x
    assert model.log_prob(torch.ones(2, 2)).isinf().all()  # the loss, not the input check, says so


def test_init_from_data_needs_a_finite_floor():
    with pytest.raises(ValueError, match="floor must be a positive finite number"):
        NICE(2, n_couplings=2, hidden=4, depth=1).init_from_data(torch.rand(10, 2), floor=math.inf)
