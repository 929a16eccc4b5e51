"""The ipywidgets / lab-extension pairing check accepts matching stacks and explains every mismatch."""

from __future__ import annotations

import pytest

from tests.browser.widget_versions import EXTENSION, WidgetStack, mismatch, parse_labextension_list

LISTING = (
    "JupyterLab v4.6.6\n/venv/share/jupyter/labextensions\n"
    "  jupyterlab_pygments v0.3.0 \x1b[32menabled\x1b[0m \x1b[32mOK\x1b[0m (python, jupyterlab_pygments)\n"
    f"        {EXTENSION} v5.0.16 \x1b[32menabled\x1b[0m \x1b[32mOK\x1b[0m (python, jupyterlab_widgets)\n"
)


def test_parse_labextension_list_reads_version_and_status_through_colours():
    assert parse_labextension_list(LISTING) == ("5.0.16", "enabled OK (python, jupyterlab_widgets)")
    assert parse_labextension_list("JupyterLab v4.6.6\n") == (None, "")


@pytest.mark.parametrize(
    "stack",
    [
        WidgetStack("8.1.9", "3.0.17", "5.0.16", "enabled OK (python, jupyterlab_widgets)"),
        WidgetStack("7.8.5", "1.1.11", "3.0.11", "enabled OK"),
    ],
)
def test_published_pairs_match(stack):
    assert mismatch(stack) is None


@pytest.mark.parametrize(
    "stack, says",
    [
        (WidgetStack("8.1.9", "1.1.11", "5.0.16", "enabled OK"), "needs jupyterlab_widgets 3.x"),
        (WidgetStack("8.1.9", "3.0.17", "3.0.11", "enabled OK"), f"needs the lab extension {EXTENSION} 5.x"),
        (WidgetStack("7.8.5", "3.0.17", "5.0.16", "enabled OK"), "needs jupyterlab_widgets 1.x"),
        (WidgetStack("8.1.9", "3.0.17", None, ""), f"needs the lab extension {EXTENSION} 5.x"),
        (WidgetStack("8.1.9", "3.0.17", "5.0.16", "disabled OK"), "is not enabled and OK"),
        (WidgetStack("8.1.9", "3.0.17", "5.0.16", "enabled X"), "is not enabled and OK"),
        (WidgetStack(None, "3.0.17", "5.0.16", "enabled OK"), "ipywidgets is not installed"),
        (WidgetStack("9.0.0", "4.0.0", "6.0.0", "enabled OK"), "does not know"),
    ],
)
def test_mismatches_are_caught_with_a_clear_message(stack, says):
    problem = mismatch(stack)
    assert problem is not None and says in problem, problem
