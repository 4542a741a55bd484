"""Drive notebooks in JupyterLab, Notebook 7 and Voila from Playwright.

Every helper waits on the application's own state, not on the toolbar or a
fixed sleep: the servers run with ``--expose-app-in-browser``, so the page
has ``window.jupyterapp`` (Voila 0.5 exposes it too). Commands are fired and
forgotten, never awaited from ``page.evaluate``, because a dialog can leave
their promise pending forever; the helpers then poll the page instead.

Use ``page.wait_for_timeout`` in tests, never ``time.sleep``: Playwright's
sync API serves events (routes, console messages) only while it is called.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from ._servers import JupyterServer

# How long the kernel must stay idle before kernel-side state is trusted:
# ipywidgets holds back a model's second quick update while the first is in
# flight, and sends it only when the first is acknowledged.
SETTLE_MS = 500

# The kernel of the notebook in view, and its state, for all three front
# ends. JupyterLab and Notebook 7: the current widget's session; Voila: the
# kernel of its widget manager.
_KERNEL_STATE_JS = """
() => {
  const app = window.jupyterapp;
  if (!app) return {ready: false, why: "window.jupyterapp is not there yet"};
  let kernel = null;
  if (app.name === "Voila") {
    const manager = app.widgetManager;
    kernel = manager ? manager.kernel : null;
    if (document.getElementById("loading"))
      return {ready: false, why: "Voila is still executing the notebook"};
  } else {
    const widget = app.shell.currentWidget;
    const session = widget && widget.sessionContext;
    if (!session) return {ready: false, why: "no notebook is in view"};
    kernel = session.session ? session.session.kernel : null;
  }
  if (!kernel) return {ready: false, why: "no kernel yet"};
  const dialog = document.querySelector(".jp-Dialog");
  return {
    ready: kernel.connectionStatus === "connected" && kernel.status === "idle",
    why: `kernel ${kernel.connectionStatus}, ${kernel.status}`
      + (dialog ? `; a dialog is open: ${dialog.innerText.slice(0, 300)}` : ""),
  };
}
"""

# Progress of "Run All" in JupyterLab and Notebook 7, read from the notebook
# model (cells outside the viewport may not be in the DOM). Cells with only
# whitespace never get an execution count, so they are left out.
_RUN_STATE_JS = """
(path) => {
  const widget = window.jupyterapp.shell.currentWidget;
  if (!widget || !widget.context || widget.context.path !== path)
    return {error: `the notebook in view is not ${path}`};
  const cells = Array.from(widget.content.widgets).filter(
    (cell) => cell.model.type === "code"
      && cell.model.sharedModel.getSource().trim() !== "");
  const pending = cells.filter(
    (cell) => cell.model.executionCount === null
      || cell.model.executionState === "running").length;
  const errors = [];
  for (const cell of cells) {
    for (let i = 0; i < cell.model.outputs.length; i++) {
      const output = cell.model.outputs.get(i).toJSON();
      if (output.output_type === "error")
        errors.push(`${output.ename}: ${output.evalue}`);
    }
  }
  const starred = Array.from(document.querySelectorAll(".jp-InputPrompt"))
    .some((prompt) => prompt.textContent.includes("[*]"));
  return {code_cells: cells.length, pending, starred, errors};
}
"""


class PageWaitError(AssertionError):
    """The page did not reach the awaited state in time."""


def wait_kernel_idle(
    page: Page, timeout_s: float = 60.0, settle_ms: int = SETTLE_MS
) -> None:
    """Wait until the kernel is connected and stays idle for ``settle_ms``.

    Works in JupyterLab, Notebook 7 (the notebook in view) and Voila. A
    kernel that is "idle" but not yet connected is not ready: commands sent
    then are lost.
    """
    deadline = time.monotonic() + timeout_s
    state = {"why": "not checked"}
    while time.monotonic() < deadline:
        state = page.evaluate(_KERNEL_STATE_JS)
        if state["ready"]:
            page.wait_for_timeout(settle_ms)
            state = page.evaluate(_KERNEL_STATE_JS)
            if state["ready"]:
                return
        page.wait_for_timeout(100)
    raise PageWaitError(
        f"kernel not connected and idle after {timeout_s} s: {state['why']}"
    )


def open_notebook(
    page: Page, server: JupyterServer, name: str, timeout_s: float = 90.0
) -> None:
    """Open notebook ``name`` of ``server`` and wait for its kernel.

    For JupyterLab and Notebook 7: returns when the notebook is the current
    widget and its kernel is connected and idle. For Voila: returns when the
    notebook has been executed, the page's kernel is connected and idle and
    the first widget is visible.
    """
    page.goto(server.notebook_url(name))

    if server.kind == "voila":
        wait_kernel_idle(page, timeout_s)
        page.locator(".jupyter-widgets").first.wait_for(
            state="visible", timeout=timeout_s * 1000
        )
        return

    page.wait_for_function(
        """(path) => {
          const app = window.jupyterapp;
          const widget = app && app.shell.currentWidget;
          return !!(widget && widget.context && widget.context.path === path
                    && widget.sessionContext);
        }""",
        arg=name,
        timeout=timeout_s * 1000,
    )
    wait_kernel_idle(page, timeout_s)


def execute_command(page: Page, command: str, args: dict | None = None) -> None:
    """Start a JupyterLab command and return at once, without its promise."""
    page.evaluate(
        """([command, args]) => {
          window.jupyterapp.commands.execute(command, args || {})
            .catch((error) => console.error(`command ${command} failed`, error));
        }""",
        [command, args],
    )


def run_cell(page: Page, index: int) -> None:
    """Start code cell ``index`` (negative: from the end) and return at once.

    For JupyterLab and Notebook 7: selects only that cell of the notebook in
    view and fires ``notebook:run-cell``; wait on the cell's effect.
    """
    page.evaluate(
        """(index) => {
          const notebook = window.jupyterapp.shell.currentWidget.content;
          notebook.deselectAll();
          notebook.activeCellIndex = index < 0 ? notebook.widgets.length + index
                                               : index;
        }""",
        index,
    )
    execute_command(page, "notebook:run-cell")


def run_all(page: Page, name: str, timeout_s: float = 120.0) -> None:
    """Run every cell of the open notebook ``name``; return when all ran.

    Clears all outputs first, so execution counts from a saved notebook cannot
    pass for a finished run. Finished means: the kernel is connected and
    idle, every non-empty code cell has an execution count and is not
    running, and no prompt shows ``[*]``. Raises ``PageWaitError`` with the
    error's name and value as soon as a cell fails.
    """
    execute_command(page, "notebook:clear-all-cell-outputs")
    page.wait_for_function(
        """(path) => {
          const widget = window.jupyterapp.shell.currentWidget;
          return widget.context.path === path && Array.from(widget.content.widgets)
            .every((cell) => cell.model.type !== "code"
                             || cell.model.executionCount === null);
        }""",
        arg=name,
        timeout=10_000,
    )

    execute_command(page, "notebook:run-all-cells")
    deadline = time.monotonic() + timeout_s
    state: dict = {}
    while time.monotonic() < deadline:
        state = page.evaluate(_RUN_STATE_JS, name)
        if state.get("error"):
            raise PageWaitError(state["error"])
        if state["errors"]:
            raise PageWaitError(f"a cell of {name} failed: {state['errors'][0]}")
        if state["pending"] == 0 and not state["starred"]:
            wait_kernel_idle(page, max(deadline - time.monotonic(), 1.0))
            return
        page.wait_for_timeout(200)
    raise PageWaitError(f"Run All of {name} unfinished after {timeout_s} s: {state}")


def run_all_in_lab(
    page: Page, server: JupyterServer, name: str, timeout_s: float = 120.0
) -> None:
    """Open ``name`` in JupyterLab, run all cells, wait until they ran."""
    _expect_kind(server, "lab")
    open_notebook(page, server, name, timeout_s)
    run_all(page, name, timeout_s)


def run_all_in_notebook7(
    page: Page, server: JupyterServer, name: str, timeout_s: float = 120.0
) -> None:
    """Open ``name`` in Notebook 7, run all cells, wait until they ran.

    Notebook 7 is built on the same application framework as JupyterLab and
    has the same ``notebook:run-all-cells`` command.
    """
    _expect_kind(server, "notebook")
    open_notebook(page, server, name, timeout_s)
    run_all(page, name, timeout_s)


def open_in_voila(
    page: Page, server: JupyterServer, name: str, timeout_s: float = 120.0
) -> None:
    """Render ``name`` in Voila; wait until its widgets are shown."""
    _expect_kind(server, "voila")
    open_notebook(page, server, name, timeout_s)


def slider_handle(slider: Locator) -> Locator:
    """Return the keyboard-focusable handle of an ipywidgets 8 slider.

    ``slider`` may be the handle itself or any element around one slider,
    such as ``page.locator(".widget-slider").first``.
    """
    is_handle = slider.evaluate("(node) => node.classList.contains('noUi-handle')")
    return slider if is_handle else slider.locator(".noUi-handle").first


def press_slider(
    page: Page, slider: Locator, key: str = "ArrowRight", times: int = 1
) -> str:
    """Move a slider by keyboard, wait for the kernel; return the readout.

    Focuses the slider's handle, presses ``key`` (``"ArrowRight"``,
    ``"ArrowLeft"``, ``"Home"``, ``"End"``, ...) ``times`` times, then waits
    until the kernel is connected and idle for ``SETTLE_MS``, so observers
    have run on the last value. Returns the slider's readout text.

    Notebook 7.6.5 swallows the arrow keys (its command-mode shortcuts run
    in the capture phase); ``"PageUp"`` (5 steps), ``"PageDown"``, ``"Home"``
    and ``"End"`` do reach the slider there.
    """
    handle = slider_handle(slider)
    handle.focus()
    for _ in range(times):
        handle.press(key)
    wait_kernel_idle(page)

    readout = handle.locator(
        "xpath=ancestor::*[contains(@class, 'widget-slider')][1]"
    ).locator(".widget-readout")
    return readout.first.inner_text() if readout.count() else ""


def bounding_boxes(locator: Locator) -> list[dict]:
    """Return the bounding box of every element ``locator`` matches."""
    return [box for box in (node.bounding_box() for node in locator.all()) if box]


# Everything a DeepAID panel shows, in one pass. Boxes are viewport pixels.
# The feature names are on the chart's left axis, the one d3 anchors "end".
_PANEL_JS = """
(panel) => {
  const text = (node) => (node ? node.textContent.trim() : null);
  const box = (node) => {
    const r = node.getBoundingClientRect();
    return {x: r.x, y: r.y, width: r.width, height: r.height};
  };
  const readout = {};
  for (const cell of panel.querySelectorAll(".deepaid-readout td[class^='deepaid-']"))
    readout[cell.className.slice("deepaid-".length)] = text(cell);
  const badge = panel.querySelector(".deepaid-badge");
  const status = panel.querySelector(".deepaid-status");
  const found = panel.querySelector(".bqplot.figure");
  const figure = found && found.getClientRects().length ? found : null;
  const names = figure && figure.querySelector("g.axis[text-anchor='end']");
  return {
    panel: box(panel),
    badge: badge ? Array.from(badge.classList)
      .filter((name) => name.startsWith("deepaid-badge-"))
      .map((name) => name.slice("deepaid-badge-".length))[0] : null,
    readout,
    status: text(status),
    busy: status ? status.dataset.busy === "true" : null,
    rows: Array.from(panel.querySelectorAll(".deepaid-table tbody tr"),
                     (row) => Array.from(row.cells, text)),
    figure: figure ? box(figure) : null,
    bars: figure ? Array.from(figure.querySelectorAll("rect.bar"), box) : [],
    ticks: names ? Array.from(names.querySelectorAll(".tick text"),
                              (node) => ({text: node.textContent, ...box(node)})) : [],
    labels: figure ? Array.from(figure.querySelectorAll("text.label"),
                                (node) => node.textContent) : [],
  };
}
"""


def read_panel(panel: Locator) -> dict:
    """Return what a ``.deepaid-panel`` shows: readout, table, chart, status.

    Keys: ``readout`` (class suffix such as ``"reference-score"`` -> text),
    ``badge`` (fidelity status), ``status`` and ``busy`` (the status line),
    ``rows`` (table cells), ``bars`` (boxes of ``rect.bar``), ``ticks`` (the
    feature-name tick labels, text and box), ``labels`` (value labels),
    ``panel`` and ``figure`` (boxes). A figure that is not drawn (hidden with
    ``display: none``) reads as ``None``, with no bars, ticks or labels.
    """
    return panel.evaluate(_PANEL_JS)


def safe_file_name(text: str) -> str:
    """Turn a test id or free text into a portable file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:150] or "page"


def save_screenshot(
    page: Page, folder: Path, name: str, show: Locator | None = None
) -> Path:
    """Save a full-page screenshot as ``folder / name.png``; return its path.

    JupyterLab and Notebook 7 scroll the notebook inside the page, so a
    full-page shot holds only what is in view: pass ``show`` to scroll that
    element into view first.
    """
    if show is not None:
        show.scroll_into_view_if_needed()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe_file_name(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _expect_kind(server: JupyterServer, kind: str) -> None:
    if server.kind != kind:
        raise ValueError(f"expected a {kind!r} server, got a {server.kind!r} one")
