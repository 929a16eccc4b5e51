"""README.md's "Layers" list names every module of nicelab (and of nicelab.train), each once."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layers_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("**Layers**")
    return text[start : text.index("\n\n", start)]


def test_every_module_is_in_the_layers_list():
    named = set(re.findall(r"`([\w.]+)`", layers_section()))
    package = ROOT / "nicelab"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    modules |= {f"train.{p.stem}" for p in (package / "train").glob("*.py") if not p.stem.startswith("__")}
    assert modules - named == set(), f"README.md's Layers list misses {sorted(modules - named)}"
    assert {"analysis", "spline", "modes", "train.toy2d"} <= named


def test_each_module_sits_in_one_layer():
    rows = re.findall(r"^- (\w+): (.*?)(?=^- |\Z)", layers_section(), flags=re.M | re.S)
    assert [layer for layer, _ in rows] == ["views", "work", "data", "core"]
    first = {}
    for layer, body in rows:
        # the modules themselves, not what the parentheses say about them
        entries = re.sub(r"\([^()]*\)", "", " ".join(body.split()))
        for name in re.findall(r"(?:^|, |and the private helpers )`(\w+)`", entries):
            assert name not in first, f"{name} is in both {first[name]} and {layer}"
            first[name] = layer
    modules = {p.stem for p in (ROOT / "nicelab").glob("*.py") if p.stem != "__init__"}
    assert set(first) == modules | {"train", "widgets", "exercises"}  # nothing but modules, all of them
    assert first["analysis"] == "work" and first["spline"] == "core" and first["datasets"] == "data"
