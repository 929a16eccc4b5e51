"""nicelab: a hands-on course on normalizing flows built around NICE.

Direction convention, used everywhere in the package: ``forward`` maps data ``x`` to latent ``z``
and ``inverse`` maps ``z`` to ``x``. Both return ``(tensor, log_det)`` with ``log_det`` of shape
``(batch,)``: ``log|det dz/dx|`` for ``forward`` and ``log|det dx/dz|`` for ``inverse``, so the two
cancel at matching points. The NICE paper and the lecture notes write the decoder direction
(z -> x); the lessons say so wherever they quote a formula.

A model is a :class:`Flow`: a transform (a :class:`Compose` of layers) plus a prior. :class:`NICE`
and :class:`CouplingFlow` build one from shift, coupling and scaling layers.

``nicelab.FAST`` is true when the environment variable ``NICELAB_FAST`` is set (the test command
does this); ``nicelab.pick(full=..., fast=...)`` chooses sizes accordingly.

**Subnormal floats are flushed to zero on import.** Adam's moments for weights whose gradient is
exactly 0 decay geometrically into the float32 subnormal range, where x86 CPUs compute in slow
microcode: measured on the paper's MNIST NICE, the training step became 2.5x slower after about 700
steps. nicelab therefore sets flush-to-zero before torch starts its worker threads (they copy the
flag when created); only values below 1.2e-38 change. Set ``NICELAB_FLUSH_DENORMALS=0`` before the
import to keep IEEE subnormals (``nicelab.FLUSHING`` says which is in effect; details in
``nicelab/_denormals.py``).

``import nicelab`` loads the core (torch only); the data and training layers (``load_mnist``,
``fit``, ``train_mnist``, …) are imported the first time one of their names is used.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# First, before any torch operation creates worker threads (see the docstring above).
from nicelab._denormals import FLUSHING  # noqa: F401, I001
from nicelab.checkpoint import load_checkpoint, save_checkpoint
from nicelab.coupling import AdditiveCoupling, AffineCoupling, Coupling
from nicelab.flows import CouplingFlow, Flow
from nicelab.nice import NICE
from nicelab.priors import Gaussian, Logistic
from nicelab.scaling import Scaling
from nicelab.settings import FAST, pick
from nicelab.spline import SplineCoupling
from nicelab.transforms import Compose, Inverse, Shift, Transform

#: names of the data and work layers, imported on first use: name -> module
_LAZY = {
    "bits_per_dim": "nicelab.data",
    "dequantize": "nicelab.data",
    "load_mnist": "nicelab.data",
    "load_sample": "nicelab.data",
    "fit": "nicelab.train",
    "train_mnist": "nicelab.train.mnist",
}

try:
    __version__ = version("nicelab")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+local"


def __getattr__(name: str) -> Any:
    """Resolve a lazily exported name (see ``_LAZY``) or a submodule (``nicelab.data``) on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise  # the submodule exists but needs something missing: say so
            raise AttributeError(f"module 'nicelab' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def versions() -> dict[str, str]:
    """Versions of nicelab and the libraries the course relies on (for the environment check)."""
    import sys

    found = {"python": sys.version.split()[0], "nicelab": __version__}
    for name in ("torch", "numpy", "matplotlib", "ipywidgets", "tqdm"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


__all__ = [
    "FAST",
    "NICE",
    "AdditiveCoupling",
    "AffineCoupling",
    "Compose",
    "Coupling",
    "CouplingFlow",
    "Flow",
    "Gaussian",
    "Inverse",
    "Logistic",
    "Scaling",
    "Shift",
    "SplineCoupling",
    "Transform",
    "bits_per_dim",
    "dequantize",
    "fit",
    "load_checkpoint",
    "load_mnist",
    "load_sample",
    "pick",
    "save_checkpoint",
    "train_mnist",
    "versions",
]
