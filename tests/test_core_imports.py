"""The core imports torch only, ``import nicelab`` stays light, and every exported name resolves."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import nicelab

CORE = [
    "nicelab",
    "nicelab._checks",
    "nicelab._denormals",
    "nicelab._utils",
    "nicelab.checkpoint",
    "nicelab.coupling",
    "nicelab.densities",
    "nicelab.flows",
    "nicelab.jacobian",
    "nicelab.nice",
    "nicelab.priors",
    "nicelab.scaling",
    "nicelab.settings",
    "nicelab.transforms",
]

#: a finder that makes these packages look absent (torch treats a ModuleNotFoundError as "no numpy")
BLOCKER = """
import importlib.abc, sys, warnings
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
BLOCKED = {"numpy", "tqdm", "matplotlib", "ipywidgets", "IPython"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked by the test: {name}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_blocker_blocks():
    done = run_python(BLOCKER + "import numpy")
    assert done.returncode != 0 and "blocked by the test: numpy" in done.stderr


def test_core_modules_import_with_numpy_and_tqdm_absent():
    code = BLOCKER + textwrap.dedent(
        f"""
        import importlib
        for name in {CORE!r}:
            importlib.import_module(name)
        import torch, nicelab
        model = nicelab.NICE(4, n_couplings=2, hidden=8, depth=1).init_from_data(torch.rand(10, 4))
        assert model.log_prob(torch.rand(3, 4)).shape == (3,)
        assert not any(m.split(".")[0] in BLOCKED for m in sys.modules), "a blocked module was imported"
        print("ok")
        """
    )
    done = run_python(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_import_nicelab_defers_the_work_and_data_layers():
    code = textwrap.dedent(
        """
        import sys, nicelab
        loaded = sorted(m for m in sys.modules if m.startswith(("nicelab.data", "nicelab.train")))
        print(loaded)
        nicelab.fit  # resolving a lazy name imports its module
        print("nicelab.train" in sys.modules)
        """
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]


@pytest.mark.parametrize("name", nicelab.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(nicelab, name) is not None
    assert name in dir(nicelab)


def test_unknown_names_raise_attribute_error_and_submodules_resolve():
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        nicelab.nonsense  # noqa: B018
    assert nicelab.data.load_mnist is nicelab.load_mnist  # as before imports were lazy


@pytest.mark.parametrize("value, flushed", [("0", False), ("off", False), ("1", True), ("", True)])
def test_the_subnormal_flush_can_be_switched_off(value, flushed):
    code = textwrap.dedent(
        """
        import torch, nicelab
        tiny = torch.tensor([1e-30]) * torch.tensor([1e-10])  # 1e-40: a float32 subnormal
        print(nicelab.FLUSHING, bool(tiny.item() == 0.0))
        """
    )
    import os

    env = {**os.environ, "NICELAB_FLUSH_DENORMALS": value}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    if flushed and done.stdout.split()[0] == "False":
        pytest.skip("this CPU cannot flush subnormals")
    assert done.stdout.split() == [str(flushed), str(flushed)]
