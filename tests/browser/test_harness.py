"""Proof that the browser harness works in JupyterLab, Notebook 7 and Voila.

A notebook written here holds an IntSlider, a Label echoing its value and a
bqplot bar chart whose heights an observer sets from the value. In each
front end the bars must render, follow keyboard moves of the slider through
the kernel, and the page must log no JavaScript error.
"""

from __future__ import annotations

import nbformat
import pytest
from playwright.sync_api import expect

from ._pages import (
    PageWaitError,
    bounding_boxes,
    open_in_voila,
    press_slider,
    run_all_in_lab,
    run_all_in_notebook7,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

START = 3
SLIDER_NOTEBOOK = f"""\
import bqplot
import ipywidgets

slider = ipywidgets.IntSlider(value={START}, min=1, max=10, description="value")
echo = ipywidgets.Label(value=f"value is {{slider.value}}")
x_scale = bqplot.OrdinalScale()
y_scale = bqplot.LinearScale(min=0, max=30)
bars = bqplot.Bars(
    x=["a", "b", "c"],
    y=[slider.value, 2 * slider.value, 3 * slider.value],
    scales={{"x": x_scale, "y": y_scale}},
)
figure = bqplot.Figure(
    marks=[bars],
    axes=[
        bqplot.Axis(scale=x_scale),
        bqplot.Axis(scale=y_scale, orientation="vertical"),
    ],
    layout=ipywidgets.Layout(width="600px", height="360px"),
)


def on_value(change):
    value = change["new"]
    with bars.hold_sync():
        bars.y = [value, 2 * value, 3 * value]
    echo.value = f"value is {{value}}"


slider.observe(on_value, "value")
ipywidgets.VBox([slider, echo, figure])
"""


def slider_notebook() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    # A stale count and output, as in a saved notebook: Run All must not
    # mistake them for its own.
    stale = nbformat.v4.new_output("stream", name="stdout", text="stale\n")
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Browser harness check"),
        nbformat.v4.new_code_cell(SLIDER_NOTEBOOK, execution_count=7, outputs=[stale]),
    ]
    return notebook


def bar_heights(page) -> list[float]:
    boxes = bounding_boxes(page.locator(".bqplot rect.bar"))
    assert len(boxes) == 3, f"expected 3 bars, found {len(boxes)}"
    assert all(box["width"] > 0 and box["height"] > 0 for box in boxes), boxes
    return [box["height"] for box in boxes]


# (key, presses, value after): right then left, through the kernel and back.
ARROW_MOVES = [("ArrowRight", 4, START + 4), ("ArrowLeft", 2, START + 2)]
# Notebook 7.6.5 handles keydown in the capture phase, and its command-mode
# bindings for the arrow keys (heading navigation, cursor moves) match any
# focused element in a cell, so arrows never reach the slider. Page keys do.
PAGE_MOVES = [("PageUp", 1, START + 5), ("PageDown", 1, START)]


def check_slider_drives_bars(page, screenshot, moves) -> None:
    slider = page.locator(".widget-slider").first
    echo = page.locator(".widget-label", has_text="value is").first
    figure = page.locator(".widget-vbox", has=page.locator(".bqplot")).first
    page.locator(".bqplot rect.bar").first.wait_for(state="visible")
    expect(echo).to_have_text(f"value is {START}")
    before = bar_heights(page)
    screenshot("before", show=figure)

    for key, presses, value in moves:
        assert press_slider(page, slider, key, presses) == str(value), key
        expect(echo).to_have_text(f"value is {value}")
        heights = bar_heights(page)
        for old, new in zip(before, heights, strict=True):
            assert new == pytest.approx(old * value / START, rel=0.03), key
        screenshot(f"after-{key}", show=figure)


def test_lab(page, lab_server, js_errors, screenshot):
    name = lab_server.write_notebook(slider_notebook(), "harness_lab.ipynb")

    run_all_in_lab(page, lab_server, name)
    check_slider_drives_bars(page, screenshot, ARROW_MOVES)

    assert js_errors == []


def test_notebook7(page, notebook_server, js_errors, screenshot):
    name = notebook_server.write_notebook(slider_notebook(), "harness_nb7.ipynb")

    run_all_in_notebook7(page, notebook_server, name)
    check_slider_drives_bars(page, screenshot, PAGE_MOVES)

    assert js_errors == []


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="Notebook 7.6.5 swallows arrow keys meant for a focused slider "
    "(capture-phase command-mode shortcuts); upstream, not yet filed",
)
def test_notebook7_arrow_keys_move_slider(page, notebook_server):
    name = notebook_server.write_notebook(slider_notebook(), "harness_nb7_keys.ipynb")
    run_all_in_notebook7(page, notebook_server, name)

    slider = page.locator(".widget-slider").first
    assert press_slider(page, slider, "ArrowRight", 1) == str(START + 1)


def test_voila(page, voila_server, js_errors, screenshot, page_log):
    name = voila_server.write_notebook(slider_notebook(), "harness_voila.ipynb")

    open_in_voila(page, voila_server, name)
    check_slider_drives_bars(page, screenshot, ARROW_MOVES)

    assert js_errors == []
    assert all("127.0.0.1" not in url for url in page_log.aborted)


def test_page_log_keeps_errors_and_drops_only_known_noise(page, page_log):
    page.set_content("<p>harness</p>")

    # .invalid never resolves: even a broken route could reach no host.
    fetched = page.evaluate(
        "() => fetch('http://harness.invalid/x').then(() => 'sent', () => 'blocked')"
    )
    page.evaluate(
        """() => {
          console.warn("Unsatisfied version 6.0.12 from @jupyter-widgets/"
            + "jupyterlab-manager of shared singleton module @jupyter-widgets/base "
            + "(required ^1.1.10 || ^2 || ^3 || ^4.0.0)");
          console.error("Unsatisfied version 1.0.0 of shared module ours");
          setTimeout(() => { throw new Error("harness boom"); });
        }"""
    )
    page.wait_for_timeout(300)

    assert fetched == "blocked"
    assert page_log.aborted == ["http://harness.invalid/x"]
    assert [entry.split(":")[0] for entry in page_log.ignored] == [
        "console.error",  # Failed to load resource: the aborted fetch
        "console.warning",  # the ipycytoscape version warning
    ]
    assert "shared module ours" in page_log.errors[0]
    assert "harness boom" in page_log.errors[1]
    assert len(page_log.errors) == 2


def test_run_all_reports_a_failing_cell(page, lab_server):
    notebook = slider_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("1 / 0"))
    name = lab_server.write_notebook(notebook, "harness_failing.ipynb")

    with pytest.raises(PageWaitError, match="ZeroDivisionError"):
        run_all_in_lab(page, lab_server, name, timeout_s=60)

    lab_server.shutdown_kernels()
    assert lab_server.list_kernels() == []
