"""The tour notebook's live panels, proven in JupyterLab, Notebook 7 and Voila.

The tour (``notebooks/01_network_intrusions.ipynb``) is copied with one cell
added at the end. That cell writes what the kernel holds, each panel's
controls and ``explanation.to_dict()``, to ``state.json`` in the served root.
The page must show exactly that: the readout's scores and "changed" count,
the table's rows, one pair of bars and one feature label per changed
feature, largest contribution at the top, all inside the panel. Keyboard
moves of the sliders re-run the search in the kernel; after each move the
cell runs again and the page must follow the new state.
"""

from __future__ import annotations

import json
import re
import time
from functools import partial

import nbformat
import pytest

from ._pages import (
    PageWaitError,
    open_in_voila,
    press_slider,
    read_panel,
    run_all_in_lab,
    run_all_in_notebook7,
    run_cell,
)
from .conftest import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

TOUR = REPO_ROOT / "notebooks" / "01_network_intrusions.ipynb"
PANELS = ("syn_flood", "password_guess", "echo_flood")
STATE = "state.json"

DUMP_STATE = f"""\
# Added by tests/browser/test_panel.py: what the kernel holds, for the page.
import json
import os

_state = {{}}
for _name in {PANELS!r}:
    _panel = globals()[_name]
    if not _panel.wait(120):
        raise TimeoutError(f"{{_name}}: the newest search still runs")
    _state[_name] = {{
        "params": _panel.params.as_dict(),
        "explanation": _panel.explanation.to_dict(),
    }}
with open("{STATE}.part", "w") as _file:
    json.dump(_state, _file)
os.replace("{STATE}.part", "{STATE}")
"""


def copy_tour(server, name: str) -> str:
    """Write the tour plus the state-dumping cell into the served root."""
    notebook = nbformat.read(TOUR, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(DUMP_STATE))
    (server.root_dir / STATE).unlink(missing_ok=True)
    return server.write_notebook(notebook, name)


def read_state(page, server, file: str = STATE, timeout_s: float = 120.0):
    """Wait for the JSON ``file`` in the served root; return what it holds."""
    path = server.root_dir / file
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # not yet, or half
            page.wait_for_timeout(100)
    raise PageWaitError(
        f"{file} not written after {timeout_s} s; server log:\n{server.log_tail()}"
    )


def dump_kernel_state(page, server) -> dict:
    """Run the state cell again (the last one); return what it wrote."""
    (server.root_dir / STATE).unlink(missing_ok=True)
    run_cell(page, -1)
    return read_state(page, server)


def slider(panel, description: str):
    return panel.locator(".widget-slider").filter(has_text=description)


def chart(panel):
    """The panel's figure: screenshots show it, the panel may be taller."""
    return panel.locator(".bqplot.figure").first


# What the page shows against what the kernel holds --------------------------


def shows_value(text: str | None, value) -> bool:
    """Whether ``text`` on the page displays ``value`` (4 significant digits)."""
    if text is None:
        return False
    if isinstance(value, str | bool):
        return text == str(value)
    try:
        number = float(text.replace("−", "-"))
    except ValueError:
        return False
    return number == pytest.approx(value, rel=1e-3, abs=1e-12)


def panel_differences(shown: dict, state: dict) -> list[str]:
    """Everything ``shown`` (``read_panel``) says unlike the kernel's ``state``."""
    explanation = state["explanation"]
    changes = explanation["changes"]
    names = [change["feature"] for change in changes]
    problems = []
    if shown["busy"]:
        problems.append(f"the status line is busy: {shown['status']!r}")
    if shown["badge"] != explanation["status"]:
        problems.append(f"badge {shown['badge']!r}, status {explanation['status']!r}")

    readout = shown["readout"]
    expected = {
        "anomaly-score": explanation["anomaly_score"],
        "reference-score": explanation["reference_score"],
        "threshold": explanation["threshold"],
        "target": explanation["threshold"] - explanation["eps"],
    }
    if explanation["status"] == "not_met":
        expected["gap"] = explanation["gap"]
    for key, value in expected.items():
        if not shows_value(readout.get(key), value):
            problems.append(f"readout {key}: page {readout.get(key)!r}, kernel {value}")
    changed = f"{len(changes)} of at most {explanation['params']['k']}"
    if readout.get("changed") != changed:
        problems.append(
            f"readout changed: page {readout.get('changed')!r}, {changed!r}"
        )
    for words in (
        f"{explanation['steps']} gradient steps",
        f"{explanation['evaluations']} candidates scored",
    ):
        if words not in (shown["status"] or ""):
            problems.append(f"status line {shown['status']!r} lacks {words!r}")

    columns = ("feature", "anomaly", "reference", "contribution")
    expected_rows = [[change[column] for column in columns] for change in changes]
    rows_match = len(shown["rows"]) == len(expected_rows) and all(
        len(row) == len(columns)
        and all(
            shows_value(text, value) for text, value in zip(row, values, strict=True)
        )
        for row, values in zip(shown["rows"], expected_rows, strict=True)
    )
    if not rows_match:
        problems.append(f"table rows {shown['rows']}, kernel {expected_rows}")

    if len(shown["bars"]) != 2 * len(changes):
        problems.append(f"{len(shown['bars'])} bars for {len(changes)} changes")
    problems += order_problems(shown, names)
    values = [change[side] for change in changes for side in columns[1:3]]
    if not _same_values(shown["labels"], values):
        problems.append(f"value labels {shown['labels']}, kernel values {values}")
    return problems


def order_problems(shown: dict, names: list[str]) -> list[str]:
    """The chart's feature labels, top to bottom, unlike ``names``."""
    top_down = [tick["text"] for tick in sorted(shown["ticks"], key=_top)]
    if top_down == names:
        return []
    return [
        f"chart labels top to bottom {top_down}, largest contribution first {names}"
    ]


def layout_problems(shown: dict) -> list[str]:
    """Chart missing, empty bars, or parts outside the panel or the chart."""
    panel, figure = shown["panel"], shown["figure"]
    if figure is None:
        return ["the panel has no bqplot figure"]
    problems = []
    # A widget's own 2 px margin may push a full-width chart that far out.
    if not _inside(figure, panel, slack=4.0):
        problems.append(f"the chart {_span(figure)} leaves the panel {_span(panel)}")
    for bar in shown["bars"]:
        if bar["width"] <= 0 or bar["height"] <= 0 or not _inside(bar, figure):
            problems.append(f"bar {bar} is empty or outside the chart")
    for tick in shown["ticks"]:
        if not _inside(tick, figure):
            problems.append(f"feature label {tick['text']!r} is cut off the chart")
    return problems


def consistency_problems(shown: dict, k: int) -> list[str]:
    """What contradicts itself on the page, or a readout not for ``k``."""
    changed = shown["readout"].get("changed") or ""
    match = re.fullmatch(r"(\d+) of at most (\d+)", changed)
    if match is None:
        return [f"readout changed is {changed!r}"]
    count, at_most = map(int, match.groups())
    problems = []
    if at_most != k or count > k:
        problems.append(f"readout changed {changed!r} for K={k}")
    if shown["busy"]:
        problems.append(f"the status line is busy: {shown['status']!r}")
    for key in ("anomaly-score", "reference-score", "threshold", "target"):
        if not re.fullmatch(r"[0-9.e+−-]+", shown["readout"].get(key) or ""):
            problems.append(f"readout {key} is {shown['readout'].get(key)!r}")
    features = [row[0] for row in shown["rows"]]
    if len(features) != count:
        problems.append(f"{count} changed, table {features}")
    problems += order_problems(shown, features)
    if len(shown["bars"]) != 2 * count or len(shown["labels"]) != 2 * count:
        problems.append(
            f"{len(shown['bars'])} bars, {len(shown['labels'])} labels for {count}"
        )
    return problems


def settle_panel(panel, *checks, timeout_s: float = 30.0) -> tuple[dict, list[str]]:
    """Poll until every ``check(read_panel(panel))`` is empty or time runs out.

    Returns the last read and the problems the checks still found in it.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        panel.scroll_into_view_if_needed()
        shown = read_panel(panel)
        problems = [problem for check in checks for problem in check(shown)]
        if not problems or time.monotonic() > deadline:
            return shown, problems
        panel.page.wait_for_timeout(200)


def expect_panel(panel, *checks, timeout_s: float = 30.0) -> dict:
    """Like ``settle_panel``, but raise ``AssertionError`` on any problem left."""
    shown, problems = settle_panel(panel, *checks, timeout_s=timeout_s)
    if problems:
        raise AssertionError(
            f"after {timeout_s} s the panel still shows:\n  " + "\n  ".join(problems)
        )
    return shown


def _top(box: dict) -> float:
    return box["y"]


def _inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


def _span(box: dict) -> str:
    return f"x {box['x']:.0f}..{box['x'] + box['width']:.0f}"


def _same_values(texts: list[str], values: list) -> bool:
    left = list(texts)
    for value in values:
        match = next((text for text in left if shows_value(text, value)), None)
        if match is None:
            return False
        left.remove(match)
    return not left


# The tests ------------------------------------------------------------------


def shows(state: dict) -> tuple:
    """Checks that a panel shows ``state``, inside the panel."""
    return layout_problems, partial(panel_differences, state=state)


def check_all_panels(page, state: dict) -> None:
    panels = page.locator(".deepaid-panel")
    assert panels.count() == len(PANELS)
    for position, name in enumerate(PANELS):
        expect_panel(panels.nth(position), *shows(state[name]))


def test_lab_panel_shows_the_kernel_state_and_follows_the_sliders(
    page, lab_server, tour_cache, js_errors, screenshot
):
    name = copy_tour(lab_server, "tour_lab.ipynb")
    run_all_in_lab(page, lab_server, name, timeout_s=300)
    state = read_state(page, lab_server)
    check_all_panels(page, state)
    panel = page.locator(".deepaid-panel").first
    first = state["syn_flood"]
    # The tour says moving K to 1 makes fidelity fail: it must change the chart.
    assert len(first["explanation"]["changes"]) >= 2, first
    assert first["explanation"]["steps"] > 0, first
    screenshot("before", show=panel)

    assert press_slider(page, slider(panel, "step budget"), "Home") == "0"
    no_steps = dump_kernel_state(page, lab_server)["syn_flood"]
    assert no_steps["params"]["max_steps"] == 0
    assert no_steps["explanation"]["steps"] == 0
    expect_panel(panel, *shows(no_steps))

    k = first["params"]["k"]
    assert press_slider(page, slider(panel, "K (features)"), "ArrowLeft", k - 1) == "1"
    after = dump_kernel_state(page, lab_server)
    one = after["syn_flood"]
    assert one["params"]["k"] == one["explanation"]["params"]["k"] == 1
    assert one["params"]["max_steps"] == 0
    shown = expect_panel(panel, *shows(one))
    assert shown["readout"]["changed"].endswith("of at most 1")
    assert len(shown["bars"]) == 2 * len(one["explanation"]["changes"]) <= 2
    screenshot("k1", show=chart(panel))

    for other in PANELS[1:]:  # untouched panels keep their controls and result
        assert after[other]["params"] == state[other]["params"]
        changes = after[other]["explanation"]["changes"]
        assert changes == state[other]["explanation"]["changes"]
    assert js_errors == []


def test_notebook7_panel_shows_the_kernel_state_and_follows_k(
    page, notebook_server, tour_cache, js_errors, screenshot
):
    name = copy_tour(notebook_server, "tour_nb7.ipynb")
    run_all_in_notebook7(page, notebook_server, name, timeout_s=300)
    state = read_state(page, notebook_server)
    check_all_panels(page, state)
    panel = page.locator(".deepaid-panel").first
    screenshot("before", show=panel)

    # Notebook 7.6.5 keeps arrow keys from sliders; Home reaches them.
    assert press_slider(page, slider(panel, "K (features)"), "Home") == "1"
    after = dump_kernel_state(page, notebook_server)["syn_flood"]
    assert after["params"]["k"] == 1
    shown = expect_panel(panel, *shows(after))
    assert shown["readout"]["changed"].endswith("of at most 1")
    screenshot("k1", show=chart(panel))

    assert js_errors == []


def test_voila_panel_renders_and_follows_k(
    page, voila_server, tour_cache, js_errors, screenshot
):
    # Voila runs the notebook, state cell included, when the page opens.
    name = copy_tour(voila_server, "tour_voila.ipynb")
    open_in_voila(page, voila_server, name, timeout_s=300)
    state = read_state(page, voila_server)
    check_all_panels(page, state)
    panel = page.locator(".deepaid-panel").first
    screenshot("before", show=panel)

    # No cell can run in Voila: the page must agree with itself and with K=1.
    k = state["syn_flood"]["params"]["k"]
    assert press_slider(page, slider(panel, "K (features)"), "ArrowLeft", k - 1) == "1"
    shown = expect_panel(panel, layout_problems, partial(consistency_problems, k=1))
    assert len(shown["rows"]) < len(state["syn_flood"]["explanation"]["changes"])
    screenshot("k1", show=chart(panel))

    assert js_errors == []


# Chart edge cases, on a tiny detector whose explanation changes four
# features at K=4, and none at stability weight 1.


def tiny_panel_source(names: list[str], state_file: str) -> str:
    """A notebook cell: a tiny detector on 4 features named ``names``, its panel.

    Normal data are rank-2 Gaussian; the anomaly is shifted by -6 in the
    first three features, and all four change in its explanation (K=4),
    with distinct contributions. The changed names go to ``state_file``.
    """
    return f"""\
import json

import numpy as np

from deepaid_widgets import AutoencoderDetector, TabularSchema, explain

generator = np.random.default_rng(0)
normal = generator.normal(size=(800, 2)) @ generator.normal(size=(2, 4))
schema = TabularSchema.plain({names!r})
detector = AutoencoderDetector.fit(normal, schema=schema, epochs=20, seed=0)
panel = explain(detector, normal[0] - [6, 6, 6, 0], k=4)
with open({state_file!r}, "w") as file:
    json.dump(list(panel.explanation.changed_features), file)
panel
"""


SMALL_STATE = "small.json"


def python_notebook(*sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return notebook


@pytest.fixture
def small_panel(page, lab_server, request):
    """The tiny detector's panel in JupyterLab, four features changed."""
    (lab_server.root_dir / SMALL_STATE).unlink(missing_ok=True)
    name = f"{request.node.name}.ipynb"
    source = tiny_panel_source(["alpha", "beta", "gamma", "delta"], SMALL_STATE)
    lab_server.write_notebook(python_notebook(source), name)
    run_all_in_lab(page, lab_server, name)
    names = read_state(page, lab_server, SMALL_STATE)
    assert len(names) == 4, names
    panel = page.locator(".deepaid-panel").first
    expect_panel(panel, layout_problems, partial(consistency_problems, k=4))
    return panel


def nothing_changed(shown: dict) -> list[str]:
    if shown["readout"].get("changed") == "0 of at most 4" and not shown["rows"]:
        return []
    return [f"readout {shown['readout']}, rows {shown['rows']}"]


def test_chart_empties_when_nothing_changed(page, small_panel, screenshot):
    panel = small_panel
    assert press_slider(page, slider(panel, "stability λ"), "End") == "1.0e+0"
    expect_panel(panel, nothing_changed)

    _, problems = settle_panel(panel, partial(consistency_problems, k=4), timeout_s=3)
    figure = chart(panel)  # hiding the empty chart would be a fix too
    screenshot("nothing-changed", show=figure if figure.is_visible() else panel)
    assert not problems


def test_narrowing_the_chart_logs_no_errors(page, small_panel, js_errors):
    panel = small_panel
    assert press_slider(page, slider(panel, "K (features)"), "ArrowLeft", 3) == "1"
    expect_panel(panel, layout_problems, partial(consistency_problems, k=1))
    assert not js_errors
