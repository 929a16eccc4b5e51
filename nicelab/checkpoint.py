"""Checkpoints: atomic saves and safe (``weights_only=True``) loads of a NICE model.

A checkpoint is a plain dict ``{"format", "config", "state_dict", ...extra}``. Saving writes a
temporary file next to the target and renames it into place, so an interrupted save never
destroys the previous checkpoint. Loading never unpickles code, and refuses files that are corrupt
or hold another architecture.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from nicelab.nice import NICE

FORMAT = "nicelab-checkpoint-v1"


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def save_checkpoint(path: str | os.PathLike[str], model: NICE, **extra: Any) -> Path:
    """Atomically save ``model`` (config + state_dict) and any tensor/number/str ``extra`` fields."""
    if not isinstance(model, NICE):
        raise ValueError(f"save_checkpoint expects a nicelab.NICE model, got {type(model).__name__}")
    payload = {"format": FORMAT, "config": model.config(), "state_dict": model.state_dict(), **extra}
    return atomic_torch_save(payload, path)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint dict safely; ``ValueError`` if missing, corrupt or not a nicelab checkpoint."""
    source = Path(path)
    if not source.is_file():
        raise ValueError(f"no checkpoint at {source}")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{source} is not a readable checkpoint (corrupt or truncated?): {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{source} is not a nicelab checkpoint (expected format {FORMAT!r})")
    if not isinstance(payload.get("config"), dict) or not isinstance(payload.get("state_dict"), dict):
        raise ValueError(f"{source} lacks a config or state_dict")
    return payload


def load_checkpoint(path: str | os.PathLike[str], model: NICE | None = None) -> NICE:
    """Rebuild (or fill ``model``) from a checkpoint; refuses another architecture with ``ValueError``."""
    payload = read_checkpoint(path)
    config = payload["config"]
    if model is None:
        try:
            model = NICE(**config)
        except TypeError as err:
            raise ValueError(f"{path}: checkpoint config {config} does not describe a NICE: {err}") from err
    elif model.config() != config:
        raise ValueError(f"{path} holds architecture {config}, but the model is {model.config()}")
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not fit architecture {config}: {err}") from err
    return model
