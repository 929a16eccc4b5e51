"""MNIST for NICE: find or download the IDX files, parse them, dequantize, measure bits/dim.

Data space (the convention that makes our nats comparable with the NICE paper's 1980.50): a pixel
value ``k`` in 0..255 becomes ``x = (k + u) / 256`` with ``u ~ U[0, 1)``, so ``x`` lies in ``[0, 1)``
and each of the 256 bins has width 1/256. A density on ``[0, 1]^D`` then relates to a probability of
the discrete image by ``P(k) >= p(x) / 256^D`` in expectation, which is why bits/dim adds
``D ln 256`` back: ``bits/dim = (D ln 256 - log p(x)) / (D ln 2)``.

Where the files are looked for, in order: ``root`` (the folder holding ``MNIST/raw/``, as
torchvision lays it out, or the ``raw`` folder itself), ``$NICELAB_DATA``, then a user cache
(``$XDG_CACHE_HOME/nicelab`` or ``~/.cache/nicelab``). Local files are validated by their IDX
header and counts; downloads are also checked against the official md5s.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0). A small sample
ships inside the package (:func:`load_sample`) so the course runs offline.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nicelab._checks import check_finite_number

#: image side and data dimension
SIDE = 28
DIM = SIDE * SIDE

#: split -> (images file, labels file)
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
#: md5 of the official .gz files (checked on download only; local files are checked by header)
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
COUNTS = {"train": 60_000, "test": 10_000}
#: tried in order; the first is the mirror torchvision uses, the second the original site
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def _check_split(split: str) -> str:
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def default_root() -> Path:
    """``$NICELAB_DATA`` if set, else the user cache folder ``$XDG_CACHE_HOME/nicelab`` (~/.cache)."""
    env = os.environ.get("NICELAB_DATA", "").strip()
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "nicelab"


def raw_folder(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds (or will hold) the four ``.gz`` files for ``root``.

    ``root`` may be the folder containing ``MNIST/raw`` (torchvision's layout) or the raw folder
    itself (recognised when it already holds an MNIST file).
    """
    base = Path(root).expanduser() if root is not None else default_root()
    if any((base / name).is_file() for pair in FILES.values() for name in pair):
        return base
    return base / "MNIST" / "raw"


def read_idx(path: str | os.PathLike[str], magic: int, count: int | None = None) -> np.ndarray:
    """Parse a gzipped IDX file and check its header: images ``(N, 28, 28)`` or labels ``(N,)`` uint8.

    ``magic`` is 2051 for images and 2049 for labels; ``count`` (if given) is the expected N.
    Raises ``ValueError`` for a bad magic number, wrong shape or count, a truncated or corrupt gzip
    stream, or a payload whose length does not match the header.
    """
    source = Path(path)
    ndim = {IMAGES_MAGIC: 3, LABELS_MAGIC: 1}.get(magic)
    if ndim is None:
        raise ValueError(f"magic must be {IMAGES_MAGIC} (images) or {LABELS_MAGIC} (labels), got {magic}")
    try:
        with gzip.open(source, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{source} is not a readable gzip file (corrupt or truncated?): {err}") from err
    header_len = 4 * (1 + ndim)
    if len(raw) < header_len:
        raise ValueError(f"{source} is too short for an IDX header ({len(raw)} bytes)")
    found_magic, *shape = struct.unpack(f">{1 + ndim}i", raw[:header_len])
    if found_magic != magic:
        raise ValueError(f"{source}: IDX magic {found_magic}, expected {magic}; is this the right file?")
    if ndim == 3 and shape[1:] != [SIDE, SIDE]:
        raise ValueError(f"{source}: images are {shape[1]}x{shape[2]}, expected {SIDE}x{SIDE}")
    if count is not None and shape[0] != count:
        raise ValueError(f"{source}: header says {shape[0]} items, expected {count}")
    expected = math.prod(shape)
    if len(raw) - header_len != expected:
        raise ValueError(
            f"{source}: payload has {len(raw) - header_len} bytes, header {shape} needs {expected}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape).copy()


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(name: str, folder: Path, progress: bool = True, timeout: float = 30.0) -> Path:
    """Download one MNIST file into ``folder``: try each mirror, verify the md5, rename atomically.

    Raises ``ValueError`` (saying where to put the files by hand) if no mirror delivers a file with
    the official md5.
    """
    from tqdm.auto import tqdm

    if name not in MD5:
        raise ValueError(f"unknown MNIST file {name!r}; expected one of {sorted(MD5)}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    errors = []
    for mirror in MIRRORS:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(mirror + name, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
                    for chunk in iter(lambda: resp.read(1 << 16), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
            digest = _md5(tmp)
            if digest != MD5[name]:
                raise ValueError(f"md5 {digest} does not match the official {MD5[name]}")
            os.replace(tmp, target)
            return target
        except (urllib.error.URLError, OSError, ValueError) as err:
            errors.append(f"{mirror + name}: {err}")
        finally:
            tmp.unlink(missing_ok=True)
    raise ValueError(
        f"could not download {name} ({'; '.join(errors)}).\n"
        f"Offline? Put the four MNIST .gz files ({', '.join(sorted(MD5))}) in {folder}, "
        "or pass root=... / set NICELAB_DATA to a folder that holds MNIST/raw/."
    )


def load_mnist(
    split: str = "train", root: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[Tensor, Tensor]:
    """MNIST as ``(images, labels)``: uint8 ``(N, 28, 28)`` and int64 ``(N,)``; N = 60,000 or 10,000.

    Looks for the IDX files in ``root`` (or ``$NICELAB_DATA``, or the user cache; see the module
    docstring). Missing files are downloaded when ``download`` is true (md5-verified). Local files
    are checked by IDX header and counts, so a corrupt file raises ``ValueError`` rather than
    silently training on garbage.

    Example::

        images, labels = load_mnist("test", root="/data")   # /data/MNIST/raw/t10k-*.gz
        x = dequantize(images)                              # (10000, 784) floats in [0, 1)
    """
    _check_split(split)
    folder = raw_folder(root)
    paths = [folder / name for name in FILES[split]]
    for path in paths:
        if path.is_file():
            continue
        if not download:
            raise ValueError(
                f"MNIST file {path.name} not found in {folder} and download=False. Put the four MNIST "
                f".gz files there (torchvision's raw layout: <root>/MNIST/raw/), or pass download=True."
            )
        download_file(path.name, folder)
    count = COUNTS[split]
    images = read_idx(paths[0], IMAGES_MAGIC, count)
    labels = read_idx(paths[1], LABELS_MAGIC, count)
    if labels.max() > 9:
        raise ValueError(f"{paths[1]}: labels must be digits 0..9, found {int(labels.max())}")
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


#: bundled sample: the first 2,000 training and first 500 test images (all ten digits present)
SAMPLE_FILE = "mnist_sample.npz"


def load_sample(split: str = "train") -> tuple[Tensor, Tensor]:
    """The MNIST sample shipped with nicelab: uint8 ``(N, 28, 28)`` images and int64 labels.

    ``"train"`` holds the first 2,000 official training images, ``"test"`` the first 500 official
    test images. Fast mode, the tests and offline notebooks use it; real results need
    :func:`load_mnist`.
    """
    _check_split(split)
    with resources.files("nicelab").joinpath("assets", SAMPLE_FILE).open("rb") as fh, np.load(fh) as arrays:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def dequantize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Uniform dequantization: ``x = (k + u) / 256``, ``u ~ U[0, 1)``, flattened to float32 ``(N, 784)``.

    ``images`` are integer pixel values 0..255 with the batch first, e.g. uint8 ``(N, 28, 28)`` or
    ``(N, 784)``. Every output lies in ``[0, 1)`` and ``floor(256 x) == k``: the noise fills each
    pixel's bin, so a continuous density cannot cheat by putting infinite mass on 256 values.
    """
    if not isinstance(images, Tensor):
        raise ValueError(f"images must be a torch.Tensor of pixel values 0..255, got {type(images).__name__}")
    if images.is_floating_point() or images.dtype == torch.bool or images.is_complex():
        raise ValueError(
            f"images must hold integer pixel values 0..255 (e.g. uint8), got dtype {images.dtype}; "
            "already dequantized?"
        )
    if images.dim() < 2 or images.shape[0] == 0:
        raise ValueError(
            f"images must be a non-empty batch (N, ...) of pixels, got shape {tuple(images.shape)}"
        )
    flat = images.reshape(images.shape[0], -1)
    if images.dtype != torch.uint8 and (int(flat.min()) < 0 or int(flat.max()) > 255):
        raise ValueError("pixel values must lie in 0..255")
    # draw on the generator's device (so a CPU generator gives the same noise for CPU and GPU images)
    noise_device = generator.device if generator is not None else flat.device
    noise = torch.rand(flat.shape, generator=generator, device=noise_device).to(flat.device)
    return (flat.float() + noise) / 256.0


def bits_per_dim(log_likelihood_nats: float | Tensor, dim: int = DIM) -> float | Tensor:
    """Bits per dimension of the *discrete* image from a log-likelihood in nats of data in ``[0, 1]``.

    ``bits/dim = (D ln 256 - LL) / (D ln 2)`` = ``8 - LL / (D ln 2)``: the ``D ln 256`` puts back the
    Jacobian of the ``k/256`` rescaling. Example: the NICE paper's 1980.50 nats is 4.36 bits/dim.
    ``log_likelihood_nats`` must be finite (a NaN or ±inf LL is a diverged model, not a rate): ``ValueError``.
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    check_finite_number(log_likelihood_nats, "log_likelihood_nats")
    return (dim * math.log(256.0) - log_likelihood_nats) / (dim * math.log(2.0))


@torch.no_grad()
def __getattr__(name: str) -> object:
    """``nicelab.data.evaluate`` moved to the work layer (:mod:`nicelab.evaluation`); the old path works."""
    if name == "evaluate":
        from nicelab.evaluation import evaluate  # lazy: the data layer never imports the work layer eagerly

        return evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DIM",
    "bits_per_dim",
    "default_root",
    "dequantize",
    "load_mnist",
    "load_sample",
    "raw_folder",
    "read_idx",
]
