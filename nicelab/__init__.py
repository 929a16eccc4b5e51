"""nicelab: a hands-on course on normalizing flows built around NICE.

Direction convention, used everywhere in the package: ``forward`` maps data ``x`` to latent ``z``
and ``inverse`` maps ``z`` to ``x``. Both return ``(tensor, log_det)`` with ``log_det`` of shape
``(batch,)``: ``log|det dz/dx|`` for ``forward`` and ``log|det dx/dz|`` for ``inverse``, so the two
cancel at matching points. The NICE paper and the lecture notes write the decoder direction
(z -> x); the lessons say so wherever they quote a formula.

``nicelab.FAST`` is true when the environment variable ``NICELAB_FAST`` is set (the test command
does this); ``nicelab.pick(full=..., fast=...)`` chooses sizes accordingly.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

# First, before any torch operation creates worker threads: subnormal floats are flushed to zero
# (a 2.5x training slow-down otherwise; see nicelab/_denormals.py).
from nicelab._denormals import FLUSHING  # noqa: F401, I001
from nicelab.checkpoint import load_checkpoint, save_checkpoint
from nicelab.coupling import AdditiveCoupling, AffineCoupling, Coupling
from nicelab.data import bits_per_dim, dequantize, load_mnist, load_sample
from nicelab.flows import CouplingFlow, Flow
from nicelab.nice import NICE
from nicelab.priors import Gaussian, Logistic
from nicelab.scaling import Scaling
from nicelab.settings import FAST, pick
from nicelab.spline import SplineCoupling
from nicelab.train import fit
from nicelab.train.mnist import train_mnist
from nicelab.transforms import Compose, Inverse, Shift, Transform

try:
    __version__ = version("nicelab")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+local"


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
