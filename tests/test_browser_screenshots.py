"""The real-browser test (tests/browser, run by `make browser-test`) leaves the tracked figures/ alone
unless told to refresh it: its screenshots go to a git-ignored folder by default."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.browser.conftest import ROOT
from tests.browser.test_lab_widgets import screenshot_dir


def test_by_default_the_screenshots_go_to_a_git_ignored_folder_outside_figures(monkeypatch):
    monkeypatch.delenv("NICELAB_BROWSER_SCREENSHOTS", raising=False)
    folder = screenshot_dir()
    assert folder.is_relative_to(ROOT) and not folder.is_relative_to(ROOT / "figures")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    shot = (folder / "browser_widget.png").relative_to(ROOT)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(shot)], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{shot} is not git-ignored"


def test_the_environment_variable_points_them_at_the_gallery_or_anywhere(monkeypatch, tmp_path):
    monkeypatch.setenv("NICELAB_BROWSER_SCREENSHOTS", "figures")
    assert screenshot_dir() == ROOT / "figures"
    monkeypatch.setenv("NICELAB_BROWSER_SCREENSHOTS", str(tmp_path))
    assert screenshot_dir() == tmp_path
    monkeypatch.setenv("NICELAB_BROWSER_SCREENSHOTS", "  ")
    assert screenshot_dir() == ROOT / "runs" / "browser"
