"""nicelab.data: IDX parsing and validation, file lookup, offline errors, dequantization, bits/dim."""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from nicelab import NICE
from nicelab import data as mnist
from nicelab.data import bits_per_dim, dequantize, evaluate, load_mnist, load_sample, read_idx

# Full MNIST, where this machine has it: found through $NICELAB_DATA (as users do), never a fixed path.
SHARED = Path(os.environ.get("NICELAB_DATA", "").strip() or "/nonexistent")
HAVE_SHARED = (SHARED / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()


def write_idx(path: Path, array: np.ndarray, magic: int, *, truncate: int = 0) -> Path:
    """Write ``array`` (uint8) as a gzipped IDX file; ``truncate`` cuts bytes off the gzip stream."""
    header = struct.pack(f">{1 + array.ndim}i", magic, *array.shape)
    blob = gzip.compress(header + array.astype(np.uint8).tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob[: len(blob) - truncate] if truncate else blob)
    return path


def fake_mnist(raw: Path, n_test: int = 10_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Write test-split IDX files with random content in ``raw``; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n_test, dtype=np.uint8)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", images, 2051)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", labels, 2049)
    return images, labels


# --- IDX parsing ---------------------------------------------------------------------------


def test_read_idx_round_trips_generated_files(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    labels = np.array([3, 1, 4], dtype=np.uint8)
    got = read_idx(write_idx(tmp_path / "i.gz", images, 2051), 2051, count=3)
    assert got.dtype == np.uint8 and got.shape == (3, 28, 28) and np.array_equal(got, images)
    assert np.array_equal(read_idx(write_idx(tmp_path / "l.gz", labels, 2049), 2049, count=3), labels)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: write_idx(p, np.zeros((2, 28, 28)), 2049), "magic 2049, expected 2051"),
        (lambda p: write_idx(p, np.zeros((3, 28, 28)), 2051), "3 items, expected 2"),
        (lambda p: write_idx(p, np.zeros((2, 27, 28)), 2051), "27x28"),
        (lambda p: write_idx(p, np.zeros((2, 28, 28)), 2051, truncate=20), "gzip"),
        (lambda p: p.write_bytes(b"definitely not gzip"), "gzip"),
        (lambda p: p.write_bytes(gzip.compress(b"\x00\x00\x08")), "too short"),
        (
            lambda p: p.write_bytes(gzip.compress(struct.pack(">4i", 2051, 2, 28, 28) + bytes(100))),
            "payload",
        ),
    ],
    ids=[
        "bad-magic",
        "wrong-count",
        "wrong-size",
        "truncated-gzip",
        "not-gzip",
        "short-header",
        "short-payload",
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, make, match):
    path = tmp_path / "bad.gz"
    make(path)
    with pytest.raises(ValueError, match=match):
        read_idx(path, 2051, count=2)


def test_read_idx_rejects_an_unknown_magic(tmp_path):
    with pytest.raises(ValueError, match="magic must be"):
        read_idx(tmp_path / "x.gz", 1234)


# --- load_mnist: lookup, validation, download ------------------------------------------------


@pytest.mark.parametrize("layout", ["torchvision", "raw-folder"])
def test_load_mnist_reads_local_files_in_both_layouts(tmp_path, layout):
    raw = tmp_path / "MNIST" / "raw" if layout == "torchvision" else tmp_path
    images, labels = fake_mnist(raw)
    got_images, got_labels = load_mnist("test", root=tmp_path, download=False)
    assert got_images.dtype == torch.uint8 and got_images.shape == (10_000, 28, 28)
    assert got_labels.dtype == torch.int64 and got_labels.shape == (10_000,)
    assert np.array_equal(got_images.numpy(), images) and np.array_equal(got_labels.numpy(), labels)


def test_load_mnist_uses_nicelab_data_env(tmp_path, monkeypatch):
    images, _ = fake_mnist(tmp_path / "MNIST" / "raw")
    monkeypatch.setenv("NICELAB_DATA", str(tmp_path))
    assert np.array_equal(load_mnist("test", download=False)[0].numpy(), images)


def test_default_root_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NICELAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert mnist.default_root() == tmp_path / "nicelab"
    assert mnist.raw_folder() == tmp_path / "nicelab" / "MNIST" / "raw"


def test_load_mnist_rejects_local_files_with_wrong_counts(tmp_path):
    fake_mnist(tmp_path / "MNIST" / "raw", n_test=100)
    with pytest.raises(ValueError, match="100 items, expected 10000"):
        load_mnist("test", root=tmp_path, download=False)


def test_load_mnist_rejects_bad_split(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation", root=tmp_path)


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    with pytest.raises(ValueError, match=r"not found in .*MNIST.*raw"):
        load_mnist("test", root=tmp_path, download=False)


def test_offline_download_fails_with_a_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(mnist.urllib.request, "urlopen", offline)
    with pytest.raises(ValueError, match="Offline\\? Put the four MNIST .gz files") as info:
        load_mnist("test", root=tmp_path, download=True)
    assert str(tmp_path / "MNIST" / "raw") in str(info.value)
    assert list((tmp_path / "MNIST" / "raw").iterdir()) == []  # no partial files left behind


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def test_download_verifies_md5_and_renames_atomically(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    files = {
        "t10k-images-idx3-ubyte.gz": (rng.integers(0, 256, (10_000, 28, 28)), 2051),
        "t10k-labels-idx1-ubyte.gz": (rng.integers(0, 10, 10_000), 2049),
    }
    blobs = {}
    for name, (array, magic) in files.items():
        blobs[name] = write_idx(tmp_path / "src" / name, array, magic).read_bytes()
    # Pretend these are the official files: patch their md5 in; the first mirror serves garbage.
    monkeypatch.setattr(
        mnist, "MD5", {**mnist.MD5, **{n: hashlib.md5(b).hexdigest() for n, b in blobs.items()}}
    )
    requested = []

    def serve(url, timeout):
        requested.append(url)
        name = url.rsplit("/", 1)[1]
        return FakeResponse(b"corrupt" if url.startswith(mnist.MIRRORS[0]) else blobs[name])

    monkeypatch.setattr(mnist.urllib.request, "urlopen", serve)
    images, labels = load_mnist("test", root=tmp_path / "home")
    assert np.array_equal(images.numpy(), files["t10k-images-idx3-ubyte.gz"][0])
    assert np.array_equal(labels.numpy(), files["t10k-labels-idx1-ubyte.gz"][0])
    assert len(requested) == 4  # each file: bad md5 from the first mirror, good from the second
    raw = tmp_path / "home" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(files)  # no .part files left
    requested.clear()
    load_mnist("test", root=tmp_path / "home")  # second call reads the local files
    assert requested == []


@pytest.mark.skipif(not HAVE_SHARED, reason="full MNIST not found under $NICELAB_DATA")
def test_real_mnist_files_parse():
    images, labels = load_mnist("test", root=SHARED, download=False)
    assert images.shape == (10_000, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # The raw folder itself is accepted as root too; the recompressed train file parses by header.
    train, train_labels = load_mnist("train", root=SHARED / "MNIST" / "raw", download=False)
    assert train.shape == (60_000, 28, 28) and train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    # The bundled sample is the head of the official splits.
    sample, sample_labels = load_sample("test")
    assert torch.equal(sample, images[:500]) and torch.equal(sample_labels, labels[:500])


# --- bundled sample --------------------------------------------------------------------------


@pytest.mark.parametrize("split, n", [("train", 2000), ("test", 500)])
def test_load_sample(split, n):
    images, labels = load_sample(split)
    assert images.shape == (n, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert set(labels.tolist()) == set(range(10))
    assert 20 < images.float().mean() < 60  # MNIST's mean pixel is about 33
    with pytest.raises(ValueError, match="split"):
        load_sample("val")


# --- dequantize, bits/dim, evaluate -----------------------------------------------------------


def test_dequantize_stays_in_each_pixels_bin_and_is_uniform():
    images = torch.arange(256, dtype=torch.uint8).repeat(400, 1)  # every value 400 times
    x = dequantize(images, torch.Generator().manual_seed(0))
    assert x.shape == (400, 256) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) < 1.0
    assert torch.equal(torch.floor(x * 256).to(torch.uint8), images)
    noise = (x * 256 - images.float()).flatten()
    assert abs(float(noise.mean()) - 0.5) < 0.005 and abs(float(noise.var()) - 1 / 12) < 0.002
    # Uniform: each tenth of a bin gets ~10% of the noise.
    counts = torch.histc(noise, bins=10, min=0.0, max=1.0) / noise.numel()
    assert torch.allclose(counts, torch.full((10,), 0.1), atol=0.01)


def test_dequantize_flattens_images_and_follows_the_generator():
    images = load_sample("test")[0][:8]
    a = dequantize(images, torch.Generator().manual_seed(3))
    b = dequantize(images, torch.Generator().manual_seed(3))
    assert a.shape == (8, 784) and torch.equal(a, b)
    assert not torch.equal(a, dequantize(images, torch.Generator().manual_seed(4)))


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.rand(4, 784), "integer pixel values"),
        (np.zeros((4, 784), dtype=np.uint8), "torch.Tensor"),
        (torch.zeros(0, 784, dtype=torch.uint8), "non-empty"),
        (torch.zeros(784, dtype=torch.uint8), "non-empty"),
        (torch.full((2, 784), 300), "0..255"),
    ],
)
def test_dequantize_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        dequantize(bad)


def test_bits_per_dim_matches_the_paper():
    assert bits_per_dim(1980.50) == pytest.approx(4.3555, abs=1e-4)
    assert bits_per_dim(0.0) == pytest.approx(8.0)  # a uniform density on [0,1]^D: 8 bits per pixel
    assert bits_per_dim(784 * math.log(256)) == pytest.approx(0.0)
    assert torch.allclose(bits_per_dim(torch.tensor([0.0, 1980.5])), torch.tensor([8.0, 4.3555]), atol=1e-4)
    with pytest.raises(ValueError, match="dim"):
        bits_per_dim(1.0, dim=0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, torch.tensor([1.0, math.nan]), True, "1"])
def test_bits_per_dim_needs_a_finite_log_likelihood(bad):
    with pytest.raises(ValueError, match="log_likelihood_nats"):
        bits_per_dim(bad)


def test_evaluate_says_the_images_are_not_finite():
    images = torch.rand(3, 784)
    images[0, 0] = math.nan
    with pytest.raises(ValueError, match="images contains NaN or infinity"):
        evaluate(NICE(784, n_couplings=2, hidden=4, depth=1), images)


def test_evaluate_is_the_mean_log_prob_and_reproducible():
    torch.manual_seed(0)
    model = NICE(784, n_couplings=2, hidden=16, depth=1)
    images = load_sample("test")[0][:64]
    ll = evaluate(model, images, batch_size=20)
    assert ll == evaluate(model, images, batch_size=64)  # same noise, batch size does not matter
    x = dequantize(images, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert ll == pytest.approx(float(model.log_prob(x).mean()), rel=1e-5)
    assert evaluate(model, x) == pytest.approx(ll, rel=1e-5)  # floats are used as given
    assert model.training  # mode restored
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(model, images, batch_size=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_dequantize_draws_on_the_generators_device():
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    on_cpu = dequantize(images, torch.Generator().manual_seed(3))
    on_gpu = dequantize(images.cuda(), torch.Generator().manual_seed(3))
    assert on_gpu.device.type == "cuda" and torch.equal(on_gpu.cpu(), on_cpu)


def test_evaluate_lives_in_the_work_layer_and_the_old_path_still_works():
    import nicelab.data
    from nicelab.evaluation import evaluate as moved

    assert nicelab.data.evaluate is moved and evaluate is moved
    with pytest.raises(AttributeError, match="no attribute 'evaluat'"):
        _ = nicelab.data.evaluat  # a typo still fails clearly
