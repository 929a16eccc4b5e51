"""Project hygiene: dependency lists agree, settings parse, notebooks stay output-free."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

import nicelab
from nicelab.settings import fast_mode_from_env

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    conda, pip = set(), []
    in_pip = False
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:") :].splitlines()[1:]:
        item = re.match(r"^(\s*)- (.+)$", line)
        if not item:
            in_pip = False if line and not line.startswith(" ") else in_pip
            continue
        if item.group(2).strip() == "pip:":
            in_pip = True
        elif in_pip and len(item.group(1)) > 2:
            pip.append(item.group(2).strip())
        else:
            conda.add(CONDA_NAMES.get(_name(item.group(2)), _name(item.group(2))))
    assert wanted == conda - {"python", "pip"}
    assert "-e ." in pip


@pytest.mark.parametrize(
    "value, expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("no", False)]
)
def test_fast_mode_from_env(value, expected):
    assert fast_mode_from_env({"NICELAB_FAST": value}) is expected
    assert fast_mode_from_env({}) is False


def test_pick_follows_fast_mode(monkeypatch):
    monkeypatch.setattr(nicelab.settings, "FAST", True)
    assert nicelab.pick(full=1000, fast=10) == 10
    monkeypatch.setattr(nicelab.settings, "FAST", False)
    assert nicelab.pick(full=1000, fast=10) == 1000


def test_versions_reports_the_stack():
    found = nicelab.versions()
    assert found["nicelab"] == nicelab.__version__ and found["torch"] != "missing"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_output_free(path):
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{path.name} has outputs"
            )
