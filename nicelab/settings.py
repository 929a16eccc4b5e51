"""Course-wide settings: fast mode and the fast/full size picker.

``NICELAB_FAST=1`` (the test command sets it) shrinks training steps and data sizes so that the
whole course runs in minutes. It never changes *what* a lesson teaches, only how long it trains.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}


def fast_mode_from_env(environ: dict[str, str] | None = None) -> bool:
    """Read ``NICELAB_FAST`` from ``environ`` (default ``os.environ``); true for 1/true/yes/on."""
    value = (environ if environ is not None else os.environ).get("NICELAB_FAST", "")
    return value.strip().lower() in _TRUE


FAST: bool = fast_mode_from_env()


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise.

    Example: ``steps = nicelab.pick(full=5000, fast=200)``. Fast mode is read when nicelab is
    imported, so a notebook sees the mode it was started in.
    """
    return fast if FAST else full


def _cache_dir(environ: dict[str, str]) -> Path:
    """The user cache folder for nicelab: ``$XDG_CACHE_HOME/nicelab`` or ``~/.cache/nicelab``."""
    base = environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "nicelab"


def mnist_checkpoint_path(environ: dict[str, str] | None = None) -> Path:
    """Where lesson 06 looks for (and saves) its trained MNIST model.

    ``$NICELAB_MNIST_CHECKPOINT`` if set; else ``runs/mnist.pt`` in the course repository when nicelab
    runs from a source checkout (the CLI's documented default); else ``runs/mnist.pt`` in the user cache
    folder, so a pip install (e.g. on Colab) never writes into ``site-packages``.
    """
    environ = environ if environ is not None else dict(os.environ)
    chosen = environ.get("NICELAB_MNIST_CHECKPOINT", "").strip()
    if chosen:
        return Path(chosen).expanduser()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "runs" / "mnist.pt"
    return _cache_dir(environ) / "runs" / "mnist.pt"
