"""nicelab.settings: fast mode from the environment and the MNIST checkpoint location."""

from __future__ import annotations

from pathlib import Path

import nicelab
from nicelab import settings


def test_fast_mode_reads_the_usual_true_words():
    assert settings.fast_mode_from_env({"NICELAB_FAST": " Yes "})
    assert not settings.fast_mode_from_env({"NICELAB_FAST": "0"})
    assert not settings.fast_mode_from_env({})


def test_mnist_checkpoint_path_prefers_the_environment(tmp_path):
    chosen = tmp_path / "models" / "m.pt"
    assert settings.mnist_checkpoint_path({"NICELAB_MNIST_CHECKPOINT": str(chosen)}) == chosen


def test_mnist_checkpoint_path_in_a_checkout_is_the_clis_default():
    repo = Path(nicelab.__file__).resolve().parents[1]
    assert (repo / "notebooks").is_dir()  # the tests run from the source checkout
    assert settings.mnist_checkpoint_path({}) == repo / "runs" / "mnist.pt"


def test_mnist_checkpoint_path_outside_a_checkout_uses_the_user_cache(tmp_path, monkeypatch):
    installed = (
        tmp_path / "site-packages" / "nicelab" / "settings.py"
    )  # a pip install: no notebooks/ beside it
    installed.parent.mkdir(parents=True)
    monkeypatch.setattr(settings, "__file__", str(installed))
    cache = tmp_path / "cache"
    assert (
        settings.mnist_checkpoint_path({"XDG_CACHE_HOME": str(cache)})
        == cache / "nicelab" / "runs" / "mnist.pt"
    )
    home = settings.mnist_checkpoint_path({})
    assert home == Path.home() / ".cache" / "nicelab" / "runs" / "mnist.pt"
