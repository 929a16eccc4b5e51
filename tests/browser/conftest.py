"""Fixtures for the real-browser test: a JupyterLab server from this environment and headless Chromium.

Nothing here downloads a browser: Playwright drives the system Chromium (Debian's ``/usr/bin/chromium``,
or ``NICELAB_CHROMIUM``). The server listens on a free loopback port with a random token, keeps its
settings, workspaces and runtime files in a temporary folder, and is stopped however the test ends.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JUPYTER = Path(sys.executable).with_name("jupyter")
CHROMIUM = Path(os.environ.get("NICELAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: lab settings that keep the page quiet and deterministic: no autosave (the lesson on disk must stay
#: output-free), no news or update checks (no network), and every cell attached to the page (no
#: virtual scrolling that would hide a widget).
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass
class LabServer:
    """A running JupyterLab: open ``url(path)`` in a browser."""

    port: int
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def url(self, notebook: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?reset&token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status_url = f"http://127.0.0.1:{server.port}/api/status?token={server.token}"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            raise RuntimeError(f"JupyterLab exited with code {code}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(status_url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its kernels (its own process group only)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


@pytest.fixture
def lab_server(tmp_path: Path) -> Iterator[Callable[..., LabServer]]:
    """A factory: ``lab_server(root, env={...})`` starts JupyterLab serving ``root``; all stop after."""
    if not JUPYTER.exists():
        pytest.fail(f"jupyter not found next to {sys.executable}: run `make setup` first")
    started: list[LabServer] = []

    def start(root: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 120.0) -> LabServer:
        home = tmp_path / f"lab{len(started)}"
        settings = home / "settings"
        for name, values in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        server_env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MPLBACKEND"))}
        server_env.update(
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            IPYTHONDIR=str(home / "ipython"),
            PYTHONUNBUFFERED="1",
        )
        server_env.update(env or {})
        port, token = _free_port(), secrets.token_hex(16)
        log = home / "server.log"
        command = [
            str(JUPYTER),
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
        ]
        if os.geteuid() == 0:  # CI runs as root in a throwaway machine
            command.append("--allow-root")
        with log.open("wb") as sink:
            # its own session, so stopping it reaches its kernels and nothing else
            process = subprocess.Popen(
                command,
                cwd=root,
                env=server_env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = LabServer(port, token, root, process, log)
        started.append(server)
        _wait_until_up(server, timeout)
        return server

    try:
        yield start
    finally:
        for server in started:
            _stop(server.process)


@dataclass
class Browser:
    """A Playwright page plus everything the page logged (shown when a test fails)."""

    page: object
    console: list[str]


@pytest.fixture
def chromium() -> Iterator[Browser]:
    """A page in headless system Chromium (1400×1000), closed after the test."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs Playwright: pip install -e '.[browser]' (no browser download)")
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set NICELAB_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            console: list[str] = []
            page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
            yield Browser(page, console)
        finally:
            browser.close()
