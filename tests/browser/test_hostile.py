"""Feature names that are HTML payloads stay text in the live panel.

The notebook trains a tiny detector (``test_panel.tiny_panel_source``) whose
feature names try to run script three ways. The anomaly is shifted in the
payload features, so its explanation changes them all and the names reach
the table, the chart's axis and the "locked" selector. Each must show as the
literal text and create no element, before and after a slider change, in
JupyterLab and in Voila.
"""

from __future__ import annotations

from functools import partial

import nbformat
import pytest
from playwright.sync_api import expect

from ._pages import open_in_voila, press_slider, run_all_in_lab
from .test_panel import (
    chart,
    consistency_problems,
    expect_panel,
    python_notebook,
    read_state,
    slider,
    tiny_panel_source,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    '"><svg onload="window.__pwned=3">',
]
NAMES = [*PAYLOADS, "packets"]
STATE = "hostile.json"

# Anything the payloads would create or set, anywhere in the document.
_INJECTED_JS = """
() => ({
  pwned: typeof window.__pwned === "undefined" ? null : String(window.__pwned),
  images: document.querySelectorAll('img[src="x"], img[onerror]').length,
  svgs: document.querySelectorAll("svg[onload], [onload*='__pwned']").length,
  scripts: Array.from(document.scripts)
    .filter((script) => script.textContent.includes("__pwned")).length,
})
"""


def hostile_notebook() -> nbformat.NotebookNode:
    return python_notebook(tiny_panel_source(NAMES, STATE))


def assert_nothing_injected(page) -> None:
    found = page.evaluate(_INJECTED_JS)
    assert found == {"pwned": None, "images": 0, "svgs": 0, "scripts": 0}


def assert_names_are_text(panel, changed: list[str]) -> None:
    """Each changed name is the literal text of a table cell and a tick label."""
    cells = panel.locator(".deepaid-table tbody tr td:first-child")
    expect(cells).to_have_text(changed)
    ticks = panel.locator(".bqplot g.axis[text-anchor='end'] .tick text")
    assert sorted(ticks.all_text_contents()) == sorted(changed)
    for name in changed:
        expect(cells.filter(has_text=name)).to_be_visible()
    # ipywidgets shows spaces in options as no-break spaces.
    options = panel.locator("select option").all_text_contents()
    assert [option.replace("\xa0", " ") for option in options] == NAMES


def check_hostile_panel(page, server, screenshot) -> None:
    changed = read_state(page, server, STATE)
    # The data are chosen so that every payload is in the explanation.
    assert set(PAYLOADS) <= set(changed), changed
    panel = page.locator(".deepaid-panel").first
    panel.scroll_into_view_if_needed()
    assert_names_are_text(panel, changed)
    assert_nothing_injected(page)
    screenshot("rendered", show=chart(panel))

    k = len(changed)
    readout = press_slider(page, slider(panel, "K (features)"), "ArrowLeft", 1)
    assert readout == str(k - 1)
    shown = expect_panel(panel, partial(consistency_problems, k=k - 1))
    assert_names_are_text(panel, [row[0] for row in shown["rows"]])
    assert {row[0] for row in shown["rows"]} <= set(NAMES)
    assert_nothing_injected(page)
    screenshot("after-k", show=chart(panel))


def test_lab_shows_payload_names_as_text(page, lab_server, js_errors, screenshot):
    (lab_server.root_dir / STATE).unlink(missing_ok=True)
    name = lab_server.write_notebook(hostile_notebook(), "hostile_lab.ipynb")
    run_all_in_lab(page, lab_server, name)
    check_hostile_panel(page, lab_server, screenshot)
    assert js_errors == []


def test_voila_shows_payload_names_as_text(page, voila_server, js_errors, screenshot):
    (voila_server.root_dir / STATE).unlink(missing_ok=True)
    name = voila_server.write_notebook(hostile_notebook(), "hostile_voila.ipynb")
    open_in_voila(page, voila_server, name)
    check_hostile_panel(page, voila_server, screenshot)
    assert js_errors == []
