"""Checkpoints: atomic, safe to load, and refusing corrupt files and other architectures."""

from __future__ import annotations

import pytest
import torch

from nicelab import NICE, load_checkpoint, save_checkpoint
from nicelab.checkpoint import read_checkpoint


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
