"""Checkpoints: atomic, safe to load, and refusing corrupt files and other architectures."""

from __future__ import annotations

import errno
import math
import os
import random
import tempfile
import zipfile
from pathlib import Path

import pytest
import torch

from nicelab import (
    NICE,
    AdditiveCoupling,
    AffineCoupling,
    Compose,
    CouplingFlow,
    Flow,
    Gaussian,
    Inverse,
    Logistic,
    Scaling,
    Shift,
    load_checkpoint,
    save_checkpoint,
)
from nicelab.checkpoint import check_writable, read_checkpoint, remove_stale_temporaries
from nicelab.coupling import CouplingChain


def test_round_trip_keeps_log_prob_and_extra_fields(tmp_path):
    model = NICE(6, n_couplings=2, hidden=8, depth=1).init_from_data(torch.rand(50, 6))
    path = save_checkpoint(tmp_path / "sub" / "model.pt", model, step=12, history={"loss": [1.0, 0.5]})
    loaded = load_checkpoint(path)
    x = torch.rand(4, 6)
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))
    payload = read_checkpoint(path)
    assert payload["step"] == 12 and payload["history"] == {"loss": [1.0, 0.5]}
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary files left


def test_load_into_an_existing_model(tmp_path):
    model = NICE(6, n_couplings=2, hidden=8, depth=1)
    save_checkpoint(tmp_path / "m.pt", model)
    target = NICE(6, n_couplings=2, hidden=8, depth=1)
    assert load_checkpoint(tmp_path / "m.pt", target) is target


def test_refuses_another_architecture(tmp_path):
    save_checkpoint(tmp_path / "m.pt", NICE(6, n_couplings=2, hidden=8, depth=1))
    with pytest.raises(ValueError, match="architecture"):
        load_checkpoint(tmp_path / "m.pt", NICE(6, n_couplings=4, hidden=8, depth=1))


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04garbage"])
def test_refuses_corrupt_files(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="checkpoint"):
        load_checkpoint(path)


def test_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a nicelab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_truncated_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    model = NICE(4, n_couplings=2, hidden=8, depth=1)
    save_checkpoint(path, model)
    before = path.read_bytes()

    def broken_save(obj, fh):
        fh.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def _edited(tmp_path, edit):
    """A valid checkpoint, ``edit``-ed in its loaded form and saved again."""
    good = save_checkpoint(tmp_path / "good.pt", NICE(6, n_couplings=2, hidden=8, depth=1), step=1)
    payload = torch.load(good, weights_only=True)
    edit(payload)
    torch.save(payload, tmp_path / "edited.pt")
    return tmp_path / "edited.pt"


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda q: q["state_dict"].pop("scaling.log_scale"), r"do not fit .*missing \['scaling.log_scale'\]"),
        (lambda q: q["state_dict"].update(extra=torch.zeros(2)), r"do not fit .*unexpected \['extra'\]"),
        (lambda q: q["config"].update(hidden=10**9), r"do not fit .*wrong shape"),  # never allocated
        (lambda q: q["config"].update(dim="six"), "config .* does not describe a NICE"),
        (lambda q: q.pop("state_dict"), "not a nicelab checkpoint .*state_dict"),
        (lambda q: q.pop("config"), "not a nicelab checkpoint .*config"),
        (lambda q: q.pop("format"), "not a nicelab checkpoint .*format"),
        (lambda q: q.update(format="nicelab-checkpoint-v2"), "'nicelab-checkpoint-v2'.*another nicelab"),
        (lambda q: q["state_dict"]["scaling.log_scale"].fill_(math.nan), "log_scale contains NaN"),
        (lambda q: q["state_dict"].update({"shift.shift": torch.zeros(6, dtype=torch.long)}), "dtype"),
    ],
)
def test_refuses_wrong_contents_with_one_clear_error(tmp_path, edit, match):
    with pytest.raises(ValueError, match=match):
        load_checkpoint(_edited(tmp_path, edit))


def test_refuses_other_files_with_one_clear_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("hello.txt", "a zip, but not torch's")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    (tmp_path / "folder.pt").mkdir()
    for path, match in [
        (tmp_path / "other.zip", "not a nicelab checkpoint .*corrupt, truncated or another kind of file"),
        (tmp_path / "tensor.pt", "not a nicelab checkpoint .*holds a Tensor"),
        (tmp_path / "folder.pt", "is a directory"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_checkpoint(path)


def test_random_bytes_and_every_truncation_give_a_value_error(tmp_path):
    data = save_checkpoint(tmp_path / "good.pt", NICE(4, n_couplings=2, hidden=4, depth=1)).read_bytes()
    rng = random.Random(0)
    contents = [rng.randbytes(rng.randint(1, 3000)) for _ in range(40)]
    contents += [data[:k] for k in range(0, len(data), 7)]  # truncated at (almost) every point
    bad = tmp_path / "bad.pt"
    for content in contents:
        bad.write_bytes(content)
        with pytest.raises(ValueError, match="not a nicelab checkpoint"):
            load_checkpoint(bad)


def test_unreadable_file_says_so(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", NICE(4, n_couplings=2, hidden=4, depth=1))
    real_open = Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)  # root ignores chmod, so deny the read directly
    with pytest.raises(ValueError, match=r"cannot read checkpoint .*\(Permission denied\)"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "failure, match",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
    ],
)
def test_failed_save_says_so_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, failure, match):
    path = tmp_path / "m.pt"
    model = NICE(4, n_couplings=2, hidden=8, depth=1)
    save_checkpoint(path, model, step=1)
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class FailingFile:  # the real temporary file, whose writes fail after the first 100 bytes
        def __init__(self, fh):
            self.fh, self.written = fh, 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.written += len(data)
            if self.written > 100:
                raise failure
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FailingFile(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match=f"could not save checkpoint .*{match}.*previous checkpoint"):
        save_checkpoint(path, model, step=2)
    monkeypatch.undo()
    assert path.read_bytes() == before and read_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # the temporary file is gone


def test_save_into_a_file_or_unwritable_folder_says_so(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    model = NICE(4, n_couplings=2, hidden=4, depth=1)
    with pytest.raises(OSError, match="could not save checkpoint"):
        save_checkpoint(tmp_path / "file" / "m.pt", model)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "sub" / "m.pt")
    with pytest.raises(ValueError, match="is a directory"):
        check_writable(tmp_path)
    os.mkfifo(tmp_path / "pipe.pt")
    with pytest.raises(ValueError, match="not a regular file"):
        check_writable(tmp_path / "pipe.pt")
    with pytest.raises(ValueError, match="not a regular file"):
        load_checkpoint(tmp_path / "pipe.pt")  # never opened: reading a FIFO would block

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(ValueError, match=r"cannot write checkpoint .*\(Permission denied\)"):
        check_writable(tmp_path / "m.pt")
    with pytest.raises(OSError, match=r"could not save checkpoint .*\(Permission denied\)"):
        save_checkpoint(tmp_path / "m.pt", model)


def test_extra_fields_must_load_back_with_weights_only(tmp_path):
    model = NICE(4, n_couplings=2, hidden=4, depth=1)
    with pytest.raises(ValueError, match=r"history\['f'\] is a builtin_function"):
        save_checkpoint(tmp_path / "m.pt", model, history={"f": print})
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "m.pt", model, config={})
    assert not (tmp_path / "m.pt").exists()


def test_stale_temporaries_are_removed(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", NICE(4, n_couplings=2, hidden=4, depth=1))
    (tmp_path / ".m.pt.abc123.tmp").write_bytes(b"half a save")
    (tmp_path / ".other.pt.abc123.tmp").write_bytes(b"another target's")
    assert remove_stale_temporaries(path) == [tmp_path / ".m.pt.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.abc123.tmp", "m.pt"]


# --- any flow, not only NICE ---------------------------------------------------------------------------


def test_affine_coupling_flow_round_trip(tmp_path):
    flow = CouplingFlow(4, coupling="affine", n_couplings=3, hidden=8, depth=1, prior="gaussian")
    flow.init_from_data(torch.randn(64, 4))
    path = save_checkpoint(tmp_path / "affine.pt", flow, step=3)
    payload = read_checkpoint(path)
    assert payload["model"] == "CouplingFlow" and payload["config"] == flow.config()
    loaded = load_checkpoint(path)
    assert type(loaded) is CouplingFlow and loaded.config() == flow.config()
    x = torch.randn(5, 4)
    assert torch.equal(loaded.log_prob(x), flow.log_prob(x))
    assert load_checkpoint(path, CouplingFlow(**flow.config())).config()["coupling"] == "affine"
    with pytest.raises(ValueError, match="architecture CouplingFlow"):
        load_checkpoint(path, NICE(4, n_couplings=3, hidden=8, depth=1, prior="gaussian"))


def test_hand_built_flow_round_trip(tmp_path):
    d = 5
    chain = Compose(
        {
            "shift": Shift(d),
            "couplings": CouplingChain([AffineCoupling(d, 0, 8, 1, bound=1.5), AdditiveCoupling(d, 1, 4, 2)]),
            "flip": Inverse(Scaling(d)),
            "scaling": Scaling(d),
        }
    )
    flow = Flow(chain, Logistic(d))
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    loaded = load_checkpoint(save_checkpoint(tmp_path / "flow.pt", flow))
    assert type(loaded) is Flow and loaded.config() == flow.config()
    assert isinstance(loaded.couplings[0], AffineCoupling) and loaded.couplings[0].bound == 1.5
    x = torch.randn(6, d)
    assert torch.equal(loaded.log_prob(x), flow.log_prob(x))
    assert torch.equal(
        loaded.sample(3, generator=torch.Generator().manual_seed(0)),
        flow.sample(3, generator=torch.Generator().manual_seed(0)),
    )


def test_spline_flow_round_trip(tmp_path):
    from nicelab.spline import SplineFlow

    flow = SplineFlow(4, n_couplings=2, hidden=8, depth=1, bins=5)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "spline.pt", flow))
    assert type(loaded) is SplineFlow and loaded.config() == flow.config()
    x = torch.randn(3, 4)
    assert torch.equal(loaded.log_prob(x), flow.log_prob(x))


def test_a_file_without_a_model_field_holds_a_nice(tmp_path):
    model = NICE(4, n_couplings=2, hidden=8, depth=1).init_from_data(torch.rand(20, 4))
    payload = {"format": "nicelab-checkpoint-v1", "config": model.config(), "state_dict": model.state_dict()}
    torch.save(payload, tmp_path / "old.pt")  # what nicelab wrote before flows other than NICE were saved
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert type(loaded) is NICE and torch.equal(
        loaded.log_prob(torch.rand(2, 4) * 0 + 0.5), model.log_prob(torch.rand(2, 4) * 0 + 0.5)
    )


def test_refuses_flows_it_cannot_rebuild(tmp_path):
    class Custom(Flow):
        pass

    with pytest.raises(ValueError, match="expects a nicelab flow .*got Custom"):
        save_checkpoint(tmp_path / "c.pt", Custom(Shift(2), Logistic(2)))
    with pytest.raises(ValueError, match="expects a nicelab flow"):
        save_checkpoint(tmp_path / "c.pt", torch.nn.Linear(2, 2))  # type: ignore[arg-type]
    custom_net = AdditiveCoupling(4, 0, conditioner=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="custom conditioner cannot be described"):
        save_checkpoint(tmp_path / "c.pt", Flow(custom_net, Gaussian(4)))
    assert not (tmp_path / "c.pt").exists()
    good = save_checkpoint(tmp_path / "g.pt", NICE(4, n_couplings=2, hidden=4, depth=1))
    for edit, match in [
        (lambda q: q.update(model="Unknown"), r"holds a 'Unknown'"),
        (lambda q: q.update(model=3), "model field"),
    ]:
        payload = torch.load(good, weights_only=True)
        edit(payload)
        torch.save(payload, tmp_path / "e.pt")
        with pytest.raises(ValueError, match=match):
            load_checkpoint(tmp_path / "e.pt")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c.update(prior="cauchy"), "does not describe a Flow"),
        (
            lambda c: c["transform"].update(type="os.system"),
            "does not describe a Flow.*unknown transform type",
        ),
        (
            lambda c: c["transform"]["config"]["steps"]["0"]["config"].update(dim=-1),
            "does not describe a Flow",
        ),
        (lambda c: c["transform"]["config"].pop("steps"), "does not describe a Flow"),
    ],
)
def test_refuses_a_corrupt_flow_description(tmp_path, edit, match):
    flow = Flow(Compose([Shift(3), AffineCoupling(3, 0, 4, 1)]), Gaussian(3))
    payload = torch.load(save_checkpoint(tmp_path / "f.pt", flow), weights_only=True)
    edit(payload["config"])
    torch.save(payload, tmp_path / "e.pt")
    with pytest.raises(ValueError, match=match):
        load_checkpoint(tmp_path / "e.pt")
