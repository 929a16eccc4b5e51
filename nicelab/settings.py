"""Course-wide settings: fast mode and the fast/full size picker.

``NICELAB_FAST=1`` (the test command sets it) shrinks training steps and data sizes so that the
whole course runs in minutes. It never changes *what* a lesson teaches, only how long it trains.
"""

from __future__ import annotations

import os
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
