"""Do ipywidgets (the kernel side) and its JupyterLab extension (the browser side) belong together?

A mismatch is the classic cause of "Failed to load model class" or "Error displaying widget" in
JupyterLab: the kernel asks for model versions the extension does not serve. The pairs below are
the ones the ipywidgets project publishes together:

| ipywidgets | jupyterlab_widgets | lab extension ``@jupyter-widgets/jupyterlab-manager`` |
|---|---|---|
| 7.x | 1.x | 3.x |
| 8.x | 3.x | 5.x |
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

EXTENSION = "@jupyter-widgets/jupyterlab-manager"

#: ipywidgets major -> (jupyterlab_widgets major, lab extension major)
COMPATIBLE: dict[int, tuple[int, int]] = {7: (1, 3), 8: (3, 5)}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class WidgetStack:
    """The versions that must agree; ``extension`` and ``status`` are from ``jupyter labextension list``."""

    ipywidgets: str | None
    jupyterlab_widgets: str | None
    extension: str | None
    status: str = ""


def _major(text: str | None) -> int | None:
    match = re.match(r"v?(\d+)\.", text or "")
    return int(match.group(1)) if match else None


def parse_labextension_list(output: str) -> tuple[str | None, str]:
    """Find the widget manager's version and status ("enabled OK" …) in ``jupyter labextension list``."""
    for line in _ANSI.sub("", output).splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == EXTENSION:
            return fields[1].lstrip("v"), " ".join(fields[2:])
    return None, ""


def installed_stack(jupyter: Path) -> WidgetStack:
    """Read the versions installed next to ``jupyter`` (the executable that will serve JupyterLab)."""

    def dist(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    listing = subprocess.run(
        [str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=120, check=False
    )
    extension, status = parse_labextension_list(listing.stdout + listing.stderr)
    return WidgetStack(dist("ipywidgets"), dist("jupyterlab_widgets"), extension, status)


def mismatch(stack: WidgetStack) -> str | None:
    """``None`` if the three versions belong together, else a message that says what to install."""
    ipw = _major(stack.ipywidgets)
    if ipw is None:
        return "ipywidgets is not installed in the kernel's environment: pip install 'ipywidgets>=8,<9'"
    if ipw not in COMPATIBLE:
        return f"ipywidgets {stack.ipywidgets} is a version this check does not know ({sorted(COMPATIBLE)})"
    want_labw, want_ext = COMPATIBLE[ipw]
    found = (
        f"found ipywidgets {stack.ipywidgets}, jupyterlab_widgets {stack.jupyterlab_widgets}, "
        f"{EXTENSION} {stack.extension}"
    )
    fix = f"pip install matching versions, e.g. 'ipywidgets=={ipw}.*' 'jupyterlab_widgets=={want_labw}.*'"
    if _major(stack.jupyterlab_widgets) != want_labw:
        return f"ipywidgets {ipw}.x needs jupyterlab_widgets {want_labw}.x; {found}. Fix: {fix}"
    if _major(stack.extension) != want_ext:
        return f"ipywidgets {ipw}.x needs the lab extension {EXTENSION} {want_ext}.x; {found}. Fix: {fix}"
    if "enabled" not in stack.status.split() or "OK" not in stack.status.split():
        return f"the lab extension {EXTENSION} is not enabled and OK (status: {stack.status!r}); {found}"
    return None
